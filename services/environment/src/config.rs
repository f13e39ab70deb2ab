//! Environment's section of the configuration (`[environment]`).

use std::path::PathBuf;

use platform::config::{Development, Section, serialize_required_secret};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentConfig {
    /// An Open-Meteo forecast API (`https://api.open-meteo.com`, or a self-hosted one); none:
    /// no weather forecast.
    pub weather: Option<WeatherSource>,
    /// The air monitoring network, through the OpenAQ v3 API; none: no air quality.
    pub air_quality: Option<AirQualitySource>,
    /// The hydro-meteorological station's river gauges, through an OGC SensorThings API 1.1;
    /// none: no river levels.
    pub rivers: Option<SensorThingsSource>,
    /// The environmental monitoring centre's surface-water stations, through an OGC
    /// SensorThings API 1.1; none: no water quality.
    pub water_quality: Option<SensorThingsSource>,
    /// The air and water stations and the river gauges with their alarm levels (TOML, as `data/hue.toml`);
    /// none: the demo city's.
    pub stations_file: Option<PathBuf>,
    /// Deadline for one call to an outside system.
    pub timeout_ms: u64,
    /// How long a forecast for a place is answered from memory before it is asked again.
    pub forecast_cache_secs: u64,
    /// How often the air stations' new hours are read.
    pub air_poll_secs: u64,
    /// How often the gauges' new readings are read.
    pub river_poll_secs: u64,
    /// How often the water stations' latest readings are read.
    pub water_poll_secs: u64,
}

impl Default for EnvironmentConfig {
    fn default() -> Self {
        Self {
            weather: None,
            air_quality: None,
            rivers: None,
            water_quality: None,
            stations_file: None,
            timeout_ms: 5_000,
            forecast_cache_secs: 600,
            air_poll_secs: 600,
            river_poll_secs: 300,
            water_poll_secs: 900,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WeatherSource {
    /// The base `/v1/forecast` follows.
    pub base_url: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AirQualitySource {
    /// The base `/v3/...` follows (`https://api.openaq.org`).
    pub base_url: String,
    /// Sent as `X-API-Key`; usually from `CITIZEN_ENVIRONMENT__AIR_QUALITY__API_KEY_FILE`.
    #[serde(serialize_with = "serialize_required_secret")]
    pub api_key: SecretString,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SensorThingsSource {
    /// The base `/v1.1/...` follows.
    pub base_url: String,
}

impl Section for EnvironmentConfig {
    const KEY: &'static str = "environment";

    /// The Open-Meteo, OpenAQ and SensorThings sandboxes, as the demo city's (one SensorThings
    /// server for the gauges and the water stations).
    fn development(on: &Development) -> serde_json::Value {
        let sandbox = &on.sandbox_url;
        serde_json::json!({
            "weather": { "base_url": format!("{sandbox}/open-meteo") },
            "air_quality": {
                "base_url": format!("{sandbox}/openaq"),
                "api_key": "citizen-openaq-sandbox-key",
            },
            "rivers": { "base_url": format!("{sandbox}/sensorthings") },
            "water_quality": { "base_url": format!("{sandbox}/sensorthings") },
        })
    }
}
