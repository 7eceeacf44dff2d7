-- The outbox of security events: every event that leaves the service (webhooks) is written here
-- in the same transaction as the change it reports, and stays until it is delivered everywhere or
-- its retry window ends. Security notice mails are spooled here too (channel `notice`) before the
-- request that causes them answers, and stay until the mail transport has accepted them. No foreign key to the account: deleting an account must not delete its
-- `account_deleted` event.

CREATE TABLE outbox (
    -- The order of events; a claim hands out an account's events in this order.
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The stable id receivers see (`webhook-id`), the same on every attempt.
    id           text   NOT NULL UNIQUE
                        DEFAULT ('msg_' || replace(gen_random_uuid()::text, '-', '')),
    kind         text   NOT NULL,
    user_id      uuid   NOT NULL,
    occurred_at  bigint NOT NULL,
    -- The event's data, a small secret-free JSON object.
    payload      text   NOT NULL,
    -- How often it has been claimed: also the fencing token of the latest claim.
    attempts     integer NOT NULL DEFAULT 0,
    -- When it is due (again).
    due_at       bigint NOT NULL,
    -- Until when the latest claim holds it.
    leased_until bigint NOT NULL DEFAULT 0,
    -- `webhook` (security events) or `notice` (security notice mails).
    channel      text   NOT NULL DEFAULT 'webhook',
    -- The destinations that already have it, a JSON array of names.
    done         text   NOT NULL DEFAULT '[]'
);

CREATE INDEX outbox_by_user ON outbox (channel, user_id, seq);
CREATE INDEX outbox_by_time ON outbox (occurred_at);
-- What a claim looks for first: events that are due.
CREATE INDEX outbox_due ON outbox (due_at);
