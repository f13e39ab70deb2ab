//! Starting a process: the modules of its targets, each once, behind one listener. `main` is
//! thin; tests start the same `App` on port 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use platform::auth::{LocalKeys, SharedVerifier, TokenVerifier};
use platform::http::{
    Readiness, behind_the_gateway, ops_routes, with_not_found_fallback, with_service_layers,
};
use platform::internal::ServiceClient;
use platform::jobs::Jobs;
use platform::local_postgres::{self, LocatedDatabase};
use platform::service::{Service, StartContext};
use platform::{Config, Metrics, ServiceDb, events};
use secrecy::SecretString;
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
    /// Every service's background work: jobs, consumers, relays.
    jobs: Jobs,
    /// The routers services of this process call each other through, let go of last.
    _in_process_routers: BTreeMap<&'static str, upstream::LaterRouter>,
}

impl App {
    /// Starts the modules of `targets` (a comma list such as `all` or `mobile-api`) on
    /// `listener`: connects and migrates their databases, starts each service, and serves.
    pub async fn start(
        config: Config,
        targets: &str,
        listener: TcpListener,
    ) -> anyhow::Result<App> {
        let jobs = Jobs::new();
        match Self::start_with(config, targets, listener, jobs.clone()).await {
            Ok(app) => Ok(app),
            Err(error) => {
                // What the services started before one failed stops with it, rather than
                // running on without a server.
                jobs.stop().await;
                Err(error)
            }
        }
    }

