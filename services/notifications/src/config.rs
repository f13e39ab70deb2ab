//! Notifications' section of the configuration (`[notifications]`).

use platform::config::{Development, Section, serialize_required_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

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

impl Section for NotificationsConfig {
    const KEY: &'static str = "notifications";

    /// FCM's sandbox, with its published test service account.
    fn development(on: &Development) -> serde_json::Value {
        let mut service_account: serde_json::Value =
            serde_json::from_str(FCM_SANDBOX_SERVICE_ACCOUNT).unwrap_or_default();
        service_account["token_uri"] = format!("{}/fcm/token", on.sandbox_url).into();
        serde_json::json!({
            "fcm": {
                "service_account": service_account.to_string(),
                "base_url": format!("{}/fcm", on.sandbox_url),
            },
        })
    }
}

const FCM_SANDBOX_SERVICE_ACCOUNT: &str =
    include_str!("../../sandbox/data/fcm-test-service-account.json");
