//! Administration's section of the configuration (`[administration]`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use platform::config::{Development, Section, serialize_required_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdministrationConfig {
    /// Each jurisdiction's one-stop system (`[administration.one_stop.hue]`), reached through
    /// the province's integration platform. A jurisdiction without one has no dossier tracking.
    pub one_stop: BTreeMap<String, ApiServer>,
    /// Việt Nam Social Security's participant lookup; none: no social insurance lookup.
    pub social_insurance: Option<ApiServer>,
    /// Each jurisdiction's zoning layers (GeoJSON), by layer name: `[administration.planning.hue]`
    /// `phan-khu = "https://..."`.
    pub planning: BTreeMap<String, BTreeMap<String, String>>,
    /// The public-service centres and ward counters taking appointments, their services and
    /// hours (TOML, as `data/centres.toml`); none: the demo city's.
    pub centres_file: Option<PathBuf>,
    /// The jurisdiction of a resident who has not set a home ward.
    pub default_jurisdiction: String,
    /// Deadline for one call to an outside system.
    pub timeout_ms: u64,
    /// How often each one-stop system is asked for the dossiers changed since it was last asked.
    pub dossier_poll_ms: u64,
    /// How often the zoning layers are checked for a new version.
    pub planning_refresh_secs: u64,
    /// How often appointments are checked for reminders due.
    pub reminders_interval_ms: u64,
    /// Anonymous dossier lookups a client address may make per minute.
    pub dossier_lookups_per_minute: u32,
    /// Lookups of one dossier code per hour, whoever asks (guessing its phone digits meets it).
    pub dossier_lookups_per_code_hour: u32,
    /// Upcoming appointments one account may hold.
    pub max_upcoming_appointments: u32,
    /// How far ahead appointments can be booked.
    pub booking_horizon_days: u32,
}

impl Default for AdministrationConfig {
    fn default() -> Self {
        Self {
            one_stop: BTreeMap::new(),
            social_insurance: None,
            planning: BTreeMap::new(),
            centres_file: None,
            default_jurisdiction: "hue".to_owned(),
            timeout_ms: 5_000,
            dossier_poll_ms: 60_000,
            planning_refresh_secs: 6 * 3600,
            reminders_interval_ms: 60_000,
            dossier_lookups_per_minute: 10,
            dossier_lookups_per_code_hour: 20,
            max_upcoming_appointments: 3,
            booking_horizon_days: 30,
        }
    }
}

/// An outside system's REST API reached with OAuth 2.0 client credentials (as the provinces'
/// integration platforms, LGSP, publish them).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiServer {
    /// The base the API's paths follow (`https://lgsp.thuathienhue.gov.vn/motcua`).
    pub base_url: String,
    /// The OAuth 2.0 token endpoint.
    pub token_url: String,
    pub client_id: String,
    /// Usually from `CITIZEN_ADMINISTRATION__..._CLIENT_SECRET_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub client_secret: SecretString,
}

impl Section for AdministrationConfig {
    const KEY: &'static str = "administration";

    /// The one-stop, social insurance and planning sandboxes, with their published
    /// credentials, as the demo city's.
    fn development(on: &Development) -> serde_json::Value {
        let sandbox = &on.sandbox_url;
        serde_json::json!({
            "one_stop": {
                "hue": {
                    "base_url": format!("{sandbox}/one-stop"),
                    "token_url": format!("{sandbox}/one-stop/token"),
                    "client_id": "citizen-one-stop",
                    "client_secret": "citizen-one-stop-sandbox-secret",
                }
            },
            "social_insurance": {
                "base_url": format!("{sandbox}/social-insurance"),
                "token_url": format!("{sandbox}/social-insurance/token"),
                "client_id": "citizen-bhxh",
                "client_secret": "citizen-bhxh-sandbox-secret",
            },
            "planning": {
                "hue": {
                    "phan-khu": format!("{sandbox}/planning/layers/phan-khu.geojson"),
                    "su-dung-dat": format!("{sandbox}/planning/layers/su-dung-dat.geojson"),
                }
            },
        })
    }
}
