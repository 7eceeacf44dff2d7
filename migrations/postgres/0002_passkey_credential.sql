-- Passkeys keep the WebAuthn adapter's own record of the credential, and ceremonies get a table
-- for deployments without Redis.

-- The adapter's record (public key, flags, algorithm) replaces `public_key`, which the record
-- already holds and which the store could only duplicate. Nothing wrote passkeys before this
-- migration; a row made by hand has no record to verify a sign-in with, so it fails the NOT NULL
-- and the migration with it, instead of being dropped silently.
ALTER TABLE passkeys
    ADD COLUMN credential bytea NOT NULL CHECK (length(credential) > 0),
    DROP COLUMN public_key;

-- An account's passkeys are listed oldest first.
DROP INDEX passkeys_by_user;
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);

-- Server-side state of WebAuthn ceremonies in progress: opaque to the store, read once, gone
-- after `expires_at`. Unlike every other instant in this schema, `expires_at` is on the
-- database's clock: the port gives a lifetime, not an instant, and the database's clock is the
-- one every node shares. `PgStore::purge_expired` deletes the rows that were never taken.
CREATE TABLE ceremonies (
    id         uuid   NOT NULL PRIMARY KEY,
    state      bytea  NOT NULL,
    expires_at bigint NOT NULL
);

CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);
