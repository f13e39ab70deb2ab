//! The background work of a process (periodic jobs, queue workers, event consumers, outbox
//! relays) under one cancellation: `stop` ends all of it, so a stopped process is really
//! stopped. Jobs are written to survive a crash at any await point (leases, transactions, the
//! inbox), so a job stopped mid-way is dropped there, as a crash would drop it.
//!
//! Periodic jobs and queue workers are one shape, [`Jobs::repeat`]: a round, again at once
//! while work is left, else after an interval or when woken. Work that one replica at a time
//! must do takes the job's leader lock in its transaction ([`lead`], or all of it at once:
//! [`Jobs::repeat_as_leader`]); queue workers need none,
//! as each claims its rows (`FOR UPDATE SKIP LOCKED`, leases).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::Notify;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone, Default)]
pub struct Jobs {
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Jobs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `job` until it ends or the process stops.
    pub fn spawn(&self, name: &'static str, job: impl Future<Output = ()> + Send + 'static) {
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => tracing::debug!(job = name, "job stopped"),
                () = job => {}
            }
        });
    }

    /// Runs `round` until the process stops: again at once while it answers `Ok(true)` (a
    /// full batch: more is waiting), else after `every` or as soon as `wake` is notified (new
    /// work arrived). A failed round is logged and tried again at the next wake-up.
    pub fn repeat<F, Fut>(
        &self,
        name: &'static str,
        every: Duration,
        wake: Option<Arc<Notify>>,
        mut round: F,
    ) where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<bool>> + Send,
    {
        self.spawn(name, async move {
            loop {
                match round().await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(job = name, error = %format!("{error:#}"), "job round failed; will retry")
                    }
                }
                match &wake {
                    Some(wake) => {
                        let _ = tokio::time::timeout(every, wake.notified()).await;
                    }
                    None => tokio::time::sleep(every).await,
                }
            }
        });
    }

    /// Runs `work` to its end even when the process stops meanwhile (`stop` waits for it): for
    /// a unit whose effect outside cannot be taken back before it is recorded, such as a push
    /// sent but not yet marked sent.
    pub async fn uninterrupted<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        match self.tracker.spawn(work).await {
            Ok(output) => output,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            // Only a runtime shutting down cancels the task; this caller goes with it.
            Err(_) => std::future::pending().await,
        }
    }

    /// Runs `round` every `every` on one replica at a time: in a transaction holding the job's
    /// leader lock ([`lead`]), committed when the round hands it back; on the other replicas
    /// the round is skipped.
    pub fn repeat_as_leader<F, Fut>(
        &self,
        name: &'static str,
        every: Duration,
        pool: PgPool,
        round: F,
    ) where
        F: Fn(Transaction<'static, Postgres>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Transaction<'static, Postgres>>> + Send,
    {
        let round = Arc::new(round);
        self.repeat(name, every, None, move || {
            let (pool, round) = (pool.clone(), round.clone());
            async move {
                let mut tx = pool.begin().await?;
                if lead(&mut tx, name).await? {
                    round(tx).await?.commit().await?;
                }
                Ok(false)
            }
        });
    }

    /// Stops every job and waits until each has let go.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Takes the leader lock of `job` for the caller's transaction: `false` when another replica
/// holds it, and then the round is theirs. Released at commit or rollback, or with the
/// connection when a process dies.
pub async fn lead(tx: &mut PgConnection, job: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtext($1))")
        .bind(job)
        .fetch_one(tx)
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn stop_ends_endless_jobs_and_nothing_runs_after_it() {
        let jobs = Jobs::new();
        let ticks = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let ticks = ticks.clone();
            jobs.spawn("ticker", async move {
                loop {
                    ticks.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
        while ticks.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        jobs.stop().await;
        let after_stop = ticks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), after_stop);
    }

    #[tokio::test]
    async fn a_round_with_work_left_runs_again_at_once_and_a_wake_up_starts_the_next() {
        let jobs = Jobs::new();
        let rounds = Arc::new(AtomicUsize::new(0));
        let wake = Arc::new(Notify::new());
        let counted = rounds.clone();
        // Three full batches, then nothing left; an hour between idle rounds.
        jobs.repeat(
            "batches",
            Duration::from_secs(3600),
            Some(wake.clone()),
            move || {
                let round = counted.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    anyhow::ensure!(round != 2, "a failure is retried, not fatal");
                    Ok(round < 4)
                }
            },
        );
        while rounds.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        // Round 2 failed: the job waits for its wake-up rather than spinning.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(rounds.load(Ordering::SeqCst), 2);
        wake.notify_one();
        while rounds.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            rounds.load(Ordering::SeqCst),
            4,
            "idle after the batch that was not full"
        );
        jobs.stop().await;
    }

    #[tokio::test]
    async fn an_uninterrupted_unit_finishes_though_its_job_is_stopped() {
        let jobs = Jobs::new();
        let (started, began) = tokio::sync::oneshot::channel();
        let recorded = Arc::new(AtomicUsize::new(0));
        let unit_jobs = jobs.clone();
        let unit_recorded = recorded.clone();
        jobs.spawn("sender", async move {
            unit_jobs
                .uninterrupted(async move {
                    let _ = started.send(());
                    // Sent; now recorded, a few awaits later.
                    for _ in 0..10 {
                        tokio::task::yield_now().await;
                    }
                    unit_recorded.fetch_add(1, Ordering::SeqCst);
                })
                .await;
            std::future::pending::<()>().await;
        });
        began.await.unwrap();
        jobs.stop().await;
        assert_eq!(recorded.load(Ordering::SeqCst), 1);
    }
}
