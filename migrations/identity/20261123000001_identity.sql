-- Accounts of residents (phone + OTP) and staff (username + password, optional TOTP), their
-- sessions (refresh-token families), push devices, one-time codes and the security audit log.

CREATE TABLE accounts (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('resident', 'staff')),
    -- E.164, residents only.
    phone           text UNIQUE,
    -- Staff only; compared in lower case.
    username        text UNIQUE CHECK (username = lower(username)),
    password_hash   text,
    totp_secret     text,
    totp_enabled    boolean NOT NULL DEFAULT false,
    -- The last TOTP time step accepted: a code works once.
    totp_last_step  bigint,
    roles           text[] NOT NULL,
    jurisdiction    text,
    ward_ids        text[] NOT NULL DEFAULT '{}',
    department_ids  text[] NOT NULL DEFAULT '{}',
    acr             text NOT NULL DEFAULT 'basic' CHECK (acr IN ('basic', 'verified')),
    display_name    text,
    language        text NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    home_ward       text,
    notification_preferences jsonb NOT NULL DEFAULT '{}',
    disabled_at     timestamptz,
    -- Failed password sign-ins in a row, and until when the account is locked because of them.
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    erasure_requested_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'resident') = (phone IS NOT NULL)),
    CHECK ((kind = 'staff') = (username IS NOT NULL AND password_hash IS NOT NULL))
);

CREATE TABLE otp_challenges (
    id          uuid PRIMARY KEY,
    phone       text NOT NULL,
    -- HMAC-SHA256 of the code under the server's OTP key: a leaked table reveals no code.
    code_hash   bytea NOT NULL,
    ip          inet,
    device_id   text,
    attempts    integer NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Quotas and the latest challenge are looked up by phone, by IP and by device over a window.
CREATE INDEX otp_challenges_phone ON otp_challenges (phone, created_at DESC);
CREATE INDEX otp_challenges_ip ON otp_challenges (ip, created_at DESC);
CREATE INDEX otp_challenges_device ON otp_challenges (device_id, created_at DESC) WHERE device_id IS NOT NULL;

-- One row per refresh token; a family is one sign-in and every token rotated from it.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- SHA-256 of the opaque token.
    token_hash  bytea NOT NULL UNIQUE,
    acr         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL;

CREATE TABLE devices (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    platform    text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
    -- An FCM registration token (android, ios) or a Web Push endpoint (web): one account at a time.
    push_token  text NOT NULL UNIQUE,
    -- Web Push keys (p256dh, auth).
    web_push_keys jsonb,
    app_version text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((platform = 'web') = (web_push_keys IS NOT NULL))
);
CREATE INDEX devices_account ON devices (account_id);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    event       text NOT NULL,
    -- Whom it concerns, and who did it (an admin changing staff, or the same account).
    account_id  uuid,
    actor_id    uuid,
    ip          inet,
    user_agent  text,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_account ON audit_log (account_id, at DESC);

-- Events for other services, published by the outbox relay.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    aggregate_id uuid NOT NULL,
    event_type  text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (created_at) WHERE published_at IS NULL;
