//! Pushes as a job queue in PostgreSQL: queued with their notice, claimed by the worker with
//! `FOR UPDATE SKIP LOCKED` (replicas share the work), sent through FCM, and settled: sent,
//! retried later (as FCM asks, or with backoff), dropped with the device when FCM says it is
//! gone, or failed for operators when our configuration is wrong.

use std::time::Duration;

use platform::internal::ServiceClient;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::NotificationsState;
use crate::fcm::SendError;

/// Pushes claimed per round.
const BATCH: i64 = 500;
/// Attempts before a push is given up.
const MAX_ATTEMPTS: i32 = 8;
/// With nothing due, the worker looks again this often (it is also woken when pushes queue).
const IDLE_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Deserialize)]
pub struct Device {
    pub platform: String,
    pub push_token: String,
}

/// The account's devices FCM can reach (Android and iOS; the web app's Web Push comes later).
pub async fn devices_of(identity: &ServiceClient, account: Uuid) -> anyhow::Result<Vec<Device>> {
    let answer = identity
        .call(
            http::Method::GET,
            &format!("/internal/v1/accounts/{account}/devices"),
            None::<&()>,
        )
        .await
        .map_err(|e| anyhow::anyhow!("identity: {}", e.describe()))?;
    anyhow::ensure!(
        answer.status.is_success(),
        "identity answered {}",
        answer.status
    );
    let devices: Vec<Device> = serde_json::from_value(answer.body)?;
    Ok(devices
        .into_iter()
        .filter(|d| d.platform == "android" || d.platform == "ios")
        .collect())
}

/// Queues one push per device, within the notice's transaction.
pub async fn queue(
    tx: &mut sqlx::PgConnection,
    notice_id: Uuid,
    devices: &[Device],
) -> sqlx::Result<()> {
    if devices.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = devices.iter().map(|_| Uuid::now_v7()).collect();
    let platforms: Vec<&str> = devices.iter().map(|d| d.platform.as_str()).collect();
    let tokens: Vec<&str> = devices.iter().map(|d| d.push_token.as_str()).collect();
    sqlx::query!(
        r#"INSERT INTO pushes (id, notice_id, platform, push_token)
           SELECT id, $1, platform, token FROM unnest($2::uuid[], $3::text[], $4::text[]) AS d(id, platform, token)"#,
        notice_id,
        &ids,
        &platforms as &[&str],
        &tokens as &[&str]
    )
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn run(state: NotificationsState) {
    loop {
        match round(&state).await {
            Ok(sent) if sent > 0 => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "push round failed; will retry")
            }
        }
        let _ = tokio::time::timeout(IDLE_POLL, state.pushes.notified()).await;
    }
}

struct Due {
    id: Uuid,
    push_token: String,
    attempts: i32,
    title_vi: String,
    body_vi: String,
    title_en: String,
    body_en: String,
    data: serde_json::Value,
    urgent: bool,
    notice_id: Uuid,
}

/// Claims a batch of due pushes, sends them concurrently, settles each; how many it handled.
async fn round(state: &NotificationsState) -> anyhow::Result<usize> {
    let Some(fcm) = state.fcm.clone() else {
        return Ok(0);
    };
    let mut tx = state.pool.begin().await?;
    let due = sqlx::query_as!(
        Due,
        r#"SELECT p.id, p.push_token, p.attempts, n.title_vi, n.body_vi, n.title_en, n.body_en,
                  n.data, n.urgent, n.id AS notice_id
           FROM pushes p JOIN notices n ON n.id = p.notice_id
           WHERE p.status = 'pending' AND p.next_attempt_at <= now()
           ORDER BY p.next_attempt_at LIMIT $1
           FOR UPDATE OF p SKIP LOCKED"#,
        BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    let count = due.len();
    let sends = due.into_iter().map(|push| {
        let fcm = fcm.clone();
        async move {
            let outcome = fcm.send(&message(&push)).await;
            (push, outcome)
        }
    });
    // The client holds its own concurrency limit.
    let outcomes = futures::future::join_all(sends).await;
    for (push, outcome) in outcomes {
        settle(state, &mut tx, &push, outcome).await?;
    }
    tx.commit().await?;
    Ok(count)
}

/// The FCM message: Vietnamese in the notification, both languages and the ids in `data`.
fn message(push: &Due) -> serde_json::Value {
    let mut data = json!({
        "notice_id": push.notice_id.to_string(),
        "title_en": push.title_en,
        "body_en": push.body_en,
    });
    if let Some(extra) = push.data.as_object() {
        for (key, value) in extra {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            data[key] = json!(text);
        }
    }
    json!({
        "token": push.push_token,
        "notification": { "title": push.title_vi, "body": push.body_vi },
        "data": data,
        "android": {
            "priority": if push.urgent { "HIGH" } else { "NORMAL" },
            "collapse_key": push.data["report_id"].as_str().unwrap_or("citizen"),
        },
        "apns": { "headers": { "apns-priority": if push.urgent { "10" } else { "5" } } },
    })
}

async fn settle(
    state: &NotificationsState,
    tx: &mut sqlx::PgConnection,
    push: &Due,
    outcome: Result<String, SendError>,
) -> anyhow::Result<()> {
    match outcome {
        Ok(name) => {
            sqlx::query!(
                "UPDATE pushes SET status = 'sent', provider_id = $2, sent_at = now(), attempts = attempts + 1 WHERE id = $1",
                push.id,
                name
            )
            .execute(&mut *tx)
            .await?;
        }
        Err(SendError::Unregistered | SendError::InvalidToken(_)) => {
            // The device is gone: forget it everywhere, and every push still waiting for it.
            state
                .identity
                .call(
                    http::Method::POST,
                    "/internal/v1/devices/forget",
                    Some(&json!({ "push_token": push.push_token })),
                )
                .await
                .map_err(|e| anyhow::anyhow!("identity: {}", e.describe()))?;
            sqlx::query!(
                "UPDATE pushes SET status = 'dropped', last_error = 'device gone' WHERE push_token = $1 AND status = 'pending'",
                push.push_token
            )
            .execute(&mut *tx)
            .await?;
        }
        Err(SendError::Retry { after, reason }) if push.attempts + 1 < MAX_ATTEMPTS => {
            // Exponential from one second, with jitter, unless FCM said how long.
            let backoff = Duration::from_secs(1 << push.attempts.clamp(0, 10))
                .mul_f64(0.5 + rand::random::<f64>() / 2.0);
            let wait = after.unwrap_or(backoff);
            sqlx::query!(
                r#"UPDATE pushes SET attempts = attempts + 1, last_error = $2,
                       next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1"#,
                push.id,
                reason,
                wait.as_secs_f64()
            )
            .execute(&mut *tx)
            .await?;
        }
        Err(error) => {
            if matches!(error, SendError::Misconfigured(_)) {
                tracing::error!(%error, "FCM refuses our configuration: operators must act");
            }
            sqlx::query!(
                "UPDATE pushes SET status = 'failed', attempts = attempts + 1, last_error = $2 WHERE id = $1",
                push.id,
                error.to_string()
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}
