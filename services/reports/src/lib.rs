//! Field reports, the heart of the product: a resident files one with photos at a position; it
//! is routed to the ward the position falls in and the department responsible for its category
//! there, given an SLA deadline, and worked through its workflow by officers, every step on a
//! timeline and in the outbox.

mod access;
mod admin;
mod areas;
mod filing;
pub mod jurisdiction;
mod moderation;
mod officer;
mod open311;
mod ops;
mod public;
mod sla;
mod views;
pub mod wards;
mod workflow;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use h3o::{CellIndex, LatLng, Resolution};
use platform::ApiError;
use platform::internal::ServiceClient;
use platform::service::{Running, Service, StartContext};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

pub use crate::public::nearest_public;
use crate::wards::WardIndexes;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "reports";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/reports");

pub static SERVICE: Service = Service {
    name: "reports",
    about: "field reports: routing, workflow, officer queues, Open311",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &[
        "/v1/reports",
        "/v1/officer",
        "/v1/ops",
        "/v1/admin/jurisdictions",
        "/v1/admin/reports",
        "/open311",
    ],
    calls: &["media", "identity"],
    outbox: true,
    consumes_events: false,
    // Ward boundaries admins upload are larger than anything else but photos.
    body_limit: |_| Some(MAX_BODY_BYTES),
    openapi: <ReportsApi as utoipa::OpenApi>::openapi,
    start: |context| {
        Box::pin(async move {
            let state = ReportsState::start(&context).await?;
            Ok(Running::routes(router(state, &context.service_token)))
        })
    },
};

#[derive(Clone)]
pub struct ReportsState {
    pool: PgPool,
    wards: Arc<WardIndexes>,
    /// Attaches photos to reports and sets whether they are public.
    media: ServiceClient,
    /// Tells whether an assignee is staff of the right scope.
    identity: ServiceClient,
    max_reports_per_hour: i64,
    /// Open311's requests per client address.
    open311_limiter: Arc<platform::ratelimit::Limiter>,
}

impl ReportsState {
    /// Seeds the demo city if configured, and starts the SLA job.
    async fn start(context: &StartContext) -> anyhow::Result<Self> {
        let (pool, config) = (context.pool.clone(), &context.config.reports);
        if config.seed_demo_jurisdiction {
            seed_demo(&pool).await?;
        }
        ops::fill_missing_cells(&pool).await?;
        let state = Self {
            pool,
            wards: Arc::default(),
            media: context.client("media")?,
            identity: context.client("identity")?,
            max_reports_per_hour: config.max_reports_per_hour,
            open311_limiter: Arc::new(platform::ratelimit::Limiter::new(
                &context.counters,
                "open311.requests",
                config.open311_requests_per_minute,
                Duration::from_secs(60),
            )),
        };
        context.jobs.spawn(
            "sla",
            sla::run(
                state.clone(),
                Duration::from_millis(config.sla_check_interval_ms.max(10)),
            ),
        );
        Ok(state)
    }
}

/// Imports the demo city `hue` unless it is already there.
async fn seed_demo(pool: &PgPool) -> anyhow::Result<()> {
    let present =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM wards WHERE jurisdiction_id = 'hue'"#)
            .fetch_one(pool)
            .await?;
    if present > 0 {
        return Ok(());
    }
    let file: jurisdiction::JurisdictionFile =
        serde_json::from_str(jurisdiction::DEMO_JURISDICTION)?;
    let wards = jurisdiction::parse_wards(jurisdiction::DEMO_WARDS)
        .map_err(|e| anyhow::anyhow!("demo wards: {}", e.describe()))?;
    jurisdiction::import(pool, &file, Some(&wards))
        .await
        .map_err(|e| anyhow::anyhow!("demo jurisdiction: {}", e.describe()))?;
    tracing::info!("demo jurisdiction `hue` imported");
    Ok(())
}

/// Imports a jurisdiction file and, if given, its wards (`citizen jurisdiction import`): all of
/// it, or nothing when any part is refused.
pub async fn import(
    pool: &PgPool,
    jurisdiction_json: &str,
    wards_geojson: Option<&str>,
) -> anyhow::Result<(String, usize)> {
    let file: jurisdiction::JurisdictionFile = serde_json::from_str(jurisdiction_json)?;
    let wards = wards_geojson
        .map(jurisdiction::parse_wards)
        .transpose()
        .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
    jurisdiction::import(pool, &file, wards.as_deref())
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
    Ok((file.id, wards.map_or(0, |w| w.len())))
}

/// Largest ward file an admin may upload.
const MAX_WARDS_BODY: usize = 20 * 1024 * 1024;

