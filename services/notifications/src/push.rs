//! Pushes as a job queue in PostgreSQL: queued with their notice, claimed by the workers with
//! `FOR UPDATE SKIP LOCKED` (replicas share the work), sent through FCM (the apps) or Web Push
//! (browsers), and settled: sent, retried later (as the push service asks, or with backoff),
//! dropped with the device when the push service says it is gone, or failed for operators when
//! our configuration is wrong.

use std::time::Duration;

use platform::internal::ServiceClient;
use platform::jobs::Jobs;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::NotificationsState;
use crate::SendError;
use crate::fcm::FcmClient;
use crate::templates::Notice;
use crate::webpush::{self, WebPushClient};

/// Pushes claimed per round.
const BATCH: i64 = 500;
/// Attempts before a push is given up.
const MAX_ATTEMPTS: i32 = 8;
/// With nothing due, the worker looks again this often (it is also woken when pushes queue).
const IDLE_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Deserialize)]
pub struct Device {
    pub account_id: Uuid,
    pub platform: String,
    /// The FCM registration token, or the browser's Web Push endpoint.
    pub push_token: String,
    /// A browser's `p256dh` and `auth` keys.
    pub web_push_keys: Option<serde_json::Value>,
}

/// The devices of `accounts`, in one call to identity.
pub async fn devices_of(
    identity: &ServiceClient,
    accounts: &[Uuid],
) -> anyhow::Result<Vec<Device>> {
    let answer = identity
        .call(
            http::Method::POST,
            "/internal/v1/devices/lookup",
            Some(&json!({ "account_ids": accounts })),
        )
        .await
        .map_err(|e| anyhow::anyhow!("identity: {}", e.describe()))?;
    anyhow::ensure!(
        answer.status.is_success(),
        "identity answered {}",
        answer.status
    );
    Ok(serde_json::from_value(answer.body)?)
}

/// What a notice comes from: an event, or a broadcast (each recipient gets one notice per
/// source, however often it is delivered).
pub struct Source<'a> {
    pub id: Uuid,
    pub kind: &'a str,
}

/// Writes a notice for each recipient and queues a push for each of their devices, within the
/// caller's transaction; a push that is not urgent waits out its recipient's quiet hours. How
/// many pushes were queued.
pub async fn notify(
    tx: &mut sqlx::PgConnection,
    source: &Source<'_>,
    notice: &Notice,
    data: &serde_json::Value,
    recipients: &[Uuid],
    devices: &[Device],
) -> anyhow::Result<usize> {
    let notice_ids: Vec<Uuid> = recipients.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query!(
        r#"INSERT INTO notices (id, account_id, event_id, kind, title_vi, title_en, body_vi, body_en, data, urgent)
           SELECT id, account, $3, $4, $5, $6, $7, $8, $9, $10
           FROM unnest($1::uuid[], $2::uuid[]) AS r(id, account)
           ON CONFLICT (account_id, event_id) DO NOTHING"#,
        &notice_ids,
        recipients,
        source.id,
        source.kind,
        notice.title_vi,
        notice.title_en,
        notice.body_vi,
        notice.body_en,
        data,
        notice.urgent
    )
    .execute(&mut *tx)
    .await?;
    if devices.is_empty() {
        return Ok(0);
    }
    // When each recipient may be disturbed: now, or the end of their quiet hours.
    let quiet = sqlx::query!(
        r#"SELECT account_id, quiet_start AS "start!", quiet_end AS "end!", utc_offset_minutes
           FROM preferences WHERE account_id = ANY($1) AND quiet_start IS NOT NULL"#,
        recipients
    )
    .fetch_all(&mut *tx)
    .await?;
    let now = chrono::Utc::now();
    // By account: a broadcast page matches a thousand devices to a thousand recipients.
    let notice_of: std::collections::HashMap<Uuid, Uuid> = recipients
        .iter()
        .copied()
        .zip(notice_ids.iter().copied())
        .collect();
    let quiet_of: std::collections::HashMap<Uuid, _> =
        quiet.iter().map(|q| (q.account_id, q)).collect();
    let mut ids = Vec::with_capacity(devices.len());
    let mut notices = Vec::with_capacity(devices.len());
    let mut platforms = Vec::with_capacity(devices.len());
    let mut tokens = Vec::with_capacity(devices.len());
    let mut keys = Vec::with_capacity(devices.len());
    let mut not_before = Vec::with_capacity(devices.len());
    for device in devices {
        let Some(notice_id) = notice_of.get(&device.account_id) else {
            continue;
        };
        let waits = quiet_of
            .get(&device.account_id)
            .filter(|_| !notice.urgent)
            .and_then(|q| quiet_until(now, q.start, q.end, q.utc_offset_minutes));
        ids.push(Uuid::now_v7());
        notices.push(*notice_id);
        platforms.push(device.platform.as_str());
        tokens.push(device.push_token.as_str());
        keys.push(device.web_push_keys.clone());
        not_before.push(waits.unwrap_or(now));
    }
    // Only for notices this source created now (a redelivery finds them there already).
    sqlx::query!(
        r#"INSERT INTO pushes (id, notice_id, platform, push_token, web_push_keys, next_attempt_at)
           SELECT d.id, d.notice, d.platform, d.token, d.keys, d.not_before
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])
                AS d(id, notice, platform, token, keys, not_before)
           JOIN notices n ON n.id = d.notice"#,
        &ids,
        &notices,
        &platforms as &[&str],
        &tokens as &[&str],
        &keys as &[Option<serde_json::Value>],
        &not_before
    )
    .execute(&mut *tx)
    .await?;
    Ok(ids.len())
}

