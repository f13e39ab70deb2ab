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
use platform::events::types::{
    AccountErased, AccountHomeWardChanged, AlertIssued, AppointmentReminder, DossierChanged,
    EventType, PaymentFailed, PaymentRefunded, PaymentSucceeded, QuestionSettled, ReportCreated,
    ReportOverdue, ReportStatusChanged, ScorePublished, VaccinationsDue,
};
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
    idempotency_keys: true,
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
        broadcasts::start_fan_out(state.clone(), &context.jobs);
        if !state.senders.platforms().is_empty() {
            for _ in 0..config.push_workers.max(1) {
                push::start_worker(state.clone(), &context.jobs);
            }
        }
        Ok(state)
    }

    /// Consumes the events people are told about, and identity's erasures.
    pub async fn subscribe(&self, bus: &SharedBus) -> anyhow::Result<()> {
        for event_type in [
            ReportCreated::NAME,
            ReportStatusChanged::NAME,
            ReportOverdue::NAME,
            AccountErased::NAME,
            AccountHomeWardChanged::NAME,
            PaymentSucceeded::NAME,
            PaymentFailed::NAME,
            PaymentRefunded::NAME,
            VaccinationsDue::NAME,
            ScorePublished::NAME,
            DossierChanged::NAME,
            AppointmentReminder::NAME,
            AlertIssued::NAME,
            QuestionSettled::NAME,
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
        match event.event_type.as_str() {
            AccountErased::NAME => self.on_account_erased(&event, event.decode()?).await,
            AccountHomeWardChanged::NAME => {
                self.on_home_ward_changed(&event, event.decode()?).await
            }
            ReportCreated::NAME => self.on_report_created(&event, event.decode()?).await,
            ReportOverdue::NAME => self.on_report_overdue(&event, event.decode()?).await,
            ReportStatusChanged::NAME => self.on_status_changed(&event, event.decode()?).await,
            PaymentSucceeded::NAME => {
                let payment: PaymentSucceeded = event.decode()?;
                let notice = templates::payment_succeeded(&payment);
                self.tell_payer(&event, payment.account_id, payment.payment_id, &notice)
                    .await
            }
            PaymentFailed::NAME => {
                let payment: PaymentFailed = event.decode()?;
                let notice = templates::payment_failed(&payment);
                self.tell_payer(&event, payment.account_id, payment.payment_id, &notice)
                    .await
            }
            PaymentRefunded::NAME => {
                let refund: PaymentRefunded = event.decode()?;
                let notice = templates::payment_refunded(&refund);
                self.tell_payer(&event, refund.account_id, refund.payment_id, &notice)
                    .await
            }
            VaccinationsDue::NAME => {
                let due: VaccinationsDue = event.decode()?;
                let notice = templates::vaccinations_due(&due, platform::vietnam_time::today());
                let data =
                    serde_json::json!({ "kind": event.event_type, "person": due.patient_id });
                self.deliver(&event, &notice, &data, vec![due.account_id])
                    .await
            }
            ScorePublished::NAME => {
                let score: ScorePublished = event.decode()?;
                let notice = templates::score_published(&score);
                let data =
                    serde_json::json!({ "kind": event.event_type, "student": score.student_id });
                self.deliver(&event, &notice, &data, vec![score.account_id])
                    .await
            }
            DossierChanged::NAME => {
                let dossier: DossierChanged = event.decode()?;
                let notice = templates::dossier_changed(&dossier);
                let data = serde_json::json!({ "kind": event.event_type, "dossier": dossier.code });
                self.deliver(&event, &notice, &data, vec![dossier.account_id])
                    .await
            }
            AppointmentReminder::NAME => {
                let reminder: AppointmentReminder = event.decode()?;
                let notice = templates::appointment_reminder(&reminder);
                let data = serde_json::json!({
                    "kind": event.event_type,
                    "appointment": reminder.appointment_id,
                });
                self.deliver(&event, &notice, &data, vec![reminder.account_id])
                    .await
            }
            AlertIssued::NAME => broadcasts::from_alert(self, &event.decode()?).await,
            QuestionSettled::NAME => {
                let question: QuestionSettled = event.decode()?;
                let notice = templates::question_settled(&question);
                let data = serde_json::json!({
                    "kind": event.event_type,
                    "question_id": question.question_id,
                    "jurisdiction": question.jurisdiction,
                });
                self.deliver(&event, &notice, &data, vec![question.account_id])
                    .await
            }
            other => anyhow::bail!("notifications does not take {other} events"),
        }
    }

    /// The officers who answer for the ward and the department hear of a new report; where
    /// its reporter last reported from is kept for the city's warnings.
    async fn on_report_created(&self, event: &Event, report: ReportCreated) -> anyhow::Result<()> {
        self.remember_report_cell(event, &report).await?;
        let staff = self
            .responsible(&report.jurisdiction, &report.ward, &report.department)
            .await?;
        let data = report_data(event, report.report_id, None);
        self.deliver(event, &templates::created(&report), &data, staff)
            .await
    }

    /// The same, and whoever it is assigned to, hear of a report past its deadline.
    async fn on_report_overdue(&self, event: &Event, report: ReportOverdue) -> anyhow::Result<()> {
        let mut staff = self
            .responsible(&report.jurisdiction, &report.ward, &report.department)
            .await?;
        staff.extend(report.assignee_id);
        let data = report_data(event, report.report_id, None);
        self.deliver(event, &templates::overdue(&report), &data, staff)
            .await
    }

    /// The reporter and the report's followers hear of its new status.
    async fn on_status_changed(
        &self,
        event: &Event,
        change: ReportStatusChanged,
    ) -> anyhow::Result<()> {
        let Some(notice) = templates::status_changed(&change) else {
            return Ok(());
        };
        let mut people = self.followers(change.report_id).await?;
        people.push(change.reporter_id);
        let data = report_data(event, change.report_id, Some(&change.to));
        self.deliver(event, &notice, &data, people).await
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
    async fn tell_payer(
        &self,
        event: &Event,
        payer: Uuid,
        payment_id: Uuid,
        notice: &templates::Notice,
    ) -> anyhow::Result<()> {
        let data = serde_json::json!({ "kind": event.event_type, "payment_id": payment_id });
        self.deliver(event, notice, &data, vec![payer]).await
    }

    /// Where a resident last reported from, for the city's warnings; an older report's event
    /// arriving late changes nothing.
    async fn remember_report_cell(
        &self,
        event: &Event,
        report: &ReportCreated,
    ) -> anyhow::Result<()> {
        sqlx::query!(
            r#"INSERT INTO residents (account_id, last_report_cell, last_report_jurisdiction, last_report_at)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (account_id) DO UPDATE
                 SET last_report_cell = EXCLUDED.last_report_cell,
                     last_report_jurisdiction = EXCLUDED.last_report_jurisdiction,
                     last_report_at = EXCLUDED.last_report_at
                 WHERE residents.last_report_at IS NULL
                    OR residents.last_report_at < EXCLUDED.last_report_at"#,
            report.reporter_id,
            report.h3_res9,
            report.jurisdiction,
            event.occurred_at
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A resident's home ward, a ward of a jurisdiction, for the city's warnings (the newest
    /// change wins; none when identity cleared it).
    async fn on_home_ward_changed(
        &self,
        event: &Event,
        changed: AccountHomeWardChanged,
    ) -> anyhow::Result<()> {
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
    async fn on_account_erased(&self, event: &Event, erased: AccountErased) -> anyhow::Result<()> {
        let account = erased.account_id;
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

/// What a push about a report carries for the app: which report, and its status if it changed.
fn report_data(event: &Event, report_id: Uuid, status: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "kind": event.event_type, "report_id": report_id, "status": status })
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
        .route("/v1/admin/broadcasts/preview", post(broadcasts::preview))
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
        broadcasts::preview,
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
