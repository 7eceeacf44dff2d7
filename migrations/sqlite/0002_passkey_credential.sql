-- Passkeys keep the WebAuthn adapter's own record of the credential (`credential`): the public key
-- together with the flags and algorithm the adapter needs to verify a sign-in. It replaces
-- `public_key`, which the record already holds and which the store could only duplicate.
--
-- SQLite cannot add a NOT NULL column without a default or drop a constraint in place, so the
-- table is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter). Nothing wrote
-- passkeys before this migration; a row made by hand has no record to verify a sign-in with, so
-- copying it fails the NOT NULL check and the migration with it, instead of dropping it silently.

CREATE TABLE passkeys_new (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36 AND id = lower(id)),
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's credential id; WebAuthn caps it at 1023 bytes. A credential belongs to
    -- one account only.
    credential_id   BLOB    NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    -- The WebAuthn adapter's record of the credential (public key and flags), opaque to the
    -- store; never a private key.
    credential      BLOB    NOT NULL CHECK (length(credential) > 0),
    sign_count      INTEGER NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    -- Transport hints as a JSON array of strings, e.g. ["internal","hybrid"].
    transports      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(transports) AND json_type(transports) = 'array'),
    backup_eligible INTEGER NOT NULL CHECK (backup_eligible IN (0, 1)),
    -- A credential can only be backed up if it is eligible for backup.
    backup_state    INTEGER NOT NULL CHECK (backup_state IN (0, 1) AND backup_state <= backup_eligible),
    name            TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
) STRICT;

INSERT INTO passkeys_new (id, user_id, credential_id, sign_count, transports, backup_eligible,
                          backup_state, name, created_at, last_used_at)
SELECT id, user_id, credential_id, sign_count, transports, backup_eligible, backup_state, name,
       created_at, last_used_at
FROM passkeys;

DROP TABLE passkeys;
ALTER TABLE passkeys_new RENAME TO passkeys;

-- An account's passkeys are listed oldest first.
CREATE INDEX passkeys_by_user ON passkeys (user_id, created_at);
