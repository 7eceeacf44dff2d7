-- Email-code attempts are ephemeral state: a single node keeps them in process, as it keeps rate
-- limits and passkey ceremonies, so the SQLite store no longer has an attempts table. Attempts
-- still open when a node upgrades die with it, as they would on any restart.

DROP TABLE attempts;
