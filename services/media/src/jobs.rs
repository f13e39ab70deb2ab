//! The derivative worker: claims due jobs with `FOR UPDATE SKIP LOCKED` (any number of
//! replicas share the queue), retries failures with backoff, and survives restarts because the
//! queue is a table. A job locks its media row too, so the clean-up of unattached uploads
//! (which skips locked rows) never deletes a photo while its derivatives are being written.

use std::time::Duration;

use bytes::Bytes;
use platform::jobs::Jobs;

use crate::MediaState;
use crate::derive;
use crate::inspect::Header;

const MAX_ATTEMPTS: i32 = 5;
const POLL: Duration = Duration::from_secs(2);

pub fn start_worker(state: MediaState, jobs: &Jobs) {
    // Woken at once by a new upload, else polling for retries that came due.
    let work = state.work.clone();
    jobs.repeat("derivatives", POLL, Some(work), move || {
        let state = state.clone();
        async move { run_one(&state).await }
    });
}

/// Runs one due job; false when there was none.
async fn run_one(state: &MediaState) -> anyhow::Result<bool> {
    let mut tx = state.pool.begin().await?;
    let Some(job) = sqlx::query!(
        r#"SELECT j.id, j.media_id, j.attempts, m.original_key AS "original_key!", m.orientation
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
            // Without `keep_originals` the original goes once its derivatives exist.
            let keep_original = state.config.keep_originals;
            sqlx::query!(
                r#"WITH done AS (
                       UPDATE media SET status = 'ready', display_key = $2, thumbnail_key = $3,
                              original_key = CASE WHEN $4 THEN original_key END, updated_at = now()
                       WHERE id = $1)
                   INSERT INTO media_object_deletions (object_key)
                   SELECT $5::text WHERE NOT $4 ON CONFLICT DO NOTHING"#,
                job.media_id,
                display_key,
                thumbnail_key,
                keep_original,
                job.original_key
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
    if !state.config.keep_originals {
        state.deletions.notify_one();
    }
    Ok(true)
}

async fn make_derivatives(
    state: &MediaState,
    id: uuid::Uuid,
    original_key: &str,
    orientation: i16,
) -> anyhow::Result<(String, String)> {
    let original = state
        .storage
        .read(original_key, state.config.max_upload_bytes as u64)
        .await?;
    // The original passed the upload checks; should its header not read now, count the most
    // an upload may decode to.
    let needed = Header::read(&original).map_or(state.config.max_decoded_bytes, |header| {
        header.derivative_bytes()
    });
    let memory = state.decode_memory.reserve(needed).await?;
    let derivatives =
        tokio::task::spawn_blocking(move || derive::make(&original, orientation as u32)).await??;
    drop(memory);
    let (display_key, thumbnail_key) =
        (format!("display/{id}.jpg"), format!("thumbnails/{id}.jpg"));
    for (key, bytes) in [
        (&display_key, derivatives.display),
        (&thumbnail_key, derivatives.thumbnail),
    ] {
        state
            .storage
            .put(key, Bytes::from(bytes), derive::CONTENT_TYPE)
            .await?;
    }
    Ok((display_key, thumbnail_key))
}

/// Deletes uploads nobody attached to anything in time, the objects of deleted records, and
/// the upload counts of past days, for as long as the process runs.
pub fn start_clean_up(state: MediaState, jobs: &Jobs) {
    let every = Duration::from_secs(state.config.cleanup_interval_secs.max(1));
    let deletions = state.deletions.clone();
    jobs.repeat("media clean-up", every, Some(deletions), move || {
        let state = state.clone();
        async move {
            clean_up(&state).await;
            Ok(false)
        }
    });
}

/// One clean-up round; each part logs its own failure, and the others still run.
async fn clean_up(state: &MediaState) {
    match delete_unattached(state).await {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "unattached uploads deleted"),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "unattached clean-up failed; will retry")
        }
    }
    if let Err(error) = delete_objects(state).await {
        tracing::warn!(error = %format!("{error:#}"), "object deletion failed; will retry");
    }
    if let Err(error) = crate::budgets::forget_past_days(state).await {
        tracing::warn!(%error, "forgetting past upload counts failed; will retry");
    }
}

/// Photos and direct uploads attached to nothing for `unattached_ttl_secs`. Their objects are
/// queued for deletion in the same statement, so none is forgotten.
async fn delete_unattached(state: &MediaState) -> anyhow::Result<u64> {
    let ttl = state.config.unattached_ttl_secs as f64;
    let media = sqlx::query_scalar!(
        r#"WITH gone AS (
               DELETE FROM media WHERE id IN (
                   SELECT id FROM media
                   WHERE attached_to IS NULL AND created_at < now() - make_interval(secs => $1)
                   ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED)
               RETURNING original_key, display_key, thumbnail_key),
           queued AS (
               INSERT INTO media_object_deletions (object_key)
               SELECT key FROM gone, unnest(ARRAY[original_key, display_key, thumbnail_key]) AS key
               WHERE key IS NOT NULL
               ON CONFLICT DO NOTHING)
           SELECT count(*) AS "count!" FROM gone"#,
        ttl
    )
    .fetch_one(&state.pool)
    .await?;
    let uploads = sqlx::query_scalar!(
        r#"WITH gone AS (
               DELETE FROM media_uploads WHERE id IN (
                   SELECT id FROM media_uploads
                   WHERE created_at < now() - make_interval(secs => $1)
                   ORDER BY created_at LIMIT 500 FOR UPDATE SKIP LOCKED)
               RETURNING object_key),
           queued AS (
               INSERT INTO media_object_deletions (object_key)
               SELECT object_key FROM gone ON CONFLICT DO NOTHING)
           SELECT count(*) AS "count!" FROM gone"#,
        ttl
    )
    .fetch_one(&state.pool)
    .await?;
    Ok((media + uploads) as u64)
}

/// Deletes queued objects from storage; a failure is retried later with backoff.
pub(crate) async fn delete_objects(state: &MediaState) -> anyhow::Result<()> {
    loop {
        let mut tx = state.pool.begin().await?;
        let due = sqlx::query_scalar!(
            r#"SELECT object_key FROM media_object_deletions WHERE run_after <= now()
               ORDER BY run_after LIMIT 100 FOR UPDATE SKIP LOCKED"#
        )
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(());
        }
        for key in &due {
            match state.storage.delete(key).await {
                Ok(()) => {
                    sqlx::query!(
                        "DELETE FROM media_object_deletions WHERE object_key = $1",
                        key
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                Err(error) => {
                    sqlx::query!(
                        r#"UPDATE media_object_deletions SET attempts = attempts + 1,
                             run_after = now() + make_interval(secs => least(3600, power(2, attempts + 1))::double precision)
                           WHERE object_key = $1"#,
                        key
                    )
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Err(error.context(format!("cannot delete {key}")));
                }
            }
        }
        tx.commit().await?;
    }
}
