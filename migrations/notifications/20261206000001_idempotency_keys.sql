-- Idempotency keys of broadcasts, in the shape every service shares (platform::idempotency).
CREATE TABLE idempotency_keys (
    account_id      uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    claim_id        uuid,
    locked_until    timestamptz,
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
