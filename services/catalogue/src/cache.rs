//! Rendered catalogue responses kept in memory. The catalogue changes only when a jurisdiction
//! is re-seeded; the seed announces it with `NOTIFY catalogue_changed`, and every catalogue
//! process listening on that channel drops its cache. Browsing then costs no database query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform::Lang;
use platform::conditional::Representation;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

/// The channel the seed notifies on.
pub const CHANGED_CHANNEL: &str = "catalogue_changed";

/// Entries kept at most; when full, the cache starts over (search words make keys unbounded).
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    List {
        jurisdiction: String,
        lang: Lang,
        category: Option<String>,
        kind: Option<&'static str>,
        /// The folded search words.
        query: String,
    },
    Service {
        jurisdiction: String,
        lang: Lang,
        id: String,
    },
    Categories {
        jurisdiction: String,
        lang: Lang,
    },
}

#[derive(Default)]
pub struct ResponseCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped on every invalidation, so a response read from the database before a change
    /// is not stored after it.
    generation: u64,
    /// False until the change listener runs, and whenever it has lost its connection: then
    /// a change could go unnoticed, so nothing is stored.
    trusted: bool,
    entries: HashMap<CacheKey, Representation>,
}

impl ResponseCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &CacheKey) -> Option<Representation> {
        self.lock().entries.get(key).cloned()
    }

    /// The generation to pass to `insert` for a response about to be read from the database.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    pub fn insert(&self, key: CacheKey, value: Representation, read_at_generation: u64) {
        let mut inner = self.lock();
        if !inner.trusted || inner.generation != read_at_generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.insert(key, value);
    }

    fn invalidate(&self, trusted: bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.trusted = trusted;
        inner.entries.clear();
    }
}

/// Listens for catalogue changes for as long as the process runs, dropping the cache on each,
/// and whenever the listening connection is lost (a change may have been missed).
pub async fn follow_changes(pool: PgPool, cache: Arc<ResponseCache>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for catalogue changes; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANGED_CHANNEL).await {
            tracing::warn!(%error, "cannot listen for catalogue changes; retrying");
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        // Anything cached before now may predate a change we did not hear about.
        cache.invalidate(true);
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => {
                    tracing::info!("catalogue changed; cache dropped");
                    cache.invalidate(true);
                }
                Ok(None) | Err(_) => {
                    tracing::warn!(
                        "lost the catalogue change listener; cache off until it is back"
                    );
                    cache.invalidate(false);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
