//! Field reports, the heart of the product: a resident files one with photos at a position; it
//! is routed to the ward the position falls in and the department responsible for its category
//! there, given an SLA deadline, and worked through its workflow by officers, every step on a
//! timeline and in the outbox.

pub mod config;
mod domain;
mod errors;

// Audience adapters over the domain core.
mod admin;
mod moderation;
mod officer;
mod open311;
mod ops;
mod public;
mod resident;
mod sla;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use platform::service::{Running, Service, StartContext};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::config::ReportsConfig;
use crate::domain::ReportsState;
pub use crate::domain::geo::coarsened;
pub use crate::domain::{jurisdiction, wards};
pub use crate::errors::ReportsError;
pub use crate::public::nearest_public;

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
    idempotency_keys: true,
    // Ward boundaries admins upload are larger than anything else but photos.
    config: Some(platform::config::SectionSpec::of::<config::ReportsConfig>()),
    body_limit: |_| Some(MAX_BODY_BYTES),
    openapi: <ReportsApi as utoipa::OpenApi>::openapi,
    errors: ReportsError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = start(&context).await?;
            Ok(Running::routes(router(state, &context.service_token)))
        })
    },
};

/// Seeds the demo city if configured, and starts the SLA job.
async fn start(context: &StartContext) -> anyhow::Result<ReportsState> {
    let (pool, config) = (context.pool.clone(), &context.section::<ReportsConfig>()?);
    if config.seed_demo_jurisdiction {
        seed_demo(&pool).await?;
    }
    ops::fill_missing_cells(&pool).await?;
    let state = ReportsState {
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
        published_wards: Arc::default(),
    };
    sla::start(
        state.clone(),
        Duration::from_millis(config.sla_check_interval_ms.max(10)),
        &context.jobs,
    );
    Ok(state)
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
        .route(
            "/internal/v1/areas/resolve",
            post(domain::areas::internal_resolve),
        )
        .route("/internal/v1/wards/find", post(wards::internal_find))
        .route(
            "/internal/v1/jurisdictions/{id}/departments",
            get(wards::internal_departments),
        );
    Router::new()
        .route("/v1/reports", post(resident::file_report))
        .route("/v1/reports/categories", get(public::categories))
        .route("/v1/reports/wards", get(public::wards))
        .route("/v1/reports/duplicates", get(resident::duplicates))
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
        resident::file_report,
        resident::duplicates,
        public::categories,
        public::wards,
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

#[cfg(test)]
mod tests {
    /// Each audience adapter, as its source names other modules of this crate.
    const ADAPTERS: [(&str, &str); 8] = [
        ("admin", include_str!("admin.rs")),
        ("moderation", include_str!("moderation.rs")),
        ("officer", include_str!("officer.rs")),
        ("open311", include_str!("open311.rs")),
        ("ops", include_str!("ops.rs")),
        ("public", include_str!("public.rs")),
        ("resident", include_str!("resident.rs")),
        ("sla", include_str!("sla.rs")),
    ];

    const DOMAIN: [(&str, &str); 14] = [
        ("domain", include_str!("domain/mod.rs")),
        ("errors", include_str!("errors.rs")),
        ("access", include_str!("domain/access.rs")),
        ("areas", include_str!("domain/areas.rs")),
        ("bans", include_str!("domain/bans.rs")),
        ("filing", include_str!("domain/filing.rs")),
        ("geo", include_str!("domain/geo.rs")),
        ("jurisdiction", include_str!("domain/jurisdiction.rs")),
        ("photos", include_str!("domain/photos.rs")),
        ("templates", include_str!("domain/templates.rs")),
        ("transitions", include_str!("domain/transitions.rs")),
        ("views", include_str!("domain/views.rs")),
        ("wards", include_str!("domain/wards.rs")),
        ("workflow", include_str!("domain/workflow.rs")),
    ];

    /// The modules of this crate that `source` names through `crate::` or `super::`.
    fn names(source: &str) -> Vec<String> {
        let mut found = Vec::new();
        for prefix in ["crate::", "super::"] {
            for (at, _) in source.match_indices(prefix) {
                let rest = &source[at + prefix.len()..];
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                found.push(rest[..end].to_owned());
            }
        }
        found
    }

    /// The core never reaches into an adapter, and adapters reach only into the core: the
    /// modules of reports import one another in no circle.
    #[test]
    fn adapters_depend_only_on_the_core() {
        for (adapter, source) in ADAPTERS {
            for name in names(source) {
                assert!(
                    name == "domain" || name.is_empty(),
                    "the adapter `{adapter}` names `{name}`: adapters use only `crate::domain`"
                );
            }
        }
        let adapters: Vec<&str> = ADAPTERS.iter().map(|(name, _)| *name).collect();
        for (module, source) in DOMAIN {
            for name in names(source) {
                assert!(
                    !adapters.contains(&name.as_str()),
                    "the core module `{module}` names the adapter `{name}`"
                );
            }
        }
    }
}
