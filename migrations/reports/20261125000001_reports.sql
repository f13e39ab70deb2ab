-- Field reports: the jurisdiction data they are routed by, the reports, their timelines, and
-- the events other services learn of them by.

CREATE TABLE jurisdictions (
    id          text PRIMARY KEY,
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    timezone    text NOT NULL,
    -- Bumped by every ward import, so each replica knows when to rebuild its ward index.
    boundaries_version bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE departments (
    jurisdiction_id text NOT NULL REFERENCES jurisdictions,
    id          text NOT NULL,
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    PRIMARY KEY (jurisdiction_id, id)
);

CREATE TABLE wards (
    jurisdiction_id text NOT NULL REFERENCES jurisdictions,
    id          text NOT NULL,
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    -- A GeoJSON Polygon or MultiPolygon, checked when imported.
    boundary    jsonb NOT NULL,
    PRIMARY KEY (jurisdiction_id, id)
);

CREATE TABLE categories (
    jurisdiction_id text NOT NULL REFERENCES jurisdictions,
    code        text NOT NULL,
    name_vi     text NOT NULL,
    name_en     text NOT NULL,
    description_vi text NOT NULL DEFAULT '',
    description_en text NOT NULL DEFAULT '',
    group_code  text NOT NULL,
    sla_hours   integer NOT NULL CHECK (sla_hours > 0),
    priority    text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'critical')),
    urgent      boolean NOT NULL DEFAULT false,
    -- Privacy defaults: whether its reports are in the public feed, and whether their public
    -- position is coarsened.
    public      boolean NOT NULL DEFAULT true,
    sensitive   boolean NOT NULL DEFAULT false,
    keywords    text[] NOT NULL DEFAULT '{}',
    questions   jsonb NOT NULL DEFAULT '[]',
    -- A category left out of a later import: its reports stay, new ones are refused.
    active      boolean NOT NULL DEFAULT true,
    PRIMARY KEY (jurisdiction_id, code)
);

-- (jurisdiction, category, ward) -> department; a rule without a ward is the category's
-- default, a rule with one wins in that ward.
CREATE TABLE routing_rules (
    jurisdiction_id text NOT NULL,
    category_code text NOT NULL,
    ward_id     text,
    department_id text NOT NULL,
    FOREIGN KEY (jurisdiction_id, category_code) REFERENCES categories ON DELETE CASCADE,
    FOREIGN KEY (jurisdiction_id, department_id) REFERENCES departments,
    UNIQUE NULLS NOT DISTINCT (jurisdiction_id, category_code, ward_id)
);