    async fn start_with(
        config: Config,
        targets: &str,
        listener: TcpListener,
        jobs: Jobs,
    ) -> anyhow::Result<App> {
        let modules = modules::expand(targets)?;
        let runs = |name: &str| modules.iter().any(|m| m.name() == name);
        let services: Vec<&'static Service> = modules.iter().filter_map(|m| m.service()).collect();
        let sections: Vec<_> = services
            .iter()
            .filter_map(|service| service.config)
            .collect();
        let problems = config.profile_problems(&sections, runs("sandbox"));
        anyhow::ensure!(
            problems.is_empty(),
            "the {:?} profile refuses to start: {}",
            config.profile,
            problems.join("; ")
        );
        let config = Arc::new(config);
        let metrics = Metrics::default();
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

        // The event bus, for the services that publish or consume events.
        let evented = |service: &Service| service.outbox || service.consumes_events;
        let bus = if services.iter().any(|service| evented(service)) {
            let split = modules::SERVICES
                .iter()
                .any(|service| evented(service) && !runs(service.name));
            if split && config.events.backend == platform::config::EventBackend::InProcess {
                tracing::warn!(
                    "events stay within this process (events.backend = in_process); a split deployment needs NATS"
                );
            }
            Some(events::connect(&config.events, &jobs).await?)
        } else {
            None
        };

        // Services of this process call each other in-process, whatever order they start in
        // (identity and reports call each other): a call waits until its callee is started.
        let (binders, in_process): (BTreeMap<_, _>, BTreeMap<_, _>) = services
            .iter()
            .map(|service| {
                let (upstream, binder) = upstream::in_process_later();
                ((service.name, binder), (service.name, upstream))
            })
            .unzip();

        let mut database: Option<LocatedDatabase> = None;
        let mut databases = Vec::new();
        let mut routers: BTreeMap<&'static str, Router> = BTreeMap::new();
        let mut token_keys = None;
        let mut sandboxes = None;
        let mut outboxes = Vec::new();
        for module in &modules {
            let service = match module {
                Module::Database => {
                    database = Some(local_postgres::locate(&config).await?);
                    continue;
                }
                Module::Sandbox => {
                    sandboxes = Some(sandbox::router());
                    continue;
                }
                // Started last, once every in-process service is known.
                Module::MobileApi => continue,
                Module::Service(service) => *service,
            };
            let db = connect(database.as_ref(), service, &config).await?;
            let clients = service
                .calls
                .iter()
                .map(|name| {
                    let callee = match in_process.get(name) {
                        Some(upstream) => upstream.clone(),
                        None => remote_upstream(&config, name, "this service")?,
                    };
                    Ok((
                        *name,
                        ServiceClient::new(name, callee, service_token.clone()),
                    ))
                })
                .collect::<anyhow::Result<_>>()?;
            let running = (service.start)(StartContext {
                config: config.clone(),
                pool: db.pool().clone(),
                counters: counters.clone(),
                bus: bus.clone(),
                service_token: service_token.clone(),
                jobs: jobs.clone(),
                clients,
            })
            .await
            .with_context(|| format!("cannot start {}", service.name))?;
            if let Some(keys) = running.token_keys {
                token_keys = Some(keys);
            }
            if let Some(binder) = binders.get(service.name) {
                binder.bind(running.router.clone());
            }
            if service.outbox
                && let Some(bus) = &bus
            {
                // Relays start once every consumer of this process has subscribed; events
                // wait in the outbox until then.
                outboxes.push((db.pool().clone(), service.schema, bus.clone()));
            }
            routers.insert(service.name, running.router);
            databases.push(db);
        }
        let poll = Duration::from_millis(config.events.outbox_poll_ms.max(10));
        for (pool, schema, bus) in outboxes {
            events::spawn_outbox_relay(pool, schema, bus, poll, &jobs);
        }

        let verifier = token_verifier(&config, token_keys)?;
        let behind_gateway = modules.contains(&Module::MobileApi);
        let routers: BTreeMap<&'static str, Router> = routers
            .into_iter()
            .map(|(name, routes)| {
                let layered = if behind_gateway {
                    behind_the_gateway(routes, name, &metrics, verifier.as_ref())
                } else {
                    with_service_layers(routes, name, &metrics, verifier.as_ref())
                };
                (name, layered)
            })
            .collect();
        let router = if behind_gateway {
            let upstreams = upstreams(&config, &routers)?;
            let verifier = verifier.context("the gateway needs identity's keys")?;
            gateway::router(upstreams, &config, &metrics, &verifier)?
        } else {
            routers.into_values().fold(Router::new(), Router::merge)
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
            jobs,
            _in_process_routers: binders,
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

    /// Stops accepting connections, waits for in-flight requests to finish, then stops every
    /// job and consumer.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.server.await.context("server task failed")??;
        if let Some(ops_server) = self.ops_server {
            ops_server.await.context("ops server task failed")??;
        }
        self.jobs.stop().await;
        Ok(())
    }
}

/// The service's pool on its own schema, migrated.
async fn connect(
    database: Option<&LocatedDatabase>,
    service: &Service,
    config: &Config,
) -> anyhow::Result<ServiceDb> {
    let database = database.context("the database module was not started")?;
    ServiceDb::connect(&database.url, service, &config.database).await
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
        if modules::service(name).is_none() {
            anyhow::bail!(
                "unknown key `upstreams.{name}`: known services are {}",
                modules::SERVICES
                    .iter()
                    .map(|service| service.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    modules::SERVICES
        .iter()
        .map(|service| {
            let upstream = match in_process.get(service.name) {
                Some(router) => upstream::in_process(router.clone()),
                None => remote_upstream(config, service.name, "the gateway")?,
            };
            Ok((service.name, upstream))
        })
        .collect()
}

/// A service of another process, at its configured URL.
fn remote_upstream(config: &Config, name: &'static str, caller: &str) -> anyhow::Result<Upstream> {
    match config.upstreams.get(name) {
        Some(url) => upstream::remote(name, url, &http_settings(config)),
        None => anyhow::bail!(
            "{caller} needs {name}: run it here (--target <service>,{name}) \
             or say where it runs (CITIZEN_UPSTREAMS__{}=http://host:port)",
            name.to_uppercase()
        ),
    }
}

fn http_settings(config: &Config) -> HttpSettings {
    HttpSettings {
        connect_timeout: Duration::from_millis(config.gateway.upstream_connect_timeout_ms),
        response_timeout: Duration::from_millis(config.gateway.upstream_timeout_ms),
    }
}

/// Applies the migrations of the services of `targets`, then returns their schemas.
pub async fn migrate(config: &Config, targets: &str) -> anyhow::Result<Vec<&'static str>> {
    let modules = modules::expand(targets)?;
    let mut migrated = Vec::new();
    let mut database = None;
    for module in &modules {
        match module {
            Module::Database => database = Some(local_postgres::locate(config).await?),
            Module::Service(service) => {
                connect(database.as_ref(), service, config).await?;
                migrated.push(service.schema);
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
    let db = ServiceDb::connect(&database.url, &reports::SERVICE, &config.database).await?;
    reports::import(db.pool(), jurisdiction, wards).await
}

/// Imports a GTFS feed (a zip) as a jurisdiction's bus timetable (`citizen transit import`).
pub async fn import_transit_feed(
    config: &Config,
    jurisdiction: &str,
    zip: &[u8],
) -> anyhow::Result<mobility::Imported> {
    let database = local_postgres::locate(config).await?;
    let db = ServiceDb::connect(&database.url, &mobility::SERVICE, &config.database).await?;
    mobility::import(db.pool(), jurisdiction, mobility::Source::Zip(zip)).await
}

/// Creates a staff account directly in the database (`citizen staff create`).
pub async fn create_staff(
    config: &Config,
    staff: &identity::NewStaff,
) -> anyhow::Result<uuid::Uuid> {
    let database = local_postgres::locate(config).await?;
    let db = ServiceDb::connect(&database.url, &identity::SERVICE, &config.database).await?;
    identity::create_staff(db.pool(), staff)
        .await
        .map_err(|error| anyhow::anyhow!("{}", error.describe()))
}
