//! Starting a process: the modules of its targets, each once, behind one listener. `main` is
//! thin; tests start the same `App` on port 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use platform::auth::{LocalKeys, SharedVerifier, TokenVerifier};
use platform::http::{Readiness, ops_routes, with_not_found_fallback, with_service_layers};
use platform::local_postgres::{self, LocatedDatabase};
use platform::{Config, Metrics, ServiceDb, events};
use secrecy::SecretString;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::gateway;
use crate::modules::{self, Module};
use crate::upstream::{self, HttpSettings, Upstream};

/// A running process: its address, and a way to stop it gracefully.
pub struct App {
    addr: SocketAddr,
    modules: Vec<Module>,
    database_source: Option<String>,
    shutdown: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    /// The operators' listener (`ops_listen`), when configured.
    ops_server: Option<JoinHandle<std::io::Result<()>>>,
}

impl App {
    /// Starts the modules of `targets` (a comma list such as `all` or `mobile-api`) on
    /// `listener`: connects and migrates their databases, seeds, and serves.
    pub async fn start(
        config: Config,
        targets: &str,
        listener: TcpListener,
    ) -> anyhow::Result<App> {
        let modules = modules::expand(targets)?;
        let serves = platform::config::Serves {
            identity: modules.contains(&Module::Identity),
            reports: modules.contains(&Module::Reports),
            payments: modules.contains(&Module::Payments),
            sandbox: modules.contains(&Module::Sandbox),
        };
        let problems = config.profile_problems(&serves);
        anyhow::ensure!(
            problems.is_empty(),
            "the {:?} profile refuses to start: {}",
            config.profile,
            problems.join("; ")
        );
        let metrics = Metrics::default();
        let mut database: Option<LocatedDatabase> = None;
        let mut databases = Vec::new();
        let mut services: BTreeMap<&'static str, Router> = BTreeMap::new();
        let mut local_keys = None;
        let mut sandboxes = None;
        // Without a configured token, one this process alone knows: in-process calls work,
        // calls from another process are refused.
        let service_token = config.internal.service_token.clone().unwrap_or_else(|| {
            let token: [u8; 32] = rand::random();
            SecretString::from(token.iter().map(|b| format!("{b:02x}")).collect::<String>())
        });

        // Counters replicas share (rate limits): in Redis when configured.
        let counters = match &config.redis.url {
            Some(url) => {
                use secrecy::ExposeSecret as _;
                platform::ratelimit::Counters::redis(url.expose_secret()).await?
            }
            None => platform::ratelimit::Counters::in_process(),
        };

        // The event bus, for the modules that publish or consume events.
        let evented = [
            Module::Identity,
            Module::Media,
            Module::Reports,
            Module::Notifications,
            Module::Payments,
        ];
        let bus = if modules.iter().any(|m| evented.contains(m)) {
            let split = evented.iter().any(|m| !modules.contains(m));
            if split && config.events.backend == platform::config::EventBackend::InProcess {
                tracing::warn!(
                    "events stay within this process (events.backend = in_process); a split deployment needs NATS"
                );
            }
            Some(events::connect(&config.events).await?)
        } else {
            None
        };
        // Outboxes to relay, started once every consumer in this process has subscribed.
        let mut outboxes: Vec<(PgPool, &'static str)> = Vec::new();
        // Reports and notifications call other services, so they start once those are known.
        let mut reports_pool = None;
        let mut notifications_pool = None;
        // Identity's client of reports, when both run here: reports is built after identity.
        let mut reports_for_identity = None;

        for module in &modules {
            match module {
                Module::Database => database = Some(local_postgres::locate(&config).await?),
                Module::Catalogue => {
                    let db = connect(
                        database.as_ref(),
                        catalogue::SCHEMA,
                        &catalogue::MIGRATOR,
                        &config,
                    )
                    .await?;
                    catalogue::seed(db.pool(), &catalogue_files(&config)?).await?;
                    let state = catalogue::CatalogueState::start(
                        db.pool().clone(),
                        config.catalogue.default_jurisdiction.clone(),
                    );
                    services.insert("catalogue", catalogue::router(state));
                    databases.push(db);
                }
                Module::Identity => {
                    let db = connect(
                        database.as_ref(),
                        identity::SCHEMA,
                        &identity::MIGRATOR,
                        &config,
                    )
                    .await?;
                    let reports = if modules.contains(&Module::Reports) {
                        let (service, later) = upstream::in_process_later();
                        reports_for_identity = Some(later);
                        platform::internal::ServiceClient::new(
                            "reports",
                            service,
                            service_token.clone(),
                        )
                    } else {
                        internal_client(&config, &services, "reports", &service_token)?
                    };
                    let state = identity::IdentityState::start(
                        db.pool().clone(),
                        &config.auth,
                        &config.identity,
                        &config.data_dir,
                        config.outside_plain_http(),
                        &counters,
                        reports,
                    )?;
                    state.seed_dev_staff().await?;
                    local_keys = Some(state.local_keys());
                    outboxes.push((db.pool().clone(), identity::SCHEMA));
                    services.insert("identity", identity::router(state, &service_token));
                    databases.push(db);
                }
                Module::Media => {
                    let db = connect(database.as_ref(), media::SCHEMA, &media::MIGRATOR, &config)
                        .await?;
                    let state = media::MediaState::start(
                        db.pool().clone(),
                        &config.media,
                        &config.data_dir,
                    )
                    .await?;
                    if let Some(bus) = &bus {
                        state.subscribe(bus).await?;
                    }
                    services.insert("media", media::router(state, &service_token));
                    databases.push(db);
                }
                Module::Reports => {
                    let db = connect(
                        database.as_ref(),
                        reports::SCHEMA,
                        &reports::MIGRATOR,
                        &config,
                    )
                    .await?;
                    reports_pool = Some(db.pool().clone());
                    outboxes.push((db.pool().clone(), reports::SCHEMA));
                    databases.push(db);
                }
                Module::Notifications => {
                    let db = connect(
                        database.as_ref(),
                        notifications::SCHEMA,
                        &notifications::MIGRATOR,
                        &config,
                    )
                    .await?;
                    notifications_pool = Some(db.pool().clone());
                    databases.push(db);
                }
                Module::Payments => {
                    let db = connect(
                        database.as_ref(),
                        payments::SCHEMA,
                        &payments::MIGRATOR,
                        &config,
                    )
                    .await?;
                    let state = payments::PaymentsState::start(
                        db.pool().clone(),
                        &config.payments,
                        config.outside_plain_http(),
                        &counters,
                    )?;
                    outboxes.push((db.pool().clone(), payments::SCHEMA));
                    services.insert("payments", payments::router(state));
                    databases.push(db);
                }
                Module::Sandbox => sandboxes = Some(sandbox::router()),
                // Started last, once every in-process service is known.
                Module::MobileApi => {}
            }
        }

        if let Some(pool) = reports_pool {
            let client = |name| internal_client(&config, &services, name, &service_token);
            let state = reports::ReportsState::start(
                pool,
                &config.reports,
                &counters,
                client("media")?,
                client("identity")?,
            )
            .await?;
            let router = reports::router(state, &service_token);
            if let Some(later) = reports_for_identity.take() {
                later.bind(router.clone());
            }
            services.insert("reports", router);
        }
        if let Some(pool) = notifications_pool {
            let client = |name| internal_client(&config, &services, name, &service_token);
            let state = notifications::NotificationsState::start(
                pool,
                &config.notifications,
                config.outside_plain_http(),
                client("identity")?,
                client("reports")?,
            )?;
            if let Some(bus) = &bus {
                state.subscribe(bus).await?;
            }
            services.insert("notifications", notifications::router(state));
        }

        if let Some(bus) = &bus {
            let poll = Duration::from_millis(config.events.outbox_poll_ms.max(10));
            for (pool, schema) in outboxes {
                events::spawn_outbox_relay(pool, schema, bus.clone(), poll);
            }
        }

        let verifier = token_verifier(&config, local_keys)?;
        let services: BTreeMap<&'static str, Router> = services
            .into_iter()
            .map(|(name, routes)| {
                (
                    name,
                    with_service_layers(routes, name, &metrics, verifier.as_ref()),
                )
            })
            .collect();
        let router = if modules.contains(&Module::MobileApi) {
            let upstreams = upstreams(&config, &services)?;
            let verifier = verifier.context("the gateway needs identity's keys")?;
            gateway::router(upstreams, &config, &metrics, &verifier)?
        } else {
            services.into_values().fold(Router::new(), Router::merge)
        };
        // Sandboxes stand for outside systems: beside the gateway, never behind it.
        let router = match sandboxes {
            Some(sandboxes) => {
                router.merge(with_service_layers(sandboxes, "sandbox", &metrics, None))
            }
            None => router,
        };
        let readiness = Readiness::new(databases);
        // Metrics are for operators: on their own listener when there is one, else on this one
        // only on a developer's machine.
        let public_metrics = config.ops_listen.is_none()
            && config.profile == platform::config::DeploymentProfile::Development;
        let ops_router =
            with_not_found_fallback(ops_routes(readiness.clone(), metrics.clone(), true));
        let router =
            with_not_found_fallback(router.merge(ops_routes(readiness, metrics, public_metrics)));

        let addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let stopping = shutdown.clone();
        let private_cluster = database.as_mut().and_then(|d| d.private_cluster.take());
        let ops_server = match config.ops_listen {
            Some(ops_listen) => {
                let ops_listener = TcpListener::bind(ops_listen)
                    .await
                    .with_context(|| format!("cannot listen on ops_listen = {ops_listen}"))?;
                let stopping = shutdown.clone();
                Some(tokio::spawn(async move {
                    platform::http::serve(ops_listener, ops_router, stopping.cancelled_owned())
                        .await
                }))
            }
            None => None,
        };
        let server = tokio::spawn(async move {
            let served = platform::http::serve(listener, router, stopping.cancelled_owned()).await;
            // The private cluster, if any, outlives every request.
            drop(private_cluster);
            served
        });
        Ok(App {
            addr,
            modules,
            database_source: database.map(|d| d.source),
            shutdown,
            server,
            ops_server,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    /// Where the database came from, when this process uses one.
    pub fn database_source(&self) -> Option<&str> {
        self.database_source.as_deref()
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.await.context("server task failed")??;
        if let Some(ops_server) = self.ops_server {
            ops_server.await.context("ops server task failed")??;
        }
        Ok(())
    }
}

async fn connect(
    database: Option<&LocatedDatabase>,
    schema: &'static str,
    migrator: &'static sqlx::migrate::Migrator,
    config: &Config,
) -> anyhow::Result<ServiceDb> {
    let database = database.context("the database module was not started")?;
    ServiceDb::connect(&database.url, schema, migrator, &config.database).await
}

fn catalogue_files(config: &Config) -> anyhow::Result<Vec<(String, String)>> {
    if config.catalogue.seed_files.is_empty() {
        return Ok(catalogue::BUILT_IN
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect());
    }
    config
        .catalogue
        .seed_files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read catalogue file {}", path.display()))?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}

/// Verifies tokens with identity's keys in this process, else with its JWKS over HTTP; `None`
/// when this process can reach neither (a catalogue alone needs no tokens).
fn token_verifier(
    config: &Config,
    local_keys: Option<Arc<dyn LocalKeys>>,
) -> anyhow::Result<Option<SharedVerifier>> {
    let (issuer, audience) = (config.auth.issuer.clone(), config.auth.audience.clone());
    if let Some(keys) = local_keys {
        return Ok(Some(Arc::new(TokenVerifier::local(issuer, audience, keys))));
    }
    let Some(identity) = config.upstreams.get("identity") else {
        return Ok(None);
    };
    let jwks = format!("{}/.well-known/jwks.json", identity.trim_end_matches('/'))
        .parse()
        .with_context(|| format!("upstreams.identity: {identity} is not a URL"))?;
    Ok(Some(Arc::new(TokenVerifier::remote(
        issuer, audience, jwks,
    )?)))
}

/// One upstream per service: in-process when the service runs here, else the configured URL.
fn upstreams(
    config: &Config,
    in_process: &BTreeMap<&'static str, Router>,
) -> anyhow::Result<BTreeMap<&'static str, Upstream>> {
    for name in config.upstreams.keys() {
        if !gateway::SERVICES.iter().any(|(known, _)| known == name) {
            anyhow::bail!(
                "unknown key `upstreams.{name}`: known services are {}",
                gateway::SERVICES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let settings = http_settings(config);
    let mut upstreams = BTreeMap::new();
    for (name, _) in gateway::SERVICES {
        let upstream = match (in_process.get(name), config.upstreams.get(*name)) {
            (Some(router), _) => upstream::in_process(router.clone()),
            (None, Some(url)) => upstream::remote(name, url, &settings)?,
            (None, None) => anyhow::bail!(
                "the gateway needs {name}: run it here (--target mobile-api,{name}) \
                 or say where it runs (CITIZEN_UPSTREAMS__{}=http://host:port)",
                name.to_uppercase()
            ),
        };
        upstreams.insert(*name, upstream);
    }
    Ok(upstreams)
}

/// A client for another service's `/internal/` routes: in-process when it runs here, else at
/// its configured URL.
fn internal_client(
    config: &Config,
    in_process: &BTreeMap<&'static str, Router>,
    name: &'static str,
    service_token: &SecretString,
) -> anyhow::Result<platform::internal::ServiceClient> {
    let service = match (in_process.get(name), config.upstreams.get(name)) {
        (Some(router), _) => upstream::in_process(router.clone()),
        (None, Some(url)) => upstream::remote(name, url, &http_settings(config))?,
        (None, None) => anyhow::bail!(
            "this service needs {name}: run it here (--target <service>,{name}) \
             or say where it runs (CITIZEN_UPSTREAMS__{}=http://host:port)",
            name.to_uppercase()
        ),
    };
    Ok(platform::internal::ServiceClient::new(
        name,
        service,
        service_token.clone(),
    ))
}

fn http_settings(config: &Config) -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_millis(config.gateway.upstream_connect_timeout_ms),
        response_timeout: Duration::from_millis(config.gateway.upstream_timeout_ms),
    }
}

/// Applies the migrations of the modules of `targets`, then returns.
pub async fn migrate(config: &Config, targets: &str) -> anyhow::Result<Vec<&'static str>> {
    let modules = modules::expand(targets)?;
    let mut migrated = Vec::new();
    let mut database = None;
    for module in &modules {
        match module {
            Module::Database => database = Some(local_postgres::locate(config).await?),
            Module::Catalogue => {
                connect(
                    database.as_ref(),
                    catalogue::SCHEMA,
                    &catalogue::MIGRATOR,
                    config,
                )
                .await?;
                migrated.push(catalogue::SCHEMA);
            }
            Module::Identity => {
                connect(
                    database.as_ref(),
                    identity::SCHEMA,
                    &identity::MIGRATOR,
                    config,
                )
                .await?;
                migrated.push(identity::SCHEMA);
            }
            Module::Media => {
                connect(database.as_ref(), media::SCHEMA, &media::MIGRATOR, config).await?;
                migrated.push(media::SCHEMA);
            }
            Module::Reports => {
                connect(
                    database.as_ref(),
                    reports::SCHEMA,
                    &reports::MIGRATOR,
                    config,
                )
                .await?;
                migrated.push(reports::SCHEMA);
            }
            Module::Notifications => {
                connect(
                    database.as_ref(),
                    notifications::SCHEMA,
                    &notifications::MIGRATOR,
                    config,
                )
                .await?;
                migrated.push(notifications::SCHEMA);
            }
            Module::Payments => {
                connect(
                    database.as_ref(),
                    payments::SCHEMA,
                    &payments::MIGRATOR,
                    config,
                )
                .await?;
                migrated.push(payments::SCHEMA);
            }
            Module::MobileApi | Module::Sandbox => {}
        }
    }
    Ok(migrated)
}

/// Imports a jurisdiction into the reports database (`citizen jurisdiction import`).
pub async fn import_jurisdiction(
    config: &Config,
    jurisdiction: &str,
    wards: Option<&str>,
) -> anyhow::Result<(String, usize)> {
    let database = local_postgres::locate(config).await?;
    let db = ServiceDb::connect(
        &database.url,
        reports::SCHEMA,
        &reports::MIGRATOR,
        &config.database,
    )
    .await?;
    reports::import(db.pool(), jurisdiction, wards).await
}

/// Creates a staff account directly in the database (`citizen staff create`).
pub async fn create_staff(
    config: &Config,
    staff: &identity::NewStaff,
) -> anyhow::Result<uuid::Uuid> {
    let database = local_postgres::locate(config).await?;
    let db = ServiceDb::connect(
        &database.url,
        identity::SCHEMA,
        &identity::MIGRATOR,
        &config.database,
    )
    .await?;
    identity::create_staff(db.pool(), staff)
        .await
        .map_err(|error| anyhow::anyhow!("{}", error.describe()))
}
