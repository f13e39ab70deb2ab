-- The year each results file holds, so the published years are read without counting results.
ALTER TABLE exam_imports ADD COLUMN year integer;
