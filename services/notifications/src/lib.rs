//! Notifications: what residents and officers are told, kept in their inbox and pushed to their
//! phones through FCM (our own HTTP v1 client). Notices come from other services' events,
//! written with their pushes in one transaction; a worker sends the pushes, retries what FCM
//! asks to retry, and forgets devices FCM says are gone.

pub mod fcm;
mod inbox;
mod push;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use platform::config::NotificationsConfig;
use platform::events::{Event, Handler, SharedBus, first_delivery};
use platform::internal::ServiceClient;
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;
use uuid::Uuid;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "notifications";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/notifications");

/// The durable name of this service's event consumers.
const CONSUMER: &str = "notifications";

#[derive(Clone)]
pub struct NotificationsState {
    pool: PgPool,
    /// Knows each account's devices, and forgets the ones FCM says are gone.
    identity: ServiceClient,
    fcm: Option<Arc<fcm::FcmClient>>,
    /// Wakes the push worker when pushes are queued.
    pushes: Arc<Notify>,
}

impl NotificationsState {
    /// Opens the FCM client (if configured) and starts the push worker.
    pub fn start(
        pool: PgPool,
        config: &NotificationsConfig,
        identity: ServiceClient,
    ) -> anyhow::Result<Self> {
        let fcm = match &config.fcm {
            Some(fcm) => {
                let text = std::fs::read_to_string(&fcm.service_account_file).map_err(|e| {
                    anyhow::anyhow!(
                        "notifications.fcm.service_account_file {}: {e}",
                        fcm.service_account_file.display()
                    )
                })?;
                let account: fcm::ServiceAccount = serde_json::from_str(&text)?;
                Some(Arc::new(fcm::FcmClient::new(
                    account,
                    &fcm.base_url,
                    fcm.concurrency,
                )?))
            }
            None => {
                tracing::warn!(
                    "notifications.fcm is not set: notices reach the inbox only, no pushes"
                );
                None
            }
        };
        let state = Self {
            pool,
            identity,
            fcm,
            pushes: Arc::new(Notify::new()),
        };
        if state.fcm.is_some() {
            tokio::spawn(push::run(state.clone()));
        }
        Ok(state)
    }

    /// Consumes the events people are told about.
    pub async fn subscribe(&self, bus: &SharedBus) -> anyhow::Result<()> {
        let state = self.clone();
        let handler: Handler = Arc::new(move |event| {
            let state = state.clone();
            Box::pin(async move { state.on_status_changed(event).await })
        });
        bus.subscribe(CONSUMER, "report.status_changed", handler)
            .await
    }

    /// The reporter hears of their report's new status, with the officer's public note.
    async fn on_status_changed(&self, event: Event) -> anyhow::Result<()> {
        #[derive(Deserialize)]
        struct Payload {
            report_id: Uuid,
            reporter_id: Uuid,
        }
        let payload: Payload = serde_json::from_value(event.payload.clone())?;
        let Some(notice) = templates::status_changed(&event.payload) else {
            return Ok(());
        };
        // Devices are asked for before the transaction: no connection waits on identity.
        let devices = if self.fcm.is_some() {
            push::devices_of(&self.identity, payload.reporter_id).await?
        } else {
            Vec::new()
        };
        let mut tx = self.pool.begin().await?;
        if !first_delivery(&mut tx, CONSUMER, event.id).await? {
            return Ok(());
        }
        let data = serde_json::json!({
            "kind": event.event_type,
            "report_id": payload.report_id,
            "status": event.payload["to"],
        });
        let notice_id = Uuid::now_v7();
        sqlx::query!(
            r#"INSERT INTO notices (id, account_id, event_id, kind, title_vi, title_en, body_vi, body_en, data, urgent)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
            notice_id,
            payload.reporter_id,
            event.id,
            event.event_type,
            notice.title_vi,
            notice.title_en,
            notice.body_vi,
            notice.body_en,
            data,
            notice.urgent
        )
        .execute(&mut *tx)
        .await?;
        push::queue(&mut tx, notice_id, &devices).await?;
        tx.commit().await?;
        if !devices.is_empty() {
            self.pushes.notify_one();
        }
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
        .with_state(state)
}

/// Notifications' part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(inbox::list, inbox::unread_count, inbox::read_all, inbox::read),
    tags((name = "inbox", description = "Hộp thư thông báo / Notification inbox"))
)]
pub struct NotificationsApi;
