//! Health: a verified resident's health insurance card and vaccinations, and their children's,
//! read from the city's health information systems, which speak HL7 FHIR R4. A resident is
//! found at their jurisdiction's system by the personal ID number VNeID gave identity
//! (`Patient?identifier=`); a parent sees the children under 16 whose records name them
//! (`RelatedPerson`), and books hospital appointments for them. Nothing is kept here of a
//! record but the appointments booked through the app: every answer is read from the system,
//! and a system that is down is an honest 503.

mod appointments;
pub mod config;
mod errors;
mod facilities;
mod fhir;
mod insurance;
mod people;
mod reminders;
mod resources;
mod schedule;
mod vaccinations;

pub use errors::HealthError;
pub use platform::text::Text;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::internal::ServiceClient;
use platform::service::{Running, Service, StartContext};
use serde::Serialize;
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::HealthConfig;
use crate::fhir::{FhirClient, FhirError};
use crate::people::{Households, Person, household_of};
use crate::schedule::Schedule;

/// The name health consumes events under.
const CONSUMER: &str = "health";

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "health";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/health");

pub static SERVICE: Service = Service {
    name: "health",
    about: "health insurance cards, vaccinations and hospital appointments through the city's FHIR R4 systems",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/health"],
    calls: &["identity"],
    outbox: true,
    consumes_events: true,
    idempotency_keys: true,
    config: Some(platform::config::SectionSpec::of::<HealthConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <HealthApi as utoipa::OpenApi>::openapi,
    errors: HealthError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = HealthState::start(&context)?;
            facilities::start_refresh(state.clone(), &context.jobs);
            reminders::start(state.clone(), &context.jobs);
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
pub struct HealthState {
    pool: PgPool,
    config: Arc<HealthConfig>,
    /// Each jurisdiction's health system.
    systems: Arc<BTreeMap<String, Arc<FhirClient>>>,
    identity: ServiceClient,
    households: Arc<Households>,
    schedule: Arc<Schedule>,
}

impl HealthState {
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: HealthConfig = context.section()?;
        let plain_http = context.config.outside_plain_http();
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let mut systems = BTreeMap::new();
        for (jurisdiction, server) in &config.systems {
            let client = FhirClient::new(server, timeout, plain_http)
                .map_err(|e| anyhow::anyhow!("health.systems.{jurisdiction}.base_url: {e:#}"))?;
            systems.insert(jurisdiction.clone(), Arc::new(client));
        }
        if systems.is_empty() {
            tracing::warn!("health.systems is empty: no health records can be looked up");
        }
        Ok(Self {
            pool: context.pool.clone(),
            config: Arc::new(config),
            systems: Arc::new(systems),
            identity: context.client("identity")?,
            households: Arc::default(),
            schedule: Arc::new(Schedule::national()?),
        })
    }
}

/// Health's routes, without the shared service layers (the caller adds them).
pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/v1/health/people", get(people))
        .route("/v1/health/insurance-card", get(insurance::get))
        .route("/v1/health/vaccinations", get(vaccinations::list))
        .route("/v1/health/facilities", get(facilities::near))
        .route("/v1/health/blood-drives", get(facilities::blood_drives))
        .route("/v1/health/departments", get(appointments::departments))
        .route("/v1/health/slots", get(appointments::slots))
        .route(
            "/v1/health/appointments",
            get(appointments::list).post(appointments::book),
        )
        .route(
            "/v1/health/appointments/{id}",
            axum::routing::delete(appointments::cancel),
        )
        .with_state(state)
}

/// A health system that did not answer usefully: 503 `upstream_unavailable` for the resident,
/// the cause for the log.
pub fn unavailable(error: FhirError) -> ApiError {
    match &error {
        FhirError::Refused { .. } => {
            tracing::error!(%error, "the FHIR server refused a request of ours")
        }
        _ => tracing::warn!(%error, "the FHIR server gave no usable answer"),
    }
    ApiError::from(SharedError::UpstreamUnavailable).with_retry_after(Duration::from_secs(30))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct People {
    /// Me first, then the children under 16 I act for.
    people: Vec<Person>,
}

/// Whose health records I may see: mine, and my children's under 16.
#[utoipa::path(get, path = "/v1/health/people", operation_id = "list_health_people", tag = "health", security(("bearer" = [])),
    responses((status = 200, body = People),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`no_health_record`, `no_health_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: the health system did not answer", body = platform::error::Problem, content_type = "application/problem+json")))]
async fn people(
    State(state): State<HealthState>,
    principal: Principal,
) -> Result<Json<People>, ApiError> {
    let household = household_of(&state, &principal).await?;
    Ok(Json(People {
        people: household.people,
    }))
}

/// Forgets an erased account's appointments and watches.
fn forget_erased(tx: &mut PgConnection, account: Uuid) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(async move {
        sqlx::query!("DELETE FROM appointments WHERE account_id = $1", account)
            .execute(&mut *tx)
            .await?;
        sqlx::query!(
            "DELETE FROM vaccination_watches WHERE account_id = $1",
            account
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM vaccination_reminders WHERE account_id = $1",
            account
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    })
}

/// Health's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        people,
        insurance::get,
        vaccinations::list,
        appointments::departments,
        appointments::slots,
        appointments::book,
        appointments::list,
        appointments::cancel,
        facilities::near,
        facilities::blood_drives
    ),
    tags((name = "health", description = "Thẻ BHYT, tiêm chủng, đặt lịch khám, cơ sở y tế và hiến máu / Health insurance card, vaccinations, hospital appointments, facilities and blood drives"))
)]
pub struct HealthApi;
