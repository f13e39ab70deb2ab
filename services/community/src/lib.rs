//! Community services: the city's events calendar, which residents filter by date and ward and
//! add to their calendars as iCalendar; lost and found, where residents post what they lost or
//! found with photos and the police or ward officers hand found things back; and questions to
//! the government, which moderators publish or reject and departments answer in public (the
//! asker hears of it through notifications).

pub mod config;
mod errors;
mod events;
pub mod ical;
mod input;
mod lost;
mod questions;
mod staff;

pub use errors::CommunityError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use futures::future::BoxFuture;
use platform::ApiError;
use platform::internal::ServiceClient;
use platform::ratelimit::Limiter;
use platform::service::{Running, Service, StartContext};
use sqlx::migrate::Migrator;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::config::CommunityConfig;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "community";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/community");

/// Its name as a consumer of events.
const CONSUMER: &str = "community";

pub static SERVICE: Service = Service {
    name: "community",
    about: "the events calendar (iCalendar), lost and found, and questions to the government with public answers",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &[
        "/v1/events",
        "/v1/lost-and-found",
        "/v1/questions",
        "/v1/admin/events",
    ],
    calls: &["reports", "media"],
    outbox: true,
    consumes_events: true,
    idempotency_keys: true,
    config: Some(platform::config::SectionSpec::of::<CommunityConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <CommunityApi as utoipa::OpenApi>::openapi,
    errors: CommunityError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = CommunityState::start(&context).await?;
            if let Some(bus) = &context.bus {
                platform::events::forget_erased_accounts(
                    bus,
                    CONSUMER,
                    state.pool.clone(),
                    forget_erased,
                )
                .await?;
            }
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct CommunityState {
    pool: PgPool,
    /// Reports knows each jurisdiction's wards and departments.
    reports: ServiceClient,
    /// Media keeps lost-and-found photos.
    media: ServiceClient,
    /// Lost-and-found notices and questions per account and hour, on every replica.
    posts: Arc<Limiter>,
}

impl CommunityState {
    async fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: CommunityConfig = context.section()?;
        if let Some(jurisdiction) = &config.demo_events {
            events::seed_demo(&context.pool, jurisdiction).await?;
        }
        Ok(Self {
            pool: context.pool.clone(),
            reports: context.client("reports")?,
            media: context.client("media")?,
            posts: Arc::new(Limiter::new(
                &context.counters,
                "community.posts",
                POSTS_PER_HOUR,
                Duration::from_secs(3600),
            )),
        })
    }

    /// Counts a new notice or question of `account`: 429 past `POSTS_PER_HOUR`.
    async fn count_post(&self, account: uuid::Uuid) -> Result<(), ApiError> {
        self.posts
            .check(&account.to_string())
            .await
            .map_err(|wait| ApiError::from(CommunityError::TooManyPosts).with_retry_after(wait))
    }
}

/// More lost-and-found notices and questions than a resident writes in an hour: they go
/// public (notices at once), so a flood is refused.
const POSTS_PER_HOUR: u32 = 10;

/// Community's routes, without the shared service layers (the caller adds them).
pub fn router(state: CommunityState) -> Router {
    Router::new()
        .route("/v1/events/{jurisdiction}", get(events::list))
        .route(
            "/v1/events/{jurisdiction}/calendar.ics",
            get(events::calendar),
        )
        .route("/v1/events/{jurisdiction}/{id}", get(events::get))
        .route(
            "/v1/events/{jurisdiction}/{id}/calendar.ics",
            get(events::one_calendar),
        )
        .route("/v1/admin/events", post(events::create))
        .route("/v1/admin/events/{id}", axum::routing::put(events::replace))
        .route("/v1/admin/events/{id}/cancel", post(events::cancel))
        .route("/v1/lost-and-found/mine", get(lost::mine))
        .route(
            "/v1/lost-and-found/{jurisdiction}",
            get(lost::list).post(lost::post),
        )
        .route("/v1/lost-and-found/{jurisdiction}/{id}", get(lost::get))
        .route(
            "/v1/lost-and-found/{jurisdiction}/{id}/{action}",
            post(lost::act),
        )
        .route("/v1/questions/mine", get(questions::mine))
        .route(
            "/v1/questions/{jurisdiction}",
            get(questions::list).post(questions::ask),
        )
        .route(
            "/v1/questions/{jurisdiction}/departments",
            get(questions::departments),
        )
        .route("/v1/questions/{jurisdiction}/queue", get(questions::queue))
        .route("/v1/questions/{jurisdiction}/{id}", get(questions::get))
        .route(
            "/v1/questions/{jurisdiction}/{id}/{action}",
            post(questions::act),
        )
        .with_state(state)
}

/// An erased resident's posts stay, anonymous; their questions nobody else saw go; their
/// idempotency keys go.
fn forget_erased(tx: &mut PgConnection, account: Uuid) -> BoxFuture<'_, anyhow::Result<()>> {
    Box::pin(async move {
        sqlx::query!(
            "UPDATE lost_items SET posted_by = NULL WHERE posted_by = $1",
            account
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "DELETE FROM questions WHERE asked_by = $1 AND status IN ('pending', 'rejected')",
            account
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "UPDATE questions SET asked_by = NULL WHERE asked_by = $1",
            account
        )
        .execute(&mut *tx)
        .await?;
        platform::idempotency::forget_account(tx, account).await?;
        Ok(())
    })
}

/// Community's part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        events::list,
        events::calendar,
        events::get,
        events::one_calendar,
        events::create,
        events::replace,
        events::cancel,
        lost::mine,
        lost::list,
        lost::post,
        lost::get,
        lost::act,
        questions::mine,
        questions::list,
        questions::ask,
        questions::departments,
        questions::queue,
        questions::get,
        questions::act,
    ),
    tags(
        (name = "events", description = "Lịch sự kiện, lễ hội / Events and festivals, with iCalendar"),
        (name = "lost-and-found", description = "Tìm đồ thất lạc / Lost and found"),
        (name = "questions", description = "Hỏi đáp chính quyền / Questions to the government"),
    )
)]
struct CommunityApi;
