-- Photos residents attach to field reports and officers attach as proof. Bytes live in the
-- object store; this is what we know about them.
CREATE TABLE media (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL,
    status        text NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    -- Detected from the bytes, never taken from the client.
    content_type  text NOT NULL,
    byte_size     bigint NOT NULL,
    width         integer NOT NULL,
    height        integer NOT NULL,
    -- EXIF orientation (1-8), applied to the derivatives.
    orientation   smallint NOT NULL DEFAULT 1,
    sha256        bytea NOT NULL,
    -- From EXIF, kept as fields; every stored derivative is written without metadata.
    taken_at      timestamptz,
    latitude      double precision,
    longitude     double precision,
    -- H3 cell (resolution 9) of the position, for "photos near a point".
    h3_cell       bigint,
    original_key  text NOT NULL,
    display_key   text,
    thumbnail_key text,
    -- What the photo belongs to (`report:<id>`); an upload attached to nothing for a day is
    -- deleted.
    attached_to   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The same photo uploaded twice by one person is one media.
    UNIQUE (owner_id, sha256)
);
CREATE INDEX media_owner ON media (owner_id, created_at DESC);
CREATE INDEX media_h3_cell ON media (h3_cell) WHERE h3_cell IS NOT NULL;
CREATE INDEX media_unattached ON media (created_at) WHERE attached_to IS NULL;

-- Work done outside the request (derivatives), claimed with FOR UPDATE SKIP LOCKED so any
-- number of workers share it, retried with backoff, surviving restarts.
CREATE TABLE media_jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    media_id    uuid NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('derivatives')),
    attempts    integer NOT NULL DEFAULT 0,
    run_after   timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_jobs_due ON media_jobs (run_after);
