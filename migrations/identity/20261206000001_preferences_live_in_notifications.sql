-- Notification preferences live in notifications (`/v1/notifications/preferences`), which is
-- what decides what is pushed; identity's copy was never read.
ALTER TABLE accounts DROP COLUMN notification_preferences;
