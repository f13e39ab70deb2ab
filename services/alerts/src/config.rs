//! Alerts' section of the configuration (`[alerts]`).

use std::collections::BTreeMap;

use platform::config::{Development, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// Each jurisdiction's authorities' CAP feeds (`[[alerts.feeds.hue]]`), read for new alerts.
    pub feeds: BTreeMap<String, Vec<CapFeed>>,
    /// The `sender` of the alerts the city's operators write (and gauges raise).
    pub sender: String,
    /// The `senderName` of those alerts, in Vietnamese and English.
    pub sender_name_vi: String,
    pub sender_name_en: String,
    /// The address clients reach the API at (`https://api.hue.gov.vn`), for the links of the
    /// Atom feed; unset, the request's own host (and the feed is not kept by shared caches).
    pub public_url: Option<String>,
    /// Emergency numbers and the police stations, fire and rescue teams and hospitals (TOML, as
    /// `data/emergency.toml`); none: the demo city's.
    pub emergency_file: Option<std::path::PathBuf>,
    /// How often the feeds are read.
    pub feed_poll_secs: u64,
    /// Deadline for one call to an outside system.
    pub timeout_ms: u64,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            feeds: BTreeMap::new(),
            public_url: None,
            emergency_file: None,
            sender: "ioc@hue.gov.vn".to_owned(),
            sender_name_vi: "Trung tâm Giám sát, điều hành đô thị thông minh Huế".to_owned(),
            sender_name_en: "Hue Intelligent Operations Centre".to_owned(),
            feed_poll_secs: 60,
            timeout_ms: 5_000,
        }
    }
}

/// An authority's feed: an Atom feed whose entries link to CAP 1.2 documents.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CapFeed {
    pub url: String,
    /// The only `sender` taken from it: a feed cannot speak for, or cancel, another authority.
    pub sender: String,
    /// What the app files its alerts under (`disaster`, `power_outage`, `water_outage`, ...).
    pub kind: String,
}

impl Section for AlertsConfig {
    const KEY: &'static str = "alerts";

    /// The disaster committee's, the power company's and the water company's sandbox feeds.
    fn development(on: &Development) -> serde_json::Value {
        let sandbox = &on.sandbox_url;
        let feed = |publisher: &str, sender: &str, kind: &str| {
            serde_json::json!({
                "url": format!("{sandbox}/cap/{publisher}/feed.atom"),
                "sender": sender,
                "kind": kind,
            })
        };
        serde_json::json!({
            "feeds": { "hue": [
                feed("disaster-committee", "pctt@hue.gov.vn", "disaster"),
                feed("power", "cskh@pchue.evn.vn", "power_outage"),
                feed("water", "cskh@huewaco.vn", "water_outage"),
            ] }
        })
    }
}
