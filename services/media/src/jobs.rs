//! The derivative worker: claims due jobs with `FOR UPDATE SKIP LOCKED` (any number of
//! replicas share the queue), retries failures with backoff, and survives restarts because the
//! queue is a table. A job locks its media row too, so the clean-up of unattached uploads
//! (which skips locked rows) never deletes a photo while its derivatives are being written.

use std::time::Duration;

use bytes::Bytes;

use crate::MediaState;
use crate::derive;

const MAX_ATTEMPTS: i32 = 5;
const POLL: Duration = Duration::from_secs(2);

pub async fn run(state: MediaState) {
    loop {
        match run_one(&state).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => tracing::warn!(error = %format!("{error:#}"), "media job run failed"),
        }
        // Woken at once by a new upload, else polling for retries that came due.
        let _ = tokio::time::timeout(POLL, state.work.notified()).await;
    }
}

/// Runs one due job; false when there was none.
async fn run_one(state: &MediaState) -> anyhow::Result<bool> {
    let mut tx = state.pool.begin().await?;
    let Some(job) = sqlx::query!(
        r#"SELECT j.id, j.media_id, j.attempts, m.original_key, m.orientation
           FROM media_jobs j JOIN media m ON m.id = j.media_id
           WHERE j.run_after <= now()
           ORDER BY j.run_after LIMIT 1
           FOR UPDATE OF j, m SKIP LOCKED"#
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let made = make_derivatives(state, job.media_id, &job.original_key, job.orientation).await;
    match made {
        Ok((display_key, thumbnail_key)) => {
            sqlx::query!(
                "UPDATE media SET status = 'ready', display_key = $2, thumbnail_key = $3, updated_at = now() WHERE id = $1",
                job.media_id,
                display_key,
                thumbnail_key
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!("DELETE FROM media_jobs WHERE id = $1", job.id)
                .execute(&mut *tx)
                .await?;
        }
        Err(error) if job.attempts + 1 >= MAX_ATTEMPTS => {
            tracing::error!(media = %job.media_id, error = %format!("{error:#}"), "derivatives failed for good");
            sqlx::query!(
                "UPDATE media SET status = 'failed', updated_at = now() WHERE id = $1",
                job.media_id
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query!("DELETE FROM media_jobs WHERE id = $1", job.id)
                .execute(&mut *tx)
                .await?;
        }
        Err(error) => {
            tracing::warn!(media = %job.media_id, error = %format!("{error:#}"), "derivatives failed; will retry");
            sqlx::query!(
                r#"UPDATE media_jobs SET attempts = attempts + 1, last_error = $2,
                     run_after = now() + make_interval(secs => power(2, attempts + 1)::double precision)
                   WHERE id = $1"#,
                job.id,
                format!("{error:#}")
            )
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

async fn make_derivatives(
    state: &MediaState,
    id: uuid::Uuid,
    original_key: &str,
    orientation: i16,
) -> anyhow::Result<(String, String)> {
    let (_, original) = state.storage.get(original_key, None).await?;
    let derivatives =
        tokio::task::spawn_blocking(move || derive::make(&original, orientation as u32)).await??;
    let (display_key, thumbnail_key) =
        (format!("display/{id}.jpg"), format!("thumbnails/{id}.jpg"));
    state
        .storage
        .put(&display_key, Bytes::from(derivatives.display))
        .await?;
    state
        .storage
        .put(&thumbnail_key, Bytes::from(derivatives.thumbnail))
        .await?;
    Ok((display_key, thumbnail_key))
}

/// Deletes uploads nobody attached to anything in time, for as long as the process runs.
pub async fn clean_up_unattached(state: MediaState) {
    let interval = Duration::from_secs(state.config.cleanup_interval_secs.max(1));
    loop {
        tokio::time::sleep(interval).await;
        match delete_unattached(&state).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "unattached uploads deleted"),
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "unattached clean-up failed; will retry")
            }
        }
    }
}

/// Rows first, then objects: a crash in between leaves only unreferenced objects, never a
/// record pointing at nothing.
async fn delete_unattached(state: &MediaState) -> anyhow::Result<usize> {
    let gone = sqlx::query!(
        r#"DELETE FROM media WHERE id IN (
               SELECT id FROM media
               WHERE attached_to IS NULL AND created_at < now() - make_interval(secs => $1)
               ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED)
           RETURNING original_key, display_key, thumbnail_key"#,
        state.config.unattached_ttl_secs as f64
    )
    .fetch_all(&state.pool)
    .await?;
    for row in &gone {
        for key in std::iter::once(&row.original_key)
            .chain(row.display_key.iter())
            .chain(row.thumbnail_key.iter())
        {
            state.storage.delete(key).await?;
        }
    }
    Ok(gone.len())
}
