//! Public administration: tracking a dossier (hồ sơ thủ tục hành chính) through the
//! jurisdiction's one-stop system, anonymously with the receipt's code or in full for one's
//! own, with a push on each change; appointments at the public-service centre and the wards'
//! one-stop counters (booking engine, queue numbers, QR codes, reminders, the staff's day
//! list); and two lookups: one's social insurance record at Việt Nam Social Security, and the
//! zoning at a point from the city's planning layers.

mod appointments;
pub mod config;
mod dossiers;
mod errors;
mod insurance;
mod planning;
mod upstream;

pub use errors::AdministrationError;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use futures::future::BoxFuture;
use platform::ApiError;
use platform::error::SharedError;
use platform::internal::{ServiceClient, VerifiedCitizen};
use platform::outbound::PlainHttp;
use platform::ratelimit::Limiter;
use platform::service::{Running, Service, StartContext};
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::appointments::Centre;
use crate::config::AdministrationConfig;
use crate::upstream::{TokenApi, UpstreamError};

/// The name administration consumes events under.
const CONSUMER: &str = "administration";

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "administration";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/administration");

pub static SERVICE: Service = Service {
    name: "administration",
    about: "dossier tracking through the one-stop system, counter appointments, social insurance and planning lookups",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/administration"],
    calls: &["identity"],
    outbox: true,
    consumes_events: true,
    idempotency_keys: true,
    config: Some(platform::config::SectionSpec::of::<AdministrationConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <AdministrationApi as utoipa::OpenApi>::openapi,
    errors: AdministrationError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = AdministrationState::start(&context)?;
            dossiers::start_feed(state.clone(), &context.jobs);
            appointments::start_reminders(state.clone(), &context.jobs);
            planning::start_refresh(state.clone(), &context.jobs);
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
pub struct AdministrationState {
    pool: PgPool,
    config: Arc<AdministrationConfig>,
    /// Each jurisdiction's one-stop system.
    one_stop: Arc<BTreeMap<String, Arc<TokenApi>>>,
    social_insurance: Option<Arc<TokenApi>>,
    centres: Arc<BTreeMap<String, Centre>>,
    identity: ServiceClient,
    limits: Arc<Limits>,
    /// Where plain HTTP may reach outside systems (the sandboxes in development).
    plain_http: PlainHttp,
}

/// The limits that hold across replicas (counted in Redis when configured).
struct Limits {
    /// Anonymous dossier lookups per client address and minute.
    dossier_lookups: Limiter,
    /// Lookups of one code per hour, whoever asks.
    code_lookups: Limiter,
}

impl AdministrationState {
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: AdministrationConfig = context.section()?;
        let plain_http = context.config.outside_plain_http();
        let timeout = Duration::from_millis(config.timeout_ms.max(1));
        let mut one_stop = BTreeMap::new();
        for (jurisdiction, server) in &config.one_stop {
            let client = TokenApi::new("one-stop system", server, timeout, plain_http)
                .map_err(|e| anyhow::anyhow!("administration.one_stop.{jurisdiction}: {e:#}"))?;
            one_stop.insert(jurisdiction.clone(), Arc::new(client));
        }
        if one_stop.is_empty() {
            tracing::warn!("administration.one_stop is empty: no dossier tracking");
        }
        let social_insurance = config
            .social_insurance
            .as_ref()
            .map(|server| TokenApi::new("social insurance", server, timeout, plain_http))
            .transpose()
            .map_err(|e| anyhow::anyhow!("administration.social_insurance: {e:#}"))?
            .map(Arc::new);
        let centres = appointments::load(config.centres_file.as_deref())
            .map_err(|e| anyhow::anyhow!("administration.centres_file: {e:#}"))?;
        let limits = Limits {
            dossier_lookups: Limiter::new(
                &context.counters,
                "administration.dossier_lookups",
                config.dossier_lookups_per_minute,
                Duration::from_secs(60),
            ),
            code_lookups: Limiter::new(
                &context.counters,
                "administration.code_lookups",
                config.dossier_lookups_per_code_hour,
                Duration::from_secs(3600),
            ),
        };
        Ok(Self {
            pool: context.pool.clone(),
            config: Arc::new(config),
            one_stop: Arc::new(one_stop),
            social_insurance,
            centres: Arc::new(centres),
            identity: context.client("identity")?,
            limits: Arc::new(limits),
            plain_http,
        })
    }

    fn jurisdiction(&self, citizen: &VerifiedCitizen) -> String {
        citizen
            .home_jurisdiction
            .clone()
            .unwrap_or_else(|| self.config.default_jurisdiction.clone())
    }

    fn one_stop(&self, jurisdiction: &str) -> Result<Arc<TokenApi>, ApiError> {
        self.one_stop
            .get(jurisdiction)
            .cloned()
            .ok_or_else(|| AdministrationError::NoOneStopSystem.into())
    }
}

/// Administration's routes, without the shared service layers (the caller adds them).
pub fn router(state: AdministrationState) -> Router {
    Router::new()
        .route("/v1/administration/dossiers", get(dossiers::mine))
        .route("/v1/administration/dossiers/lookup", post(dossiers::lookup))
        .route("/v1/administration/dossiers/{code}", get(dossiers::get))
        .route("/v1/administration/centres", get(appointments::centres))
        .route(
            "/v1/administration/centres/{centre}/slots",
            get(appointments::slots),
        )
        .route(
            "/v1/administration/centres/{centre}/appointments",
            get(appointments::day_list),
        )
        .route(
            "/v1/administration/centres/{centre}/arrivals",
            post(appointments::arrive),
        )
        .route(
            "/v1/administration/appointments",
            get(appointments::mine).post(appointments::book),
        )
        .route(
            "/v1/administration/appointments/{id}",
            get(appointments::get).delete(appointments::cancel),
        )
        .route(
            "/v1/administration/appointments/{id}/reschedule",
            post(appointments::reschedule),
        )
        .route("/v1/administration/social-insurance", get(insurance::get))
        .route("/v1/administration/planning", get(planning::at_point))
        .with_state(state)
}

/// An outside system that did not answer usefully: 503 `upstream_unavailable` for the
/// resident, the cause for the log.
fn unavailable(error: UpstreamError) -> ApiError {
    tracing::warn!(%error, "an administration system gave no usable answer");
    ApiError::from(SharedError::UpstreamUnavailable).with_retry_after(Duration::from_secs(30))
}

/// Forgets an erased account's follows and bookings.
fn forget_erased(tx: &mut PgConnection, account: Uuid) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(async move {
        sqlx::query!("DELETE FROM dossier_follows WHERE account_id = $1", account)
            .execute(&mut *tx)
            .await?;
        // Upcoming places go back to the slots; the bookings go.
        sqlx::query!(
            "UPDATE booking_slots s SET booked = s.booked - 1
                     FROM bookings b
                     WHERE b.account_id = $1 AND b.status = 'booked' AND b.starts_at > now()
                       AND s.centre_id = b.centre_id AND s.service_code = b.service_code
                       AND s.starts_at = b.starts_at AND s.booked > 0",
            account
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!("DELETE FROM bookings WHERE account_id = $1", account)
            .execute(&mut *tx)
            .await?;
        platform::idempotency::forget_account(tx, account).await?;
        Ok(())
    })
}

/// Administration's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        dossiers::lookup,
        dossiers::mine,
        dossiers::get,
        appointments::centres,
        appointments::slots,
        appointments::book,
        appointments::mine,
        appointments::get,
        appointments::cancel,
        appointments::reschedule,
        appointments::day_list,
        appointments::arrive,
        insurance::get,
        planning::at_point,
    ),
    tags((name = "administration", description = "Hồ sơ hành chính, lịch hẹn, bảo hiểm xã hội và quy hoạch / Dossiers, appointments, social insurance and planning"))
)]
pub struct AdministrationApi;
