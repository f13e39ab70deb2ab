//! Mobility's section of the configuration (`[mobility]`).

use std::collections::BTreeMap;

use platform::config::{Development, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MobilityConfig {
    /// A jurisdiction given the demo city's bus timetable (`data/hue-gtfs`) at start when it has
    /// none; a deployment imports its own with `citizen transit import`.
    pub demo_feed: Option<String>,
    /// Each jurisdiction's GTFS Realtime TripUpdates feed, by URL: `[mobility.trip_updates]
    /// hue = "https://.../trip-updates.pb"`. None: departures are the timetable's.
    pub trip_updates: BTreeMap<String, String>,
    /// How often the real-time feeds are read.
    pub realtime_poll_secs: u64,
    /// Deadline for one read of a real-time feed.
    pub realtime_timeout_ms: u64,
}

impl Default for MobilityConfig {
    fn default() -> Self {
        Self {
            demo_feed: None,
            trip_updates: BTreeMap::new(),
            realtime_poll_secs: 30,
            realtime_timeout_ms: 5_000,
        }
    }
}

impl Section for MobilityConfig {
    const KEY: &'static str = "mobility";

    /// Huế's demo timetable, and the GTFS Realtime sandbox as its live feed.
    fn development(on: &Development) -> serde_json::Value {
        let sandbox = &on.sandbox_url;
        serde_json::json!({
            "demo_feed": "hue",
            "trip_updates": { "hue": format!("{sandbox}/gtfs-rt/hue/trip-updates.pb") },
        })
    }
}
