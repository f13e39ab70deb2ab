-- The residents a broadcast reaches: those of its jurisdiction whose home ward the area touches,
-- or whose last report lies in a cell it covers (only the jurisdiction's reporters: another
-- jurisdiction may have wards of the same ids, and a cell on the border may hold its residents'
-- reports too). Chosen when a broadcast is sent, and counted when an operator previews one.
-- A single-statement SQL function the planner inlines, so the residents' indexes serve it.
CREATE FUNCTION broadcast_audience(text, text[], bigint[]) RETURNS SETOF uuid
LANGUAGE sql STABLE AS $$
    SELECT account_id FROM residents
    WHERE (home_jurisdiction = $1 AND home_ward = ANY($2))
       OR (last_report_cell = ANY($3)
           AND (last_report_jurisdiction = $1 OR last_report_jurisdiction IS NULL))
$$;
