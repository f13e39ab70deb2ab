//! Community's section of the configuration (`[community]`).

use platform::config::{Development, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommunityConfig {
    /// A jurisdiction whose events calendar starts with the demo city's events
    /// (`data/hue-events.toml`) when it has none: for development and the demo.
    pub demo_events: Option<String>,
}

impl Section for CommunityConfig {
    const KEY: &'static str = "community";

    fn development(_: &Development) -> serde_json::Value {
        serde_json::json!({ "demo_events": "hue" })
    }
}
