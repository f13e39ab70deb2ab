-- Follow-ups third parties post on a request (mySociety's POST servicerequestupdates): each is
-- a note for staff on the report's timeline (`event_id`); the person who wrote it is kept here,
-- for staff only. Once per client and `update_id`: a retry finds the first.
CREATE TABLE open311_updates (
    client_id   uuid NOT NULL REFERENCES open311_clients,
    update_id   text NOT NULL CHECK (char_length(update_id) BETWEEN 1 AND 100),
    report_id   uuid NOT NULL REFERENCES reports,
    event_id    uuid NOT NULL REFERENCES report_events,
    email       text,
    phone       text,
    first_name  text,
    last_name   text,
    account_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, update_id)
);
