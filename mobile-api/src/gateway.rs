//! The mobile API gateway: one entry point at `/v1/...` that forwards to each service's
//! upstream, with the same middleware whether the service is in-process or remote.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::routing::get;
use platform::Metrics;
use platform::config::GatewayConfig;
use platform::http::with_service_layers;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;
use utoipa_scalar::Servable;

use crate::upstream::Upstream;

/// Every service the gateway may forward to, with the path prefix it owns.
pub const SERVICES: &[(&str, &str)] = &[("catalogue", "/v1/catalogue")];

/// The public OpenAPI document of the gateway.
#[derive(OpenApi)]
#[openapi(info(
    title = "Citizen mobile API",
    description = "Cổng API của ứng dụng đô thị thông minh Citizen / The API the Citizen smart-city app talks to.",
    license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later")
))]
struct GatewayApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = GatewayApi::openapi();
    doc.merge(catalogue::CatalogueApi::openapi());
    doc
}

/// The gateway's router. `upstreams` holds one entry per name in `SERVICES`.
pub fn router(
    upstreams: BTreeMap<&'static str, Upstream>,
    config: &GatewayConfig,
    metrics: &Metrics,
) -> Router {
    let mut routes = Router::new();
    for (name, prefix) in SERVICES {
        if let Some(upstream) = upstreams.get(name) {
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
        .merge(utoipa_scalar::Scalar::with_url("/v1/docs", self::openapi()));

    let routes = routes
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_millis(config.request_timeout_ms),
        ))
        .layer(CompressionLayer::new().gzip(true).br(true))
        .layer(cors(config));
    with_service_layers(routes, "mobile-api", metrics)
}

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
