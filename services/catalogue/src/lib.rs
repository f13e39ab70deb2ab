//! The catalogue of city services per jurisdiction: what the app's home screen shows, with
//! accent-insensitive Vietnamese search, language negotiation and conditional GET.

mod cache;
mod routes;
mod search;
mod seed;

use std::sync::Arc;

use axum::Router;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use routes::{Category, CategoryList, Kind, Service, ServiceList};
pub use seed::{BUILT_IN, seed};

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "catalogue";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/catalogue");

#[derive(Clone)]
pub struct CatalogueState {
    pool: PgPool,
    default_jurisdiction: String,
    cache: Arc<cache::ResponseCache>,
}

impl CatalogueState {
    /// The catalogue's state, and a background task that keeps its response cache in step
    /// with the database (see `cache`). Call within the runtime that serves it.
    pub fn start(pool: PgPool, default_jurisdiction: String) -> Self {
        let cache = Arc::new(cache::ResponseCache::default());
        tokio::spawn(cache::follow_changes(pool.clone(), cache.clone()));
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
