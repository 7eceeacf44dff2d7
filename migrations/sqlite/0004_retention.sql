-- Retention: the server purges ended sessions (with their refresh tokens), refresh-token hashes
-- spent longer ago than the session idle lifetime, and audit events older than the configured
-- retention. These indexes let each purge find its rows without scanning the table.

CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX refresh_tokens_spent ON refresh_tokens (spent_at) WHERE spent_at IS NOT NULL;
CREATE INDEX audit_events_by_time ON audit_events (at);
