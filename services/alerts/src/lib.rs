//! Alerts in the OASIS Common Alerting Protocol 1.2: disaster, flood, outage, scam and traffic
//! warnings and announcements. They come in as CAP documents from the authorities' feeds (the
//! disaster committee, the power and water companies) or are written by a jurisdiction's
//! operators; each is told, through notifications' area broadcasts, to the residents whose home
//! ward or last report lies in its area (severe and imminent ones through quiet hours);
//! updates and cancels follow CAP's `references`. Residents read what is in force, and the
//! jurisdiction's alerts go out again as a CAP Atom feed, as alert aggregators read them. It
//! also names the emergency numbers, and the police, fire and rescue and hospital nearest a
//! resident.

mod alerts;
pub mod cap;
pub mod config;
mod emergency;
mod errors;
mod feeds;

pub use errors::AlertsError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use platform::ApiError;
use platform::error::SharedError;
use platform::events::types::{EventType, RiverAlarmRaised};
use platform::events::{Event, Handler, SharedBus};
use platform::internal::ServiceClient;
use platform::outbound::{Limits, OutboundClient};
use platform::service::{Running, Service, StartContext};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::config::AlertsConfig;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "alerts";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/alerts");

pub static SERVICE: Service = Service {
    name: "alerts",
    about: "CAP 1.2 alerts: authorities' feeds and operators' warnings, told to the residents of their area, and a CAP Atom feed",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/alerts", "/v1/admin/alerts"],
    calls: &["reports"],
    outbox: true,
    consumes_events: true,
    idempotency_keys: true,
    config: Some(platform::config::SectionSpec::of::<AlertsConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <AlertsApi as utoipa::OpenApi>::openapi,
    errors: AlertsError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = AlertsState::start(&context)?;
            feeds::start_polling(state.clone(), &context.jobs);
            if let Some(bus) = &context.bus {
                raise_river_alarms(&state, bus).await?;
            }
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct AlertsState {
    pool: PgPool,
    config: Arc<AlertsConfig>,
    /// Reports knows the jurisdictions' wards, to check an area lies in one.
    reports: ServiceClient,
    /// For the authorities' feeds.
    outside: OutboundClient,
    emergency: Arc<emergency::Emergency>,
}

impl AlertsState {
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: AlertsConfig = context.section()?;
        let outside = OutboundClient::new(
            "CAP feeds",
            context.config.outside_plain_http(),
            Limits {
                timeout: Duration::from_millis(config.timeout_ms.max(1)),
                max_answer_bytes: 1024 * 1024,
                ..Limits::default()
            },
        )?;
        for (jurisdiction, feeds) in &config.feeds {
            for feed in feeds {
                outside
                    .check_url(&feed.url)
                    .map_err(|e| anyhow::anyhow!("alerts.feeds.{jurisdiction}: {e}"))?;
                anyhow::ensure!(
                    alerts::KINDS.contains(&feed.kind.as_str()),
                    "alerts.feeds.{jurisdiction}: unknown kind {}",
                    feed.kind
                );
            }
        }
        let emergency = emergency::load(config.emergency_file.as_deref())
            .map_err(|e| anyhow::anyhow!("alerts.emergency_file: {e:#}"))?;
        Ok(Self {
            emergency: Arc::new(emergency),
            pool: context.pool.clone(),
            config: Arc::new(config),
            reports: context.client("reports")?,
            outside,
        })
    }

    /// The jurisdiction of a request that names none.
    fn default_jurisdiction(&self) -> String {
        self.config
            .feeds
            .keys()
            .next()
            .cloned()
            .unwrap_or_else(|| "hue".to_owned())
    }

    /// Refuses an area outside the jurisdiction, or naming wards it does not have, as reports
    /// resolves areas for broadcasts.
    async fn check_area(&self, jurisdiction: &str, area: &Value) -> Result<(), ApiError> {
        let answer = self
            .reports
            .call(
                http::Method::POST,
                "/internal/v1/areas/resolve",
                Some(&json!({ "jurisdiction": jurisdiction, "area": area })),
            )
            .await?;
        match (answer.status.as_u16(), answer.body["code"].as_str()) {
            (200, _) => Ok(()),
            (404, _) => Err(ApiError::jurisdiction_not_found()),
            (_, Some("unknown_ward")) => {
                let detail = answer.body["detail"].as_str().unwrap_or_default();
                Err(SharedError::UnknownWard {
                    ward: detail.split('`').nth(1).unwrap_or_default().to_owned(),
                }
                .into())
            }
            (_, Some("area_outside_jurisdiction")) => {
                Err(SharedError::AreaOutsideJurisdiction.into())
            }
            (_, Some("area_too_large")) => Err(SharedError::AreaTooLarge.into()),
            (400 | 422, _) => Err(SharedError::InvalidArea.into()),
            (status, _) => Err(ApiError::internal(anyhow::anyhow!(
                "reports answered {status} resolving an area"
            ))),
        }
    }
}

/// A river past a higher alarm level at a gauge becomes a flood alert of ours, or an update
/// of the gauge's alert in force at a lower level. A river hovering at a threshold raises it
/// once: while the gauge's alert of that level or higher is in force, a crossing adds nothing.
/// A reading hours old (a backlog after an outage) is not news.
async fn raise_river_alarms(state: &AlertsState, bus: &SharedBus) -> anyhow::Result<()> {
    let state = state.clone();
    let handler: Handler = Arc::new(move |event: Event| {
        let state = state.clone();
        Box::pin(async move {
            let raised: RiverAlarmRaised = event.decode()?;
            if chrono::Utc::now() - raised.observed_at > chrono::TimeDelta::hours(3) {
                tracing::info!(
                    gauge = raised.gauge_id,
                    "an old reading past an alarm level; no alert"
                );
                return Ok(());
            }
            let mut tx = state.pool.begin().await?;
            // One gauge's crossings one at a time, whichever replica takes them.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("alerts.gauge:{}", raised.gauge_id))
                .execute(&mut *tx)
                .await?;
            let prefix = alerts::gauge_identifier_prefix(&raised);
            let in_force = sqlx::query!(
                r#"SELECT identifier, sent FROM alerts
                   WHERE sender = $1 AND source = 'gauge' AND starts_with(identifier, $2)
                     AND replaced_by IS NULL AND msg_type <> 'Cancel'
                     AND (expires IS NULL OR expires > now())
                   ORDER BY sent DESC LIMIT 1"#,
                state.config.sender,
                prefix
            )
            .fetch_optional(&mut *tx)
            .await?;
            let mut references = Vec::new();
            if let Some(in_force) = in_force {
                let level = in_force
                    .identifier
                    .rsplit('-')
                    .next()
                    .and_then(|l| l.parse::<u8>().ok());
                if level.is_some_and(|level| level >= raised.alarm_level) {
                    return Ok(());
                }
                references.push(cap::Reference {
                    sender: state.config.sender.clone(),
                    identifier: in_force.identifier,
                    sent: cap::cap_time(
                        &in_force.sent.with_timezone(&platform::vietnam_time::OFFSET),
                    ),
                });
            }
            let alert = alerts::river_alarm(&state.config, &raised, references);
            let document = alert.to_xml();
            if let alerts::Taken::New(id) = alerts::take(
                &mut tx,
                &raised.jurisdiction,
                "disaster",
                "gauge",
                None,
                &alert,
                &document,
            )
            .await?
            {
                tracing::warn!(alert = %id, gauge = raised.gauge_id, level = raised.alarm_level, "flood alert raised by a gauge");
            }
            tx.commit().await?;
            Ok(())
        })
    });
    bus.subscribe(CONSUMER, RiverAlarmRaised::NAME, handler)
        .await
}

/// The name alerts consumes events under.
const CONSUMER: &str = "alerts";

/// Alerts' routes, without the shared service layers (the caller adds them).
pub fn router(state: AlertsState) -> Router {
    Router::new()
        .route("/v1/alerts", get(alerts::list))
        .route("/v1/alerts/feeds/{jurisdiction}", get(feeds::atom))
        .route("/v1/alerts/emergency", get(emergency::contacts))
        .route("/v1/alerts/{id}", get(alerts::get))
        .route("/v1/alerts/{id}/cap", get(alerts::document))
        .route("/v1/admin/alerts", post(alerts::create))
        .route("/v1/admin/alerts/{id}/cancel", post(alerts::cancel))
        .with_state(state)
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        alerts::list,
        alerts::get,
        alerts::document,
        feeds::atom,
        emergency::contacts,
        alerts::create,
        alerts::cancel,
    ),
    components(schemas(
        alerts::AlertView,
        alerts::AlertList,
        alerts::NewAlert,
        alerts::Cancellation,
        emergency::EmergencyContacts,
        emergency::EmergencyNumber,
        emergency::EmergencyPlace,
    )),
    tags((name = "alerts", description = "CAP 1.2 alerts, their feed, and operators' warnings"))
)]
struct AlertsApi;
