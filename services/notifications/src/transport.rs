//! The HTTP side shared by the FCM and Web Push clients: one pooled client (HTTP/2 where the
//! push service speaks it, TLS through rustls with the web's roots), and one bounded exchange.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Push services answer with small documents.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a push was not sent, and so what to do about it (FCM's and Web Push's answers alike).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The app was uninstalled, the token expired or the browser unsubscribed: forget the device.
    #[error("the device's token or subscription is no longer valid")]
    Unregistered,
    /// FCM says the token is not a registration token at all: forget the device.
    #[error("not a valid registration token: {0}")]
    InvalidToken(String),
    /// The push service or the path to it is overloaded or failing: try again, not before
    /// `after`.
    #[error("temporarily refused ({reason}); retry after {after:?}")]
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Our credentials or project are wrong (`SENDER_ID_MISMATCH`, `THIRD_PARTY_AUTH_ERROR`, a
    /// refused assertion or VAPID key): operators must act; retrying will not help.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// The message itself is invalid (a bug of ours).
    #[error("message refused: {0}")]
    Rejected(String),
}

pub(crate) type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A pooled client: HTTP/2 to the push services (one connection carries many sends); plain
/// HTTP only for an emulator.
pub(crate) fn client() -> anyhow::Result<HttpClient> {
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(rustls::RootCertStore::from_iter(
        webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
    ))
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector))
}

/// An answer: status, `Retry-After`, `Location` (Web Push names the message with it), body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub location: Option<String>,
    pub body: Bytes,
}

/// One request, with a deadline and a bounded answer; a transport failure is worth retrying.
pub(crate) async fn exchange(
    http: &HttpClient,
    request: Request<Full<Bytes>>,
) -> Result<Answer, SendError> {
    let retry = |reason: String| SendError::Retry {
        after: None,
        reason,
    };
    let exchange = async {
        let response = http
            .request(request)
            .await
            .map_err(|e| retry(format!("transport: {e}")))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| retry(format!("reading the answer: {e}")))?
            .to_bytes();
        Ok(Answer {
            status,
            retry_after,
            location,
            body,
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .map_err(|_| retry("timed out".into()))?
}
