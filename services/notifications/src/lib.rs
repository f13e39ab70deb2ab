//! Notifications: what residents and officers are told, kept in their inbox and pushed to their
//! phones through FCM and to their browsers through Web Push (our own clients). Notices come
//! from other services' events, and from operators' area broadcasts, written with their pushes
//! in one transaction; workers send the pushes, retry what the push service asks to retry, and
//! forget devices it says are gone.

mod broadcasts;
pub mod config;
mod errors;
pub mod fcm;
mod inbox;
mod preferences;
mod push;
mod templates;
mod transport;
pub mod webpush;

pub use errors::NotificationsError;
pub use transport::SendError;

use std::sync::Arc;

use crate::config::NotificationsConfig;
use axum::Router;
use axum::routing::{get, post};
use platform::events::{Event, Handler, SharedBus, first_delivery};
use platform::internal::ServiceClient;
use platform::service::{Running, Service, StartContext};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;
use uuid::Uuid;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "notifications";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/notifications");

pub static SERVICE: Service = Service {
    name: "notifications",
    about: "the inbox, pushes to phones and browsers, area broadcasts",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/inbox", "/v1/notifications", "/v1/admin/broadcasts"],
    calls: &["identity", "reports"],
    outbox: false,
    consumes_events: true,
    config: Some(platform::config::SectionSpec::of::<
        config::NotificationsConfig,
    >()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <NotificationsApi as utoipa::OpenApi>::openapi,
    errors: NotificationsError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = NotificationsState::start(&context)?;
            if let Some(bus) = &context.bus {
                state.subscribe(bus).await?;
            }
            Ok(Running::routes(router(state)))
        })
    },
};

/// The durable name of this service's event consumers.
const CONSUMER: &str = "notifications";

#[derive(Clone)]
pub struct NotificationsState {
    pool: PgPool,
    /// Knows each account's devices, and forgets the ones FCM says are gone.
    identity: ServiceClient,
    /// Knows who follows a report.
    reports: ServiceClient,
    senders: Arc<push::Senders>,
    /// Wakes the push workers when pushes are queued.
    pushes: Arc<Notify>,
    /// Wakes the broadcast fan-out job when an operator sends one.
    broadcasts: Arc<Notify>,
    /// Where the workers run; a round of pushes finishes even when the process stops.
    jobs: platform::jobs::Jobs,
}

