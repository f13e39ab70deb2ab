//! Identity's section of the configuration (`[identity]`).

use std::path::PathBuf;

use platform::config::{Development, Section, serialize_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Token signing keys. Empty: a development key is generated into `data_dir`.
    pub signing_keys: Vec<SigningKeyConfig>,
    /// Key for hashing one-time codes (HMAC). Unset: generated into `data_dir`. Replicas must
    /// share it.
    #[serde(serialize_with = "serialize_secret")]
    pub otp_secret: Option<SecretString>,
    pub refresh_token_ttl_days: u32,
    /// A rotated refresh token used again within this window (two requests of one app racing)
    /// still works; later, it revokes its whole family.
    pub refresh_reuse_grace_secs: u64,
    pub otp: OtpConfig,
    pub sms: SmsConfig,
    /// Creates the demo staff of `hue` at start. Never in production.
    pub dev_seed_staff: bool,
    /// Jurisdiction and platform admins act as admins only once they have turned TOTP on:
    /// until then their sessions carry their other roles (and may enrol TOTP). Always on in
    /// production; the development profile turns it off for the demo staff.
    pub admin_totp_required: bool,
    /// Days between an erasure request and the erasure.
    pub erasure_grace_days: u32,
    /// How often due erasures run.
    pub erasure_interval_secs: u64,
    pub vneid: VneidConfig,
    /// Where a browser's Web Push endpoint may point: `scheme://host[:port]/path-prefix`, the
    /// host may start with `*.`. The push services of Chrome, Firefox, Safari and Edge by
    /// default; anything else is refused at registration, so pushes cannot be aimed at other
    /// hosts.
    pub web_push_endpoints: Vec<String>,
    pub staff_sign_in: StaffSignInConfig,
}

/// Limits on staff sign-in, where every attempt costs a password hash (19 MiB of memory).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct StaffSignInConfig {
    /// Password hashes computed at once by this process; 0 means twice its cores. A sign-in
    /// that finds none free within a second answers 429.
    pub hashing_concurrency: usize,
    /// Attempts per minute from one client address (an IPv6 client is its /64).
    pub per_address_per_minute: u32,
    /// Attempts per minute at one username, from anywhere.
    pub per_username_per_minute: u32,
    /// Wrong passwords or codes from one address at one username before that pair is locked
    /// out for `lockout_secs` (other addresses are not: nobody can lock an officer out).
    pub failures_before_lockout: u32,
    pub lockout_secs: u64,
}

impl Default for StaffSignInConfig {
    fn default() -> Self {
        Self {
            hashing_concurrency: 0,
            per_address_per_minute: 30,
            per_username_per_minute: 60,
            failures_before_lockout: 5,
            lockout_secs: 15 * 60,
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            signing_keys: Vec::new(),
            otp_secret: None,
            refresh_token_ttl_days: 30,
            refresh_reuse_grace_secs: 10,
            otp: OtpConfig::default(),
            sms: SmsConfig::default(),
            dev_seed_staff: false,
            admin_totp_required: true,
            erasure_grace_days: 30,
            erasure_interval_secs: 3600,
            vneid: VneidConfig::default(),
            web_push_endpoints: [
                "https://fcm.googleapis.com/",
                "https://updates.push.services.mozilla.com/",
                "https://web.push.apple.com/",
                "https://*.notify.windows.com/",
            ]
            .map(str::to_owned)
            .to_vec(),
            staff_sign_in: StaffSignInConfig::default(),
        }
    }
}

/// The national e-ID (VNeID) as an OpenID Connect provider, for raising an account to
/// `verified`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct VneidConfig {
    /// The provider's issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    /// Unset: verification is unavailable.
    pub issuer: Option<String>,
    pub client_id: String,
    #[serde(serialize_with = "serialize_secret")]
    pub client_secret: Option<SecretString>,
    /// Our callback as the provider redirects the browser to it.
    pub redirect_uri: String,
    /// Where the browser goes afterwards (the app's deep link), with `?status=`.
    pub app_return_url: String,
}

impl Default for VneidConfig {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: "citizen-sandbox".to_owned(),
            client_secret: None,
            redirect_uri: "http://127.0.0.1:8080/v1/auth/vneid/callback".to_owned(),
            app_return_url: "citizen://identity-verification".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyConfig {
    /// Key id; defaults to the key's RFC 7638 thumbprint.
    #[serde(default)]
    pub kid: Option<String>,
    /// PKCS#8 PEM of an Ed25519 (EdDSA) or P-256 (ES256) private key, or a file holding it.
    #[serde(default, serialize_with = "serialize_secret")]
    pub private_key: Option<SecretString>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// When the key starts signing (RFC 3339). Before that it is only published, so verifiers
    /// learn it first. Unset: it has always signed.
    #[serde(default)]
    pub signs_from: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpConfig {
    pub ttl_secs: u64,
    pub max_attempts: i32,
    pub resend_cooldown_secs: u64,
    /// Codes sent per hour, against SMS pumping.
    pub per_phone_per_hour: i64,
    pub per_ip_per_hour: i64,
    pub per_device_per_hour: i64,
}

impl Default for OtpConfig {
    fn default() -> Self {
        Self {
            ttl_secs: 300,
            max_attempts: 5,
            resend_cooldown_secs: 60,
            per_phone_per_hour: 5,
            per_ip_per_hour: 20,
            per_device_per_hour: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// Keeps the last messages in memory, readable at `/v1/dev/sms`: development only.
    DevSink,
    /// An HTTP SMS gateway.
    Http,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    /// The gateway's send URL (HTTP provider).
    pub url: Option<String>,
    pub username: Option<String>,
    #[serde(serialize_with = "serialize_secret")]
    pub password: Option<SecretString>,
    /// Registered sender name (brandname).
    pub sender: Option<String>,
    /// The message; `{code}` and `{minutes}` are replaced. SMS in Vietnam is sent without
    /// diacritics so it fits one GSM-7 segment.
    pub template: String,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: SmsProvider::DevSink,
            url: None,
            username: None,
            password: None,
            sender: None,
            template: "Ma xac thuc Citizen cua ban la {code}, hieu luc {minutes} phut. \
                       Khong chia se ma nay cho bat ky ai."
                .to_owned(),
        }
    }
}

impl Section for IdentityConfig {
    const KEY: &'static str = "identity";

    /// Demo staff without a second factor, and VNeID's sandbox.
    fn development(on: &Development) -> serde_json::Value {
        serde_json::json!({
            "dev_seed_staff": true,
            "admin_totp_required": false,
            "vneid": {
                "issuer": format!("{}/vneid", on.sandbox_url),
                "client_secret": "citizen-sandbox-secret",
                "redirect_uri": format!("{}/v1/auth/vneid/callback", on.base_url),
            },
        })
    }

    fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut refuse = |problem: &str| problems.push(problem.to_owned());
        if self.sms.provider == SmsProvider::DevSink {
            refuse(
                "identity.sms.provider = \"dev_sink\" lets anyone read sign-in codes: set \"http\" and identity.sms.url",
            );
        }
        if self.dev_seed_staff {
            refuse("identity.dev_seed_staff: demo staff with a published password");
        }
        if !self.admin_totp_required {
            refuse("identity.admin_totp_required = false: admins sign in with a password alone");
        }
        if self.signing_keys.is_empty() {
            refuse(
                "identity.signing_keys: set a signing key (generated keys live on one pod's disk)",
            );
        }
        if self.otp_secret.is_none() {
            refuse("identity.otp_secret: set it (a generated one lives on one pod's disk)");
        }
        problems
    }
}
