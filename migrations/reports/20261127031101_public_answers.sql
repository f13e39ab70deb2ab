-- Which answers the public may read: a question says so with its `public` flag (off unless
-- set). Questions stored before the flag existed get it, off, so the stored data says what the
-- service does.
UPDATE categories c
SET questions = (SELECT jsonb_agg(CASE WHEN q ? 'public' THEN q
                                       ELSE q || '{"public": false}' END ORDER BY n)
                 FROM jsonb_array_elements(c.questions) WITH ORDINALITY AS a(q, n))
WHERE jsonb_array_length(c.questions) > 0;

-- Every view of a report reads its category's questions and sensitivity with it, so the public
-- fields are chosen in one place; and whether the public may learn its status: a public report,
-- or one rejected from a public category and not hidden by moderation (Open311 tells clients it
-- was closed, and why).
DROP VIEW report_details;
CREATE VIEW report_details AS
SELECT r.*,
       c.name_vi AS category_name_vi, c.name_en AS category_name_en, c.group_code AS category_group,
       c.sensitive AS category_sensitive, c.questions AS category_questions,
       w.name_vi AS ward_name_vi, w.name_en AS ward_name_en,
       d.name_vi AS department_name_vi, d.name_en AS department_name_en,
       (SELECT count(*) FROM report_followers f WHERE f.report_id = r.id) AS followers,
       (r.public OR (r.status = 'rejected' AND r.hidden_at IS NULL AND c.public)) AS status_public
FROM reports r
JOIN categories c ON c.jurisdiction_id = r.jurisdiction_id AND c.code = r.category_code
JOIN wards w ON w.jurisdiction_id = r.jurisdiction_id AND w.id = r.ward_id
JOIN departments d ON d.jurisdiction_id = r.jurisdiction_id AND d.id = r.department_id;
