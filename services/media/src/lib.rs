//! Photos residents attach to field reports and officers attach as proof: validated from their
//! bytes, derivatives made without metadata by a job queue in PostgreSQL, positions indexed by
//! H3 cell, kept in a local directory or an S3-compatible store, read through signed URLs or
//! the gateway by their owner, by the staff who work on what they belong to, and by anyone once
//! what they belong to is public.

mod access;
mod budgets;
pub mod config;
pub mod derive;
mod errors;
mod heic;
pub mod inspect;
mod internal;
mod jobs;
mod routes;
pub mod samples;
mod storage;
mod uploads;

pub use errors::MediaError;

use std::path::Path;
use std::sync::Arc;

use crate::config::MediaConfig;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use platform::events::types::{AccountErased, EventType};
use platform::jobs::Jobs;
use platform::service::{Running, Service};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::sync::{Notify, Semaphore};

use crate::budgets::{DecodeMemory, UploadsUnderWay};
use crate::storage::{LocalStorage, ObjectStore, S3Storage, UrlSigner};

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "media";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/media");

pub static SERVICE: Service = Service {
    name: "media",
    about: "photos: validation, derivatives, geo index",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/media"],
    calls: &[],
    outbox: false,
    consumes_events: true,
    idempotency_keys: false,
    // Photos are larger than anything else.
    config: Some(platform::config::SectionSpec::of::<config::MediaConfig>()),
    body_limit: |config| {
        let media: MediaConfig = config.section().ok()?;
        Some(MediaState::max_upload_bytes(&media))
    },
    openapi: <MediaApi as utoipa::OpenApi>::openapi,
    errors: MediaError::CODES,
    start: |context| {
        Box::pin(async move {
            let config = &context.config;
            let state = MediaState::start(
                context.pool.clone(),
                &context.section::<MediaConfig>()?,
                &config.data_dir,
                &context.jobs,
            )
            .await?;
            if let Some(bus) = &context.bus {
                state.subscribe(bus).await?;
            }
            Ok(Running::routes(router(state, &context.service_token)))
        })
    },
};

#[derive(Clone)]
pub struct MediaState {
    pool: PgPool,
    storage: Arc<dyn ObjectStore>,
    /// Checks the local backend's signed URLs; `None` with S3, which checks its own.
    local_urls: Option<Arc<UrlSigner>>,
    config: Arc<MediaConfig>,
    /// Wakes the job worker when work arrives.
    work: Arc<Notify>,
    /// Wakes the clean-up worker when objects are queued for deletion.
    deletions: Arc<Notify>,
    /// Uploads checked at once, each taken once its bytes have all arrived (a slow sender
    /// holds none).
    uploads: Arc<Semaphore>,
    /// Uploads each account is sending at once.
    under_way: Arc<UploadsUnderWay>,
    /// Memory for decoded pixels, shared by upload checks and derivatives.
    decode_memory: Arc<DecodeMemory>,
}

/// Uploads checked at the same time per process; more wait their turn.
const CONCURRENT_UPLOADS: usize = 8;

impl MediaState {
    /// Opens the storage and starts the workers. Call within the runtime that serves it.
    pub async fn start(
        pool: PgPool,
        config: &MediaConfig,
        data_dir: &Path,
        jobs: &Jobs,
    ) -> anyhow::Result<Self> {
        let (storage, local_urls): (Arc<dyn ObjectStore>, _) = match &config.s3 {
            Some(s3) => (Arc::new(S3Storage::connect(s3).await?), None),
            None => {
                let signer = Arc::new(UrlSigner::new(
                    config
                        .url_signing_key
                        .as_ref()
                        .map(|key| key.expose_secret()),
                    data_dir,
                )?);
                let dir = config
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("media"));
                let local = LocalStorage::new(&dir, signer.clone())?;
                (Arc::new(local), Some(signer))
            }
        };
        let state = Self {
            pool,
            storage,
            local_urls,
            config: Arc::new(config.clone()),
            work: Arc::new(Notify::new()),
            deletions: Arc::new(Notify::new()),
            uploads: Arc::new(Semaphore::new(CONCURRENT_UPLOADS)),
            under_way: Arc::new(UploadsUnderWay::new(config.concurrent_uploads_per_account)),
            decode_memory: Arc::new(DecodeMemory::new(config.decode_memory_bytes)),
        };
        // One derivative worker per core: making derivatives is CPU work.
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        for _ in 0..workers {
            crate::jobs::start_worker(state.clone(), jobs);
        }
        crate::jobs::start_clean_up(state.clone(), jobs);
        Ok(state)
    }

    /// Consumes the events media acts on: identity's `account.erased` deletes the account's
    /// photos.
    pub async fn subscribe(&self, bus: &platform::events::SharedBus) -> anyhow::Result<()> {
        let state = self.clone();
        let handler: platform::events::Handler = Arc::new(move |event| {
            let state = state.clone();
            Box::pin(async move { state.on_account_erased(event).await })
        });
        bus.subscribe("media", AccountErased::NAME, handler).await
    }

    async fn on_account_erased(&self, event: platform::events::Event) -> anyhow::Result<()> {
        const CONSUMER: &str = "media";
        let owner = event.decode::<AccountErased>()?.account_id;
        let mut tx = self.pool.begin().await?;
        if platform::events::first_delivery(&mut tx, CONSUMER, event.id).await? {
            let deleted = internal::erase_owner_in(&mut tx, owner).await?;
            tracing::info!(%owner, deleted, "an erased account's photos deleted");
        }
        tx.commit().await?;
        self.deletions.notify_one();
        Ok(())
    }

    /// The largest request body media accepts (the gateway lets these through).
    pub fn max_upload_bytes(config: &MediaConfig) -> usize {
        // Multipart framing around the file.
        config.max_upload_bytes + 64 * 1024
    }
}

/// Media's routes, without the shared service layers (the caller adds them). `/internal/`
/// routes answer only callers bearing `service_token`.
pub fn router(state: MediaState, service_token: &SecretString) -> Router {
    let limit = MediaState::max_upload_bytes(&state.config);
    let internal = Router::new()
        .route("/internal/v1/media/attachments", post(internal::attach))
        .route(
            "/internal/v1/media/attachments/{attached_to}/visibility",
            put(internal::set_visibility),
        )
        .route(
            "/internal/v1/media/attachments/{attached_to}/scope",
            put(internal::set_scope),
        )
        .route(
            "/internal/v1/media/attachments/{attached_to}/detach",
            post(internal::detach),
        )
        .route(
            "/internal/v1/media/attachments/{attached_to}/redact",
            post(internal::redact),
        )
        .route(
            "/internal/v1/media/owners/{owner_id}",
            delete(internal::erase_owner),
        );
    Router::new()
        .route("/v1/media", post(routes::upload))
        .route("/v1/media/uploads", post(uploads::start))
        .route("/v1/media/near", get(routes::near))
        .route("/v1/media/{id}", get(routes::metadata))
        .route("/v1/media/{id}/complete", post(uploads::complete))
        .route("/v1/media/{id}/urls", get(routes::urls))
        .route("/v1/media/{id}/{variant}", get(routes::content))
        .route(
            "/v1/media/objects/{*key}",
            get(uploads::get_object).put(uploads::put_object),
        )
        .merge(platform::http::internal_only(internal, service_token))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Media's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        routes::upload,
        uploads::start,
        uploads::complete,
        routes::near,
        routes::metadata,
        routes::urls,
        routes::content
    ),
    tags((name = "media", description = "Ảnh đính kèm / Photos"))
)]
pub struct MediaApi;
