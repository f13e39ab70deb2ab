-- A verified account keeps the personal ID number (CCCD, 12 digits) VNeID discloses with the
-- person's consent: the state's systems (hospitals, social insurance, the one-stop shop) find a
-- citizen by it. Tokens never carry it; only services that need it read it, through identity's
-- internal API. The pairwise subject still decides "one person, one account".
ALTER TABLE accounts
    ADD COLUMN national_id text UNIQUE CHECK (national_id ~ '^[0-9]{12}$');
