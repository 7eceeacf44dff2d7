-- The language of mail to an account and of the page once it has signed in: a BCP 47 primary
-- tag the domain knows ('en' or 'de'). Existing accounts keep the English they had.

ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
