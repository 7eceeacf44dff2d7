-- OpenID Connect provider: a session may belong to a client (its tokens carry the scopes
-- granted, and it never authenticates our own API), users' consent to clients is remembered,
-- and authorization codes are shared by every node (without Redis).

ALTER TABLE sessions
    ADD COLUMN client_id     text CHECK (client_id IS NULL OR length(client_id) BETWEEN 1 AND 64),
    ADD COLUMN client_scopes text,
    ADD CONSTRAINT sessions_client_both CHECK ((client_id IS NULL) = (client_scopes IS NULL));

CREATE TABLE oidc_consents (
    user_id    uuid   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  text   NOT NULL CHECK (length(client_id) BETWEEN 1 AND 64),
    scopes     text   NOT NULL,
    granted_at bigint NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- A code's grant is kept as JSON: nothing queries inside it.
CREATE TABLE oidc_codes (
    code_hash  bytea  PRIMARY KEY CHECK (length(code_hash) = 32),
    grant_json text   NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint
);
CREATE INDEX oidc_codes_by_expiry ON oidc_codes (expires_at);
