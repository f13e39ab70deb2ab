//! An upstream is a service the gateway forwards to, held as a `tower::Service`: the service's
//! own `Router` when it runs in this process (no network hop), or an HTTP client when it runs
//! elsewhere. Either way it answers with a response, never an error: a dead or slow remote
//! service becomes a 502/503/504 problem here.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::uri::{Authority, Scheme};
use axum::http::{HeaderMap, HeaderName, Method, Request, Response, Uri, header};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use platform::ApiError;
use platform::error::SharedError;
use platform::trace_context::{TRACEPARENT, TraceParent};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

pub type Upstream = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The service's router, called directly. It gets the request as a remote service would:
/// without the gateway's routing state (matched path, path parameters) in its extensions.
pub fn in_process(router: Router) -> Upstream {
    BoxCloneSyncService::new(router.map_request(|request: Request<Body>| {
        let (parts, body) = request.into_parts();
        let mut forwarded = Request::new(body);
        *forwarded.method_mut() = parts.method;
        *forwarded.uri_mut() = parts.uri;
        *forwarded.headers_mut() = parts.headers;
        if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            forwarded.extensions_mut().insert(*peer);
        }
        forwarded
    }))
}

/// A service of this process whose router is built after its caller's (identity checks home
/// wards with reports, which itself calls identity): calls wait until `bind` is given the
/// router, and answer 503 if it never is.
pub fn in_process_later() -> (Upstream, LaterRouter) {
    let (sender, receiver) = tokio::sync::watch::channel(None::<Upstream>);
    let service = tower::service_fn(move |request: Request<Body>| {
        let mut receiver = receiver.clone();
        async move {
            let bound = receiver
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|b| b.clone());
            let response = match bound {
                Some(upstream) => upstream.oneshot(request).await?,
                None => SharedError::UpstreamUnavailable.into_response(),
            };
            Ok::<_, Infallible>(response)
        }
    });
    (BoxCloneSyncService::new(service), LaterRouter(sender))
}

/// Gives an `in_process_later` upstream its router, until it is dropped: services of one
/// process that call each other hold each other's routers in a cycle (identity's state holds
/// reports' router, whose state holds identity's), which only letting go of the routers here
/// breaks, so that their pools and connections go with the process.
pub struct LaterRouter(tokio::sync::watch::Sender<Option<Upstream>>);

impl LaterRouter {
    pub fn bind(&self, router: Router) {
        self.0.send_replace(Some(in_process(router)));
    }
}

impl Drop for LaterRouter {
    fn drop(&mut self) {
        self.0.send_replace(None);
    }
}

/// Settings shared by every remote upstream.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub connect_timeout: Duration,
    /// How long the upstream may take to start answering.
    pub response_timeout: Duration,
}

/// A service in another process, reached over pooled HTTP/1.1 connections.
pub fn remote(
    name: &'static str,
    base_url: &str,
    settings: &HttpSettings,
) -> anyhow::Result<Upstream> {
    let uri: Uri = base_url
        .parse()
        .map_err(|e| anyhow::anyhow!("upstream {name}: {base_url} is not a URL: {e}"))?;
    let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned()) else {
        anyhow::bail!(
            "upstream {name}: {base_url} needs a scheme and a host, like http://catalogue:8080"
        );
    };
    if scheme != Scheme::HTTP {
        anyhow::bail!(
            "upstream {name}: only http:// is supported inside the cluster (TLS ends at the ingress)"
        );
    }
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(settings.connect_timeout));
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build(connector);
    let remote = RemoteService {
        name,
        scheme,
        authority,
        client,
        response_timeout: settings.response_timeout,
    };
    Ok(BoxCloneSyncService::new(tower::service_fn(
        move |request| {
            let remote = remote.clone();
            async move { Ok::<_, Infallible>(remote.forward(request).await) }
        },
    )))
}

#[derive(Clone)]
struct RemoteService {
    name: &'static str,
    scheme: Scheme,
    authority: Authority,
    client: Client<HttpConnector, Body>,
    response_timeout: Duration,
}

/// Connect failures are retried this many times for requests that are safe to repeat.
const CONNECT_RETRIES: u32 = 2;

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Headers the Connection header names are hop-by-hop too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(named.iter()) {
        headers.remove(name);
    }
}

enum Failure {
    Connect,
    Timeout,
    Other(hyper_util::client::legacy::Error),
}

impl RemoteService {
    #[tracing::instrument(skip_all, fields(upstream = self.name))]
    async fn forward(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let path_and_query = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let uri = match Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
        {
            Ok(uri) => uri,
            Err(error) => return ApiError::internal(error).into_response(),
        };

        let mut headers = parts.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(header::HOST);
        let trace = TraceParent::from_headers(&headers).unwrap_or_else(TraceParent::start);
        headers.insert(TRACEPARENT.clone(), trace.child().header_value());

        // Only a request with no body and a method that may be repeated is retried, and only
        // when the connection could not be opened, so the upstream never saw it.
        let repeatable = is_idempotent(&parts.method) && http_body::Body::is_end_stream(&body);
        let mut body = Some(body);
        let mut attempt = 0;
        let failure = loop {
            let mut outbound = Request::new(body.take().unwrap_or_default());
            *outbound.method_mut() = parts.method.clone();
            *outbound.uri_mut() = uri.clone();
            *outbound.headers_mut() = headers.clone();
            let sent =
                tokio::time::timeout(self.response_timeout, self.client.request(outbound)).await;
            let failure = match sent {
                Ok(Ok(response)) => return self.relay(response),
                Ok(Err(error)) if error.is_connect() => Failure::Connect,
                Ok(Err(error)) => Failure::Other(error),
                Err(_) => Failure::Timeout,
            };
            if matches!(failure, Failure::Connect) && repeatable && attempt < CONNECT_RETRIES {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                continue;
            }
            break failure;
        };
        self.failure_response(failure)
    }

    fn relay(&self, response: Response<hyper::body::Incoming>) -> Response<Body> {
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Response::from_parts(parts, Body::new(body.map_err(axum::Error::new)))
    }

    fn failure_response(&self, failure: Failure) -> Response<Body> {
        let name = self.name;
        match failure {
            Failure::Connect => {
                tracing::warn!(upstream = name, "upstream unreachable");
                ApiError::from(SharedError::UpstreamUnavailable)
                    .with_retry_after(Duration::from_secs(5))
                    .into_response()
            }
            Failure::Timeout => {
                tracing::warn!(upstream = name, "upstream timed out");
                timed_out().into_response()
            }
            Failure::Other(error) => {
                tracing::warn!(upstream = name, ?error, "upstream failed");
                GatewayError::UpstreamFailed.into_response()
            }
        }
    }
}

/// A request the service did not answer in time.
pub fn timed_out() -> ApiError {
    GatewayError::UpstreamTimeout.into()
}

platform::error_codes! {
    /// What the gateway answers for a service that fails it.
    pub enum GatewayError {
        UpstreamFailed = (BAD_GATEWAY, "upstream_failed",
            "Dịch vụ trả lời không hợp lệ. Vui lòng thử lại sau.",
            "The service gave an invalid answer. Please try again later."),
        UpstreamTimeout = (GATEWAY_TIMEOUT, "upstream_timeout",
            "Dịch vụ phản hồi quá chậm. Vui lòng thử lại sau.",
            "The service took too long to answer. Please try again later."),
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}
