-- The public lookup asks by candidate number, latest year first: the primary key (year, number)
-- cannot serve it.
CREATE INDEX exam_results_by_candidate ON exam_results (candidate_number, year DESC);
-- Files imported before their year was kept are read again, so their year is known.
UPDATE exam_imports SET etag = NULL WHERE year IS NULL;
