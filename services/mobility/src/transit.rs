//! What a rider asks: the routes and the stops each calls at, the stops near them with the
//! routes boarding there, and a stop's next departures in Vietnam's time, today's, the
//! after-midnight ones of yesterday's service day and tomorrow's first, by the days each
//! service runs (holidays included).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Timelike, Utc};
use h3o::Resolution;
use platform::ApiError;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::vietnam_time::OFFSET;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{MobilityError, MobilityState};

const DEFAULT_RADIUS_M: f64 = 500.0;
/// A walk to a bus stop, at most.
const MAX_RADIUS_M: f64 = 1_000.0;
const MAX_STOPS: usize = 30;
const DEFAULT_DEPARTURES: i64 = 10;
const MAX_DEPARTURES: i64 = 50;

#[derive(Debug, Serialize, ToSchema)]
pub struct BusRoute {
    id: String,
    /// What the bus shows, e.g. `1`.
    short_name: Option<String>,
    long_name: Option<String>,
    /// GTFS route_type: 3 is a bus.
    route_type: i32,
    /// `#RRGGBB`, when the feed gives one.
    color: Option<String>,
    text_color: Option<String>,
}

impl BusRoute {
    fn new(
        id: String,
        short_name: Option<String>,
        long_name: Option<String>,
        route_type: i32,
        color: Option<String>,
        text_color: Option<String>,
    ) -> Self {
        let hex = |c: Option<String>| c.map(|c| format!("#{c}"));
        Self {
            id,
            short_name,
            long_name,
            route_type,
            color: hex(color),
            text_color: hex(text_color),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusRoutes {
    /// In the feed's order.
    routes: Vec<BusRoute>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusStop {
    id: String,
    /// The code printed at the stop.
    code: Option<String>,
    name: String,
    lat: f64,
    lng: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Direction {
    /// GTFS direction_id (0 or 1), when the feed gives one.
    direction: Option<i16>,
    headsign: Option<String>,
    /// The stops of the direction's longest trip, in order.
    stops: Vec<BusStop>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusRouteDetail {
    #[serde(flatten)]
    route: BusRoute,
    directions: Vec<Direction>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NearQuery {
    lat: f64,
    lng: f64,
    /// Up to 1,000; 500 by default.
    radius_m: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StopsNear {
    /// Nearest first, at most 30.
    stops: Vec<StopNear>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StopNear {
    /// The jurisdiction whose timetable the stop is in, for its departures.
    jurisdiction: String,
    #[serde(flatten)]
    stop: BusStop,
    distance_m: f64,
    /// The routes passengers board here, in the feed's order.
    routes: Vec<BusRoute>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeparturesQuery {
    /// Up to 50; 10 by default.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Departures {
    stop: BusStop,
    /// The next departures within 24 hours, soonest first.
    departures: Vec<Departure>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Departure {
    route: BusRoute,
    /// Where the bus is going.
    headsign: Option<String>,
    trip_id: String,
    /// As timetabled, in Vietnam's time.
    departs_at: DateTime<FixedOffset>,
    /// What the jurisdiction's real-time feed says of it, while the feed is fresh; absent when
    /// it says nothing (the timetable is all there is).
    #[serde(skip_serializing_if = "Option::is_none")]
    realtime: Option<RealtimeDeparture>,
    /// The bus will not leave from here: its trip is cancelled or it skips the stop.
    cancelled: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RealtimeDeparture {
    /// When the bus is expected to leave, in Vietnam's time.
    expected_at: DateTime<FixedOffset>,
    /// Seconds later than the timetable (negative: earlier).
    delay_secs: i32,
}

/// The routes of a jurisdiction's timetable.
#[utoipa::path(get, path = "/v1/transit/{jurisdiction}/routes", operation_id = "bus_routes", tag = "transit",
    params(("jurisdiction" = String, Path, description = "e.g. `hue`")),
    responses((status = 200, body = BusRoutes),
        (status = 404, description = "`no_bus_timetable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn routes(
    State(state): State<MobilityState>,
    Path(jurisdiction): Path<String>,
) -> Result<Json<BusRoutes>, ApiError> {
    let routes = sqlx::query!(
        "SELECT route_id, short_name, long_name, route_type, color, text_color FROM routes
         WHERE jurisdiction = $1 ORDER BY sort_order",
        jurisdiction
    )
    .fetch_all(&state.pool)
    .await?;
    if routes.is_empty() {
        return Err(MobilityError::NoTimetable.into());
    }
    Ok(Json(BusRoutes {
        routes: routes
            .into_iter()
            .map(|r| {
                BusRoute::new(
                    r.route_id,
                    r.short_name,
                    r.long_name,
                    r.route_type,
                    r.color,
                    r.text_color,
                )
            })
            .collect(),
    }))
}

/// A route with the stops it calls at, each way.
#[utoipa::path(get, path = "/v1/transit/{jurisdiction}/routes/{route}", operation_id = "bus_route", tag = "transit",
    params(("jurisdiction" = String, Path), ("route" = String, Path, description = "The route's id")),
    responses((status = 200, body = BusRouteDetail),
        (status = 404, description = "`bus_route_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn route(
    State(state): State<MobilityState>,
    Path((jurisdiction, route_id)): Path<(String, String)>,
) -> Result<Json<BusRouteDetail>, ApiError> {
    let route = sqlx::query!(
        "SELECT route_id, short_name, long_name, route_type, color, text_color FROM routes
         WHERE jurisdiction = $1 AND route_id = $2",
        jurisdiction,
        route_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(MobilityError::BusRouteNotFound)?;
    // Each direction's longest trip, found at import, stands for the line of stops.
    let calls = sqlx::query!(
        r#"SELECT t.direction, t.headsign, s.stop_id, s.code, s.name, s.lat, s.lng
           FROM route_directions d
           JOIN trips t ON t.jurisdiction = d.jurisdiction AND t.trip_id = d.trip_id
           JOIN stop_times st ON st.jurisdiction = d.jurisdiction AND st.trip_id = d.trip_id
           JOIN stops s ON s.jurisdiction = st.jurisdiction AND s.stop_id = st.stop_id
           WHERE d.jurisdiction = $1 AND d.route_id = $2
           ORDER BY d.direction, st.stop_sequence"#,
        jurisdiction,
        route_id
    )
    .fetch_all(&state.pool)
    .await?;
    let mut directions: Vec<Direction> = Vec::new();
    for call in calls {
        let stop = BusStop {
            id: call.stop_id,
            code: call.code,
            name: call.name,
            lat: call.lat,
            lng: call.lng,
        };
        match directions.last_mut() {
            Some(last) if last.direction == call.direction => last.stops.push(stop),
            _ => directions.push(Direction {
                direction: call.direction,
                headsign: call.headsign,
                stops: vec![stop],
            }),
        }
    }
    Ok(Json(BusRouteDetail {
        route: BusRoute::new(
            route.route_id,
            route.short_name,
            route.long_name,
            route.route_type,
            route.color,
            route.text_color,
        ),
        directions,
    }))
}

/// Bus stops near a point, nearest first, with the routes boarding at each.
#[utoipa::path(get, path = "/v1/transit/stops", operation_id = "bus_stops_near", tag = "transit",
    params(NearQuery),
    responses((status = 200, body = StopsNear),
        (status = 400, description = "`invalid_query`: a radius past 1 km", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_position`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn stops_near(
    State(state): State<MobilityState>,
    QueryParams(query): QueryParams<NearQuery>,
) -> Result<Json<StopsNear>, ApiError> {
    let radius = platform::geo::radius(query.radius_m, DEFAULT_RADIUS_M, MAX_RADIUS_M)?;
    let cells = platform::geo::cells_within_at(query.lat, query.lng, radius, Resolution::Nine)
        .ok_or(SharedError::InvalidPosition)?;
    let rows = sqlx::query!(
        "SELECT jurisdiction, stop_id, code, name, lat, lng FROM stops WHERE cell = ANY($1)",
        &cells
    )
    .fetch_all(&state.pool)
    .await?;
    let mut near: Vec<(f64, _)> = rows
        .into_iter()
        .map(|s| {
            let distance = platform::geo::distance_m(query.lat, query.lng, s.lat, s.lng);
            (distance, s)
        })
        .filter(|(distance, _)| *distance <= radius)
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0));
    near.truncate(MAX_STOPS);

    let (jurisdictions, ids): (Vec<String>, Vec<String>) = near
        .iter()
        .map(|(_, s)| (s.jurisdiction.clone(), s.stop_id.clone()))
        .unzip();
    let boarding = sqlx::query!(
        r#"SELECT sr.jurisdiction, sr.stop_id, r.route_id, r.short_name, r.long_name, r.route_type,
                  r.color, r.text_color
           FROM UNNEST($1::text[], $2::text[]) AS asked(jurisdiction, stop_id)
           JOIN stop_routes sr USING (jurisdiction, stop_id)
           JOIN routes r ON r.jurisdiction = sr.jurisdiction AND r.route_id = sr.route_id
           ORDER BY r.sort_order"#,
        &jurisdictions,
        &ids
    )
    .fetch_all(&state.pool)
    .await?;
    let mut routes: BTreeMap<(String, String), Vec<BusRoute>> = BTreeMap::new();
    for r in boarding {
        routes
            .entry((r.jurisdiction, r.stop_id))
            .or_default()
            .push(BusRoute::new(
                r.route_id,
                r.short_name,
                r.long_name,
                r.route_type,
                r.color,
                r.text_color,
            ));
    }
    let stops = near
        .into_iter()
        .map(|(distance, s)| StopNear {
            routes: routes
                .remove(&(s.jurisdiction.clone(), s.stop_id.clone()))
                .unwrap_or_default(),
            jurisdiction: s.jurisdiction,
            stop: BusStop {
                id: s.stop_id,
                code: s.code,
                name: s.name,
                lat: s.lat,
                lng: s.lng,
            },
            distance_m: distance.round(),
        })
        .collect();
    Ok(Json(StopsNear { stops }))
}

/// A stop's next departures within 24 hours, in the order the buses are expected: as
/// timetabled, moved by the real-time feed's delays while it is fresh (a bus up to an hour late
/// is still to come), with cancelled ones marked. A call the feed gives no time for (between
/// two timed stops) is not listed.
#[utoipa::path(get, path = "/v1/transit/{jurisdiction}/stops/{stop}/departures", operation_id = "bus_departures", tag = "transit",
    params(("jurisdiction" = String, Path), ("stop" = String, Path, description = "The stop's id"), DeparturesQuery),
    responses((status = 200, body = Departures),
        (status = 400, description = "`invalid_query`: a limit past 50", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`bus_stop_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn departures(
    State(state): State<MobilityState>,
    Path((jurisdiction, stop_id)): Path<(String, String)>,
    QueryParams(query): QueryParams<DeparturesQuery>,
) -> Result<Json<Departures>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_DEPARTURES);
    if !(1..=MAX_DEPARTURES).contains(&limit) {
        return Err(SharedError::InvalidQuery {
            reason: format!("limit must be between 1 and {MAX_DEPARTURES}"),
        }
        .into());
    }
    let stop = sqlx::query!(
        "SELECT stop_id, code, name, lat, lng FROM stops WHERE jurisdiction = $1 AND stop_id = $2",
        jurisdiction,
        stop_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(MobilityError::BusStopNotFound)?;
    let now = Utc::now().with_timezone(&OFFSET);
    let today = now.date_naive();
    let now_secs = now.num_seconds_from_midnight() as i32;
    // A departure is (day − today) days and its seconds from now's midnight: yesterday's
    // service runs past midnight, tomorrow's first buses come within the day. The expected
    // time is the timetable's plus the fresh feed's delay.
    let rows = sqlx::query!(
        r#"WITH live AS (
             SELECT 1 FROM realtime_feeds
             WHERE jurisdiction = $1 AND feed_timestamp > now() - make_interval(secs => $6)
           )
           SELECT (sd.day - $3::date) AS "day_offset!", st.departure_secs AS "departure_secs!",
                  t.trip_id, t.headsign, r.route_id, r.short_name, r.long_name, r.route_type,
                  r.color, r.text_color, p.delay_secs AS "delay_secs?",
                  COALESCE(p.cancelled, false) AS "cancelled!"
           FROM stop_times st
           JOIN trips t ON t.jurisdiction = st.jurisdiction AND t.trip_id = st.trip_id
           JOIN service_days sd ON sd.jurisdiction = t.jurisdiction AND sd.service_id = t.service_id
           JOIN routes r ON r.jurisdiction = t.jurisdiction AND r.route_id = t.route_id
           LEFT JOIN predictions p
             ON p.jurisdiction = st.jurisdiction AND p.trip_id = st.trip_id
            AND p.service_day = sd.day AND p.stop_sequence = st.stop_sequence
            AND EXISTS (SELECT 1 FROM live)
           WHERE st.jurisdiction = $1 AND st.stop_id = $2
             AND st.boarding AND st.departure_secs IS NOT NULL
             AND sd.day BETWEEN $3::date - 1 AND $3::date + 1
             AND (sd.day - $3::date) * 86400 + st.departure_secs BETWEEN $4 - 3600 AND $4 + 86400
             AND (sd.day - $3::date) * 86400 + st.departure_secs + COALESCE(p.delay_secs, 0)
                 BETWEEN $4 AND $4 + 86400
             -- A trip deleted from the day's timetable is not shown.
             AND NOT COALESCE(p.deleted, false)
             -- The end of a trip is no departure.
             AND EXISTS (SELECT 1 FROM stop_times later
                         WHERE later.jurisdiction = st.jurisdiction AND later.trip_id = st.trip_id
                           AND later.stop_sequence > st.stop_sequence)
           ORDER BY (sd.day - $3::date) * 86400 + st.departure_secs + COALESCE(p.delay_secs, 0),
                    r.sort_order, t.trip_id
           LIMIT $5"#,
        jurisdiction,
        stop_id,
        today,
        now_secs,
        limit,
        crate::realtime::FRESH_FOR.as_secs_f64()
    )
    .fetch_all(&state.pool)
    .await?;
    let departures = rows
        .into_iter()
        .map(|r| {
            let departs_at = departs_at(today, r.day_offset, r.departure_secs);
            Departure {
                realtime: r.delay_secs.map(|delay_secs| RealtimeDeparture {
                    expected_at: departs_at + TimeDelta::seconds(i64::from(delay_secs)),
                    delay_secs,
                }),
                cancelled: r.cancelled,
                departs_at,
                headsign: r.headsign,
                trip_id: r.trip_id,
                route: BusRoute::new(
                    r.route_id,
                    r.short_name,
                    r.long_name,
                    r.route_type,
                    r.color,
                    r.text_color,
                ),
            }
        })
        .collect();
    Ok(Json(Departures {
        stop: BusStop {
            id: stop.stop_id,
            code: stop.code,
            name: stop.name,
            lat: stop.lat,
            lng: stop.lng,
        },
        departures,
    }))
}

/// The time `secs` after the midnight of `today` plus `day_offset` days, in Vietnam's time (a
/// GTFS time counts from noon minus 12 h, which is midnight where there is no summer time).
fn departs_at(today: NaiveDate, day_offset: i32, secs: i32) -> DateTime<FixedOffset> {
    let midnight = today
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(OFFSET).single())
        .unwrap_or_else(|| Utc::now().with_timezone(&OFFSET));
    midnight + TimeDelta::days(i64::from(day_offset)) + TimeDelta::seconds(i64::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_SECS: i32 = 86_400;

    #[test]
    fn a_time_past_midnight_is_the_next_morning() {
        let today: NaiveDate = "2026-12-07".parse().unwrap();
        let late = departs_at(today, -1, DAY_SECS + 30 * 60);
        assert_eq!(late.to_rfc3339(), "2026-12-07T00:30:00+07:00");
        let tomorrow = departs_at(today, 1, 5 * 3600 + 30 * 60);
        assert_eq!(tomorrow.to_rfc3339(), "2026-12-08T05:30:00+07:00");
    }
}
