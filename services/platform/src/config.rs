//! Layered configuration: built-in defaults, then a TOML file, then `CITIZEN_` environment
//! variables (`__` separates nested keys, `CITIZEN_UPSTREAMS__CATALOGUE`). Any key may instead
//! be given as `<KEY>_FILE` naming a file that holds the value, for secrets mounted by
//! Kubernetes. A key nobody knows is refused, naming it, so a typo never silently falls back
//! to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

const ENV_PREFIX: &str = "CITIZEN_";
/// Names the configuration file itself (`--config`), not a key in it.
const CONFIG_FILE_VAR: &str = "CITIZEN_CONFIG";
const FILE_SUFFIX: &str = "_FILE";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `development` (one machine: sandboxes and plain HTTP to them allowed) or `production`.
    pub profile: DeploymentProfile,
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// Address of the operators' listener (`/metrics`, `/healthz`, `/readyz`), kept off the
    /// public one; unset, `/metrics` is served on `listen` in development and nowhere in
    /// production.
    pub ops_listen: Option<SocketAddr>,
    /// Where the process keeps its own files (the private PostgreSQL cluster, dev keys).
    pub data_dir: PathBuf,
    pub log: LogConfig,
    pub database: DatabaseConfig,
    pub gateway: GatewayConfig,
    /// Base URLs of services that run in another process, by service name. A service that
    /// runs in this process is called in-process and needs no entry.
    pub upstreams: BTreeMap<String, String>,
    pub catalogue: CatalogueConfig,
    pub auth: AuthConfig,
    pub identity: IdentityConfig,
    pub media: MediaConfig,
    pub reports: ReportsConfig,
    pub notifications: NotificationsConfig,
    pub payments: PaymentsConfig,
    pub internal: InternalConfig,
    pub events: EventsConfig,
    pub redis: RedisConfig,
}

/// Redis, where replicas keep what they must count together (rate limits); unset, each
/// process counts alone.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port/db`, or `rediss://` for TLS.
    #[serde(serialize_with = "serialize_secret")]
    pub url: Option<SecretString>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            profile: DeploymentProfile::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            ops_listen: None,
            data_dir: PathBuf::from("data"),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            gateway: GatewayConfig::default(),
            upstreams: BTreeMap::new(),
            catalogue: CatalogueConfig::default(),
            auth: AuthConfig::default(),
            identity: IdentityConfig::default(),
            media: MediaConfig::default(),
            reports: ReportsConfig::default(),
            notifications: NotificationsConfig::default(),
            payments: PaymentsConfig::default(),
            internal: InternalConfig::default(),
            events: EventsConfig::default(),
            redis: RedisConfig::default(),
        }
    }
}

/// What a process serves, for the checks of its profile.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serves {
    pub identity: bool,
    pub reports: bool,
    pub payments: bool,
    pub sandbox: bool,
}

/// What a deployment is for, which decides what it may do without being told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentProfile {
    /// A developer's machine: the sandboxes stand in for outside systems, on loopback.
    Development,
    /// A city's deployment: every outside system over TLS, no sandboxes, no demo data.
    Production,
}

impl Config {
    /// What this configuration may not do in its profile, each naming the key to change; empty
    /// when it may start.
    pub fn profile_problems(&self, serves: &Serves) -> Vec<String> {
        let mut problems = Vec::new();
        match self.profile {
            DeploymentProfile::Development => {
                if !self.listen.ip().is_loopback() {
                    problems.push(format!(
                        "listen = {}: the development profile serves this machine only (a loopback address); set profile = \"production\" to serve a network",
                        self.listen
                    ));
                }
            }
            DeploymentProfile::Production => {
                let mut refuse = |problem: &str| problems.push(problem.to_owned());
                if serves.sandbox {
                    refuse(
                        "the sandbox target: stand-ins for outside systems never run in production",
                    );
                }
                if serves.identity {
                    if self.identity.sms.provider == SmsProvider::DevSink {
                        refuse(
                            "identity.sms.provider = \"dev_sink\" lets anyone read sign-in codes: set \"http\" and identity.sms.url",
                        );
                    }
                    if self.identity.dev_seed_staff {
                        refuse("identity.dev_seed_staff: demo staff with a published password");
                    }
                    if !self.identity.admin_totp_required {
                        refuse(
                            "identity.admin_totp_required = false: admins sign in with a password alone",
                        );
                    }
                    if self.identity.signing_keys.is_empty() {
                        refuse(
                            "identity.signing_keys: set a signing key (generated keys live on one pod's disk)",
                        );
                    }
                    if self.identity.otp_secret.is_none() {
                        refuse(
                            "identity.otp_secret: set it (a generated one lives on one pod's disk)",
                        );
                    }
                }
                if serves.reports && self.reports.seed_demo_jurisdiction {
                    refuse("reports.seed_demo_jurisdiction: the demo city is not a city's data");
                }
                if serves.payments
                    && (self.payments.vnpay.is_some() || self.payments.momo.is_some())
                    && self.payments.public_url.is_none()
                {
                    refuse(
                        "payments.public_url: providers must call back at the ingress's address, not one a request names",
                    );
                }
            }
        }
        problems
    }

