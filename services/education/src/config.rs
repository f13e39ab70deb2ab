//! Education's section of the configuration (`[education]`).

use std::collections::BTreeMap;

use platform::config::{Development, Section, serialize_required_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EducationConfig {
    /// Each jurisdiction's school information system, by jurisdiction id
    /// (`[education.systems.hue]`). A jurisdiction without one has no grades or school map.
    pub systems: BTreeMap<String, OneRosterServer>,
    /// The system of a resident who has not set a home ward.
    pub default_jurisdiction: String,
    /// Deadline for one call to a school system.
    pub timeout_ms: u64,
    /// How often each system is asked for results published since it was last asked.
    pub results_poll_ms: u64,
    /// How often the schools each system lists are copied here.
    pub schools_refresh_secs: u64,
    /// The national exam's results files, as the department publishes them (CSV, one per
    /// year), by year.
    pub exam_results: BTreeMap<String, String>,
    /// How often the exam results files are checked for a new version.
    pub exam_refresh_secs: u64,
    /// Anonymous exam lookups a client address may make per minute.
    pub exam_lookups_per_minute: u32,
    /// Lookups of one candidate number per hour, whoever asks (guessing its birth date meets it).
    pub exam_lookups_per_candidate_hour: u32,
}

impl Default for EducationConfig {
    fn default() -> Self {
        Self {
            systems: BTreeMap::new(),
            default_jurisdiction: "hue".to_owned(),
            timeout_ms: 5_000,
            results_poll_ms: 60_000,
            schools_refresh_secs: 6 * 3600,
            exam_results: BTreeMap::new(),
            exam_refresh_secs: 600,
            exam_lookups_per_minute: 10,
            exam_lookups_per_candidate_hour: 20,
        }
    }
}

/// A OneRoster 1.2 service provider, reached with OAuth 2.0 client credentials.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OneRosterServer {
    /// The base the OneRoster paths follow (`https://sis.example.vn` for
    /// `https://sis.example.vn/ims/oneroster/rostering/v1p2/...`).
    pub base_url: String,
    /// The OAuth 2.0 token endpoint.
    pub token_url: String,
    pub client_id: String,
    /// Usually from `CITIZEN_EDUCATION__SYSTEMS__<ID>__CLIENT_SECRET_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub client_secret: SecretString,
}

impl Section for EducationConfig {
    const KEY: &'static str = "education";

    /// The OneRoster and exam sandboxes, with their published credentials, as the demo city's.
    fn development(on: &Development) -> serde_json::Value {
        serde_json::json!({
            "systems": {
                "hue": {
                    "base_url": format!("{}/oneroster", on.sandbox_url),
                    "token_url": format!("{}/oneroster/token", on.sandbox_url),
                    "client_id": "citizen-education",
                    "client_secret": "citizen-oneroster-sandbox-secret",
                }
            },
            "exam_results": {
                "2026": format!("{}/exams/2026/results.csv", on.sandbox_url),
            },
        })
    }
}
