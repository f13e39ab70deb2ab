-- A broadcast may tell of a CAP alert (alerts' `alerts.alert_issued`): its pushes then name the
-- alert, for the app to open it.
ALTER TABLE broadcasts ADD COLUMN alert_id uuid;
