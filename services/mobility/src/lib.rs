//! Getting around the city by bus: the routes with their stops, the stops near a resident, and
//! each stop's next departures in Vietnam's time, from the GTFS Schedule feed each
//! jurisdiction imports (`citizen transit import feed.zip`), checked whole before it replaces
//! the last one. Departures follow the jurisdiction's GTFS Realtime feed, when it has one:
//! delays and cancelled trips. Anyone may read them, signed in or not.

pub mod config;
mod errors;
pub mod gtfs;
mod import;
pub mod realtime;
mod transit;

pub use errors::MobilityError;
pub use import::{Imported, Source};

use axum::Router;
use axum::routing::get;
use platform::service::{Running, Service, StartContext};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::config::MobilityConfig;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "mobility";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/mobility");

pub static SERVICE: Service = Service {
    name: "mobility",
    about: "bus routes, stops near me and their next departures, from the GTFS feed each jurisdiction imports and its GTFS Realtime delays",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/transit"],
    calls: &[],
    outbox: false,
    consumes_events: false,
    idempotency_keys: false,
    config: Some(platform::config::SectionSpec::of::<MobilityConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <MobilityApi as utoipa::OpenApi>::openapi,
    errors: MobilityError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = MobilityState::start(&context).await?;
            let config: MobilityConfig = context.section()?;
            let client = realtime::client(&config, context.config.outside_plain_http())?;
            realtime::start_polling(&state, &config, client, &context.jobs);
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct MobilityState {
    pool: PgPool,
}

impl MobilityState {
    async fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: MobilityConfig = context.section()?;
        if let Some(jurisdiction) = &config.demo_feed {
            let has_one = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM feeds WHERE jurisdiction = $1) AS "exists!""#,
                jurisdiction
            )
            .fetch_one(&context.pool)
            .await?;
            if !has_one {
                let files = DEMO_FEED.map(|(name, text)| (name, text.as_bytes()));
                import(&context.pool, jurisdiction, Source::Files(&files)).await?;
            }
        }
        Ok(Self {
            pool: context.pool.clone(),
        })
    }
}

/// Reads `feed` and stores it as `jurisdiction`'s bus timetable, replacing the last one, or
/// refuses it whole with every problem found.
pub async fn import(
    pool: &PgPool,
    jurisdiction: &str,
    feed: Source<'_>,
) -> anyhow::Result<Imported> {
    import::import(pool, jurisdiction, feed).await
}

/// The demo city's feed: Huế's buses, as its files.
const DEMO_FEED: [(&str, &str); 7] = [
    ("agency.txt", include_str!("../data/hue-gtfs/agency.txt")),
    ("stops.txt", include_str!("../data/hue-gtfs/stops.txt")),
    ("routes.txt", include_str!("../data/hue-gtfs/routes.txt")),
    ("trips.txt", include_str!("../data/hue-gtfs/trips.txt")),
    (
        "stop_times.txt",
        include_str!("../data/hue-gtfs/stop_times.txt"),
    ),
    (
        "calendar.txt",
        include_str!("../data/hue-gtfs/calendar.txt"),
    ),
    (
        "calendar_dates.txt",
        include_str!("../data/hue-gtfs/calendar_dates.txt"),
    ),
];

/// The demo feed, read and checked.
#[cfg(test)]
fn demo_feed() -> Result<gtfs::Feed, gtfs::Problems> {
    let files = DEMO_FEED.map(|(name, text)| (name, text.as_bytes()));
    gtfs::read_files(&files, &gtfs::Limits::default())
}

/// Mobility's routes, without the shared service layers (the caller adds them).
pub fn router(state: MobilityState) -> Router {
    Router::new()
        .route("/v1/transit/stops", get(transit::stops_near))
        .route("/v1/transit/{jurisdiction}/routes", get(transit::routes))
        .route(
            "/v1/transit/{jurisdiction}/routes/{route}",
            get(transit::route),
        )
        .route(
            "/v1/transit/{jurisdiction}/stops/{stop}/departures",
            get(transit::departures),
        )
        .with_state(state)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        transit::stops_near,
        transit::routes,
        transit::route,
        transit::departures
    ),
    components(schemas(
        transit::StopsNear,
        transit::StopNear,
        transit::BusRoutes,
        transit::BusRoute,
        transit::BusRouteDetail,
        transit::Direction,
        transit::BusStop,
        transit::Departures,
        transit::Departure,
        transit::RealtimeDeparture,
    )),
    tags((name = "transit", description = "Bus routes, stops near me and next departures"))
)]
struct MobilityApi;
