-- A photo moderators redacted: its public derivatives were replaced by a pixelated version; the
-- original stays for staff.
ALTER TABLE media ADD COLUMN redacted_at timestamptz;
