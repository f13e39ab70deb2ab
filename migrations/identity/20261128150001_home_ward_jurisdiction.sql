-- A home ward is a ward of a jurisdiction: ward ids are unique within a jurisdiction, not across
-- them. Home wards set before carry no jurisdiction; identity resolves each with reports (a ward
-- id only one jurisdiction has is kept, with it; any other is cleared) and tells notifications.
ALTER TABLE accounts ADD COLUMN home_jurisdiction text;
ALTER TABLE accounts ADD CHECK (home_jurisdiction IS NULL OR home_ward IS NOT NULL);
CREATE INDEX accounts_home_ward_unresolved ON accounts (id)
    WHERE home_ward IS NOT NULL AND home_jurisdiction IS NULL;
