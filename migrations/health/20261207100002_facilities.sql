-- Health facilities (hospitals, clinics and ward health stations, pharmacies) and blood
-- donation drives, as each jurisdiction's health system lists them, copied here on a schedule
-- so that "near me" is one indexed query rather than a search at the hospital's server.
CREATE TABLE facilities (
    jurisdiction text NOT NULL,
    -- The Location's id at the health system.
    id           text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('hospital', 'clinic', 'pharmacy', 'blood_drive')),
    name         text NOT NULL,
    address      text,
    phone        text,
    latitude     double precision NOT NULL CHECK (latitude BETWEEN -90 AND 90),
    longitude    double precision NOT NULL CHECK (longitude BETWEEN -180 AND 180),
    -- The H3 res-9 cell, which near-me queries look up.
    cell         bigint NOT NULL,
    -- Whether the BHYT card is taken there; unknown when null.
    accepts_bhyt boolean,
    -- FHIR hoursOfOperation, as listed.
    hours        jsonb NOT NULL DEFAULT '[]',
    -- When a blood drive is.
    starts_at    timestamptz,
    ends_at      timestamptz,
    refreshed_at timestamptz NOT NULL,
    PRIMARY KEY (jurisdiction, id),
    CHECK ((kind = 'blood_drive') = (starts_at IS NOT NULL AND ends_at IS NOT NULL))
);
CREATE INDEX facilities_by_cell ON facilities (cell, kind);
CREATE INDEX facilities_drives ON facilities (ends_at) WHERE kind = 'blood_drive';
