//! The SLA job: reports past their deadline are marked overdue and escalated (`report.overdue`),
//! and resolutions no one reopened within a week are closed. One replica runs it at a time (an
//! advisory lock held for the transaction), so nothing is escalated twice.

use std::time::Duration;

use platform::events::types::ReportOverdue;
use platform::jobs::Jobs;
use serde_json::json;

use crate::domain::views::Change;
use crate::domain::{ReportsState, transitions};

/// Reports handled per transaction; a backlog is worked off batch by batch.
const BATCH: i64 = 500;

/// Runs the SLA check every `every`, batch after batch while a backlog lasts.
pub fn start(state: ReportsState, every: Duration, jobs: &Jobs) {
    jobs.repeat("sla", every, None, move || {
        let state = state.clone();
        async move { Ok(check(&state).await? == BATCH as usize) }
    });
}

/// One batch; how many reports it changed.
async fn check(state: &ReportsState) -> anyhow::Result<usize> {
    let mut tx = state.pool.begin().await?;
    if !platform::jobs::lead(&mut tx, "reports.sla").await? {
        return Ok(0);
    }
    let overdue = sqlx::query!(
        r#"UPDATE reports SET overdue_at = now() WHERE id IN (
               SELECT id FROM reports
               WHERE overdue_at IS NULL AND sla_due_at < now()
                 -- workflow::OPEN_STATUSES_SQL, spelled out as the partial index's predicate.
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
        Change {
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
        .record_and_announce(
            &mut tx,
            &ReportOverdue {
                report_id: report.id,
                jurisdiction: report.jurisdiction_id.clone(),
                ward: report.ward_id.clone(),
                department: report.department_id.clone(),
                category: report.category_code.clone(),
                assignee_id: report.assignee_id,
                urgent: report.urgent,
                priority: report.priority.clone(),
                sla_due_at: report.sla_due_at,
            },
        )
        .await?;
    }
    let closed = transitions::close_unreopened(&mut tx, BATCH)
        .await
        .map_err(|error| anyhow::anyhow!(error.describe()))?;
    tx.commit().await?;
    if !overdue.is_empty() || closed > 0 {
        tracing::info!(overdue = overdue.len(), closed, "SLA check");
    }
    Ok(overdue.len().max(closed))
}
