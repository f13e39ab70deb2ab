//! The mobile API gateway: one entry point at `/v1/...` that forwards to each service's
//! upstream, with the same middleware whether the service is in-process or remote.

use std::collections::BTreeMap;
use std::time::Duration;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use platform::Config;
use platform::Metrics;
use platform::auth::SharedVerifier;
use platform::config::GatewayConfig;
use platform::http::with_service_layers;
use platform::proxies::TrustedProxies;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::OpenApi;
use utoipa_scalar::Servable;

use crate::modules::SERVICES;
use crate::upstream::Upstream;

/// The public OpenAPI document of the gateway.
#[derive(OpenApi)]
#[openapi(info(
    title = "Citizen mobile API",
    description = "Cổng API của ứng dụng đô thị thông minh Citizen / The API the Citizen smart-city app talks to.",
    license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
))]
struct GatewayApi;

/// Each service's own OpenAPI document, by service name, its problems described from its error
/// enum. The gateway's document merges them.
pub fn service_documents() -> Vec<(&'static str, utoipa::openapi::OpenApi)> {
    SERVICES
        .iter()
        .map(|service| {
            let mut doc = (service.openapi)();
            platform::openapi::document_service_errors(&mut doc, service.errors);
            (service.name, doc)
        })
        .collect()
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = GatewayApi::openapi();
    for (_, service) in service_documents() {
        doc.merge(service);
    }
    platform::openapi::document_shared_problems(&mut doc);
    platform::openapi::enumerate_problem_codes(&mut doc, &all_error_codes());
    doc
}

/// Every code the API answers with: each service's, the shared mechanisms', the gateway's.
pub fn all_error_codes() -> Vec<platform::error::ErrorCode> {
    SERVICES
        .iter()
        .flat_map(|service| service.errors)
        .chain(platform::error::SharedError::CODES)
        .chain(crate::upstream::GatewayError::CODES)
        .copied()
        .collect()
}

/// The gateway's router. `upstreams` holds one entry per service of `SERVICES`.
pub fn router(
    upstreams: BTreeMap<&'static str, Upstream>,
    full_config: &Config,
    metrics: &Metrics,
    verifier: &SharedVerifier,
) -> anyhow::Result<Router> {
    let config = &full_config.gateway;
    let proxies = TrustedProxies::parse(&config.trusted_proxies)?;
    let mut routes = Router::new();
    for service in SERVICES {
        let Some(upstream) = upstreams.get(service.name) else {
            continue;
        };
        let limit = (service.body_limit)(full_config).unwrap_or(config.body_limit_bytes);
        let upstream = with_body_limit(upstream.clone(), limit);
        for prefix in service.routes {
            routes = routes
                .route_service(prefix, upstream.clone())
                .route_service(&format!("{prefix}/{{*rest}}"), upstream.clone());
        }
    }
    let openapi = openapi();
    routes = routes
        .route(
            "/v1/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi) }
            }),
        )
        .merge(utoipa_scalar::Scalar::with_url("/v1/docs", self::openapi()))
        .merge(crate::console::router(config)?);

    // One stack, outermost first: each `Router::layer` call boxes the routes again.
    let routes = routes.layer(
        ServiceBuilder::new()
            .layer(cors(config))
            .layer(CompressionLayer::new().gzip(true).br(true))
            .layer(EdgeLayer(Arc::new(Edge {
                proxies,
                verifier: verifier.clone(),
                deadline: Duration::from_millis(config.request_timeout_ms),
            }))),
    );
    Ok(with_service_layers(
        routes,
        "mobile-api",
        metrics,
        Some(verifier),
    ))
}

/// Refuses a body over `limit`: at once when `Content-Length` says so, else when the stream
/// passes it.
fn with_body_limit(upstream: Upstream, limit: usize) -> Upstream {
    let limited = upstream.map_request(
        |request: axum::http::Request<tower_http::body::Limited<Body>>| request.map(Body::new),
    );
    let checked = RequestBodyLimitLayer::new(limit).layer(limited);
    BoxCloneSyncService::new(ServiceExt::<axum::http::Request<Body>>::map_response(
        checked,
        |response| response.map(Body::new),
    ))
}

/// What the gateway does to every request before an upstream sees it, as one layer of its own
/// (a `from_fn` boxes what it wraps again for every request).
struct Edge {
    proxies: TrustedProxies,
    verifier: SharedVerifier,
    deadline: Duration,
}

