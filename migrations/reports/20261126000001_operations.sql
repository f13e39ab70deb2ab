-- For the operations centre's KPIs: when a report was first accepted and first resolved, and how
-- often its reporter reopened it; for its heatmaps: the report's own res-15 H3 cell, from which
-- any coarser cell is a bit mask away (filled for older rows at start).
ALTER TABLE reports
    ADD COLUMN accepted_at       timestamptz,
    ADD COLUMN first_resolved_at timestamptz,
    ADD COLUMN reopen_count      integer NOT NULL DEFAULT 0,
    ADD COLUMN h3_res15          bigint;

UPDATE reports r
SET accepted_at = e.accepted_at, first_resolved_at = e.resolved_at, reopen_count = e.reopened
FROM (SELECT report_id,
             min(created_at) FILTER (WHERE to_status IN ('accepted', 'assigned', 'in_progress', 'resolved'))
                 AS accepted_at,
             min(created_at) FILTER (WHERE to_status = 'resolved') AS resolved_at,
             count(*) FILTER (WHERE to_status = 'reopened') AS reopened
      FROM report_events WHERE kind = 'status_changed' GROUP BY report_id) e
WHERE e.report_id = r.id;

-- KPIs and heatmaps read a jurisdiction's reports of a time window, from the index alone.
CREATE INDEX reports_by_jurisdiction_time ON reports (jurisdiction_id, created_at)
    INCLUDE (h3_res15, category_code, status, ward_id, department_id);
CREATE INDEX reports_without_cell ON reports (id) WHERE h3_res15 IS NULL;
