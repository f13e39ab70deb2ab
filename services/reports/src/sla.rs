//! The SLA job: reports past their deadline are marked overdue and escalated (`report.overdue`),
//! and resolutions no one reopened within a week are closed. One replica runs it at a time (an
//! advisory lock held for the transaction), so nothing is escalated twice.

use std::time::Duration;

use serde_json::json;

use crate::ReportsState;
use crate::public::REOPEN_WINDOW_DAYS;

/// Reports handled per transaction; a backlog is worked off batch by batch.
const BATCH: i64 = 500;

pub async fn run(state: ReportsState, every: Duration) {
    loop {
        loop {
            match check(&state).await {
                Ok(done) if done == BATCH as usize => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "SLA check failed; will retry");
                    break;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// One batch; how many reports it changed.
async fn check(state: &ReportsState) -> anyhow::Result<usize> {
    let mut tx = state.pool.begin().await?;
    let leader: bool = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtext('reports.sla')) AS "leader!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if !leader {
        return Ok(0);
    }
    let overdue = sqlx::query!(
        r#"UPDATE reports SET overdue_at = now() WHERE id IN (
               SELECT id FROM reports
               WHERE overdue_at IS NULL AND sla_due_at < now()
                 AND status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')
               ORDER BY sla_due_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             -- Rows an officer changed meanwhile are judged again as they are now.
             AND overdue_at IS NULL AND sla_due_at < now()
             AND status IN ('submitted', 'accepted', 'assigned', 'in_progress', 'reopened')
           RETURNING id, jurisdiction_id, ward_id, department_id, category_code, assignee_id,
                     urgent, priority, sla_due_at"#,
        BATCH
    )
    .fetch_all(&mut *tx)
    .await?;
    for report in &overdue {
        crate::views::Change {
            report_id: report.id,
            kind: "overdue",
            from_status: None,
            to_status: None,
            actor_id: None,
            actor_role: "system",
            public: false,
            note: None,
            media_ids: &[],
            details: json!({ "sla_due_at": report.sla_due_at }),
        }
        .record(
            &mut tx,
            Some(platform::events::types::REPORT_OVERDUE),
            json!({
                "report_id": report.id,
                "jurisdiction": report.jurisdiction_id,
                "ward": report.ward_id,
                "department": report.department_id,
                "category": report.category_code,
                "assignee_id": report.assignee_id,
                "urgent": report.urgent,
                "priority": report.priority,
                "sla_due_at": report.sla_due_at,
            }),
        )
        .await?;
    }
    let closed = sqlx::query!(
        r#"UPDATE reports SET status = 'closed', updated_at = now() WHERE id IN (
               SELECT id FROM reports
               WHERE status = 'resolved' AND resolved_at < now() - make_interval(days => $2)
               ORDER BY resolved_at LIMIT $1 FOR UPDATE SKIP LOCKED)
             AND status = 'resolved' AND resolved_at < now() - make_interval(days => $2)
           RETURNING id, reporter_id, jurisdiction_id, ward_id, department_id, urgent"#,
        BATCH,
        REOPEN_WINDOW_DAYS as i32
    )
    .fetch_all(&mut *tx)
    .await?;
    for report in &closed {
        crate::views::Change {
            report_id: report.id,
            kind: "status_changed",
            from_status: Some("resolved"),
            to_status: Some("closed"),
            actor_id: None,
            actor_role: "system",
            public: true,
            note: None,
            media_ids: &[],
            details: json!({}),
        }
        .record(
            &mut tx,
            Some(platform::events::types::REPORT_STATUS_CHANGED),
            json!({
                "report_id": report.id,
                "from": "resolved",
                "to": "closed",
                "actor_role": "system",
                "reason": null,
                "jurisdiction": report.jurisdiction_id,
                "ward": report.ward_id,
                "department": report.department_id,
                "reporter_id": report.reporter_id,
                "public_note": null,
                "urgent": report.urgent,
            }),
        )
        .await?;
    }
    tx.commit().await?;
    if !overdue.is_empty() || !closed.is_empty() {
        tracing::info!(overdue = overdue.len(), closed = closed.len(), "SLA check");
    }
    Ok(overdue.len().max(closed.len()))
}
