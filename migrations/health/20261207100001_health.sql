-- Hospital appointments booked through the app. The hospital's system is the record and
-- decides who gets a slot; a row is written only once the hospital has booked, and is what the
-- app lists as "my appointments".
CREATE TABLE appointments (
    -- Our booking id, also sent to the hospital as the Appointment's identifier, so a retried
    -- booking finds the hospital's appointment instead of making a second.
    id           uuid PRIMARY KEY,
    -- Who booked (a parent books for their child).
    account_id   uuid NOT NULL,
    jurisdiction text NOT NULL,
    -- Whose appointment: the Patient at the jurisdiction's health system.
    patient_id   text NOT NULL,
    patient_name text NOT NULL,
    -- The hospital's Appointment and Slot.
    fhir_id      text NOT NULL,
    slot_id      text NOT NULL,
    hospital     text,
    department   text,
    doctor       text,
    starts_at    timestamptz NOT NULL,
    ends_at      timestamptz NOT NULL CHECK (ends_at > starts_at),
    -- The queue number (số thứ tự) the hospital gave.
    queue_number text NOT NULL,
    status       text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    cancelled_at timestamptz,
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)),
    UNIQUE (jurisdiction, fhir_id)
);
CREATE INDEX appointments_of_account ON appointments (account_id, starts_at DESC);
