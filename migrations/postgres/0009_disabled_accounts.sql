-- When an operator disabled an account (milliseconds since the epoch), or NULL while it may sign
-- in. A disabled account keeps its data; every store statement that opens a session, and the
-- per-request read of a session with its account, refuses it.

ALTER TABLE users ADD COLUMN disabled_at BIGINT;
