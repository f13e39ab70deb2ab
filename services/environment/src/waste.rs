//! Waste collection: each ward's household and bulky-waste rounds with the next of each in
//! Vietnam's time, and the collection points nearest a resident.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveTime, Utc, Weekday};
use platform::ApiError;
use platform::extract::QueryParams;
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{EnvironmentError, EnvironmentState};

/// Collection points answered for a position.
const NEAREST_POINTS: usize = 5;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardCollection {
    pub ward: String,
    pub ward_vi: String,
    pub ward_en: String,
    pub household: Round,
    pub bulky: Round,
    #[serde(default)]
    pub points: Vec<CollectionPoint>,
}

/// A collection round: the weekdays it passes and its window.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Round {
    /// `Mo` to `Su`.
    days: Vec<String>,
    /// `HH:MM`, Vietnam's time.
    from: String,
    to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionPoint {
    name_vi: String,
    name_en: String,
    lat: f64,
    lng: f64,
}

impl Round {
    /// Whether the days and times read; for the data file at start.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(!self.days.is_empty(), "a round with no days");
        for day in &self.days {
            weekday(day).ok_or_else(|| anyhow::anyhow!("not a weekday: {day}"))?;
        }
        let (from, to) = self
            .window()
            .ok_or_else(|| anyhow::anyhow!("not HH:MM: {} / {}", self.from, self.to))?;
        anyhow::ensure!(from < to, "a round must end after it starts");
        Ok(())
    }

    fn window(&self) -> Option<(NaiveTime, NaiveTime)> {
        Some((
            NaiveTime::parse_from_str(&self.from, "%H:%M").ok()?,
            NaiveTime::parse_from_str(&self.to, "%H:%M").ok()?,
        ))
    }

    /// The round under way at `now`, or the next one.
    fn next(&self, now: DateTime<Utc>) -> Option<Window> {
        let (from, to) = self.window()?;
        let local = now.with_timezone(&OFFSET);
        let days: Vec<Weekday> = self.days.iter().filter_map(|d| weekday(d)).collect();
        (0..8).find_map(|ahead| {
            let date = local.date_naive().checked_add_days(Days::new(ahead))?;
            if !days.contains(&date.weekday()) {
                return None;
            }
            let ends_at = date.and_time(to).and_local_timezone(OFFSET).single()?;
            (ends_at > local).then(|| Window {
                starts_at: date
                    .and_time(from)
                    .and_local_timezone(OFFSET)
                    .single()
                    .unwrap_or(ends_at),
                ends_at,
            })
        })
    }
}

fn weekday(day: &str) -> Option<Weekday> {
    Some(match day {
        "Mo" => Weekday::Mon,
        "Tu" => Weekday::Tue,
        "We" => Weekday::Wed,
        "Th" => Weekday::Thu,
        "Fr" => Weekday::Fri,
        "Sa" => Weekday::Sat,
        "Su" => Weekday::Sun,
        _ => return None,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Window {
    starts_at: DateTime<FixedOffset>,
    ends_at: DateTime<FixedOffset>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WasteQuery {
    /// One ward's rounds (its id, as `phu-xuan`); every ward's without.
    ward: Option<String>,
    /// Where the resident is: the collection points nearest it.
    lat: Option<f64>,
    lng: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WasteCollection {
    wards: Vec<WardRounds>,
    /// Nearest first, when a position was given; else every point of the wards listed.
    points: Vec<PointNear>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WardRounds {
    ward: String,
    name: Text,
    household: RoundView,
    bulky: RoundView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoundView {
    /// `Mo` to `Su`.
    days: Vec<String>,
    /// `HH:MM`, Vietnam's time.
    from: String,
    to: String,
    /// Under way now, or the next one.
    next: Option<Window>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointNear {
    ward: String,
    name: Text,
    lat: f64,
    lng: f64,
    distance_m: Option<f64>,
}

/// Waste collection rounds and points.
#[utoipa::path(get, path = "/v1/environment/waste-collection", operation_id = "waste_collection", tag = "environment",
    params(WasteQuery),
    responses((status = 200, body = WasteCollection),
        (status = 404, description = "`waste_ward_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn collection(
    State(state): State<EnvironmentState>,
    QueryParams(query): QueryParams<WasteQuery>,
) -> Result<Json<WasteCollection>, ApiError> {
    let point = platform::geo::optional_position(query.lat, query.lng)?;
    let all = &state.stations.waste_collection;
    let wards: Vec<&WardCollection> = match &query.ward {
        Some(ward) => vec![
            all.iter()
                .find(|w| &w.ward == ward)
                .ok_or(EnvironmentError::WasteWardNotFound)?,
        ],
        None => all.iter().collect(),
    };
    let now = Utc::now();
    let rounds = |round: &Round| RoundView {
        days: round.days.clone(),
        from: round.from.clone(),
        to: round.to.clone(),
        next: round.next(now),
    };
    let mut points: Vec<PointNear> = match point {
        Some(_) => all.iter().collect::<Vec<_>>(),
        None => wards.clone(),
    }
    .iter()
    .flat_map(|ward| {
        ward.points.iter().map(|p| PointNear {
            ward: ward.ward.clone(),
            name: Text::new(&p.name_vi, &p.name_en),
            lat: p.lat,
            lng: p.lng,
            distance_m: point
                .map(|(lat, lng)| platform::geo::distance_m(lat, lng, p.lat, p.lng).round()),
        })
    })
    .collect();
    if point.is_some() {
        points.sort_by(|a, b| {
            a.distance_m
                .unwrap_or(f64::MAX)
                .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
        });
        points.truncate(NEAREST_POINTS);
    }
    Ok(Json(WasteCollection {
        wards: wards
            .into_iter()
            .map(|ward| WardRounds {
                ward: ward.ward.clone(),
                name: Text::new(&ward.ward_vi, &ward.ward_en),
                household: rounds(&ward.household),
                bulky: rounds(&ward.bulky),
            })
            .collect(),
        points,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(days: &[&str]) -> Round {
        Round {
            days: days.iter().map(|d| d.to_string()).collect(),
            from: "17:30".to_owned(),
            to: "21:00".to_owned(),
        }
    }

    #[test]
    fn the_next_round_is_tonight_until_it_ends_then_the_next_day_it_passes() {
        // Monday 7 December 2026, 18:00 in Huế: tonight's round is under way.
        let during: DateTime<Utc> = "2026-12-07T11:00:00Z".parse().unwrap();
        let next = round(&["Mo", "Th"]).next(during).unwrap();
        assert_eq!(next.starts_at.to_rfc3339(), "2026-12-07T17:30:00+07:00");
        // 21:30: over; Thursday's is next.
        let after: DateTime<Utc> = "2026-12-07T14:30:00Z".parse().unwrap();
        let next = round(&["Mo", "Th"]).next(after).unwrap();
        assert_eq!(next.starts_at.to_rfc3339(), "2026-12-10T17:30:00+07:00");
        // A Monday-only round, after Monday's: next Monday.
        let next = round(&["Mo"]).next(after).unwrap();
        assert_eq!(next.ends_at.to_rfc3339(), "2026-12-14T21:00:00+07:00");
    }

    #[test]
    fn a_round_must_name_weekdays_and_a_window() {
        assert!(round(&["Mo"]).check().is_ok());
        assert!(round(&["Monday"]).check().is_err());
        assert!(round(&[]).check().is_err());
        let backwards = Round {
            days: vec!["Mo".into()],
            from: "21:00".into(),
            to: "17:30".into(),
        };
        assert!(backwards.check().is_err());
    }
}
