//! The environment a resident checks each day: the weather forecast at a point (from an
//! Open-Meteo forecast API), the rivers' levels against their flood alarm levels (from the
//! hydro-meteorological station's SensorThings API), and the air quality at the monitoring
//! stations as the Vietnamese AQI of Decision 1459/QĐ-TCMT (from the network's OpenAQ API), the
//! surface water's quality as the Vietnamese WQI of Decision 1460/QĐ-TCMT (from the monitoring
//! centre's SensorThings API), and each ward's waste collection rounds. Anyone may read them,
//! signed in or not.

mod air;
pub mod aqi;
pub mod config;
mod errors;
mod rivers;
mod stations;
mod waste;
mod water;
mod weather;
pub mod wqi;

pub use errors::EnvironmentError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use platform::outbound::{Limits, OutboundClient};
use platform::service::{Running, Service, StartContext};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::config::EnvironmentConfig;
use crate::stations::Stations;
use crate::weather::Forecasts;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "environment";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/environment");

pub static SERVICE: Service = Service {
    name: "environment",
    about: "weather forecasts, river levels against flood alarm levels, air quality as VN_AQI and water quality as VN_WQI, waste collection",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/environment"],
    calls: &[],
    outbox: true,
    consumes_events: false,
    idempotency_keys: false,
    config: Some(platform::config::SectionSpec::of::<EnvironmentConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <EnvironmentApi as utoipa::OpenApi>::openapi,
    errors: EnvironmentError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = EnvironmentState::start(&context)?;
            air::start_polling(state.clone(), &context.jobs);
            rivers::start_polling(state.clone(), &context.jobs);
            water::start_polling(state.clone(), &context.jobs);
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct EnvironmentState {
    pool: PgPool,
    config: Arc<EnvironmentConfig>,
    stations: Arc<Stations>,
    forecasts: Option<Arc<Forecasts>>,
    /// For the monitoring networks' APIs.
    outside: OutboundClient,
}

impl EnvironmentState {
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: EnvironmentConfig = context.section()?;
        let limits = Limits {
            timeout: Duration::from_millis(config.timeout_ms.max(1)),
            max_answer_bytes: 2 * 1024 * 1024,
            ..Limits::default()
        };
        let outside = OutboundClient::new(
            "environment monitoring",
            context.config.outside_plain_http(),
            limits,
        )?;
        let stations = stations::load(config.stations_file.as_deref())
            .map_err(|e| anyhow::anyhow!("environment.stations_file: {e:#}"))?;
        for (key, url) in [
            ("weather", config.weather.as_ref().map(|s| &s.base_url)),
            (
                "air_quality",
                config.air_quality.as_ref().map(|s| &s.base_url),
            ),
            ("rivers", config.rivers.as_ref().map(|s| &s.base_url)),
            (
                "water_quality",
                config.water_quality.as_ref().map(|s| &s.base_url),
            ),
        ] {
            match url {
                Some(url) => {
                    outside
                        .check_url(url)
                        .map_err(|e| anyhow::anyhow!("environment.{key}.base_url: {e}"))?;
                }
                None => tracing::warn!("environment.{key} is not set: that part is not served"),
            }
        }
        let forecasts = config.weather.as_ref().map(|source| {
            Arc::new(Forecasts::new(
                &source.base_url,
                outside.clone(),
                Duration::from_secs(config.forecast_cache_secs),
            ))
        });
        Ok(Self {
            pool: context.pool.clone(),
            config: Arc::new(config),
            stations: Arc::new(stations),
            forecasts,
            outside,
        })
    }
}

/// Environment's routes, without the shared service layers (the caller adds them).
pub fn router(state: EnvironmentState) -> Router {
    Router::new()
        .route("/v1/environment/weather", get(weather::forecast))
        .route("/v1/environment/rivers", get(rivers::gauges))
        .route("/v1/environment/rivers/{id}", get(rivers::gauge))
        .route("/v1/environment/air-quality", get(air::stations))
        .route("/v1/environment/water-quality", get(water::stations))
        .route("/v1/environment/waste-collection", get(waste::collection))
        .route(
            "/v1/environment/air-quality/stations/{id}",
            get(air::station),
        )
        .with_state(state)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        weather::forecast,
        rivers::gauges,
        rivers::gauge,
        air::stations,
        air::station,
        water::stations,
        waste::collection,
    ),
    components(schemas(
        weather::Forecast,
        weather::HourForecast,
        weather::DayForecast,
        weather::Warning,
        weather::WarningKind,
        rivers::Rivers,
        rivers::GaugeLevel,
        rivers::GaugeDetail,
        rivers::Reading,
        rivers::Trend,
        air::AirStations,
        air::StationAir,
        air::StationDetail,
        air::HourAqi,
        air::DayAqi,
        aqi::Aqi,
        aqi::SubIndex,
        aqi::Band,
        aqi::Pollutant,
        water::WaterStations,
        water::StationWater,
        water::WaterIndex,
        water::WaterGroup,
        water::WaterGroupName,
        water::WaterReading,
        waste::WasteCollection,
        waste::WardRounds,
        waste::RoundView,
        waste::Window,
        waste::PointNear,
    )),
    tags((name = "environment", description = "Weather, river levels, air and water quality, and waste collection"))
)]
struct EnvironmentApi;
