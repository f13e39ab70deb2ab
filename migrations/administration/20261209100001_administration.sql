-- Dossiers a resident follows (their own, or one they looked up signed in), with what they were
-- last told of it: a change of state, step or promised date is pushed once.
CREATE TABLE dossier_follows (
    account_id   uuid NOT NULL,
    jurisdiction text NOT NULL,
    code         text NOT NULL,
    procedure    text NOT NULL,
    signature    text NOT NULL,
    followed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, code)
);
CREATE INDEX dossier_follows_by_code ON dossier_follows (jurisdiction, code);

-- How far each one-stop system's changes were read; `paging` while a burst is read page by page.
CREATE TABLE dossier_feeds (
    jurisdiction text PRIMARY KEY,
    read_until   timestamptz NOT NULL,
    paging       boolean NOT NULL DEFAULT false
);

-- The places taken of each slot: a booking takes one while booked < capacity.
CREATE TABLE booking_slots (
    centre_id    text NOT NULL,
    service_code text NOT NULL,
    starts_at    timestamptz NOT NULL,
    capacity     integer NOT NULL,
    booked       integer NOT NULL,
    PRIMARY KEY (centre_id, service_code, starts_at),
    CHECK (booked >= 0 AND booked <= capacity)
);

CREATE TABLE bookings (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL,
    centre_id    text NOT NULL,
    service_code text NOT NULL,
    starts_at    timestamptz NOT NULL,
    queue_number text NOT NULL,
    status       text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled', 'arrived')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    reminded_at  timestamptz,
    cancelled_at timestamptz,
    arrived_at   timestamptz
);
CREATE INDEX bookings_by_account ON bookings (account_id, starts_at);
CREATE INDEX bookings_by_centre_day ON bookings (centre_id, starts_at);
CREATE INDEX bookings_to_remind ON bookings (starts_at) WHERE status = 'booked' AND reminded_at IS NULL;

-- Each day's last queue number of a centre's service.
CREATE TABLE queue_numbers (
    centre_id    text NOT NULL,
    service_code text NOT NULL,
    day          date NOT NULL,
    last         integer NOT NULL,
    PRIMARY KEY (centre_id, service_code, day)
);

-- Zoning layers' zones, with their bounding boxes for the point lookup's first cut.
CREATE TABLE planning_zones (
    jurisdiction     text NOT NULL,
    layer            text NOT NULL,
    zone_code        text NOT NULL,
    land_use_code    text NOT NULL,
    land_use         text NOT NULL,
    max_coverage_pct double precision,
    max_floors       integer,
    max_height_m     double precision,
    max_far          double precision,
    decision         text,
    geometry         jsonb NOT NULL,
    min_lat          double precision NOT NULL,
    max_lat          double precision NOT NULL,
    min_lon          double precision NOT NULL,
    max_lon          double precision NOT NULL
);
CREATE INDEX planning_zones_by_layer ON planning_zones (jurisdiction, layer);
CREATE INDEX planning_zones_by_box ON planning_zones (min_lat, max_lat, min_lon, max_lon);

-- Each layer's last import, and its last refusal, for operators.
CREATE TABLE planning_imports (
    source      text PRIMARY KEY,
    etag        text,
    zones       integer NOT NULL DEFAULT 0,
    imported_at timestamptz,
    refused_at  timestamptz,
    refusal     text
);
