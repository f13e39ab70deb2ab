-- Linking an account to the national e-ID (VNeID) raises its assurance to `verified`. The
-- provider's pairwise subject is kept, never the ID number: one person, one account.
ALTER TABLE accounts
    ADD COLUMN vneid_subject text UNIQUE,
    ADD COLUMN verified_at timestamptz;

-- One authorization-code flow in progress: PKCE verifier and nonce, found again by `state`.
CREATE TABLE identity_verifications (
    state         text PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    expires_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    outcome       text CHECK (outcome IN ('verified', 'declined', 'failed')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_verifications_account ON identity_verifications (account_id, created_at DESC);
