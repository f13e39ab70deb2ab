//! Health's section of the configuration (`[health]`).

use std::collections::BTreeMap;

use platform::config::{Development, Section, serialize_required_secret, serialize_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Each jurisdiction's health information system, by jurisdiction id
    /// (`[health.systems.hue]`). A jurisdiction without one has no health lookups.
    pub systems: BTreeMap<String, FhirServer>,
    /// The system of a resident who has not set a home ward.
    pub default_jurisdiction: String,
    /// Deadline for one call to a FHIR server.
    pub timeout_ms: u64,
    /// The identifier system the FHIR servers file the personal ID number (CCCD) under.
    pub national_id_system: String,
    /// A parent acts for a child younger than this (years).
    pub proxy_age_limit: u32,
    /// How often the facilities and blood drives each system lists are copied here.
    pub facilities_refresh_secs: u64,
    /// How often the vaccination reminders look for people not checked today.
    pub reminders_interval_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            systems: BTreeMap::new(),
            default_jurisdiction: "hue".to_owned(),
            timeout_ms: 5_000,
            national_id_system: "urn:vn:cccd".to_owned(),
            proxy_age_limit: 16,
            facilities_refresh_secs: 6 * 3600,
            reminders_interval_ms: 3_600_000,
        }
    }
}

/// A FHIR R4 server.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FhirServer {
    /// The service base URL (`https://fhir.example.vn/r4`, the sandbox's
    /// `http://host/sandbox/fhir`).
    pub base_url: String,
    /// Sent as `Authorization: Bearer`; usually from
    /// `CITIZEN_HEALTH__SYSTEMS__<ID>__BEARER_TOKEN_FILE`.
    #[serde(default, serialize_with = "serialize_secret")]
    pub bearer_token: Option<SecretString>,
    /// SMART Backend Services instead of a fixed token: access tokens asked for with a JWT our
    /// key signs (https://hl7.org/fhir/smart-app-launch/backend-services.html).
    #[serde(default)]
    pub smart: Option<SmartClient>,
}

/// A SMART Backend Services client registration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmartClient {
    pub client_id: String,
    /// The registered key, PKCS#8 PEM (P-384 for ES384, RSA for RS384); usually from
    /// `CITIZEN_HEALTH__SYSTEMS__<ID>__SMART__PRIVATE_KEY_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub private_key: SecretString,
    /// `ES384` or `RS384`, as registered.
    #[serde(default = "SmartClient::default_algorithm")]
    pub algorithm: String,
    /// The `kid` of the registered key, when the server holds several.
    #[serde(default)]
    pub key_id: Option<String>,
    /// The scopes asked for.
    #[serde(default = "SmartClient::default_scope")]
    pub scope: String,
}

impl SmartClient {
    fn default_algorithm() -> String {
        "ES384".to_owned()
    }

    fn default_scope() -> String {
        "system/*.rs system/Appointment.cu".to_owned()
    }
}

impl Section for HealthConfig {
    const KEY: &'static str = "health";

    /// The FHIR sandbox, with its published token, as the demo city's system.
    fn development(on: &Development) -> serde_json::Value {
        serde_json::json!({
            "systems": {
                "hue": {
                    "base_url": format!("{}/fhir", on.sandbox_url),
                    "bearer_token": "citizen-fhir-sandbox-token",
                }
            }
        })
    }
}
