-- Places residents look for near them, imported from OpenStreetMap extracts (GeoJSON whose
-- properties are OSM tags). Each source file is imported whole or not at all.
CREATE TABLE places (
    -- `osm-node-123`, from the feature's OSM type and id.
    id            text PRIMARY KEY,
    jurisdiction  text NOT NULL,
    layer         text NOT NULL CHECK (layer IN
                      ('toilets', 'wifi', 'parking', 'motorbike_parking', 'heritage', 'camera')),
    name_vi       text,
    name_en       text,
    latitude      double precision NOT NULL,
    longitude     double precision NOT NULL,
    -- H3 cells: res 9 for a small circle, res 7 for a wide one.
    cell          bigint NOT NULL,
    coarse_cell   bigint NOT NULL,
    -- The OSM `opening_hours` value, as mapped.
    opening_hours text,
    -- Fee, capacity, wheelchair access, a camera's snapshot URL, a heritage site's guide text...
    details       jsonb NOT NULL DEFAULT '{}',
    source        text NOT NULL
);
CREATE INDEX places_near ON places (layer, cell);
CREATE INDEX places_near_coarse ON places (layer, coarse_cell);
CREATE INDEX places_by_source ON places (source);

-- What each source last gave: its ETag (an unchanged file is not imported again), or why it
-- was refused (the places imported before stay).
CREATE TABLE place_imports (
    source      text PRIMARY KEY,
    etag        text,
    places      integer NOT NULL DEFAULT 0,
    imported_at timestamptz,
    refusal     text,
    checked_at  timestamptz NOT NULL DEFAULT now()
);