/// The end of the quiet hours `now` falls in, if it does (windows may span midnight).
fn quiet_until(
    now: chrono::DateTime<chrono::Utc>,
    start: chrono::NaiveTime,
    end: chrono::NaiveTime,
    utc_offset_minutes: i32,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let offset = chrono::Duration::minutes(i64::from(utc_offset_minutes));
    let local = (now + offset).naive_utc();
    let time = local.time();
    let inside = if start <= end {
        start <= time && time < end
    } else {
        time >= start || time < end
    };
    if !inside {
        return None;
    }
    let mut end_at = local.date().and_time(end);
    if end_at <= local {
        end_at += chrono::Duration::days(1);
    }
    Some(end_at.and_utc() - offset)
}

/// The push services this process sends through: FCM for the apps, Web Push for browsers.
#[derive(Default)]
pub struct Senders {
    pub fcm: Option<FcmClient>,
    pub web_push: Option<WebPushClient>,
}

impl Senders {
    /// The device platforms some push service here can reach.
    pub fn platforms(&self) -> Vec<String> {
        let mut platforms = Vec::new();
        if self.fcm.is_some() {
            platforms.extend(["android".to_owned(), "ios".to_owned()]);
        }
        if self.web_push.is_some() {
            platforms.push("web".to_owned());
        }
        platforms
    }

    /// Sends one push through the service its platform needs.
    async fn send(&self, push: &Due) -> Result<String, SendError> {
        let unreachable = || SendError::Misconfigured(format!("no sender for {}", push.platform));
        if push.platform == "web" {
            let client = self.web_push.as_ref().ok_or_else(unreachable)?;
            let keys = push.web_push_keys.as_ref();
            let key = |name: &str| keys.and_then(|k| k[name].as_str()).unwrap_or_default();
            let subscription = webpush::Subscription {
                endpoint: &push.push_token,
                p256dh: key("p256dh"),
                auth: key("auth"),
            };
            let payload = web_push_payload(push);
            let message = webpush::Message {
                payload: &payload,
                ttl: WEB_PUSH_TTL,
                urgent: push.urgent,
                topic: Some(topic(push)),
            };
            client.send(&subscription, &message).await
        } else {
            let client = self.fcm.as_ref().ok_or_else(unreachable)?;
            client.send(&fcm_message(push)).await
        }
    }
}

/// How long a push service keeps a Web Push message for a browser that is offline.
const WEB_PUSH_TTL: Duration = Duration::from_secs(24 * 3600);

/// One worker: rounds while there is work, then waits to be woken (or polls). A round is never
/// cut short by a stop: pushes it sent are marked sent, so a restart sends none of them again.
pub fn start_worker(state: NotificationsState, jobs: &Jobs) {
    let wake = state.pushes.clone();
    jobs.repeat("pushes", IDLE_POLL, Some(wake), move || {
        let (state, jobs) = (state.clone(), state.jobs.clone());
        async move {
            let sent = jobs
                .uninterrupted(async move { round(&state).await })
                .await?;
            Ok(sent > 0)
        }
    });
}

struct Due {
    id: Uuid,
    platform: String,
    push_token: String,
    web_push_keys: Option<serde_json::Value>,
    attempts: i32,
    title_vi: String,
    body_vi: String,
    title_en: String,
    body_en: String,
    data: serde_json::Value,
    urgent: bool,
    notice_id: Uuid,
}

