-- Uploads each account started per day (Asia/Ho_Chi_Minh), counted atomically against the
-- daily quota so replicas share it. Rows of past days are deleted by the clean-up worker.
CREATE TABLE media_daily_uploads (
    owner_id  uuid NOT NULL,
    day       date NOT NULL,
    uploads   integer NOT NULL,
    bytes     bigint NOT NULL,
    PRIMARY KEY (owner_id, day)
);
CREATE INDEX media_daily_uploads_day ON media_daily_uploads (day);