#[derive(Clone)]
struct EdgeLayer(Arc<Edge>);

impl<S> Layer<S> for EdgeLayer {
    type Service = AtTheEdge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AtTheEdge {
            edge: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
struct AtTheEdge<S> {
    edge: Arc<Edge>,
    inner: S,
}

impl<S> Service<Request> for AtTheEdge<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = platform::http::Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let edge = self.edge.clone();
        Box::pin(async move { Ok(at_the_edge(&edge, request, inner).await) })
    }
}

/// Tells the upstream who the client is (`forwarded_for`), refuses a request that carries a bad
/// token before any upstream is called (a request without one passes: the service decides
/// whether it needs one, and services check again), and answers 504 `upstream_timeout` for a
/// request not answered within the deadline, as for a remote upstream that does not answer in
/// time: the client was too slow to send or the service to answer, not our failure. Answers
/// say not to sniff types, and over TLS to keep to it (HSTS).
async fn at_the_edge<S>(edge: &Edge, mut request: Request, mut upstream: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let over_tls = forwarded_for(&edge.proxies, &mut request);
    let answer = async {
        if !SIGN_IN_PATHS.contains(&request.uri().path())
            && let Err(error) = edge.verifier.verify_request(request.headers()).await
        {
            return error.into_response();
        }
        let Ok(response) = upstream.call(request).await;
        response
    };
    let mut response = match tokio::time::timeout(edge.deadline, answer).await {
        Ok(response) => response,
        Err(_) => crate::upstream::timed_out().into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if over_tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// Sign-in and refresh authenticate by other means (a code, a password, a refresh token); an
/// app that attaches its expired access token to them must still get through.
const SIGN_IN_PATHS: &[&str] = &[
    "/v1/auth/otp",
    "/v1/auth/otp/verify",
    "/v1/auth/staff/login",
    "/v1/auth/refresh",
];

/// Tells services behind the gateway (in-process or remote) who the client is and how it
/// reached us: `X-Forwarded-For` becomes the one client address, and `X-Forwarded-Host`/`-Proto`
/// are believed only from a trusted proxy. Answers whether the client reached us over TLS.
fn forwarded_for(proxies: &TrustedProxies, request: &mut Request) -> bool {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let from_proxy = peer.is_some_and(|ip| proxies.trusts(ip));
    let headers = request.headers_mut();
    if let Some(peer) = peer {
        let client = proxies.client_address(peer, headers);
        headers.remove(&X_FORWARDED_FOR);
        if let Ok(value) = HeaderValue::from_str(&client.to_string()) {
            headers.insert(X_FORWARDED_FOR.clone(), value);
        }
    }
    if !from_proxy {
        headers.remove(&X_FORWARDED_HOST);
        headers.remove(&X_FORWARDED_PROTO);
    }
    // Where the client reached us, for the URLs services hand out.
    if !headers.contains_key(&X_FORWARDED_HOST)
        && let Some(host) = headers.get(header::HOST).cloned()
    {
        headers.insert(X_FORWARDED_HOST.clone(), host);
    }
    if !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
    headers
        .get(&X_FORWARDED_PROTO)
        .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"))
}

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

fn cors(config: &GatewayConfig) -> CorsLayer {
    let origins = config
        .cors_allowed_origins
        .iter()
        .filter_map(|origin| origin.parse().ok())
        .collect::<Vec<_>>();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT_LANGUAGE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(3600))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_error_code_is_declared_once_with_one_status() {
        let mut owners = BTreeMap::new();
        for code in all_error_codes() {
            if let Some(first) = owners.insert(code.code, code) {
                panic!("`{}` is declared twice: {first:?} and {code:?}", code.code);
            }
        }
        assert!(owners.contains_key("report_not_found"));
        assert!(owners.contains_key("bill_not_found"));
    }

    #[test]
    fn the_document_lists_every_code_a_problem_may_carry() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let listed = &doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
        let listed: Vec<&str> = listed
            .as_array()
            .expect("Problem.code is an enum")
            .iter()
            .filter_map(|code| code.as_str())
            .collect();
        for code in all_error_codes() {
            assert!(listed.contains(&code.code), "{} is not listed", code.code);
        }
    }
}
