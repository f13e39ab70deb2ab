//! Photos residents attach to field reports and officers attach as proof: validated from their
//! bytes, derivatives made without metadata by a job queue in PostgreSQL, positions indexed by
//! H3 cell, read back only by their owner.

pub mod derive;
pub mod inspect;
mod jobs;
mod routes;
mod storage;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use platform::config::MediaConfig;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::sync::{Notify, Semaphore};

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "media";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/media");

#[derive(Clone)]
pub struct MediaState {
    pool: PgPool,
    storage: Arc<storage::LocalStorage>,
    config: Arc<MediaConfig>,
    /// Wakes the job worker when work arrives.
    work: Arc<Notify>,
    /// Uploads held in memory at once: each may take `max_upload_bytes` while it is checked.
    uploads: Arc<Semaphore>,
}

/// Uploads checked at the same time per process; more wait their turn.
const CONCURRENT_UPLOADS: usize = 8;

impl MediaState {
    /// Opens the storage and starts the derivative worker. Call within the runtime that serves
    /// it.
    pub fn start(pool: PgPool, config: &MediaConfig, data_dir: &Path) -> anyhow::Result<Self> {
        let dir = config
            .local_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("media"));
        let state = Self {
            pool,
            storage: Arc::new(storage::LocalStorage::new(&dir)?),
            config: Arc::new(config.clone()),
            work: Arc::new(Notify::new()),
            uploads: Arc::new(Semaphore::new(CONCURRENT_UPLOADS)),
        };
        tokio::spawn(jobs::run(state.clone()));
        tokio::spawn(jobs::clean_up_unattached(state.clone()));
        Ok(state)
    }

    /// The largest request body media accepts (the gateway lets these through).
    pub fn max_upload_bytes(config: &MediaConfig) -> usize {
        // Multipart framing around the file.
        config.max_upload_bytes + 64 * 1024
    }
}

/// Media's routes, without the shared service layers (the caller adds them).
pub fn router(state: MediaState) -> Router {
    let limit = MediaState::max_upload_bytes(&state.config);
    Router::new()
        .route("/v1/media", axum::routing::post(routes::upload))
        .route("/v1/media/near", get(routes::near))
        .route("/v1/media/{id}", get(routes::metadata))
        .route("/v1/media/{id}/{variant}", get(routes::content))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Media's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(routes::upload, routes::near, routes::metadata, routes::content),
    tags((name = "media", description = "Ảnh đính kèm / Photos"))
)]
pub struct MediaApi;
