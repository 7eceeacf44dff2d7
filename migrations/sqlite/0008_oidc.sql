-- OpenID Connect provider: a session may belong to a client (its tokens carry the scopes
-- granted, and it never authenticates our own API), and users' consent to clients is
-- remembered. Authorization codes live a minute: a single node keeps them in process.

ALTER TABLE sessions ADD COLUMN client_id TEXT CHECK (client_id IS NULL OR length(client_id) BETWEEN 1 AND 64);
ALTER TABLE sessions ADD COLUMN client_scopes TEXT;

CREATE TABLE oidc_consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    scopes     TEXT    NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
