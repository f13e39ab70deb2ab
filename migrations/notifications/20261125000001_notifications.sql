-- What people are told: their in-app inbox, and the pushes to their devices as a job queue.

-- Events this service handled, so one delivered twice acts once.
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- A person's inbox: one notice per event that concerns them, in Vietnamese and English.
CREATE TABLE notices (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL,
    event_id    uuid NOT NULL,
    kind        text NOT NULL,
    title_vi    text NOT NULL,
    title_en    text NOT NULL,
    body_vi     text NOT NULL,
    body_en     text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    urgent      boolean NOT NULL DEFAULT false,
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, event_id)
);
CREATE INDEX notices_by_account ON notices (account_id, created_at DESC, id DESC);
CREATE INDEX notices_unread ON notices (account_id) WHERE read_at IS NULL;

-- When a person does not want to be woken: pushes that are not urgent wait until the end of
-- their quiet hours (local time, at their UTC offset; Vietnam's is +7 all year).
CREATE TABLE preferences (
    account_id  uuid PRIMARY KEY,
    quiet_start time,
    quiet_end   time,
    utc_offset_minutes integer NOT NULL DEFAULT 420 CHECK (utc_offset_minutes BETWEEN -720 AND 840),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
);

-- One push per notice and device, sent by a worker, retried with backoff.
CREATE TABLE pushes (
    id          uuid PRIMARY KEY,
    notice_id   uuid NOT NULL REFERENCES notices ON DELETE CASCADE,
    platform    text NOT NULL,
    push_token  text NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dropped', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    -- FCM's name for the message once sent.
    provider_id text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX pushes_due ON pushes (next_attempt_at) WHERE status = 'pending';
CREATE INDEX pushes_by_notice ON pushes (notice_id);
