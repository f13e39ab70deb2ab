//! The domain core of reports: what a report is and how it changes, whoever asks. It owns the
//! workflow table and every status change (`transitions`), filing (`filing`), photos,
//! the timeline and views, geography (jurisdictions, wards, H3 cells) and who may see what
//! (`access`). The audience adapters beside it (`resident`, `public`, `officer`,
//! `moderation`, `open311`, `admin`, `ops`, the `sla` job) turn HTTP and time into calls of
//! this core; they depend on it and never on one another, and it depends on none of them
//! (`tests::adapters_depend_only_on_the_core` holds both).

pub mod access;
pub mod areas;
pub mod bans;
pub mod filing;
pub mod geo;
pub mod jurisdiction;
pub mod photos;
pub mod templates;
pub mod transitions;
pub mod views;
pub mod wards;
pub mod workflow;

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use platform::internal::ServiceClient;
use sqlx::PgPool;

use self::wards::WardIndexes;

/// The errors the core and its adapters answer with (declared beside `SERVICE`, which lists
/// their codes).
pub use crate::errors::ReportsError;

#[derive(Clone)]
pub struct ReportsState {
    pub(crate) pool: PgPool,
    pub(crate) wards: Arc<WardIndexes>,
    /// Attaches photos to reports and sets whether they are public.
    pub(crate) media: ServiceClient,
    /// Tells whether an assignee is staff of the right scope.
    pub(crate) identity: ServiceClient,
    pub(crate) max_reports_per_hour: i64,
    /// Open311's requests per client address.
    pub(crate) open311_limiter: Arc<platform::ratelimit::Limiter>,
    /// Each jurisdiction's wards as published (`GET /v1/reports/wards`), with the boundaries
    /// version they were read at: rendered again only after an import.
    pub(crate) published_wards: Arc<std::sync::Mutex<WardMaps>>,
}

/// Rendered ward maps by jurisdiction id, each with its boundaries version.
pub type WardMaps = std::collections::HashMap<String, (i64, platform::conditional::Representation)>;

/// Begins a transaction whose statements are planned once per connection and then reused.
/// PostgreSQL otherwise plans afresh, on every call, a statement whose best plan it thinks
/// depends on its parameters (any that takes an array, like the duplicate search's cells), and
/// planning a statement on `reports`, with its many partial indexes, costs several times more
/// than running it: filing spent more on planning its duplicate search than on anything else.
/// For statements that look rows up by key or by a few cells the one plan suits every value.
pub async fn begin_planned_once(
    pool: &PgPool,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    pool.begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
        .await
}

/// A time as people in the city read it.
pub fn local_time(at: DateTime<Utc>) -> String {
    FixedOffset::east_opt(7 * 3600)
        .map_or_else(|| at.fixed_offset(), |hue| at.with_timezone(&hue))
        .format("%H:%M %d/%m/%Y")
        .to_string()
}
