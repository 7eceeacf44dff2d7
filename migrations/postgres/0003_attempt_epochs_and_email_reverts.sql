-- Email-code attempts that outsiders cannot keep alive or use to lock owners out, and undo links
-- for email changes.
--
-- * `users.attempt_epoch` goes up whenever every open attempt of the account must die (an email
--   change or its undoing, signing out everywhere); `attempts.account_epoch` is the account's
--   epoch when the attempt's chain began. An attempt signs in only while the two are equal.
-- * A start no longer supersedes the active attempt of its address and purpose: several may be
--   active at once (one per client that started one), and only a resend supersedes the one
--   attempt it replaces, by id. The unique index that allowed one active attempt goes.
-- * `email_reverts` keeps the undo link mailed to the old address of an email change, by the
--   SHA-256 of its token; taking a link deletes it.

ALTER TABLE users ADD COLUMN attempt_epoch bigint NOT NULL DEFAULT 0
    CHECK (attempt_epoch BETWEEN 0 AND 4294967295);

ALTER TABLE attempts ADD COLUMN account_epoch bigint NOT NULL DEFAULT 0
    CHECK (account_epoch BETWEEN 0 AND 4294967295);

DROP INDEX attempts_one_active;

CREATE TABLE email_reverts (
    token_hash bytea  NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    old_email  text   COLLATE "C" NOT NULL
                      CHECK (old_email = lower(old_email) AND strpos(old_email, '@') > 1),
    changed_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

CREATE INDEX email_reverts_by_user ON email_reverts (user_id);
-- Purging finds links long past their expiry.
CREATE INDEX email_reverts_by_expiry ON email_reverts (expires_at);
