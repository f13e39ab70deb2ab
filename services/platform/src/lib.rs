//! What every Citizen service shares: layered configuration, telemetry, the problem+json error
//! type, the per-service database, and the HTTP plumbing around a service's routes.

pub mod auth;
pub mod conditional;
pub mod config;
pub mod cursor;
pub mod database;
pub mod error;
pub mod events;
pub mod extract;
pub mod geo;
pub mod http;
pub mod idempotency;
pub mod internal;
pub mod jobs;
pub mod lang;
pub mod local_postgres;
pub mod metrics;
pub mod oauth_api;
pub mod openapi;
pub mod outbound;
pub mod proxies;
pub mod ratelimit;
pub mod request;
pub mod service;
pub mod telemetry;
pub mod text;
pub mod trace_context;
pub mod vietnam_time;

#[doc(hidden)]
pub use axum;
pub use config::Config;
pub use database::ServiceDb;
pub use error::ApiError;
pub use lang::Lang;
pub use metrics::Metrics;
pub use request::RequestContext;