    /// Where plain HTTP may reach an outside system: the sandboxes on this machine in
    /// development, nowhere in production.
    pub fn outside_plain_http(&self) -> crate::outbound::PlainHttp {
        match self.profile {
            DeploymentProfile::Development => crate::outbound::PlainHttp::Loopback,
            DeploymentProfile::Production => crate::outbound::PlainHttp::Never,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines for a developer's terminal.
    Text,
    /// One JSON object per line for log collectors in production.
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// `tracing` filter directives; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// PostgreSQL URL. When unset, `DATABASE_URL` is used, then a local server, then a
    /// private cluster under `data_dir` (see `database::locate`).
    #[serde(serialize_with = "serialize_secret")]
    pub url: Option<SecretString>,
    /// Connections per service pool.
    pub max_connections: u32,
    /// How long a request may wait for a free connection before it fails.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_ms: 3_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Whole-request deadline at the gateway.
    pub request_timeout_ms: u64,
    /// Deadline for an upstream to start answering.
    pub upstream_timeout_ms: u64,
    /// Deadline for opening a connection to an upstream.
    pub upstream_connect_timeout_ms: u64,
    /// Largest request body the gateway accepts.
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS (the web app's origin); empty allows none.
    pub cors_allowed_origins: Vec<String>,
    /// Proxies in front of the gateway (the ingress), as CIDRs: only a request from one of them
    /// is believed about the client's address (`X-Forwarded-For`) and the scheme and host it
    /// used (`X-Forwarded-Proto`/`-Host`).
    pub trusted_proxies: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            upstream_timeout_ms: 10_000,
            upstream_connect_timeout_ms: 2_000,
            body_limit_bytes: 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogueConfig {
    /// Jurisdiction served when a request names none.
    pub default_jurisdiction: String,
    /// Jurisdiction data files loaded into the database at start; defaults to the ones
    /// shipped in the binary.
    pub seed_files: Vec<PathBuf>,
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        Self {
            default_jurisdiction: "hue".to_owned(),
            seed_files: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Where the local storage backend keeps objects; defaults to `<data_dir>/media`.
    pub local_dir: Option<PathBuf>,
    /// An S3-compatible store (MinIO, Ceph, R2, AWS S3, SeaweedFS); the local directory when
    /// absent.
    pub s3: Option<S3Config>,
    /// The address clients reach the gateway at (`https://api.example.vn`), for the signed
    /// URLs of the local backend; taken from the request's host when absent.
    pub public_url: Option<String>,
    /// Signs the local backend's URLs; generated under `data_dir` when absent (every replica
    /// of a deployment must share one).
    #[serde(serialize_with = "serialize_secret")]
    pub url_signing_key: Option<SecretString>,
    /// How long a signed upload or download URL works.
    pub signed_url_ttl_secs: u64,
    /// Keep the original (readable by staff only) after the derivatives are made; when false
    /// it is deleted once they exist.
    pub keep_originals: bool,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Largest image accepted, in pixels (width × height), checked before decoding.
    pub max_pixels: u64,
    /// Largest image accepted, in bytes once decoded (pixels × channels × bytes per channel: a
    /// 16-bit RGBA pixel is 8 bytes), checked before decoding.
    pub max_decoded_bytes: u64,
    /// Decoded pixels one process holds at once, in bytes; more decodes wait their turn.
    pub decode_memory_bytes: u64,
    /// Uploads one account may send at once to one process (429 `too_many_uploads` beyond).
    pub concurrent_uploads_per_account: usize,
    /// Uploads one account may start a day (Asia/Ho_Chi_Minh), and their bytes (429
    /// `upload_quota_exceeded` beyond).
    pub daily_upload_count: u32,
    pub daily_upload_bytes: u64,
    /// Uploads attached to nothing for this long are deleted.
    pub unattached_ttl_secs: u64,
    /// How often that clean-up runs.
    pub cleanup_interval_secs: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            local_dir: None,
            s3: None,
            public_url: None,
            url_signing_key: None,
            signed_url_ttl_secs: 900,
            keep_originals: true,
            max_upload_bytes: 15 * 1024 * 1024,
            max_pixels: 50_000_000,
            // 50 MP at 8-bit RGBA; a 16-bit image may have half as many pixels.
            max_decoded_bytes: 200 * 1024 * 1024,
            decode_memory_bytes: 384 * 1024 * 1024,
            concurrent_uploads_per_account: 2,
            daily_upload_count: 200,
            daily_upload_bytes: 1024 * 1024 * 1024,
            unattached_ttl_secs: 24 * 3600,
            cleanup_interval_secs: 600,
        }
    }
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// `https://s3.ap-southeast-1.amazonaws.com`, `http://minio:9000`, ...
    pub endpoint: String,
    /// The address clients reach the store at, when it differs from `endpoint` (presigned
    /// URLs are signed for it).
    #[serde(default)]
    pub public_endpoint: Option<String>,
    #[serde(default = "default_s3_region")]
    pub region: String,
    pub bucket: String,
    /// Put before every key (`hue/`), so several deployments can share a bucket.
    #[serde(default)]
    pub key_prefix: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`; most self-hosted stores need it.
    #[serde(default = "default_true")]
    pub path_style: bool,
    pub access_key_id: String,
    #[serde(serialize_with = "serialize_required_secret")]
    pub secret_access_key: SecretString,
    /// Create the bucket at start when it is missing (development and tests).
    #[serde(default)]
    pub create_bucket: bool,
}

fn default_s3_region() -> String {
    "us-east-1".to_owned()
}

fn default_true() -> bool {
    true
}

/// Which bus carries events between services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventBackend {
    /// Within this process only: the embedded default, for everything in one process.
    InProcess,
    /// NATS JetStream: durable across processes and restarts; what split deployments need.
    Nats,
}

/// Events: each service's outbox, published to a bus, consumed at least once.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    pub backend: EventBackend,
    pub nats_url: String,
    /// The JetStream stream holding every event, declared at start.
    pub nats_stream: String,
    /// Events are published on `<prefix>.<event type>`.
    pub nats_subject_prefix: String,
    /// Deliveries of one event to one consumer before it goes to the dead-letter subject
    /// (`<prefix>.dead.<consumer>`).
    pub max_deliveries: i64,
    /// How often the outbox is polled when no notification woke the relay.
    pub outbox_poll_ms: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            backend: EventBackend::InProcess,
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            nats_stream: "CITIZEN_EVENTS".to_owned(),
            nats_subject_prefix: "citizen.events".to_owned(),
            max_deliveries: 8,
            outbox_poll_ms: 1000,
        }
    }
}

/// Field reports.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Imports the demo city `hue` (wards, departments, categories) when it is not there.
    pub seed_demo_jurisdiction: bool,
    /// How often the SLA job looks for reports past their deadline.
    pub sla_check_interval_ms: u64,
    /// Reports one account may file per hour; more are refused with 429 until the hour passes.
    pub max_reports_per_hour: i64,
    /// Open311 requests one client address may make per minute (per process).
    pub open311_requests_per_minute: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            seed_demo_jurisdiction: true,
            sla_check_interval_ms: 60_000,
            max_reports_per_hour: 20,
            open311_requests_per_minute: 300,
        }
    }
}

/// Notifications: the inbox, and pushes to phones (FCM) and browsers (Web Push).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Firebase Cloud Messaging (the apps); without it, phones get no pushes.
    pub fcm: Option<FcmConfig>,
    /// Web Push (the web app); without it, browsers get no pushes.
    pub web_push: Option<WebPushConfig>,
    /// Push workers per process; they share the queue with each other and with replicas.
    pub push_workers: usize,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            fcm: None,
            web_push: None,
            push_workers: 4,
        }
    }
}

/// Payments of bills and fees through VNPay and MoMo.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// The address providers and browsers reach the gateway at (`https://api.example.vn`), for
    /// the return and notification URLs; taken from the request's host when absent.
    pub public_url: Option<String>,
    /// The bill gateway every lookup and posting goes through (an aggregator serving the
    /// city's billers, or the sandbox's `http://host/sandbox/biller`). Unset: no bills.
    pub biller_url: Option<String>,
    /// VNPay (2.1.0); unset: not offered.
    pub vnpay: Option<VnpayConfig>,
    /// MoMo (v2); unset: not offered.
    pub momo: Option<MomoConfig>,
    /// How long a payment may be paid after it is made.
    pub payment_ttl_secs: u64,
    /// A payment the provider has not settled this long after its last change is asked about.
    pub reconcile_after_secs: u64,
    /// How often reconciliation looks for such payments.
    pub reconcile_interval_ms: u64,
    /// Deadline for one call to a provider (MoMo asks for at least 30 s).
    pub provider_timeout_ms: u64,
    /// Deadline for one call to the bill gateway.
    pub biller_timeout_ms: u64,
    /// Bill lookups per account per minute, against enumerating customer codes.
    pub bill_lookups_per_minute: u32,
    /// Where the browser goes after paying (the app's deep link), with the payment id.
    pub app_return_url: String,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            biller_url: None,
            vnpay: None,
            momo: None,
            payment_ttl_secs: 15 * 60,
            reconcile_after_secs: 5 * 60,
            reconcile_interval_ms: 30_000,
            provider_timeout_ms: 30_000,
            biller_timeout_ms: 10_000,
            bill_lookups_per_minute: 30,
            app_return_url: "citizen://payments".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VnpayConfig {
    /// The merchant's terminal code (`vnp_TmnCode`).
    pub tmn_code: String,
    /// The secret the `vnp_SecureHash` is keyed with; usually from
    /// `CITIZEN_PAYMENTS__VNPAY__HASH_SECRET_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub hash_secret: SecretString,
    /// The payment page (`https://pay.vnpay.vn/vpcpay.html`, the sandbox's
    /// `http://host/sandbox/vnpay/paymentv2/vpcpay.html`).
    pub payment_url: String,
    /// The merchant API for `querydr` and `refund`.
    pub api_url: String,
    /// What VNPay keeps of each payment, in hundredths of a percent (booked as a fee).
    #[serde(default)]
    pub fee_basis_points: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MomoConfig {
    pub partner_code: String,
    pub access_key: String,
    /// The key the signatures are made with; usually from
    /// `CITIZEN_PAYMENTS__MOMO__SECRET_KEY_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub secret_key: SecretString,
    /// MoMo's API (`https://payment.momo.vn`, the sandbox's `http://host/sandbox/momo`).
    pub endpoint: String,
    /// What MoMo keeps of each payment, in hundredths of a percent (booked as a fee).
    #[serde(default)]
    pub fee_basis_points: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebPushConfig {
    /// The VAPID private key: the P-256 private scalar, base64url, as `npx web-push
    /// generate-vapid-keys` prints it; usually read from a secret file with
    /// `CITIZEN_NOTIFICATIONS__WEB_PUSH__VAPID_PRIVATE_KEY_FILE`. The web app subscribes with
    /// its public key, served at `GET /v1/notifications/web-push/key`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub vapid_private_key: SecretString,
    /// Whom push services contact about our traffic: a `mailto:` or `https:` URL.
    pub subject: String,
    /// Sends in flight at once per process.
    #[serde(default = "fcm_concurrency")]
    pub concurrency: usize,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FcmConfig {
    /// The service account's JSON key (from the Firebase console); usually read from a secret
    /// file with `CITIZEN_NOTIFICATIONS__FCM__SERVICE_ACCOUNT_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub service_account: SecretString,
    /// FCM's API, or the emulator's (`http://host/sandbox/fcm`).
    #[serde(default = "fcm_base_url")]
    pub base_url: String,
    /// Sends in flight at once per process.
    #[serde(default = "fcm_concurrency")]
    pub concurrency: usize,
}

fn fcm_base_url() -> String {
    "https://fcm.googleapis.com".to_owned()
}

fn fcm_concurrency() -> usize {
    256
}

/// Calls between services (a report attaching its photos), never routed by the gateway.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InternalConfig {
    /// The bearer token services present to each other's `/internal/` routes. Every process of
    /// a split deployment must share it; when absent each process makes up its own, so only
    /// in-process calls get through.
    #[serde(serialize_with = "serialize_secret")]
    pub service_token: Option<SecretString>,
}

/// What access tokens say and how long they live; the same for issuer and verifiers.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// At most 900 (15 minutes).
    pub access_token_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "citizen".to_owned(),
            audience: "citizen-app".to_owned(),
            access_token_ttl_secs: 900,
        }
    }
}

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

fn serialize_secret<S: serde::Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

fn serialize_required_secret<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    serializer.serialize_str(secret.expose_secret())
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} cannot be read: {source}")]
    UnreadableFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{var} names {path}, which cannot be read: {source}")]
    UnreadableSecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Loads the configuration from defaults, an optional TOML file and the given environment.
    /// The environment is passed in so tests need not touch the process environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = match file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|source| {
                ConfigError::UnreadableFile {
                    path: path.to_owned(),
                    source,
                }
            })?),
            None => None,
        };
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(key, _)| key.starts_with(ENV_PREFIX) && key != CONFIG_FILE_VAR)
            .collect();
        let env = EnvValues::read(&env)?;
        let layered = |development: Option<&Config>| {
            let mut figment = Figment::from(Serialized::defaults(Config::default()));
            if let Some(first) = development {
                figment = figment.merge(Serialized::defaults(development_defaults(first)));
            }
            if let Some(text) = &text {
                figment = figment.merge(Toml::string(text));
            }
            extract(figment.merge(env.clone()))
        };
        // The profile comes from the file or the environment; in development, the sandboxes
        // stand in for whatever outside system the file and environment leave unset.
        let first = layered(None)?;
        match first.profile {
            DeploymentProfile::Development => layered(Some(&first)),
            DeploymentProfile::Production => Ok(first),
        }
    }

    /// The configuration as a newcomer would see it with the process environment.
    pub fn from_process(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load(file, std::env::vars())
    }
}

