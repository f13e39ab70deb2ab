-- Open311 GeoReport v2: the keys of third parties (FixMyStreet, GeoReporter, back-offices),
-- issued by jurisdiction admins; only a hash is kept.
CREATE TABLE open311_clients (
    id                uuid PRIMARY KEY,
    jurisdiction_id   text NOT NULL REFERENCES jurisdictions,
    name              text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    key_hash          bytea NOT NULL UNIQUE,
    -- Requests it may file in any hour.
    requests_per_hour integer NOT NULL CHECK (requests_per_hour > 0),
    created_by        uuid NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz
);
CREATE INDEX open311_clients_by_jurisdiction ON open311_clients (jurisdiction_id, created_at);

-- Whom a third party says filed a request: for staff only, never shown through Open311.
CREATE TABLE open311_submitters (
    report_id   uuid PRIMARY KEY REFERENCES reports,
    client_id   uuid NOT NULL REFERENCES open311_clients,
    email       text,
    phone       text,
    first_name  text,
    last_name   text,
    device_id   text,
    account_id  text,
    -- A photo the client hosts.
    media_url   text
);

-- Requests of a window, oldest first, for Open311's GET requests and its updates feed.
CREATE INDEX reports_public_by_time ON reports (jurisdiction_id, created_at) WHERE public;
CREATE INDEX report_events_status_by_time ON report_events (created_at)
    WHERE kind = 'status_changed' AND public;
