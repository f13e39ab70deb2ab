//! HTTP plumbing every service shares: the layers around a service's routes, the operational
//! endpoints, and serving with graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceBuilder};
use tracing::Instrument;

use crate::auth::SharedVerifier;
use crate::database::ServiceDb;
use crate::error::{ApiError, SharedError, problem_for_bare_error};
use crate::metrics::{self, Metrics};
use crate::request::{self, context_middleware};

/// Wraps a service's routes in the layers every service has: request context and id, access
/// log, metrics, and problem+json for bare framework errors. The gateway wraps its own routes
/// the same way, so a request is handled alike whether the service is in-process or remote.
pub fn with_service_layers(
    routes: Router,
    service: &'static str,
    metrics: &Metrics,
    verifier: Option<&SharedVerifier>,
) -> Router {
    behind_the_gateway(routes, service, metrics, verifier).layer(ServiceLayer { service })
}

/// The answer of the middleware of ours, boxed as axum's own are.
pub type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// What every service does around each request, in one layer rather than a stack of them
/// (the router clones a route's layers for every request, and each layer that clones what it
/// wraps clones every layer beneath it again): the request's id and language as its context,
/// its span and access-log line, a URI with control characters refused, and a bare framework
/// error turned into a problem.
#[derive(Clone, Copy)]
struct ServiceLayer {
    service: &'static str,
}

impl<S> Layer<S> for ServiceLayer {
    type Service = AroundRequest<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AroundRequest {
            service: self.service,
            inner,
        }
    }
}

#[derive(Clone)]
struct AroundRequest<S> {
    service: &'static str,
    inner: S,
}

impl<S> Service<Request> for AroundRequest<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Answer {
        // The service polled ready is the one called; its clone waits for the next request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let service = self.service;
        Box::pin(async move {
            let context = request::settle(&mut request);
            let span = tracing::info_span!(
                "request",
                service,
                method = %request.method(),
                path = request.uri().path(),
                request_id = context.request_id,
            );
            let started = Instant::now();
            let handling = async move {
                if crate::text::has_control_characters(request.uri()) {
                    return crate::text::invalid_text().into_response();
                }
                let Ok(response) = inner.call(request).await;
                problem_for_bare_error(response)
            };
            let response = context.scope(handling.instrument(span.clone())).await;
            span.in_scope(|| log_answer(&response, started));
            Ok(response)
        })
    }
}

/// The access-log line of every answer, as tower-http's trace layer wrote it, and an error
/// line besides for a failure of ours.
fn log_answer(response: &Response, started: Instant) {
    let latency = format_args!("{} ms", started.elapsed().as_millis());
    let status = response.status().as_u16();
    tracing::info!(%latency, status, "finished processing request");
    if response.status().is_server_error() {
        tracing::error!(%latency, status, "response failed");
    }
}

/// The layers of a service that only a gateway of its own process calls: its metrics, and the
/// token verifier its extractors use. The gateway's layers already gave the request its
/// context, its access-log line, its URI check and problem+json for bare errors (an in-process
/// call runs within the gateway's request, task-locals and all), so they do not run twice.
pub fn behind_the_gateway(
    routes: Router,
    service: &'static str,
    metrics: &Metrics,
    verifier: Option<&SharedVerifier>,
) -> Router {
    let routes = match verifier {
        Some(verifier) => routes.layer(axum::Extension(verifier.clone())),
        None => routes,
    };
    routes.route_layer(metrics::RecordLayer::new(metrics, service))
}

/// The answer to a path no route claims, as a problem with the request's id. The context
/// layer wraps the fallback alone: the routes have theirs already, and a second one around
/// them would run for every request.
pub fn with_not_found_fallback(router: Router) -> Router {
    let not_found = ServiceBuilder::new()
        .layer(middleware::from_fn(context_middleware))
        .service_fn(|_: Request| async {
            Ok::<_, std::convert::Infallible>(ApiError::route_not_found().into_response())
        });
    router.fallback_service(not_found)
}

/// What `/readyz` checks: every service database this process uses.
#[derive(Clone, Default)]
pub struct Readiness {
    databases: Arc<Vec<ServiceDb>>,
}

impl Readiness {
    pub fn new(databases: Vec<ServiceDb>) -> Self {
        Self {
            databases: Arc::new(databases),
        }
    }
}

#[derive(Clone)]
struct OpsState {
    readiness: Readiness,
    metrics: Metrics,
}

/// `/healthz` (the process answers), `/readyz` (its databases answer and are migrated) and,
/// with `with_metrics`, `/metrics` (Prometheus text format: for operators, not the public).
pub fn ops_routes(readiness: Readiness, metrics: Metrics, with_metrics: bool) -> Router {
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    let routes = if with_metrics {
        routes.route("/metrics", get(render_metrics))
    } else {
        routes
    };
    routes.with_state(OpsState { readiness, metrics })
}

async fn readyz(State(state): State<OpsState>) -> Response {
    let mut failures = Vec::new();
    for db in state.readiness.databases.iter() {
        let check = tokio::time::timeout(Duration::from_secs(2), db.check_ready()).await;
        match check {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => failures.push(format!("{}: {reason}", db.schema())),
            Err(_) => failures.push(format!("{}: database did not answer in time", db.schema())),
        }
    }
    if failures.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        tracing::warn!(?failures, "not ready");
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "not_ready", "failures": failures })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

async fn render_metrics(State(state): State<OpsState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Serves until `shutdown` completes, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received, draining in-flight requests");
}

/// Lets through only calls from other services: requests bearing the deployment's service
/// token (`internal.service_token`). The gateway never routes `/internal/`; this guards the
/// service's own port in a split deployment.
pub fn internal_only<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    service_token: &secrecy::SecretString,
) -> Router<S> {
    use secrecy::ExposeSecret;
    use sha2::{Digest, Sha256};
    // Digests are compared, so the time taken says nothing about the token.
    let expected: [u8; 32] = Sha256::digest(service_token.expose_secret().as_bytes()).into();
    // `route_layer`: only matched routes are guarded, so a path no one serves stays a 404.
    routes.route_layer(middleware::from_fn(
        move |request: Request, next: middleware::Next| async move {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(|token| <[u8; 32]>::from(Sha256::digest(token.as_bytes())));
            if presented != Some(expected) {
                return SharedError::ServiceTokenRequired.into_response();
            }
            next.run(request).await
        },
    ))
}

/// The address clients reach the gateway at: `configured` when set, else the scheme and host the
/// request came with (the gateway forwards them as `X-Forwarded-Proto`/`X-Forwarded-Host`).
pub fn public_base_url(configured: Option<&str>, headers: &http::HeaderMap) -> String {
    if let Some(base) = configured {
        return base.trim_end_matches('/').to_owned();
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let host = header("x-forwarded-host")
        .or_else(|| header(http::header::HOST.as_str()))
        .unwrap_or("localhost");
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}
