//! Places near me: public toilets, free Wi-Fi, car and motorbike parking, heritage sites with
//! a guide text, and traffic cameras with their snapshots, imported from the city's
//! OpenStreetMap extracts and found on the same H3 engine as reports; opening hours in OSM's
//! syntax are evaluated in Vietnam's time with its public holidays, the lunar ones included.
//! Anyone may read them, signed in or not.

pub mod config;
mod errors;
pub mod holidays;
mod import;
pub mod near;
pub mod opening;

pub use errors::PlacesError;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use chrono::Datelike;
use platform::outbound::PlainHttp;
use platform::service::{Running, Service, StartContext};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::config::PlacesConfig;
use crate::opening::Hours;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "places";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/places");

pub static SERVICE: Service = Service {
    name: "places",
    about: "places near me (toilets, free Wi-Fi, parking, heritage, traffic cameras) from OpenStreetMap extracts, open now by Vietnam's holidays",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/places"],
    calls: &[],
    outbox: false,
    consumes_events: false,
    idempotency_keys: false,
    config: Some(platform::config::SectionSpec::of::<PlacesConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <PlacesApi as utoipa::OpenApi>::openapi,
    errors: PlacesError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = PlacesState::start(&context)?;
            import::start_refresh(state.clone(), &context.jobs);
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct PlacesState {
    pool: PgPool,
    config: Arc<PlacesConfig>,
    /// Vietnam's public holidays, for opening hours.
    hours: Arc<Hours>,
    plain_http: PlainHttp,
}

impl PlacesState {
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: PlacesConfig = context.section()?;
        let year = chrono::Utc::now().year();
        Ok(Self {
            pool: context.pool.clone(),
            config: Arc::new(config),
            // Holidays from last year to a few years ahead: hours are asked about now.
            hours: Arc::new(Hours::vietnam(year - 1, year + 5)),
            plain_http: context.config.outside_plain_http(),
        })
    }
}

/// Places' routes, without the shared service layers (the caller adds them).
pub fn router(state: PlacesState) -> Router {
    Router::new()
        .route("/v1/places", get(near::near))
        .route("/v1/places/{id}", get(near::get))
        .with_state(state)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(near::near, near::get),
    components(schemas(near::PlacesNear, near::PlaceView)),
    tags((name = "places", description = "Places near me, open now"))
)]
struct PlacesApi;
