-- Payments: what residents pay (bills and fees, through VNPay and MoMo), the double-entry
-- ledger that accounts for every dong, and the daily reconciliation with the providers.

-- A payment of one bill. Only the provider's server-to-server notification or an answer to our
-- status query moves it to a final state, never the browser coming back.
CREATE TABLE payment_intents (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL,
    provider        text NOT NULL CHECK (provider IN ('vnpay', 'momo')),
    -- What is paid: the bill as the biller described it when the payment was made.
    service         text NOT NULL,
    customer_code   text NOT NULL,
    bill_id         text NOT NULL,
    biller_id       text NOT NULL,
    biller_name_vi  text NOT NULL,
    biller_name_en  text NOT NULL,
    customer_name   text NOT NULL,
    description_vi  text NOT NULL,
    description_en  text NOT NULL,
    amount          bigint NOT NULL CHECK (amount > 0),
    status          text NOT NULL CHECK (status IN ('created', 'redirected', 'pending', 'succeeded',
                        'failed', 'expired', 'refund_pending', 'refunded', 'partially_refunded')),
    -- Our reference at the provider (vnp_TxnRef, MoMo orderId); a new one per attempt to start.
    provider_ref    text NOT NULL UNIQUE,
    -- When we asked the provider (vnp_CreateDate; querydr names the payment by it).
    provider_created_at timestamptz NOT NULL DEFAULT now(),
    -- The provider's own transaction (vnp_TransactionNo, MoMo transId), once paid.
    provider_txn    text,
    pay_url         text,
    deeplink        text,
    qr_code         text,
    locale          text NOT NULL DEFAULT 'vi' CHECK (locale IN ('vi', 'en')),
    failure_code    text,
    refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
    receipt_number  text UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    settled_at      timestamptz,
    -- Telling the biller the bill is paid (a job, retried until it answers; a replica holds a
    -- payment for that until `posting_until`).
    posting_until   timestamptz,
    biller_posted_at timestamptz,
    biller_ref      text,
    biller_error    text
);
-- A resident's payments, newest first.
CREATE INDEX payment_intents_account ON payment_intents (account_id, created_at DESC, id DESC);
-- Payments waiting on the provider, for reconciliation.
CREATE INDEX payment_intents_unsettled ON payment_intents (updated_at)
    WHERE status IN ('created', 'redirected', 'pending');
-- Paid bills the biller has not yet been told of.
CREATE INDEX payment_intents_unposted ON payment_intents (settled_at)
    WHERE status IN ('succeeded', 'partially_refunded') AND biller_posted_at IS NULL
      AND biller_error IS NULL;
-- A provider's payments of a day, for its daily report.
CREATE INDEX payment_intents_provider_day ON payment_intents (provider, created_at);
-- One bill is paid once: a second payment waits for the first to fail, expire or be refunded
-- in full.
CREATE UNIQUE INDEX payment_intents_one_per_bill ON payment_intents (biller_id, bill_id)
    WHERE status NOT IN ('failed', 'expired', 'refunded');

CREATE SEQUENCE receipt_numbers;

CREATE TABLE refunds (
    id              uuid PRIMARY KEY,
    intent_id       uuid NOT NULL REFERENCES payment_intents (id),
    amount          bigint NOT NULL CHECK (amount > 0),
    reason          text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    -- Our reference at the provider (vnp_RequestId, MoMo's refund orderId).
    provider_ref    text NOT NULL UNIQUE,
    provider_txn    text,
    failure_code    text,
    requested_by    uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    settled_at      timestamptz
);
CREATE INDEX refunds_intent ON refunds (intent_id);

-- The first answer to each Idempotency-Key, replayed for 24 hours. A key being worked on has
-- no answer yet and a lease: a crash mid-request frees it when the lease ends. A request that
-- failed keeps its fingerprint, so the key can be retried with that request only.
CREATE TABLE idempotency_keys (
    account_id      uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    -- Who holds the key now: only that request may answer or let it go.
    claim_id        uuid,
    locked_until    timestamptz,
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- The ledger. Amounts are integer VND, debits positive and credits negative, so every
-- transaction sums to zero and an account's balance is the sum of its entries.
CREATE TABLE ledger_accounts (
    code        text PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('asset', 'liability', 'expense')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_transactions (
    id          uuid PRIMARY KEY,
    -- What the transaction records (`payment:<intent>`, `refund:<refund>`): at most once.
    external_id text NOT NULL UNIQUE,
    intent_id   uuid REFERENCES payment_intents (id),
    description text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_intent ON ledger_transactions (intent_id);

CREATE TABLE ledger_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  uuid NOT NULL REFERENCES ledger_transactions (id),
    account_code    text NOT NULL REFERENCES ledger_accounts (code),
    amount          bigint NOT NULL CHECK (amount <> 0)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_code);

-- Every transaction balances, checked by the database when the writing transaction commits.
CREATE FUNCTION ledger_transaction_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tx uuid;
    total numeric;
    entries bigint;
BEGIN
    -- Only the branch taken reads NEW, so each table's own column is read.
    IF TG_TABLE_NAME = 'ledger_entries' THEN
        tx := NEW.transaction_id;
    ELSE
        tx := NEW.id;
    END IF;
    SELECT coalesce(sum(amount), 0), count(*) INTO total, entries
      FROM ledger_entries WHERE transaction_id = tx;
    IF entries < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (% entries, sum %)', tx, entries, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balance AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();
CREATE CONSTRAINT TRIGGER ledger_transactions_balance AFTER INSERT ON ledger_transactions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balances();

-- Ledger rows are never changed: a correction is a new transaction.
CREATE FUNCTION ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
    FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_is_append_only();

-- Each provider's daily report: what we hold against what the provider answers.
CREATE TABLE reconciliation_reports (
    provider        text NOT NULL,
    day             date NOT NULL,
    payments_checked integer NOT NULL,
    matched         integer NOT NULL,
    mismatches      jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, day)
);

-- Events for other services, written in the transaction of the change and published by the
-- outbox relay in `seq` order.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    aggregate_id uuid NOT NULL,
    event_type  text NOT NULL,
    schema_version smallint NOT NULL DEFAULT 1,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished_seq ON outbox (seq) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('payments_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
