-- Who may see a customer's name and address, who has looked a code up, and a bill paid once
-- without letting one payer's abandoned payment hold it for everyone else.

-- Codes a resident proved they hold (the contract number printed on the bill); they see the
-- customer in full.
CREATE TABLE customer_links (
    account_id  uuid NOT NULL,
    service     text NOT NULL,
    code        text NOT NULL,
    linked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, service, code)
);

-- The last time each account looked each code up: a payment of a code its payer has not looked
-- up is answered alike whatever is wrong with it.
CREATE TABLE bill_lookups (
    account_id    uuid NOT NULL,
    service       text NOT NULL,
    code          text NOT NULL,
    looked_up_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, service, code)
);
CREATE INDEX bill_lookups_looked_up_at ON bill_lookups (looked_up_at);

-- Codes an account has paid (only a success gets a receipt number).
CREATE INDEX payment_intents_paid_codes ON payment_intents (account_id, service, customer_code)
    WHERE receipt_number IS NOT NULL;

-- Whether `account` may see the customer behind `code` in full: it paid that code once, or
-- linked it.
CREATE FUNCTION customer_known(account uuid, of_service text, of_code text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM customer_links
                   WHERE account_id = account AND service = of_service AND code = of_code)
        OR EXISTS (SELECT 1 FROM payment_intents
                   WHERE account_id = account AND service = of_service
                     AND customer_code = of_code AND receipt_number IS NOT NULL)
$$;

-- A payer has one payment of a bill under way at a time; other payers are not held up by it. A
-- bill is paid once: a second success is caught when it settles (its money held in suspense),
-- and this index refuses it should two settle at once.
DROP INDEX payment_intents_one_per_bill;
CREATE UNIQUE INDEX payment_intents_one_in_flight_per_payer
    ON payment_intents (biller_id, bill_id, account_id)
    WHERE status IN ('created', 'redirected', 'pending');
CREATE UNIQUE INDEX payment_intents_paid_once ON payment_intents (biller_id, bill_id)
    WHERE status IN ('succeeded', 'refund_pending', 'partially_refunded');
