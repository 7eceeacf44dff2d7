-- The SQLite schema: accounts, sessions with their refresh-token families, email-code attempts,
-- the audit trail, and passkeys.
--
-- Conventions, shared with every query in `auth-sqlite`:
-- * ids are TEXT, the lower-case hyphenated UUID; that form sorts like the UUID's bytes, so
--   "ordered by id" means the same here as in the domain;
-- * instants are INTEGER milliseconds since the Unix epoch;
-- * hashes and credential ids are BLOBs;
-- * tables are STRICT, so a value of the wrong type is refused rather than silently converted.

CREATE TABLE users (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36 AND id = lower(id)),
    -- Normalised by the domain before it gets here; the check stops an un-normalised write from
    -- slipping past the unique index.
    email        TEXT    NOT NULL UNIQUE CHECK (email = lower(email) AND instr(email, '@') > 1),
    display_name TEXT    NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
    public       INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    created_at   INTEGER NOT NULL
) STRICT;

-- The public listing pages through public accounts by id.
CREATE INDEX users_public_by_id ON users (id) WHERE public = 1;

-- One session is one refresh-token family.
CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36 AND id = lower(id)),
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       TEXT    NOT NULL CHECK (method IN ('email_code', 'recovery', 'passkey')),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    revoked_at   INTEGER
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

-- Every refresh token a session has had, by SHA-256 hash. The current one has no `spent_at`;
-- spent ones stay so that presenting one again is recognised as reuse.
CREATE TABLE refresh_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at   INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
-- A family has at most one current token.
CREATE UNIQUE INDEX refresh_tokens_one_current ON refresh_tokens (session_id) WHERE spent_at IS NULL;

-- Email-code attempts. No foreign key to users: a login attempt may outlive its account, and
-- sign-up and decoy attempts have none.
CREATE TABLE attempts (
    id                   TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36 AND id = lower(id)),
    purpose              TEXT    NOT NULL CHECK (purpose IN ('signup', 'login', 'recovery', 'email_change')),
    email                TEXT    NOT NULL CHECK (email = lower(email) AND instr(email, '@') > 1),
    subject_kind         TEXT    NOT NULL CHECK (subject_kind IN ('new_account', 'account', 'decoy')),
    subject_user_id      TEXT    CHECK (length(subject_user_id) = 36),
    subject_display_name TEXT    CHECK (length(subject_display_name) BETWEEN 1 AND 64),
    code_hash            BLOB    NOT NULL CHECK (length(code_hash) = 32),
    created_at           INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    guesses              INTEGER NOT NULL DEFAULT 0 CHECK (guesses >= 0),
    state                TEXT    NOT NULL CHECK (state IN ('active', 'consumed', 'superseded')),
    -- Exactly the fields of its subject kind are present.
    CHECK ((subject_kind = 'account') = (subject_user_id IS NOT NULL)),
    CHECK ((subject_kind = 'new_account') = (subject_display_name IS NOT NULL))
) STRICT;

-- A new code supersedes the active ones for the same address and purpose.
CREATE INDEX attempts_by_address ON attempts (email, purpose) WHERE state = 'active';

-- Security activity. `seq` keeps insertion order among events of the same millisecond.
CREATE TABLE audit_events (
    seq     INTEGER PRIMARY KEY,
    user_id TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    ip      TEXT,
    detail  TEXT
) STRICT;

CREATE INDEX audit_events_by_user ON audit_events (user_id, at);

-- WebAuthn credentials. Schema only for now: nothing reads or writes it yet.
CREATE TABLE passkeys (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 36 AND id = lower(id)),
    user_id         TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's credential id; WebAuthn caps it at 1023 bytes. A credential belongs to
    -- one account only.
    credential_id   BLOB    NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    -- The credential's public key as the authenticator gave it (COSE); never a private key.
    public_key      BLOB    NOT NULL CHECK (length(public_key) > 0),
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

CREATE INDEX passkeys_by_user ON passkeys (user_id);