fn extract(figment: Figment) -> Result<Config, ConfigError> {
    // Lossy: an environment string becomes a number or boolean where the field wants one.
    figment.extract_lossy().map_err(|error| {
        // figment reports every problem; the first one names the key and where it came from.
        let message = error
            .into_iter()
            .map(|e| describe(&e))
            .collect::<Vec<_>>()
            .join("; ");
        ConfigError::Invalid(message)
    })
}

/// The development profile's defaults: the demo staff, and every outside system answered by
/// the sandboxes of the same process (`serve --target all` runs them in development), so
/// signing in with VNeID, paying and pushing work with no configuration file.
fn development_defaults(config: &Config) -> serde_json::Value {
    let base = format!("http://{}", config.listen);
    let sandbox = format!("{base}/sandbox");
    let mut service_account: serde_json::Value =
        serde_json::from_str(FCM_SANDBOX_SERVICE_ACCOUNT).unwrap_or_default();
    service_account["token_uri"] = format!("{sandbox}/fcm/token").into();
    serde_json::json!({
        "identity": {
            "dev_seed_staff": true,
            "admin_totp_required": false,
            "vneid": {
                "issuer": format!("{sandbox}/vneid"),
                "client_secret": "citizen-sandbox-secret",
                "redirect_uri": format!("{base}/v1/auth/vneid/callback"),
            },
        },
        "notifications": {
            "fcm": {
                "service_account": service_account.to_string(),
                "base_url": format!("{sandbox}/fcm"),
            },
        },
        "payments": {
            "biller_url": format!("{sandbox}/biller"),
            "vnpay": {
                "tmn_code": "CITIZEN1",
                "hash_secret": "CITIZENVNPAYSANDBOXHASHSECRET001",
                "payment_url": format!("{sandbox}/vnpay/paymentv2/vpcpay.html"),
                "api_url": format!("{sandbox}/vnpay/merchant_webapi/api/transaction"),
                "fee_basis_points": 110,
            },
            "momo": {
                "partner_code": "MOMOCITIZEN",
                "access_key": "citizenmomoaccesskey",
                "secret_key": "citizenmomosecretkeysandbox00001",
                "endpoint": format!("{sandbox}/momo"),
                "fee_basis_points": 150,
            },
        },
    })
}