CREATE TABLE reports (
    id          uuid PRIMARY KEY,
    jurisdiction_id text NOT NULL,
    category_code text NOT NULL,
    ward_id     text NOT NULL,
    department_id text NOT NULL,
    reporter_id uuid NOT NULL,
    anonymous   boolean NOT NULL DEFAULT false,
    status      text NOT NULL CHECK (status IN ('submitted', 'accepted', 'assigned', 'in_progress',
                    'resolved', 'closed', 'rejected', 'reopened')),
    reject_reason text CHECK (reject_reason IN ('not_responsible', 'duplicate', 'invalid', 'spam')),
    description text NOT NULL CHECK (char_length(description) <= 4000),
    answers     jsonb NOT NULL DEFAULT '{}',
    media_ids   uuid[] NOT NULL DEFAULT '{}',
    latitude    double precision NOT NULL,
    longitude   double precision NOT NULL,
    -- H3 cells as signed 64-bit integers: res 9 (~0.1 km²) for "near me" and duplicates,
    -- res 7 (~5 km²) for aggregates.
    h3_res9     bigint NOT NULL,
    h3_res7     bigint NOT NULL,
    -- Whether it is in the public feed, and where the public sees it: the exact position, or
    -- the centre of its ~0.7 km² cell for anonymous reports and sensitive categories.
    public      boolean NOT NULL,
    public_latitude double precision NOT NULL,
    public_longitude double precision NOT NULL,
    public_h3_res9 bigint NOT NULL,
    priority    text NOT NULL,
    urgent      boolean NOT NULL,
    assignee_id uuid,
    duplicate_of uuid REFERENCES reports,
    sla_due_at  timestamptz NOT NULL,
    overdue_at  timestamptz,
    resolved_at timestamptz,
    rating      smallint CHECK (rating BETWEEN 1 AND 5),
    rating_comment text CHECK (char_length(rating_comment) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (jurisdiction_id, category_code) REFERENCES categories,
    FOREIGN KEY (jurisdiction_id, ward_id) REFERENCES wards,
    FOREIGN KEY (jurisdiction_id, department_id) REFERENCES departments,
    CHECK ((status = 'rejected') = (reject_reason IS NOT NULL))
);
-- Near-me feed: the cells covering a circle, answered from the index alone (it carries
-- everything the query reads).
CREATE INDEX reports_near ON reports (public_h3_res9)
    INCLUDE (status, public_latitude, public_longitude, id) WHERE public;
-- Duplicates: open reports of a category in a few cells.
CREATE INDEX reports_open_by_cell ON reports (category_code, h3_res9)
    WHERE status NOT IN ('resolved', 'closed', 'rejected');
-- Officer queues: open reports in SLA order, one index per way a staff member reaches them
-- (their ward, their department, assigned to them, the whole jurisdiction).
CREATE INDEX reports_queue_by_ward ON reports (jurisdiction_id, ward_id, sla_due_at, id)
    WHERE status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened');
CREATE INDEX reports_queue_by_department ON reports (jurisdiction_id, department_id, sla_due_at, id)
    WHERE status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened');
CREATE INDEX reports_queue_by_assignee ON reports (assignee_id, sla_due_at, id)
    WHERE status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened');
CREATE INDEX reports_queue_by_jurisdiction ON reports (jurisdiction_id, sla_due_at, id)
    WHERE status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened');
CREATE INDEX reports_by_reporter ON reports (reporter_id, created_at DESC);
-- The SLA job: open reports not yet marked overdue.
CREATE INDEX reports_sla_pending ON reports (sla_due_at)
    WHERE overdue_at IS NULL AND status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened');
CREATE INDEX reports_duplicates ON reports (duplicate_of) WHERE duplicate_of IS NOT NULL;
-- The SLA job closes resolutions no one reopened within a week.
CREATE INDEX reports_resolved ON reports (resolved_at) WHERE status = 'resolved';

-- Every change to a report, in order: the timeline residents and officers read.
CREATE TABLE report_events (
    id          uuid PRIMARY KEY,
    report_id   uuid NOT NULL REFERENCES reports,
    kind        text NOT NULL,
    from_status text,
    to_status   text,
    actor_id    uuid,
    actor_role  text NOT NULL,
    -- Internal notes are for staff only.
    public      boolean NOT NULL,
    note        text CHECK (char_length(note) <= 4000),
    media_ids   uuid[] NOT NULL DEFAULT '{}',
    details     jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_events_timeline ON report_events (report_id, created_at, id);

CREATE TABLE report_followers (
    report_id   uuid NOT NULL REFERENCES reports,
    account_id  uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, account_id)
);
CREATE INDEX report_followers_by_account ON report_followers (account_id, created_at DESC);

-- Filing is idempotent per account and key: a key names one report for good (its id is derived
-- from the key), and the first answer is replayed to every retry.
CREATE TABLE idempotency_keys (
    account_id  uuid NOT NULL,
    key         text NOT NULL,
    request_hash bytea NOT NULL,
    report_id   uuid NOT NULL,
    -- The first answer, replayed to every retry.
    response    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);

-- Events for other services, written in the transaction of the change and published by the
-- outbox relay in `seq` order.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    aggregate_id uuid NOT NULL,
    event_type  text NOT NULL,
    schema_version smallint NOT NULL DEFAULT 1,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_seq ON outbox (seq) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('reports_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- A report with the names of what it is routed to, as every view of it reads it.
CREATE VIEW report_details AS
SELECT r.*,
       c.name_vi AS category_name_vi, c.name_en AS category_name_en, c.group_code AS category_group,
       w.name_vi AS ward_name_vi, w.name_en AS ward_name_en,
       d.name_vi AS department_name_vi, d.name_en AS department_name_en,
       (SELECT count(*) FROM report_followers f WHERE f.report_id = r.id) AS followers
FROM reports r
JOIN categories c ON c.jurisdiction_id = r.jurisdiction_id AND c.code = r.category_code
JOIN wards w ON w.jurisdiction_id = r.jurisdiction_id AND w.id = r.ward_id
JOIN departments d ON d.jurisdiction_id = r.jurisdiction_id AND d.id = r.department_id;

-- Great-circle distance in metres (haversine on a sphere of the Earth's mean radius): exact
-- enough within a city, and cheap.
CREATE FUNCTION distance_m(lat1 double precision, lng1 double precision,
                           lat2 double precision, lng2 double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 2 * 6371008.8 * asin(sqrt(
        power(sin(radians(lat2 - lat1) / 2), 2)
        + cos(radians(lat1)) * cos(radians(lat2)) * power(sin(radians(lng2 - lng1) / 2), 2)))
$$;
