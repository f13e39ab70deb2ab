-- Idempotency keys take the shape every service shares (platform::idempotency): the first
-- answer's status beside its body. The report a key filed is named in that body.
ALTER TABLE idempotency_keys RENAME COLUMN response TO response_body;
ALTER TABLE idempotency_keys
    ALTER COLUMN response_body DROP NOT NULL,
    ADD COLUMN response_status smallint,
    ADD COLUMN claim_id uuid,
    ADD COLUMN locked_until timestamptz;
UPDATE idempotency_keys SET response_status = 201;
ALTER TABLE idempotency_keys DROP COLUMN report_id;
