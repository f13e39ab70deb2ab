//! The background work of a process (periodic jobs, queue workers, event consumers, outbox
//! relays) under one cancellation: `stop` ends all of it, so a stopped process is really
//! stopped. Jobs are written to survive a crash at any await point (leases, transactions, the
//! inbox), so a job stopped mid-way is dropped there, as a crash would drop it.

use std::future::Future;

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

    /// Stops every job and waits until each has let go.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
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
