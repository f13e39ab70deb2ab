-- Every event names the version of its payload's shape, so consumers can tell old from new.
ALTER TABLE outbox ADD COLUMN schema_version smallint NOT NULL DEFAULT 1;
