//! A service is a value (after Grafana Mimir's module registry): everything the binary needs to
//! migrate it, start it, route the gateway to it and document it. Each service crate exports one
//! `SERVICE`; the binary lists them once (`mobile-api/src/modules.rs`), and start-up,
//! `migrate`, the gateway, the OpenAPI document, the outbox relays, `--help` and the test
//! harness loop over that list.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use futures::future::BoxFuture;
use secrecy::SecretString;
use sqlx::PgPool;
use sqlx::migrate::Migrator;

use crate::Config;
use crate::auth::LocalKeys;
use crate::config::{Section, SectionSpec};
use crate::events::SharedBus;
use crate::internal::ServiceClient;
use crate::jobs::Jobs;
use crate::ratelimit::Counters;

pub struct Service {
    /// What `--target` and `upstreams.<name>` call it.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// The PostgreSQL schema it owns, and the migrations that make it.
    pub schema: &'static str,
    pub migrator: &'static Migrator,
    /// The path prefixes the gateway forwards to it.
    pub routes: &'static [&'static str],
    /// The services it calls: in this process when they run here, else at `upstreams.<name>`.
    pub calls: &'static [&'static str],
    /// Whether it writes events to an outbox for the relay to publish; its schema then gets the
    /// shared `outbox`.
    pub outbox: bool,
    /// Whether it subscribes to events (in `start`, through `StartContext::bus`); its schema
    /// then gets the shared `inbox`.
    pub consumes_events: bool,
    /// Whether it keeps `Idempotency-Key`s (`platform::idempotency`); its schema then gets the
    /// shared `idempotency_keys`.
    pub idempotency_keys: bool,
    /// Its own section of the configuration (`[<name>]`), a type of its crate.
    pub config: Option<SectionSpec>,
    /// Its largest request body, when it takes more than `gateway.body_limit_bytes`.
    pub body_limit: fn(&Config) -> Option<usize>,
    /// Its part of the public OpenAPI document.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// Every error code it answers with beyond `SharedError`'s: its crate's `error_codes!`
    /// enum's `CODES`, which the OpenAPI document lists per operation.
    pub errors: &'static [crate::error::ErrorCode],
    /// Seeds, subscribes, starts its jobs under `context.jobs`, and returns its routes.
    pub start: fn(StartContext) -> BoxFuture<'static, anyhow::Result<Running>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The default for `Service::body_limit`.
pub fn gateway_body_limit(_: &Config) -> Option<usize> {
    None
}

/// What a service starts with.
pub struct StartContext {
    pub config: Arc<Config>,
    /// A pool on its own schema, migrated.
    pub pool: PgPool,
    /// Counters replicas share (rate limits).
    pub counters: Counters,
    /// The event bus, when this process runs one.
    pub bus: Option<SharedBus>,
    /// Guards `/internal/` routes, and is what clients of other services present.
    pub service_token: SecretString,
    /// Every background task of the service runs here, to stop with the process.
    pub jobs: Jobs,
    /// One client per entry of `Service::calls`.
    pub clients: BTreeMap<&'static str, ServiceClient>,
}

impl StartContext {
    /// This service's section of the configuration.
    pub fn section<S: Section>(&self) -> anyhow::Result<S> {
        Ok(self.config.section()?)
    }

    /// The client of a service this one `calls`.
    pub fn client(&self, name: &str) -> anyhow::Result<ServiceClient> {
        self.clients
            .get(name)
            .cloned()
            .with_context(|| format!("`{name}` is not among the services this one calls"))
    }
}

/// A started service.
pub struct Running {
    /// Its routes, without the shared service layers (the binary adds them).
    pub router: Router,
    /// Keys that verify access tokens in this process: identity's.
    pub token_keys: Option<Arc<dyn LocalKeys>>,
}

impl Running {
    pub fn routes(router: Router) -> Self {
        Self {
            router,
            token_keys: None,
        }
    }
}
