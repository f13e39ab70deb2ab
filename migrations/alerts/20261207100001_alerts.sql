-- Alerts in the Common Alerting Protocol 1.2: ingested from authorities' CAP feeds, written by
-- a jurisdiction's operators, or raised by a river gauge. Each row is one CAP message; an
-- update or cancel names the messages it replaces, which then point to it.
CREATE TABLE alerts (
    id             uuid PRIMARY KEY,
    jurisdiction   text NOT NULL,
    sender         text NOT NULL,
    identifier     text NOT NULL,
    sent           timestamptz NOT NULL,
    msg_type       text NOT NULL CHECK (msg_type IN ('Alert', 'Update', 'Cancel')),
    -- What the app files it under: disaster, traffic, power_outage, water_outage, scam, announcement.
    kind           text NOT NULL,
    urgency        text NOT NULL,
    severity       text NOT NULL,
    certainty      text NOT NULL,
    effective      timestamptz NOT NULL,
    onset          timestamptz,
    expires        timestamptz,
    event_vi       text NOT NULL,
    event_en       text NOT NULL,
    headline_vi    text NOT NULL,
    headline_en    text NOT NULL,
    description_vi text,
    description_en text,
    instruction_vi text,
    instruction_en text,
    area_desc_vi   text NOT NULL,
    area_desc_en   text NOT NULL,
    -- The areas' polygons and circles as one GeoJSON MultiPolygon; null when wards alone say where.
    area           jsonb,
    -- Wards of the jurisdiction named as geocodes.
    wards          text[] NOT NULL DEFAULT '{}',
    -- The message that updated or cancelled this one.
    replaced_by    uuid REFERENCES alerts (id),
    source         text NOT NULL CHECK (source IN ('feed', 'operator', 'gauge')),
    created_by     uuid,
    -- The CAP document as received, or as we wrote it.
    document       text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (sender, identifier)
);

-- The alerts in force of a jurisdiction, newest first.
CREATE INDEX alerts_current ON alerts (jurisdiction, sent DESC)
    WHERE replaced_by IS NULL AND msg_type <> 'Cancel';
-- A jurisdiction's feed: every message of the last days.
CREATE INDEX alerts_by_sent ON alerts (jurisdiction, sent DESC);

-- The CAP documents a feed listed that were read already (taken or refused), so a feed is
-- not read whole again on every poll.
CREATE TABLE feed_entries (
    link       text PRIMARY KEY,
    refusal    text,
    seen_at    timestamptz NOT NULL DEFAULT now()
);
