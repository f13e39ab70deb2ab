-- A wide near-me circle is covered by a few res-7 cells (about 5 km² each) rather than
-- hundreds of res-9 ones. The rows are a copy the refresh at start-up rewrites, so they are
-- dropped here rather than backfilled.
DELETE FROM facilities;
ALTER TABLE facilities ADD COLUMN cell_r7 bigint NOT NULL;
CREATE INDEX facilities_by_coarse_cell ON facilities (cell_r7, kind);
