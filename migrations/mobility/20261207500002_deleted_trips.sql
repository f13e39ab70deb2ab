-- A trip the operator deleted from its timetable for the day (GTFS Realtime `DELETED`) is not
-- shown at all, unlike a cancelled one, which riders see marked.
ALTER TABLE predictions ADD COLUMN deleted boolean NOT NULL DEFAULT false;