/// Claims a batch of due pushes, sends them concurrently, settles them; how many it handled.
async fn round(state: &NotificationsState) -> anyhow::Result<usize> {
    let platforms = state.senders.platforms();
    if platforms.is_empty() {
        return Ok(0);
    }
    let mut tx = state.pool.begin().await?;
    let due = sqlx::query_as!(
        Due,
        r#"SELECT p.id, p.platform, p.push_token, p.web_push_keys, p.attempts,
                  n.title_vi, n.body_vi, n.title_en, n.body_en, n.data, n.urgent, n.id AS notice_id
           FROM pushes p JOIN notices n ON n.id = p.notice_id
           WHERE p.status = 'pending' AND p.next_attempt_at <= now() AND p.platform = ANY($2)
           ORDER BY p.next_attempt_at LIMIT $1
           FOR UPDATE OF p SKIP LOCKED"#,
        BATCH,
        &platforms
    )
    .fetch_all(&mut *tx)
    .await?;
    let count = due.len();
    // The clients hold their own concurrency limits.
    let outcomes = futures::future::join_all(due.into_iter().map(|push| async {
        let outcome = state.senders.send(&push).await;
        (push, outcome)
    }))
    .await;
    let mut sent_ids = Vec::with_capacity(count);
    let mut sent_names = Vec::with_capacity(count);
    for (push, outcome) in outcomes {
        match outcome {
            Ok(name) => {
                sent_ids.push(push.id);
                sent_names.push(name);
            }
            Err(error) => settle_failure(state, &mut tx, &push, error).await?,
        }
    }
    // Most pushes succeed: one statement settles them all.
    sqlx::query!(
        r#"UPDATE pushes p SET status = 'sent', provider_id = s.name, sent_at = now(),
                  attempts = p.attempts + 1
           FROM unnest($1::uuid[], $2::text[]) AS s(id, name) WHERE p.id = s.id"#,
        &sent_ids,
        &sent_names
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(count)
}

/// What a newer push replaces on the device: the report's or broadcast's, else the notice's.
fn topic(push: &Due) -> String {
    ["report_id", "broadcast_id"]
        .iter()
        .find_map(|key| {
            push.data[key]
                .as_str()
                .and_then(|id| id.parse::<Uuid>().ok())
        })
        .unwrap_or(push.notice_id)
        .simple()
        .to_string()
}

/// The FCM message: Vietnamese in the notification, both languages and the ids in `data`.
fn fcm_message(push: &Due) -> serde_json::Value {
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
    let topic = topic(push);
    json!({
        "token": push.push_token,
        "notification": { "title": push.title_vi, "body": push.body_vi },
        "data": data,
        "android": {
            "priority": if push.urgent { "HIGH" } else { "NORMAL" },
            "collapse_key": topic,
        },
        "apns": { "headers": {
            "apns-priority": if push.urgent { "10" } else { "5" },
            "apns-collapse-id": topic,
        } },
    })
}

/// What the web app's service worker shows: Vietnamese first, English beside it, the ids.
fn web_push_payload(push: &Due) -> Vec<u8> {
    json!({
        "notice_id": push.notice_id,
        "title": push.title_vi,
        "body": push.body_vi,
        "title_en": push.title_en,
        "body_en": push.body_en,
        "urgent": push.urgent,
        "data": push.data,
    })
    .to_string()
    .into_bytes()
}

async fn settle_failure(
    state: &NotificationsState,
    tx: &mut sqlx::PgConnection,
    push: &Due,
    error: SendError,
) -> anyhow::Result<()> {
    match error {
        SendError::Unregistered | SendError::InvalidToken(_) => {
            // The device is gone: forget it everywhere, and every push still waiting for it. Should
            // identity be unreachable, the next push to the device finds out again; the batch's
            // sent pushes must not be rolled back (and sent twice) for it.
            let forgotten = state
                .identity
                .call(
                    http::Method::POST,
                    "/internal/v1/devices/forget",
                    Some(&json!({ "push_token": push.push_token })),
                )
                .await;
            if let Err(error) = forgotten {
                tracing::warn!(
                    code = error.code(),
                    "a gone device could not be forgotten yet"
                );
            }
            sqlx::query!(
                "UPDATE pushes SET status = 'dropped', last_error = 'device gone' WHERE push_token = $1 AND status = 'pending'",
                push.push_token
            )
            .execute(&mut *tx)
            .await?;
        }
        SendError::Retry { after, reason } if push.attempts + 1 < MAX_ATTEMPTS => {
            // Exponential from one second, with jitter, unless the push service said how long.
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
        error => {
            if matches!(error, SendError::Misconfigured(_)) {
                tracing::error!(%error, platform = push.platform, "the push service refuses our configuration: operators must act");
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, TimeZone, Utc};

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn quiet_hours_hold_pushes_until_they_end() {
        // 23:30 in Huế is 16:30 UTC.
        let late = Utc.with_ymd_and_hms(2026, 11, 24, 16, 30, 0).unwrap();
        let until = quiet_until(late, at(22, 0), at(6, 0), 420).unwrap();
        assert_eq!(
            until,
            Utc.with_ymd_and_hms(2026, 11, 24, 23, 0, 0).unwrap(),
            "06:00 in Huế"
        );
        // 03:00 in Huế, the same night.
        let small_hours = Utc.with_ymd_and_hms(2026, 11, 24, 20, 0, 0).unwrap();
        assert_eq!(
            quiet_until(small_hours, at(22, 0), at(6, 0), 420),
            Some(until)
        );
        // Noon is not quiet; a window within the day works too.
        let noon = Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap();
        assert_eq!(quiet_until(noon, at(22, 0), at(6, 0), 420), None);
        assert_eq!(
            quiet_until(noon, at(11, 0), at(13, 30), 420),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 6, 30, 0).unwrap())
        );
    }
}