/// The FCM emulator's test service account (its key is published: development only).
const FCM_SANDBOX_SERVICE_ACCOUNT: &str =
    include_str!("../../sandbox/data/fcm-test-service-account.json");

fn describe(error: &figment::Error) -> String {
    let key = error.path.join(".");
    let origin = error
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_default();
    match (&error.kind, key.is_empty()) {
        (figment::error::Kind::UnknownField(field, _), _) => {
            // The path ends with the unknown field when figment knows where it was.
            let full = if key.is_empty() {
                field.clone()
            } else if error.path.last() == Some(field) {
                key
            } else {
                format!("{key}.{field}")
            };
            format!("unknown key `{full}` (from {origin})")
        }
        (_, true) => format!("{} (from {origin})", error.kind),
        (_, false) => format!("key `{key}`: {} (from {origin})", error.kind),
    }
}

/// `CITIZEN_` variables as a figment provider, with `_FILE` variables replaced by the
/// contents of the file they name. Values stay strings; figment converts them to numbers and
/// booleans where the field asks for one, so a numeric password stays a string.
#[derive(Clone)]
struct EnvValues {
    values: Dict,
}

impl EnvValues {
    fn read(env: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut values = Dict::new();
        for (var, raw) in env {
            let Some(name) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let (name, value) = match name.strip_suffix(FILE_SUFFIX) {
                Some(name) => {
                    let path = PathBuf::from(raw);
                    let contents = std::fs::read_to_string(&path).map_err(|source| {
                        ConfigError::UnreadableSecretFile {
                            var: var.clone(),
                            path,
                            source,
                        }
                    })?;
                    (name, contents.trim_end_matches(['\r', '\n']).to_owned())
                }
                None => (name, raw.clone()),
            };
            let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            insert_nested(&mut values, &path, value);
        }
        Ok(Self { values })
    }
}