impl NotificationsState {
    /// Opens the FCM client (if configured) and starts the push worker.
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: &NotificationsConfig = &context.section()?;
        let plain_http = context.config.outside_plain_http();
        let fcm = match &config.fcm {
            Some(fcm) => {
                use secrecy::ExposeSecret as _;
                let account: fcm::ServiceAccount =
                    serde_json::from_str(fcm.service_account.expose_secret()).map_err(|e| {
                        anyhow::anyhow!(
                            "notifications.fcm.service_account is not a service-account key: {e}"
                        )
                    })?;
                Some(fcm::FcmClient::new(
                    account,
                    &fcm.base_url,
                    fcm.concurrency,
                    plain_http,
                )?)
            }
            None => {
                tracing::warn!("notifications.fcm is not set: the apps get no pushes");
                None
            }
        };
        let web_push = match &config.web_push {
            Some(web) => {
                use secrecy::ExposeSecret as _;
                Some(webpush::WebPushClient::new(
                    web.vapid_private_key.expose_secret(),
                    &web.subject,
                    web.concurrency,
                    plain_http,
                )?)
            }
            None => {
                tracing::warn!("notifications.web_push is not set: browsers get no pushes");
                None
            }
        };
        let state = Self {
            pool: context.pool.clone(),
            identity: context.client("identity")?,
            reports: context.client("reports")?,
            senders: Arc::new(push::Senders { fcm, web_push }),
            pushes: Arc::new(Notify::new()),
            broadcasts: Arc::new(Notify::new()),
            jobs: context.jobs.clone(),
        };
        context
            .jobs
            .spawn("broadcast fan-out", broadcasts::run(state.clone()));
        if !state.senders.platforms().is_empty() {
            for _ in 0..config.push_workers.max(1) {
                context.jobs.spawn("pushes", push::run(state.clone()));
            }
        }
        Ok(state)
    }

    /// Consumes the events people are told about, and identity's erasures.
    pub async fn subscribe(&self, bus: &SharedBus) -> anyhow::Result<()> {
        for event_type in [
            platform::events::types::REPORT_CREATED,
            platform::events::types::REPORT_STATUS_CHANGED,
            platform::events::types::REPORT_OVERDUE,
            platform::events::types::ACCOUNT_ERASED,
            platform::events::types::ACCOUNT_HOME_WARD_CHANGED,
            platform::events::types::PAYMENT_SUCCEEDED,
            platform::events::types::PAYMENT_FAILED,
            platform::events::types::PAYMENT_REFUNDED,
        ] {
            let state = self.clone();
            let handler: Handler = Arc::new(move |event| {
                let state = state.clone();
                Box::pin(async move { state.on_event(event).await })
            });
            bus.subscribe(CONSUMER, event_type, handler).await?;
        }
        Ok(())
    }

    async fn on_event(&self, event: Event) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct Report {
            report_id: Uuid,
            #[serde(default)]
            reporter_id: Option<Uuid>,
            #[serde(default)]
            jurisdiction: String,
            #[serde(default)]
            ward: String,
            #[serde(default)]
            department: String,
            #[serde(default)]
            assignee_id: Option<Uuid>,
        }
        match event.event_type.as_str() {
            platform::events::types::ACCOUNT_ERASED => return self.on_account_erased(event).await,
            platform::events::types::ACCOUNT_HOME_WARD_CHANGED => {
                return self.on_home_ward_changed(event).await;
            }
            platform::events::types::PAYMENT_SUCCEEDED
            | platform::events::types::PAYMENT_FAILED
            | platform::events::types::PAYMENT_REFUNDED => {
                return self.on_payment(event).await;
            }
            _ => {}
        }
        let report: Report = serde_json::from_value(event.payload.clone())?;
        if event.event_type == platform::events::types::REPORT_CREATED {
            self.remember_report_cell(&event, report.reporter_id, &report.jurisdiction)
                .await?;
        }
        let (notice, recipients) = match event.event_type.as_str() {
            // The officers who answer for the ward and the department.
            platform::events::types::REPORT_CREATED => (
                templates::created(&event.payload),
                self.responsible(&report.jurisdiction, &report.ward, &report.department)
                    .await?,
            ),
            // The same, and whoever it is assigned to.
            platform::events::types::REPORT_OVERDUE => {
                let mut staff = self
                    .responsible(&report.jurisdiction, &report.ward, &report.department)
                    .await?;
                staff.extend(report.assignee_id);
                (templates::overdue(&event.payload), staff)
            }
            // The reporter and the report's followers.
            _ => {
                let Some(notice) = templates::status_changed(&event.payload) else {
                    return Ok(());
                };
                let mut people = self.followers(report.report_id).await?;
                people.extend(report.reporter_id);
                (notice, people)
            }
        };
        let data = serde_json::json!({
            "kind": event.event_type,
            "report_id": report.report_id,
            "status": event.payload["to"],
        });
        self.deliver(&event, &notice, &data, recipients).await
    }

    /// Writes the notices and queues their pushes, once per event.
    async fn deliver(
        &self,
        event: &Event,
        notice: &templates::Notice,
        data: &serde_json::Value,
        mut recipients: Vec<Uuid>,
    ) -> anyhow::Result<()> {
        recipients.sort();
        recipients.dedup();
        if recipients.is_empty() {
            return Ok(());
        }
        // Asked before the transaction: no connection waits on another service.
        let devices = self.reachable_devices(&recipients).await?;
        let mut tx = self.pool.begin().await?;
        if !first_delivery(&mut tx, CONSUMER, event.id).await? {
            return Ok(());
        }
        let source = push::Source {
            id: event.id,
            kind: &event.event_type,
        };
        let queued = push::notify(&mut tx, &source, notice, data, &recipients, &devices).await?;
        tx.commit().await?;
        if queued > 0 {
            self.pushes.notify_one();
        }
        Ok(())
    }

    /// The devices of `accounts` a push service here can reach.
    async fn reachable_devices(&self, accounts: &[Uuid]) -> anyhow::Result<Vec<push::Device>> {
        let platforms = self.senders.platforms();
        if platforms.is_empty() {
            return Ok(Vec::new());
        }
        let mut devices = push::devices_of(&self.identity, accounts).await?;
        devices.retain(|d| platforms.contains(&d.platform));
        Ok(devices)
    }

    async fn followers(&self, report: Uuid) -> anyhow::Result<Vec<Uuid>> {
        #[derive(Deserialize)]
        struct Followers {
            followers: Vec<Uuid>,
        }
        let answer = self
            .reports
            .call(
                http::Method::GET,
                &format!("/internal/v1/reports/{report}/followers"),
                None::<&()>,
            )
            .await
            .map_err(|e| anyhow::anyhow!("reports: {}", e.describe()))?;
        Ok(serde_json::from_value::<Followers>(answer.body)?.followers)
    }

    async fn responsible(
        &self,
        jurisdiction: &str,
        ward: &str,
        department: &str,
    ) -> anyhow::Result<Vec<Uuid>> {
        #[derive(Deserialize)]
        struct Responsible {
            staff: Vec<Uuid>,
        }
        let answer = self
            .identity
            .call(
                http::Method::POST,
                "/internal/v1/staff/responsible",
                Some(&serde_json::json!({
                    "jurisdiction": jurisdiction, "ward": ward, "department": department,
                })),
            )
            .await
            .map_err(|e| anyhow::anyhow!("identity: {}", e.describe()))?;
        Ok(serde_json::from_value::<Responsible>(answer.body)?.staff)
    }

    /// The payer hears how their payment ended.
    async fn on_payment(&self, event: Event) -> anyhow::Result<()> {
        let Some(notice) = templates::payment(&event.event_type, &event.payload) else {
            return Ok(());
        };
        let payer: Uuid = serde_json::from_value(event.payload["account_id"].clone())?;
        let data = serde_json::json!({
            "kind": event.event_type,
            "payment_id": event.payload["payment_id"],
        });
        self.deliver(&event, &notice, &data, vec![payer]).await
    }

    /// Where a resident last reported from, for the city's warnings; an older report's event
    /// arriving late changes nothing.
    async fn remember_report_cell(
        &self,
        event: &Event,
        reporter: Option<Uuid>,
        jurisdiction: &str,
    ) -> anyhow::Result<()> {
        let (Some(reporter), Some(cell)) = (reporter, event.payload["h3_res9"].as_i64()) else {
            return Ok(());
        };
        sqlx::query!(
            r#"INSERT INTO residents (account_id, last_report_cell, last_report_jurisdiction, last_report_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (account_id) DO UPDATE
                 SET last_report_cell = EXCLUDED.last_report_cell,
                     last_report_jurisdiction = EXCLUDED.last_report_jurisdiction,
                     last_report_at = EXCLUDED.last_report_at
                 WHERE residents.last_report_at IS NULL
                    OR residents.last_report_at < EXCLUDED.last_report_at"#,
            reporter,
            cell,
            jurisdiction,
            event.occurred_at
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A resident's home ward, a ward of a jurisdiction, for the city's warnings (the newest
    /// change wins; none when identity cleared it).
    async fn on_home_ward_changed(&self, event: Event) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct Changed {
            account_id: Uuid,
            // Absent from events written before home wards had a jurisdiction.
            #[serde(default)]
            jurisdiction: Option<String>,
            home_ward: Option<String>,
        }
        let changed: Changed = serde_json::from_value(event.payload.clone())?;
        sqlx::query!(
            r#"INSERT INTO residents (account_id, home_jurisdiction, home_ward, home_ward_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (account_id) DO UPDATE
                 SET home_jurisdiction = EXCLUDED.home_jurisdiction,
                     home_ward = EXCLUDED.home_ward, home_ward_at = EXCLUDED.home_ward_at
                 WHERE residents.home_ward_at IS NULL
                    OR residents.home_ward_at < EXCLUDED.home_ward_at"#,
            changed.account_id,
            changed.jurisdiction,
            changed.home_ward,
            event.occurred_at
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An erased account's inbox, preferences and pending pushes go with it.
    async fn on_account_erased(&self, event: Event) -> anyhow::Result<()> {
        let account: Uuid = serde_json::from_value(event.payload["account_id"].clone())?;
        let mut tx = self.pool.begin().await?;
        if first_delivery(&mut tx, CONSUMER, event.id).await? {
            sqlx::query!("DELETE FROM notices WHERE account_id = $1", account)
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM preferences WHERE account_id = $1", account)
                .execute(&mut *tx)
                .await?;
            sqlx::query!("DELETE FROM residents WHERE account_id = $1", account)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Notifications' routes, without the shared service layers (the caller adds them).
pub fn router(state: NotificationsState) -> Router {
    Router::new()
        .route("/v1/inbox", get(inbox::list))
        .route("/v1/inbox/unread-count", get(inbox::unread_count))
        .route("/v1/inbox/read-all", post(inbox::read_all))
        .route("/v1/inbox/{id}/read", post(inbox::read))
        .route(
            "/v1/notifications/preferences",
            get(preferences::get).put(preferences::put),
        )
        .route("/v1/notifications/web-push/key", get(webpush::key))
        .route(
            "/v1/admin/broadcasts",
            get(broadcasts::list).post(broadcasts::create),
        )
        .route("/v1/admin/broadcasts/{id}", get(broadcasts::get))
        .route("/v1/admin/broadcasts/{id}/cancel", post(broadcasts::cancel))
        .with_state(state)
}

/// Notifications' part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        inbox::list,
        inbox::unread_count,
        inbox::read_all,
        inbox::read,
        preferences::get,
        preferences::put,
        webpush::key,
        broadcasts::create,
        broadcasts::list,
        broadcasts::get,
        broadcasts::cancel
    ),
    tags(
        (name = "inbox", description = "Hộp thư thông báo / Notification inbox"),
        (name = "broadcasts", description = "Cảnh báo theo khu vực / Area broadcasts")
    )
)]
pub struct NotificationsApi;
