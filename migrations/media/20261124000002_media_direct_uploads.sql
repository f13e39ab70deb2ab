-- Direct uploads, public photos, dropped originals, and object deletion as durable work.

-- An upload a client sends straight to storage through a presigned URL. It becomes a media
-- row (same id) when the client says it is complete and the bytes pass the checks.
CREATE TABLE media_uploads (
    id            uuid PRIMARY KEY,
    owner_id      uuid NOT NULL,
    -- What the client declared; the bytes are judged again on completion.
    content_type  text NOT NULL,
    byte_size     bigint NOT NULL,
    object_key    text NOT NULL,
    url_expires_at timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_uploads_created ON media_uploads (created_at);
CREATE INDEX media_uploads_owner ON media_uploads (owner_id);

-- Derivatives of a photo whose owning thing is public may be read by anyone; the original never.
ALTER TABLE media ADD COLUMN public boolean NOT NULL DEFAULT false;
CREATE INDEX media_attached_to ON media (attached_to) WHERE attached_to IS NOT NULL;

-- With `media.keep_originals = false` the original is deleted once the derivatives exist.
ALTER TABLE media ALTER COLUMN original_key DROP NOT NULL;

-- Objects whose records are gone, deleted from storage by a worker: a record and the deletion
-- of its objects commit together, and a storage fault only delays the deletion.
CREATE TABLE media_object_deletions (
    object_key  text PRIMARY KEY,
    attempts    integer NOT NULL DEFAULT 0,
    run_after   timestamptz NOT NULL DEFAULT now()
);
