-- A code presented again after its exchange remembers it, so the exchange that took it can end
-- the session it opened when the replay came before that session existed.
ALTER TABLE oidc_codes ADD COLUMN replayed boolean NOT NULL DEFAULT false;
