//! Education: a parent's children's grades and school results, read from the city's school
//! information system through IMS OneRoster 1.2 and computed as Circular 22/2021 (secondary)
//! and Circular 27/2020 (primary) say; a push when a new score is published; the national
//! graduation exam's results, looked up anonymously by candidate number and birth date; and
//! schools near me with the wards each enrols. A parent links a child by confirming a code
//! sent to the phone the school records for the pupil's parent; nothing of a pupil's record
//! is kept here but that link.

pub mod config;
mod errors;
mod exams;
mod grades;
mod guardians;
mod oneroster;
mod results_feed;
pub mod rules;
mod schools;
mod subjects;

pub use errors::EducationError;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{delete, get, post};
use futures::future::BoxFuture;
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::internal::ServiceClient;
use platform::outbound::PlainHttp;
use platform::ratelimit::Limiter;
use platform::service::{Running, Service, StartContext};
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::config::EducationConfig;
use crate::oneroster::{OneRoster, RosterError};

/// The name education consumes events under.
const CONSUMER: &str = "education";

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "education";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/education");

pub static SERVICE: Service = Service {
    name: "education",
    about: "children's grades by the Circulars through the schools' OneRoster system, exam results and schools near me",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/education"],
    calls: &["identity"],
    outbox: true,
    consumes_events: true,
    idempotency_keys: false,
    config: Some(platform::config::SectionSpec::of::<EducationConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <EducationApi as utoipa::OpenApi>::openapi,
    errors: EducationError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = EducationState::start(&context)?;
            schools::start_refresh(state.clone(), &context.jobs);
            exams::start_refresh(state.clone(), &context.jobs);
            results_feed::start(state.clone(), &context.jobs);
            if let Some(bus) = &context.bus {
                platform::events::forget_erased_accounts(
                    bus,
                    CONSUMER,
                    state.pool.clone(),
                    forget_erased,
                )
                .await?;
            }
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct EducationState {
    pool: PgPool,
    config: Arc<EducationConfig>,
    /// Each jurisdiction's school system.
    systems: Arc<BTreeMap<String, Arc<OneRoster>>>,
    identity: ServiceClient,
    limits: Arc<Limits>,
    /// Where plain HTTP may reach outside systems (the sandboxes in development).
    plain_http: PlainHttp,
}

/// The limits that hold across replicas (counted in Redis when configured).
struct Limits {
    /// Link codes an account may ask for per hour.
    link_codes: Limiter,
    /// Anonymous exam lookups per client address and minute.
    exam_lookups: Limiter,
    /// Lookups of one candidate number that missed the birth date, per hour.
    candidate_lookups: Limiter,
}

impl EducationState {
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: EducationConfig = context.section()?;
        let plain_http = context.config.outside_plain_http();
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let mut systems = BTreeMap::new();
        for (jurisdiction, server) in &config.systems {
            let client = OneRoster::new(server, timeout, plain_http)
                .map_err(|e| anyhow::anyhow!("education.systems.{jurisdiction}: {e:#}"))?;
            systems.insert(jurisdiction.clone(), Arc::new(client));
        }
        if systems.is_empty() {
            tracing::warn!("education.systems is empty: no grades or school map");
        }
        let hour = Duration::from_secs(3600);
        let limits = Limits {
            link_codes: Limiter::new(&context.counters, "education.link_codes", 5, hour),
            exam_lookups: Limiter::new(
                &context.counters,
                "education.exam_lookups",
                config.exam_lookups_per_minute,
                Duration::from_secs(60),
            ),
            candidate_lookups: Limiter::new(
                &context.counters,
                "education.candidate_lookups",
                config.exam_lookups_per_candidate_hour,
                hour,
            ),
        };
        Ok(Self {
            pool: context.pool.clone(),
            config: Arc::new(config),
            systems: Arc::new(systems),
            identity: context.client("identity")?,
            limits: Arc::new(limits),
            plain_http,
        })
    }

    /// The school system of the caller's jurisdiction: 403 `verification_required` for an
    /// account not verified with VNeID.
    async fn system_of(&self, principal: &Principal) -> Result<(String, Arc<OneRoster>), ApiError> {
        let citizen = self.identity.verified_citizen(principal).await?;
        let jurisdiction = citizen
            .home_jurisdiction
            .unwrap_or_else(|| self.config.default_jurisdiction.clone());
        let system = self
            .systems
            .get(&jurisdiction)
            .cloned()
            .ok_or(EducationError::NoSchoolSystem)?;
        Ok((jurisdiction, system))
    }
}

/// Education's routes, without the shared service layers (the caller adds them).
pub fn router(state: EducationState) -> Router {
    Router::new()
        .route("/v1/education/children", get(guardians::list))
        .route("/v1/education/children/link", post(guardians::start_link))
        .route(
            "/v1/education/children/link/confirm",
            post(guardians::confirm_link),
        )
        .route("/v1/education/children/{id}", delete(guardians::unlink))
        .route("/v1/education/children/{id}/grades", get(grades::get))
        .route(
            "/v1/education/exam-results",
            get(exams::published).post(exams::lookup),
        )
        .route("/v1/education/schools", get(schools::near))
        .route(
            "/v1/education/enrolment-zones/{ward}",
            get(schools::enrolment_zone),
        )
        .with_state(state)
}

/// A school system that did not answer usefully: 503 `upstream_unavailable` for the parent,
/// the cause for the log.
fn unavailable(error: RosterError) -> ApiError {
    tracing::warn!(%error, "the school system gave no usable answer");
    ApiError::from(SharedError::UpstreamUnavailable).with_retry_after(Duration::from_secs(30))
}

/// Forgets an erased account's children and codes.
fn forget_erased(tx: &mut PgConnection, account: Uuid) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(async move {
        sqlx::query!("DELETE FROM guardianships WHERE account_id = $1", account)
            .execute(&mut *tx)
            .await?;
        sqlx::query!("DELETE FROM link_challenges WHERE account_id = $1", account)
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
}

/// Education's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        guardians::list,
        guardians::start_link,
        guardians::confirm_link,
        guardians::unlink,
        grades::get,
        exams::published,
        exams::lookup,
        schools::near,
        schools::enrolment_zone,
    ),
    components(schemas(schools::SchoolLevel, schools::Ownership)),
    tags((name = "education", description = "Kết quả học tập của con, điểm thi và trường học / Children's school results, exam results and schools"))
)]
pub struct EducationApi;
