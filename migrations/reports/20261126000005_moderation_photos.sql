-- The photo a moderation action concerns (a redaction).
ALTER TABLE moderation_log ADD COLUMN media_id uuid;
