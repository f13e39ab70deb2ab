-- The people whose vaccinations an account looks at (a parent's children, mostly): a job checks
-- each once a day and reminds the account of doses coming due. Forgotten when the account is.
CREATE TABLE vaccination_watches (
    account_id   uuid NOT NULL,
    jurisdiction text NOT NULL,
    patient_id   text NOT NULL,
    patient_name text NOT NULL,
    -- The day (in Việt Nam) the job last checked; NULL until it first has.
    checked_on   date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, patient_id)
);
CREATE INDEX vaccination_watches_to_check ON vaccination_watches (checked_on NULLS FIRST);

-- Each dose reminded once.
CREATE TABLE vaccination_reminders (
    account_id uuid NOT NULL,
    patient_id text NOT NULL,
    series     text NOT NULL,
    dose       integer NOT NULL CHECK (dose > 0),
    due_on     date NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, patient_id, series, dose)
);
