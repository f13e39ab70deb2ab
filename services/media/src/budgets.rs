//! What photos may cost: the uploads one account has under way in a process, the memory a
//! process spends decoding, and the uploads one account may start a day (counted in
//! PostgreSQL, so every replica sees the same count).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use platform::ApiError;
use tokio::sync::{Semaphore, SemaphorePermit};
use uuid::Uuid;

use crate::{MediaError, MediaState};

/// Decoded pixels a process holds at once, shared out in KiB: each decode waits until its
/// share is free, so however many photos arrive together, memory stays bounded.
pub(crate) struct DecodeMemory {
    kib: Semaphore,
    total_kib: u32,
}

impl DecodeMemory {
    pub(crate) fn new(bytes: u64) -> DecodeMemory {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        DecodeMemory {
            kib: Semaphore::new(total_kib as usize),
            total_kib,
        }
    }

    /// Waits until `bytes` are free and holds them until the permit drops. A decode larger
    /// than the whole budget takes all of it (the upload limits keep it from being much
    /// larger).
    pub(crate) async fn reserve(&self, bytes: u64) -> anyhow::Result<SemaphorePermit<'_>> {
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total_kib);
        Ok(self.kib.acquire_many(kib).await?)
    }
}

/// Uploads each account is sending to this process right now. A few per account: the bytes of
/// an upload under way are held in memory, and nobody's slow connections may crowd out the
/// others'.
pub(crate) struct UploadsUnderWay {
    per_account: usize,
    counts: Mutex<HashMap<Uuid, usize>>,
}

/// One upload under way; it ends when this drops.
pub(crate) struct UploadUnderWay {
    uploads: Arc<UploadsUnderWay>,
    owner: Uuid,
}

impl UploadsUnderWay {
    pub(crate) fn new(per_account: usize) -> UploadsUnderWay {
        UploadsUnderWay {
            per_account,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Starts an upload of `owner`'s; 429 `too_many_uploads` when they have enough under way.
    pub(crate) fn begin(self: &Arc<Self>, owner: Uuid) -> Result<UploadUnderWay, ApiError> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(owner).or_default();
        if *count >= self.per_account {
            return Err(
                ApiError::from(MediaError::TooManyUploads).with_retry_after(Duration::from_secs(2))
            );
        }
        *count += 1;
        Ok(UploadUnderWay {
            uploads: self.clone(),
            owner,
        })
    }
}

impl Drop for UploadUnderWay {
    fn drop(&mut self) {
        let mut counts = self
            .uploads
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.owner) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.owner);
            }
        }
    }
}

/// Counts an upload of `bytes` against `owner`'s daily quota, or refuses it with 429
/// `upload_quota_exceeded` until the next day. One statement, so concurrent uploads on any
/// replica never pass the quota together.
pub(crate) async fn count_upload(
    state: &MediaState,
    owner: Uuid,
    bytes: u64,
) -> Result<(), ApiError> {
    let (max_count, max_bytes) = (
        state.config.daily_upload_count,
        state.config.daily_upload_bytes,
    );
    let now = Utc::now().with_timezone(&platform::vietnam_time::OFFSET);
    let today = now.date_naive();
    let counted = max_count > 0
        && bytes <= max_bytes
        && sqlx::query_scalar!(
            r#"INSERT INTO media_daily_uploads AS q (owner_id, day, uploads, bytes)
               VALUES ($1, $2, 1, $3)
               ON CONFLICT (owner_id, day) DO UPDATE
                   SET uploads = q.uploads + 1, bytes = q.bytes + EXCLUDED.bytes
                   WHERE q.uploads < $4 AND q.bytes + EXCLUDED.bytes <= $5
               RETURNING uploads"#,
            owner,
            today,
            i64::try_from(bytes).unwrap_or(i64::MAX),
            i32::try_from(max_count).unwrap_or(i32::MAX),
            i64::try_from(max_bytes).unwrap_or(i64::MAX)
        )
        .fetch_optional(&state.pool)
        .await?
        .is_some();
    if counted {
        return Ok(());
    }
    let tomorrow = today
        .succ_opt()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let wait = (tomorrow - now.naive_local())
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_secs(1));
    let mb = max_bytes / (1024 * 1024);
    Err(ApiError::from(MediaError::UploadQuotaExceeded { max_count, mb }).with_retry_after(wait))
}

/// Forgets the counts of days before yesterday.
pub(crate) async fn forget_past_days(state: &MediaState) -> Result<u64, sqlx::Error> {
    let yesterday = Utc::now()
        .with_timezone(&platform::vietnam_time::OFFSET)
        .date_naive()
        .pred_opt()
        .unwrap_or_default();
    let deleted = sqlx::query!("DELETE FROM media_daily_uploads WHERE day < $1", yesterday)
        .execute(&state.pool)
        .await?;
    Ok(deleted.rows_affected())
}
