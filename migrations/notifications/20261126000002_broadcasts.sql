-- Where residents are, as far as the city's warnings need: their home ward (from identity's
-- events) and the res-9 H3 cell of their last report (from reports' events).
CREATE TABLE residents (
    account_id       uuid PRIMARY KEY,
    home_ward        text,
    -- When the home ward was set: an older event arriving late does not undo a newer one.
    home_ward_at     timestamptz,
    last_report_cell bigint,
    last_report_at   timestamptz
);
CREATE INDEX residents_by_home_ward ON residents (home_ward) WHERE home_ward IS NOT NULL;
CREATE INDEX residents_by_last_report_cell ON residents (last_report_cell)
    WHERE last_report_cell IS NOT NULL;

-- An operator's warning to an area. Fanned out in pages (a recipient snapshot, walked by
-- account id): each page's notices, pushes and the cursor commit together, so a restart goes
-- on where it stopped and nobody is told twice.
CREATE TABLE broadcasts (
    id            uuid PRIMARY KEY,
    jurisdiction  text NOT NULL,
    created_by    uuid NOT NULL,
    -- The request as sent (a replayed Idempotency-Key must come with the same one).
    request       jsonb NOT NULL,
    -- The area as resolved by reports: wards touched and res-9 cells covered.
    wards         text[] NOT NULL,
    cells         bigint[] NOT NULL,
    title_vi      text NOT NULL,
    body_vi       text NOT NULL,
    title_en      text NOT NULL,
    body_en       text NOT NULL,
    urgent        boolean NOT NULL,
    -- resolving: recipients not chosen yet; fanning_out: notices being written;
    -- fanned_out: every recipient has their notice (pushes may still be in flight).
    status        text NOT NULL DEFAULT 'resolving'
                  CHECK (status IN ('resolving', 'fanning_out', 'fanned_out', 'cancelled')),
    recipients    integer NOT NULL DEFAULT 0,
    fanned_out    integer NOT NULL DEFAULT 0,
    -- The last recipient whose notice is written.
    cursor        uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    fanned_out_at timestamptz,
    cancelled_at  timestamptz,
    cancelled_by  uuid
);
CREATE INDEX broadcasts_to_fan_out ON broadcasts (created_at)
    WHERE status IN ('resolving', 'fanning_out');
CREATE INDEX broadcasts_by_jurisdiction ON broadcasts (jurisdiction, created_at DESC, id DESC);

-- Who a broadcast goes to, chosen once when it starts; gone once it is fanned out.
CREATE TABLE broadcast_recipients (
    broadcast_id uuid NOT NULL REFERENCES broadcasts ON DELETE CASCADE,
    account_id   uuid NOT NULL,
    PRIMARY KEY (broadcast_id, account_id)
);

-- A broadcast's notices and pushes are found by their source.
CREATE INDEX notices_by_event ON notices (event_id);
ALTER TABLE pushes DROP CONSTRAINT pushes_status_check;
ALTER TABLE pushes ADD CONSTRAINT pushes_status_check
    CHECK (status IN ('pending', 'sent', 'dropped', 'failed', 'cancelled'));
