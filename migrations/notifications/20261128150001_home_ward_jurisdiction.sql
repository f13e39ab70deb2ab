-- Residents are found by (jurisdiction, ward) and by (jurisdiction, cell), so a warning reaches
-- only the residents of the jurisdiction that sends it.
ALTER TABLE residents ADD COLUMN home_jurisdiction text;
ALTER TABLE residents ADD COLUMN last_report_jurisdiction text;
-- Home wards stored before carry no jurisdiction and reach nobody until identity resolves them
-- (it sends `account.home_ward_changed` again, with the jurisdiction, or clears them). A last
-- report's cell stored before keeps counting for any jurisdiction whose area covers it (areas
-- are clipped to the sender's jurisdiction) until the resident's next report names its own.
DROP INDEX residents_by_home_ward;
CREATE INDEX residents_by_home_ward ON residents (home_jurisdiction, home_ward)
    WHERE home_ward IS NOT NULL;
