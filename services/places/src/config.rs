//! Places' section of the configuration (`[places]`).

use std::collections::BTreeMap;

use platform::config::{Development, Section};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacesConfig {
    /// Each jurisdiction's OpenStreetMap extracts (GeoJSON, properties as OSM tags), by URL:
    /// `[places.sources] hue = ["https://.../hue-amenities.geojson"]`.
    pub sources: BTreeMap<String, Vec<String>>,
    /// How often the sources are checked for a new version.
    pub refresh_secs: u64,
}

impl Default for PlacesConfig {
    fn default() -> Self {
        Self {
            sources: BTreeMap::new(),
            refresh_secs: 6 * 3600,
        }
    }
}

impl Section for PlacesConfig {
    const KEY: &'static str = "places";

    /// The OpenStreetMap extract sandbox, as the demo city's.
    fn development(on: &Development) -> serde_json::Value {
        let sandbox = &on.sandbox_url;
        serde_json::json!({
            "sources": { "hue": [format!("{sandbox}/osm/hue-amenities.geojson")] },
        })
    }
}
