//! Mobility's section of the configuration (`[mobility]`).

use platform::config::{Development, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MobilityConfig {
    /// A jurisdiction given the demo city's bus timetable (`data/hue-gtfs`) at start when it has
    /// none; a deployment imports its own with `citizen transit import`.
    pub demo_feed: Option<String>,
}

impl Section for MobilityConfig {
    const KEY: &'static str = "mobility";

    /// Huế's demo timetable.
    fn development(_: &Development) -> serde_json::Value {
        serde_json::json!({ "demo_feed": "hue" })
    }
}
