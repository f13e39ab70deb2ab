-- Moderation: what staff hid from the public (a report, a timeline note), who may not file for
-- a while, and a log of every such action. Response templates officers pick for public notes.
ALTER TABLE reports ADD COLUMN hidden_at timestamptz, ADD COLUMN hidden_reason text;
ALTER TABLE report_events ADD COLUMN hidden_at timestamptz;

CREATE TABLE filing_bans (
    jurisdiction_id text NOT NULL REFERENCES jurisdictions,
    account_id      uuid NOT NULL,
    reason          text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    until           timestamptz NOT NULL,
    banned_by       uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (jurisdiction_id, account_id)
);

CREATE TABLE moderation_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    jurisdiction_id text NOT NULL,
    actor_id        uuid NOT NULL,
    -- report_hidden, report_shown, note_hidden, filer_banned, ban_lifted
    action          text NOT NULL,
    report_id       uuid,
    event_id        uuid,
    account_id      uuid,
    reason          text
);
CREATE INDEX moderation_log_by_jurisdiction ON moderation_log (jurisdiction_id, id DESC);

CREATE TABLE response_templates (
    jurisdiction_id text NOT NULL REFERENCES jurisdictions,
    id              text NOT NULL,
    -- Which reports and actions it suits; NULL for any.
    category_code   text,
    action          text,
    text_vi         text NOT NULL CHECK (char_length(text_vi) BETWEEN 1 AND 2000),
    text_en         text NOT NULL CHECK (char_length(text_en) BETWEEN 1 AND 2000),
    PRIMARY KEY (jurisdiction_id, id)
);
