//! The air and water stations and the river gauges a deployment watches, from its stations
//! file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The demo city's, used when no file is configured.
const DEMO: &str = include_str!("../data/hue.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stations {
    /// The jurisdiction the stations and gauges belong to.
    #[serde(default = "default_jurisdiction")]
    pub jurisdiction: String,
    #[serde(default)]
    pub air_stations: Vec<AirStation>,
    #[serde(default)]
    pub river_gauges: Vec<RiverGauge>,
    #[serde(default)]
    pub water_stations: Vec<WaterStation>,
    /// Each ward's waste collection rounds and points.
    #[serde(default)]
    pub waste_collection: Vec<crate::waste::WardCollection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirStation {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
    pub lat: f64,
    pub lng: f64,
    /// The station's location id at the network's OpenAQ API.
    pub openaq_location: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiverGauge {
    pub id: String,
    pub river_vi: String,
    pub river_en: String,
    pub station_vi: String,
    pub station_en: String,
    pub lat: f64,
    pub lng: f64,
    /// The gauge's water-level datastream at the SensorThings service.
    pub datastream: u64,
    /// Alarm levels I, II and III, in metres, rising.
    pub alarm_levels_m: [f64; 3],
    /// The wards a flood at the gauge reaches, told when it rises past an alarm level.
    #[serde(default)]
    pub warns_wards: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterStation {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
    pub lat: f64,
    pub lng: f64,
    /// The water temperature's datastream at the SensorThings service (°C).
    pub temperature_datastream: Option<u64>,
    /// Each parameter's datastream, by its VN_WQI code (`ph`, `do`, `bod5`...), in the unit the
    /// decision takes it in.
    pub datastreams: BTreeMap<String, u64>,
}

impl WaterStation {
    /// Every datastream of the station, each with what it measures: a parameter's code, or
    /// [`TEMPERATURE`].
    pub fn all_datastreams(&self) -> impl Iterator<Item = (&str, u64)> {
        self.datastreams
            .iter()
            .map(|(code, &id)| (code.as_str(), id))
            .chain(self.temperature_datastream.map(|id| (TEMPERATURE, id)))
    }
}

/// What a water station's temperature readings are stored as.
pub const TEMPERATURE: &str = "temperature";

impl RiverGauge {
    /// The alarm level a river at `level_m` has reached: 0 (below I) to 3.
    pub fn alarm_level(&self, level_m: f64) -> u8 {
        self.alarm_levels_m
            .iter()
            .filter(|&&threshold| level_m >= threshold)
            .count() as u8
    }
}

fn default_jurisdiction() -> String {
    "hue".to_owned()
}

/// The stations of `file`, or the demo city's.
pub fn load(file: Option<&Path>) -> anyhow::Result<Stations> {
    let text = match file {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => DEMO.to_owned(),
    };
    let stations: Stations = toml::from_str(&text)?;
    let mut ids = std::collections::HashSet::new();
    for station in &stations.air_stations {
        anyhow::ensure!(
            platform::geo::valid_position(station.lat, station.lng),
            "air station {}: not a position",
            station.id
        );
        anyhow::ensure!(ids.insert(&station.id), "{} is named twice", station.id);
    }
    for gauge in &stations.river_gauges {
        anyhow::ensure!(
            platform::geo::valid_position(gauge.lat, gauge.lng),
            "river gauge {}: not a position",
            gauge.id
        );
        anyhow::ensure!(ids.insert(&gauge.id), "{} is named twice", gauge.id);
        anyhow::ensure!(
            gauge
                .alarm_levels_m
                .windows(2)
                .all(|pair| pair[0] < pair[1]),
            "river gauge {}: alarm levels must rise",
            gauge.id
        );
    }
    for station in &stations.water_stations {
        anyhow::ensure!(
            platform::geo::valid_position(station.lat, station.lng),
            "water station {}: not a position",
            station.id
        );
        anyhow::ensure!(ids.insert(&station.id), "{} is named twice", station.id);
        for code in station.datastreams.keys() {
            let parameter = crate::wqi::Parameter::from_code(code).ok_or_else(|| {
                anyhow::anyhow!("water station {}: no VN_WQI parameter {code}", station.id)
            })?;
            anyhow::ensure!(
                parameter != crate::wqi::Parameter::Do || station.temperature_datastream.is_some(),
                "water station {}: DO needs the water temperature's datastream",
                station.id
            );
        }
    }
    for ward in &stations.waste_collection {
        ward.household
            .check()
            .and_then(|()| ward.bulky.check())
            .map_err(|e| anyhow::anyhow!("waste collection of {}: {e}", ward.ward))?;
    }
    Ok(stations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_city_has_the_official_alarm_levels() {
        let stations = load(None).unwrap();
        let kim_long = stations
            .river_gauges
            .iter()
            .find(|g| g.id == "kim-long")
            .unwrap();
        assert_eq!(kim_long.alarm_levels_m, [1.0, 2.0, 3.5]);
        let phu_oc = stations
            .river_gauges
            .iter()
            .find(|g| g.id == "phu-oc")
            .unwrap();
        assert_eq!(phu_oc.alarm_levels_m[1..], [3.0, 4.5]);
        assert_eq!(stations.air_stations.len(), 3);
    }

    #[test]
    fn a_level_reaches_an_alarm_at_its_threshold() {
        let stations = load(None).unwrap();
        let kim_long = &stations.river_gauges[0];
        assert_eq!(kim_long.alarm_level(0.99), 0);
        assert_eq!(kim_long.alarm_level(1.0), 1);
        assert_eq!(kim_long.alarm_level(3.49), 2);
        assert_eq!(kim_long.alarm_level(3.5), 3);
        assert_eq!(kim_long.alarm_level(6.0), 3);
    }
}
