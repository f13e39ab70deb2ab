//! The catalogue of city services per jurisdiction: what the app's home screen shows, with
//! accent-insensitive Vietnamese search, language negotiation and conditional GET.

mod cache;
pub mod config;
mod errors;
mod routes;
mod search;
mod seed;

use std::sync::Arc;

use crate::config::CatalogueConfig;
use anyhow::Context as _;
use axum::Router;
use platform::jobs::Jobs;
use platform::service::Running;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use errors::CatalogueError;
pub use routes::{Category, CategoryList, Kind, Service, ServiceList};
pub use seed::{BUILT_IN, seed};

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "catalogue";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalogue");

pub static SERVICE: platform::service::Service = platform::service::Service {
    name: "catalogue",
    about: "the catalogue of city services the app's home screen shows",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/catalogue"],
    calls: &[],
    outbox: false,
    consumes_events: false,
    idempotency_keys: false,
    config: Some(platform::config::SectionSpec::of::<config::CatalogueConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <CatalogueApi as utoipa::OpenApi>::openapi,
    errors: CatalogueError::CODES,
    start: |context| {
        Box::pin(async move {
            let config: CatalogueConfig = context.section()?;
            seed(&context.pool, &seed_files(&config)?).await?;
            let state = CatalogueState::start(
                context.pool.clone(),
                config.default_jurisdiction.clone(),
                &context.jobs,
            );
            Ok(Running::routes(router(state)))
        })
    },
};

/// The catalogue files to seed: `catalogue.seed_files`, else the built-in demo city.
fn seed_files(config: &CatalogueConfig) -> anyhow::Result<Vec<(String, String)>> {
    if config.seed_files.is_empty() {
        return Ok(BUILT_IN
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect());
    }
    config
        .seed_files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read catalogue file {}", path.display()))?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}

#[derive(Clone)]
pub struct CatalogueState {
    pool: PgPool,
    default_jurisdiction: String,
    cache: Arc<cache::ResponseCache>,
}

impl CatalogueState {
    /// The catalogue's state, and a background task that keeps its response cache in step
    /// with the database (see `cache`). Call within the runtime that serves it.
    pub fn start(pool: PgPool, default_jurisdiction: String, jobs: &Jobs) -> Self {
        let cache = Arc::new(cache::ResponseCache::default());
        jobs.spawn(
            "catalogue cache",
            cache::follow_changes(pool.clone(), cache.clone()),
        );
        Self {
            pool,
            default_jurisdiction,
            cache,
        }
    }
}

/// The catalogue's routes, without the shared service layers (the caller adds them).
pub fn router(state: CatalogueState) -> Router {
    routes::routes(state)
}

/// The catalogue's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(routes::list_services, routes::get_service, routes::list_categories),
    components(schemas(Service, ServiceList, Category, CategoryList, Kind, platform::error::Problem)),
    tags((name = "catalogue", description = "Danh mục dịch vụ đô thị / The catalogue of city services"))
)]
pub struct CatalogueApi;
