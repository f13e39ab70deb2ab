-- Each service the app opens on its own screens (`native`) or as a search form (`lookup`) names
-- the API entry point behind it, and one whose service is not built yet says so: it is
-- `coming_soon`, listed for the app to show greyed out, never as working.
ALTER TABLE services ADD COLUMN api text CHECK (api LIKE '/v1/%');
ALTER TABLE services DROP CONSTRAINT services_status_check;
ALTER TABLE services ADD CONSTRAINT services_status_check
    CHECK (status IN ('published', 'coming_soon', 'draft', 'retired'));
ALTER TABLE services ADD CONSTRAINT services_published_names_its_api
    CHECK (status <> 'published' OR kind NOT IN ('native', 'lookup') OR api IS NOT NULL);
ALTER TABLE services ADD CONSTRAINT services_coming_soon_has_no_api
    CHECK (status <> 'coming_soon' OR api IS NULL);

-- The home screen lists what is published and what is coming.
DROP INDEX services_published_by_category;
CREATE INDEX services_listed_by_category
    ON services (jurisdiction, category, sort_order)
    WHERE status IN ('published', 'coming_soon');
