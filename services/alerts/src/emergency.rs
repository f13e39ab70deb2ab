//! Emergency numbers, and the police station, fire and rescue team and hospital nearest a
//! resident, from the deployment's emergency file.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use platform::ApiError;
use platform::extract::QueryParams;
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AlertsState;

/// The demo city's, used when no file is configured.
const DEMO: &str = include_str!("../data/emergency.toml");
const KINDS: [&str; 3] = ["police", "fire_station", "hospital"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emergency {
    numbers: Vec<Number>,
    #[serde(default)]
    places: Vec<Place>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Number {
    number: String,
    name_vi: String,
    name_en: String,
    for_vi: String,
    for_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Place {
    kind: String,
    name_vi: String,
    name_en: String,
    lat: f64,
    lng: f64,
}

/// The emergency file, or the demo city's.
pub fn load(file: Option<&Path>) -> anyhow::Result<Emergency> {
    let text = match file {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => DEMO.to_owned(),
    };
    let emergency: Emergency = toml::from_str(&text)?;
    anyhow::ensure!(!emergency.numbers.is_empty(), "no emergency numbers");
    for number in &emergency.numbers {
        anyhow::ensure!(
            !number.number.is_empty() && number.number.bytes().all(|b| b.is_ascii_digit()),
            "not a number to dial: {}",
            number.number
        );
    }
    for place in &emergency.places {
        anyhow::ensure!(
            KINDS.contains(&place.kind.as_str()),
            "{}: unknown kind {}",
            place.name_en,
            place.kind
        );
        anyhow::ensure!(
            platform::geo::valid_position(place.lat, place.lng),
            "{}: not a position",
            place.name_en
        );
    }
    Ok(emergency)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    /// Where the resident is: the nearest of each kind of place.
    lat: Option<f64>,
    lng: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyContacts {
    /// In the order to show them: police, fire and rescue, ambulance first.
    numbers: Vec<EmergencyNumber>,
    /// With a position, the nearest police station, fire and rescue team and hospital (one
    /// each, nearest first); without, every place.
    places: Vec<EmergencyPlace>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyNumber {
    /// What to dial.
    number: String,
    name: Text,
    /// What to call it for.
    for_what: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmergencyPlace {
    /// `police`, `fire_station` or `hospital`.
    kind: String,
    name: Text,
    lat: f64,
    lng: f64,
    distance_m: Option<f64>,
}

/// Emergency numbers and the nearest police, fire and rescue and hospital.
#[utoipa::path(get, path = "/v1/alerts/emergency", operation_id = "emergency_contacts", tag = "alerts",
    params(NearQuery),
    responses((status = 200, body = EmergencyContacts),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn contacts(
    State(state): State<AlertsState>,
    QueryParams(near): QueryParams<NearQuery>,
) -> Result<Json<EmergencyContacts>, ApiError> {
    let point = platform::geo::optional_position(near.lat, near.lng)?;
    let emergency = &state.emergency;
    let view = |place: &Place| EmergencyPlace {
        kind: place.kind.clone(),
        name: Text::new(&place.name_vi, &place.name_en),
        lat: place.lat,
        lng: place.lng,
        distance_m: point
            .map(|(lat, lng)| platform::geo::distance_m(lat, lng, place.lat, place.lng).round()),
    };
    let mut places: Vec<EmergencyPlace> = match point {
        None => emergency.places.iter().map(view).collect(),
        Some(_) => KINDS
            .iter()
            .filter_map(|kind| {
                emergency
                    .places
                    .iter()
                    .filter(|p| p.kind == *kind)
                    .map(view)
                    .min_by(|a, b| {
                        a.distance_m
                            .unwrap_or(f64::MAX)
                            .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
                    })
            })
            .collect(),
    };
    places.sort_by(|a, b| {
        a.distance_m
            .unwrap_or(f64::MAX)
            .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
    });
    Ok(Json(EmergencyContacts {
        numbers: emergency
            .numbers
            .iter()
            .map(|n| EmergencyNumber {
                number: n.number.clone(),
                name: Text::new(&n.name_vi, &n.name_en),
                for_what: Text::new(&n.for_vi, &n.for_en),
            })
            .collect(),
        places,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_lists_the_national_numbers_and_one_place_of_each_kind() {
        let emergency = load(None).unwrap();
        let numbers: Vec<&str> = emergency
            .numbers
            .iter()
            .map(|n| n.number.as_str())
            .collect();
        assert_eq!(numbers[..4], ["113", "114", "115", "112"]);
        for kind in KINDS {
            assert!(emergency.places.iter().any(|p| p.kind == kind), "{kind}");
        }
    }
}