fn insert_nested(dict: &mut Dict, path: &[String], value: String) {
    match path {
        [] => {}
        [last] => {
            dict.insert(last.clone(), parse_env_value(value));
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry(first.clone())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

/// A value in brackets is a JSON list of strings (`["https://a", "https://b"]`); anything else
/// stays a string.
fn parse_env_value(value: String) -> Value {
    if value.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<String>>(&value)
    {
        return Value::from(items);
    }
    Value::from(value)
}

impl Provider for EnvValues {
    fn metadata(&self) -> Metadata {
        Metadata::named("CITIZEN_ environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.values.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_listen_on_localhost_8080() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn environment_overrides_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("citizen.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[gateway]\nbody_limit_bytes = 10\nrequest_timeout_ms = 5\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("CITIZEN_GATEWAY__BODY_LIMIT_BYTES", "20"),
                ("CITIZEN_UPSTREAMS__CATALOGUE", "http://catalogue:8080"),
                (
                    "CITIZEN_GATEWAY__CORS_ALLOWED_ORIGINS",
                    r#"["https://app.example"]"#,
                ),
                ("UNRELATED", "ignored"),
                ("CITIZEN_CONFIG", "/etc/citizen/citizen.toml"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.gateway.body_limit_bytes, 20);
        assert_eq!(config.gateway.request_timeout_ms, 5);
        assert_eq!(config.upstreams["catalogue"], "http://catalogue:8080");
        assert_eq!(config.gateway.cors_allowed_origins, ["https://app.example"]);
    }

    #[test]
    fn a_secret_can_come_from_a_file_and_stays_a_string() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("url");
        std::fs::write(&secret, "postgres://u:12345@db/citizen\n").unwrap();
        let config = Config::load(
            None,
            env(&[("CITIZEN_DATABASE__URL_FILE", secret.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(
            config.database.url.unwrap().expose_secret(),
            "postgres://u:12345@db/citizen"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let error = Config::load(None, env(&[("CITIZEN_GATEWAY__BODY_LIMT", "1")])).unwrap_err();
        assert!(error.to_string().contains("`gateway.body_limt`"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("citizen.toml");
        std::fs::write(&file, "lissten = \"0.0.0.0:1\"\n").unwrap();
        let error = Config::load(Some(&file), env(&[])).unwrap_err();
        assert!(error.to_string().contains("`lissten`"), "{error}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let error =
            Config::load(None, env(&[("CITIZEN_GATEWAY__BODY_LIMIT_BYTES", "lots")])).unwrap_err();
        assert!(
            error.to_string().contains("gateway.body_limit_bytes"),
            "{error}"
        );
    }

    #[test]
    fn the_kubernetes_configuration_file_loads() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../k8s/base/citizen.toml");
        // The deployments give the providers' secrets as files; their values stand in here.
        let config = Config::load(
            Some(&file),
            env(&[
                ("CITIZEN_PAYMENTS__VNPAY__HASH_SECRET", "vnpay-secret"),
                ("CITIZEN_PAYMENTS__MOMO__SECRET_KEY", "momo-secret"),
            ]),
        )
        .unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(
            config.payments.vnpay.as_ref().map(|v| v.tmn_code.as_str()),
            Some("HUES0001")
        );
        assert_eq!(config.identity.sms.provider, SmsProvider::Http);
        assert_eq!(config.identity.signing_keys.len(), 1);
        assert_eq!(config.profile, DeploymentProfile::Production);
        assert!(config.redis.url.is_some() && !config.gateway.trusted_proxies.is_empty());
        // With the OTP secret its deployment mounts, every module may start in production.
        let mut config = config;
        config.identity.otp_secret = Some("mounted".to_owned().into());
        let serves = Serves {
            identity: true,
            reports: true,
            payments: true,
            sandbox: false,
        };
        assert_eq!(config.profile_problems(&serves), Vec::<String>::new());
        config.identity.admin_totp_required = false;
        assert!(
            config.profile_problems(&serves)[0].starts_with("identity.admin_totp_required"),
            "production refuses admins without a second factor"
        );
    }

    #[test]
    fn development_wires_the_sandboxes_in_and_production_nothing() {
        let development = Config::load(None, env(&[("CITIZEN_LISTEN", "127.0.0.1:9999")])).unwrap();
        assert_eq!(development.profile, DeploymentProfile::Development);
        assert!(development.identity.dev_seed_staff);
        assert!(!development.identity.admin_totp_required);
        let fcm = development.notifications.fcm.as_ref().unwrap();
        assert_eq!(fcm.base_url, "http://127.0.0.1:9999/sandbox/fcm");
        assert_eq!(
            development.payments.biller_url.as_deref(),
            Some("http://127.0.0.1:9999/sandbox/biller")
        );
        assert!(development.payments.vnpay.is_some() && development.payments.momo.is_some());
        // What the file or environment says still wins.
        let told =
            Config::load(None, env(&[("CITIZEN_IDENTITY__DEV_SEED_STAFF", "false")])).unwrap();
        assert!(!told.identity.dev_seed_staff);

        let production = Config::load(None, env(&[("CITIZEN_PROFILE", "production")])).unwrap();
        assert!(!production.identity.dev_seed_staff);
        assert!(production.identity.admin_totp_required);
        assert!(production.notifications.fcm.is_none() && production.payments.vnpay.is_none());
        assert!(production.identity.vneid.issuer.is_none());
    }

    #[test]
    fn a_missing_secret_file_is_reported() {
        let error = Config::load(
            None,
            env(&[("CITIZEN_DATABASE__URL_FILE", "/nonexistent/secret")]),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("CITIZEN_DATABASE__URL_FILE"),
            "{error}"
        );
    }
}
