-- The outbox of security events: every event that leaves the service (webhooks) is written here
-- in the same transaction as the change it reports, and stays until it is delivered everywhere or
-- its retry window ends. Security notice mails are spooled here too (channel `notice`) before the
-- request that causes them answers, and stay until the mail transport has accepted them. No foreign key to the account: deleting an account must not delete its
-- `account_deleted` event.

CREATE TABLE outbox (
    -- The order of events; a claim hands out an account's events in this order.
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The stable id receivers see (`webhook-id`), the same on every attempt.
    id           TEXT    NOT NULL UNIQUE DEFAULT ('msg_' || lower(hex(randomblob(16)))),
    kind         TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    -- The event's data, a small secret-free JSON object.
    payload      TEXT    NOT NULL,
    -- How often it has been claimed: also the fencing token of the latest claim.
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- When it is due (again).
    due_at       INTEGER NOT NULL,
    -- Until when the latest claim holds it.
    leased_until INTEGER NOT NULL DEFAULT 0,
    -- `webhook` (security events) or `notice` (security notice mails).
    channel      TEXT    NOT NULL DEFAULT 'webhook',
    -- The destinations that already have it, a JSON array of names.
    done         TEXT    NOT NULL DEFAULT '[]'
) STRICT;

CREATE INDEX outbox_by_user ON outbox (channel, user_id, seq);
CREATE INDEX outbox_by_time ON outbox (occurred_at);
-- What a claim looks for first: events that are due.
CREATE INDEX outbox_due ON outbox (due_at);