/// Reports' routes, without the shared service layers (the caller adds them).
pub fn router(state: ReportsState, service_token: &secrecy::SecretString) -> Router {
    let internal = Router::new()
        .route(
            "/internal/v1/reports/{id}/followers",
            get(public::internal_followers),
        )
        .route("/internal/v1/areas/resolve", post(areas::internal_resolve))
        .route("/internal/v1/wards/find", post(wards::internal_find));
    Router::new()
        .route("/v1/reports", post(filing::file_report))
        .route("/v1/reports/categories", get(public::categories))
        .route("/v1/reports/duplicates", get(filing::duplicates))
        .route("/v1/reports/near", get(public::near))
        .route("/v1/reports/mine", get(public::mine))
        .route("/v1/reports/following", get(public::following))
        .route("/v1/reports/{id}", get(public::report))
        .route(
            "/v1/reports/{id}/follow",
            put(public::follow).delete(public::unfollow),
        )
        .route("/v1/reports/{id}/rating", post(public::rate))
        .route("/v1/reports/{id}/reopen", post(public::reopen))
        .route("/v1/officer/reports", get(officer::queue))
        .route("/v1/officer/reports/accept", post(officer::bulk_accept))
        .route("/v1/officer/reports/{id}", get(officer::report))
        .route("/v1/officer/reports/{id}/comments", post(officer::comment))
        .route(
            "/v1/officer/reports/{id}/duplicate-of",
            post(officer::mark_duplicate),
        )
        .route("/v1/officer/reports/{id}/{action}", post(officer::act))
        .route(
            "/open311/v2/{file}",
            get(open311::get_document).post(open311::post_document),
        )
        .route("/open311/v2/{kind}/{file}", get(open311::get_one))
        .route(
            "/v1/admin/jurisdictions/{id}/open311-clients",
            get(open311::list_keys).post(open311::issue_key),
        )
        .route(
            "/v1/admin/jurisdictions/{id}/open311-clients/{client}",
            delete(open311::revoke_key),
        )
        .route("/v1/admin/reports/{id}/hide", post(moderation::hide_report))
        .route("/v1/admin/reports/{id}/show", post(moderation::show_report))
        .route(
            "/v1/admin/reports/{id}/photos/{media}/redact",
            post(moderation::redact_photo),
        )
        .route(
            "/v1/admin/reports/{id}/events/{event}/hide",
            post(moderation::hide_note),
        )
        .route(
            "/v1/admin/jurisdictions/{id}/bans/{account}",
            put(moderation::ban).delete(moderation::lift_ban),
        )
        .route(
            "/v1/admin/jurisdictions/{id}/moderation-log",
            get(moderation::moderation_log),
        )
        .route(
            "/v1/admin/jurisdictions/{id}/response-templates",
            put(moderation::put_templates),
        )
        .route("/v1/officer/response-templates", get(moderation::templates))
        .route("/v1/ops/kpis", get(ops::kpis))
        .route("/v1/ops/heatmap", get(ops::heatmap))
        .route("/v1/admin/jurisdictions/{id}", put(admin::put_jurisdiction))
        .route(
            "/v1/admin/jurisdictions/{id}/wards",
            put(admin::put_wards).layer(DefaultBodyLimit::max(MAX_WARDS_BODY)),
        )
        .merge(platform::http::internal_only(internal, service_token))
        .with_state(state)
}

/// The largest request body reports accepts (the gateway lets these through).
pub const MAX_BODY_BYTES: usize = MAX_WARDS_BODY;

/// Reports' part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        filing::file_report,
        filing::duplicates,
        public::categories,
        public::near,
        public::mine,
        public::following,
        public::report,
        public::follow,
        public::unfollow,
        public::rate,
        public::reopen,
        officer::queue,
        officer::bulk_accept,
        officer::report,
        officer::comment,
        officer::mark_duplicate,
        officer::act,
        admin::put_jurisdiction,
        admin::put_wards,
        ops::kpis,
        ops::heatmap,
        open311::issue_key,
        open311::list_keys,
        open311::revoke_key,
        moderation::hide_report,
        moderation::show_report,
        moderation::hide_note,
        moderation::redact_photo,
        moderation::ban,
        moderation::lift_ban,
        moderation::moderation_log,
        moderation::put_templates,
        moderation::templates,
    ),
    tags(
        (name = "reports", description = "Phản ánh hiện trường / Field reports"),
        (name = "operations", description = "Trung tâm điều hành: chỉ số và bản đồ nhiệt / Operations centre: KPIs and heatmaps"),
        (name = "moderation", description = "Kiểm duyệt / Moderation")
    )
)]
pub struct ReportsApi;

/// An H3 cell as PostgreSQL stores it (a signed 64-bit integer).
pub fn cell_at(latitude: f64, longitude: f64, resolution: Resolution) -> Option<i64> {
    let cell = LatLng::new(latitude, longitude).ok()?.to_cell(resolution);
    Some(u64::from(cell) as i64)
}

/// The centre of the cell `latitude`/`longitude` is in: where the public sees a report whose
/// exact position is private.
pub fn coarsened(latitude: f64, longitude: f64) -> Option<(f64, f64)> {
    let cell: CellIndex = LatLng::new(latitude, longitude)
        .ok()?
        .to_cell(Resolution::Eight);
    let centre = LatLng::from(cell);
    Some((centre.lat(), centre.lng()))
}

pub(crate) fn report_not_found() -> ApiError {
    ApiError::not_found(
        "report_not_found",
        "Không tìm thấy phản ánh.",
        "There is no such report.",
    )
}

pub(crate) fn jurisdiction_not_found() -> ApiError {
    ApiError::not_found(
        "jurisdiction_not_found",
        "Không tìm thấy địa bàn.",
        "There is no such jurisdiction.",
    )
}
