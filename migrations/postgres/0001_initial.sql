-- The PostgreSQL schema: accounts, sessions with their refresh-token families, email-code attempts,
-- the audit trail, passkeys, and the rate-limit state that every node shares.
--
-- Conventions, shared with every query in `auth-postgres`:
-- * ids are `uuid`; PostgreSQL orders them by their bytes, so "ordered by id" means the same here
--   as in the domain;
-- * instants are `bigint` milliseconds since the Unix epoch, exactly the domain's `Timestamp`;
-- * hashes and credential ids are `bytea`;
-- * addresses are `text COLLATE "C"`, so comparing, ordering and `lower()` are bytewise and ASCII
--   only, whatever the database's locale: the same rules as the domain's normaliser and SQLite's.

-- Display names count characters and hold any script: only UTF-8 stores them faithfully.
DO $$
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'the auth schema needs a UTF8 database, this one is %',
            current_setting('server_encoding');
    END IF;
END
$$;

CREATE TABLE users (
    id           uuid    NOT NULL PRIMARY KEY,
    -- Normalised by the domain before it gets here; the check stops an un-normalised write from
    -- slipping past the unique constraint.
    email        text    COLLATE "C" NOT NULL
                         CHECK (email = lower(email) AND strpos(email, '@') > 1),
    display_name text    NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 64),
    public       boolean NOT NULL DEFAULT false,
    created_at   bigint  NOT NULL,
    -- The adapter recognises this name to answer "taken" instead of failing.
    CONSTRAINT users_email_key UNIQUE (email)
);

-- The public listing pages through public accounts by id.
CREATE INDEX users_public_by_id ON users (id) WHERE public;

-- One session is one refresh-token family.
CREATE TABLE sessions (
    id           uuid   NOT NULL PRIMARY KEY,
    user_id      uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method       text   NOT NULL CHECK (method IN ('email_code', 'recovery', 'passkey')),
    created_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    expires_at   bigint NOT NULL,
    user_agent   text,
    -- Text, not `inet`: the domain hands over a string and expects the same string back.
    ip           text,
    revoked_at   bigint
);

CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

-- Every refresh token a session has had, by SHA-256 hash. The current one has no `spent_at`;
-- spent ones stay so that presenting one again is recognised as reuse.
CREATE TABLE refresh_tokens (
    hash       bytea  NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
    session_id uuid   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    spent_at   bigint
);

CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
-- A family has at most one current token.
CREATE UNIQUE INDEX refresh_tokens_one_current ON refresh_tokens (session_id) WHERE spent_at IS NULL;

-- Email-code attempts. No foreign key to users: a login attempt may outlive its account, and
-- sign-up and decoy attempts have none.
CREATE TABLE attempts (
    id                   uuid    NOT NULL PRIMARY KEY,
    purpose              text    NOT NULL
                                 CHECK (purpose IN ('signup', 'login', 'recovery', 'email_change')),
    email                text    COLLATE "C" NOT NULL
                                 CHECK (email = lower(email) AND strpos(email, '@') > 1),
    subject_kind         text    NOT NULL CHECK (subject_kind IN ('new_account', 'account', 'decoy')),
    subject_user_id      uuid,
    subject_display_name text    CHECK (char_length(subject_display_name) BETWEEN 1 AND 64),
    code_hash            bytea   NOT NULL CHECK (length(code_hash) = 32),
    created_at           bigint  NOT NULL,
    expires_at           bigint  NOT NULL,
    guesses              integer NOT NULL DEFAULT 0 CHECK (guesses >= 0),
    state                text    NOT NULL CHECK (state IN ('active', 'consumed', 'superseded')),
    -- Exactly the fields of its subject kind are present.
    CHECK ((subject_kind = 'account') = (subject_user_id IS NOT NULL)),
    CHECK ((subject_kind = 'new_account') = (subject_display_name IS NOT NULL))
);

-- A new code supersedes the active one for the same address and purpose, so there is never more
-- than one; the index also finds it.
CREATE UNIQUE INDEX attempts_one_active ON attempts (email, purpose) WHERE state = 'active';
-- Purging finds attempts long past their expiry.
CREATE INDEX attempts_by_expiry ON attempts (expires_at);

-- Security activity. `seq` keeps insertion order among events of the same millisecond.
CREATE TABLE audit_events (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Named for the adapter, which drops an event whose account is gone.
    user_id uuid   NOT NULL CONSTRAINT audit_events_user_id_fkey
                   REFERENCES users (id) ON DELETE CASCADE,
    at      bigint NOT NULL,
    kind    text   NOT NULL,
    ip      text,
    detail  text
);

CREATE INDEX audit_events_by_user ON audit_events (user_id, at);

-- WebAuthn credentials. Schema only for now: nothing reads or writes it yet.
CREATE TABLE passkeys (
    id              uuid    NOT NULL PRIMARY KEY,
    user_id         uuid    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The authenticator's credential id; WebAuthn caps it at 1023 bytes. A credential belongs to
    -- one account only.
    credential_id   bytea   NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1023),
    -- The credential's public key as the authenticator gave it (COSE); never a private key.
    public_key      bytea   NOT NULL CHECK (length(public_key) > 0),
    sign_count      bigint  NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),
    -- Transport hints as a JSON array of strings, e.g. ["internal","hybrid"], as in SQLite.
    transports      jsonb   NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(transports) = 'array'),
    backup_eligible boolean NOT NULL,
    backup_state    boolean NOT NULL,
    name            text    NOT NULL CHECK (char_length(name) BETWEEN 1 AND 64),
    created_at      bigint  NOT NULL,
    last_used_at    bigint,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id),
    -- A credential can only be backed up if it is eligible for backup.
    CHECK (backup_eligible OR NOT backup_state)
);

CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- Rate limits (GCRA): one theoretical arrival time per key. A row whose `tat` is not after now is
-- equivalent to no row. Logged like everything else: a crash or a fail-over that forgot the limits
-- would hand every client a fresh budget.
CREATE TABLE rate_limits (
    key text   COLLATE "C" NOT NULL PRIMARY KEY,
    tat bigint NOT NULL
);

-- Failures under one key within a window that starts at the first of them.
CREATE TABLE failures (
    key         text   COLLATE "C" NOT NULL PRIMARY KEY,
    count       bigint NOT NULL CHECK (count BETWEEN 1 AND 4294967295),
    last_at     bigint NOT NULL,
    window_ends bigint NOT NULL
);
