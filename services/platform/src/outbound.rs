//! The one HTTP client for calls that leave the process: VNeID, the SMS gateway, identity's
//! JWKS, FCM, Web Push, VNPay, MoMo and the bill gateway all go through it.
//!
//! What it guarantees, whoever uses it:
//! - `https` is TLS through rustls (the aws-lc-rs provider, as S3 and NATS use) with the web's
//!   roots; plain `http` only where [`PlainHttp`] allows it, checked before any byte is sent;
//! - a deadline to connect and one for the whole exchange, body included;
//! - an answer bounded in size however it is framed (`Content-Length` or chunked);
//! - redirects are answers, never followed (a 3xx could send a secret elsewhere).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where plain, unencrypted HTTP may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Nowhere: every URL must be `https` (outside systems in production).
    Never,
    /// Only to this machine (a loopback address or `localhost`): the sandboxes in development.
    Loopback,
    /// Anywhere: services of our own deployment on the cluster's network (identity's JWKS).
    Internal,
}

/// Deadlines and bounds of one client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connect_timeout: Duration,
    /// For the whole exchange: connecting, sending, and reading the answer.
    pub timeout: Duration,
    pub max_answer_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            max_answer_bytes: 256 * 1024,
        }
    }
}

/// Why an exchange did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{system}: {url} is plain HTTP; an outside system must be reached over https")]
    PlainHttpRefused { system: &'static str, url: String },
    #[error("{system}: not a usable URL ({reason})")]
    InvalidUrl {
        system: &'static str,
        reason: String,
    },
    #[error("{system}: no answer within {after:?}")]
    TimedOut {
        system: &'static str,
        after: Duration,
    },
    #[error("{system}: {reason}")]
    Transport {
        system: &'static str,
        reason: String,
    },
    #[error("{system}: the answer is larger than {limit} bytes")]
    AnswerTooLarge { system: &'static str, limit: usize },
}

/// An answer: its status, headers and whole body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// `Retry-After` in seconds, if the answer gave one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }

    /// The start of the body as text, for a log line or an error.
    pub fn excerpt(&self) -> String {
        String::from_utf8_lossy(&self.body[..self.body.len().min(200)]).into_owned()
    }
}

/// A pooled client (HTTP/1.1 and HTTP/2) for one outside system; cheap to clone.
#[derive(Clone)]
pub struct OutboundClient {
    system: &'static str,
    plain_http: PlainHttp,
    limits: Limits,
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl OutboundClient {
    /// A client for `system` (named in errors and logs).
    pub fn new(
        system: &'static str,
        plain_http: PlainHttp,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(rustls::RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        ))
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(limits.connect_timeout));
        tcp.set_nodelay(true);
        // The scheme decides: `https` is always TLS; `http` was allowed by `check_url` first.
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(tcp);
        Ok(Self {
            system,
            plain_http,
            limits,
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(connector),
        })
    }

    /// Checks that `url` may be called by this client; for configuration checked at start-up.
    pub fn check_url(&self, url: &str) -> Result<Uri, OutboundError> {
        let uri: Uri = url.parse().map_err(|e| OutboundError::InvalidUrl {
            system: self.system,
            reason: format!("{url}: {e}"),
        })?;
        self.check_uri(&uri)?;
        Ok(uri)
    }

    fn check_uri(&self, uri: &Uri) -> Result<(), OutboundError> {
        let host = uri.host().ok_or_else(|| OutboundError::InvalidUrl {
            system: self.system,
            reason: format!("{uri}: no host"),
        })?;
        match uri.scheme_str() {
            Some("https") => Ok(()),
            Some("http") => {
                let allowed = match self.plain_http {
                    PlainHttp::Never => false,
                    PlainHttp::Loopback => is_loopback(host),
                    PlainHttp::Internal => true,
                };
                if allowed {
                    Ok(())
                } else {
                    Err(OutboundError::PlainHttpRefused {
                        system: self.system,
                        url: uri.to_string(),
                    })
                }
            }
            _ => Err(OutboundError::InvalidUrl {
                system: self.system,
                reason: format!("{uri}: not http or https"),
            }),
        }
    }

    /// Sends `request` and reads the whole answer, within the client's deadline and bound.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, OutboundError> {
        self.check_uri(request.uri())?;
        let system = self.system;
        let limit = self.limits.max_answer_bytes;
        let exchange = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| OutboundError::Transport {
                        system,
                        reason: transport_reason(&e),
                    })?;
            let (parts, body) = response.into_parts();
            let too_large = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok())
                .is_some_and(|n| n > limit);
            if too_large {
                return Err(OutboundError::AnswerTooLarge { system, limit });
            }
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        OutboundError::AnswerTooLarge { system, limit }
                    } else {
                        OutboundError::Transport {
                            system,
                            reason: format!("reading the answer: {e}"),
                        }
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(self.limits.timeout, exchange)
            .await
            .map_err(|_| OutboundError::TimedOut {
                system,
                after: self.limits.timeout,
            })?
    }

    /// `GET url` asking for JSON.
    pub async fn get(&self, url: &str) -> Result<Answer, OutboundError> {
        let request = Request::get(url)
            .header(header::ACCEPT, "application/json")
            .body(Full::default())
            .map_err(|e| OutboundError::InvalidUrl {
                system: self.system,
                reason: format!("{url}: {e}"),
            })?;
        self.send(request).await
    }

    /// `POST url` with `body` as JSON.
    pub async fn post_json(
        &self,
        url: &str,
        body: &impl Serialize,
    ) -> Result<Answer, OutboundError> {
        let bytes = serde_json::to_vec(body).map_err(|e| OutboundError::Transport {
            system: self.system,
            reason: format!("encoding the request: {e}"),
        })?;
        let request = Request::post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(bytes)))
            .map_err(|e| OutboundError::InvalidUrl {
                system: self.system,
                reason: format!("{url}: {e}"),
            })?;
        self.send(request).await
    }
}

/// A loopback address or `localhost`, read from the URL alone (no lookup: a name that merely
/// resolves to 127.0.0.1 today is not this machine tomorrow).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The cause chain of a client error, which says more than its top ("client error (Connect)").
fn transport_reason(error: &hyper_util::client::legacy::Error) -> String {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    reason
}

/// Consecutive failures that open a [`Breaker`], and how long it stays open.
const BREAKER_FAILURES: u32 = 5;
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(30);

/// A circuit breaker of one outside system, so that a system that is down costs a resident one
/// quick 503 rather than a long wait. A closed breaker lets calls through; `BREAKER_FAILURES` failures in a row open it for
/// `BREAKER_OPEN_FOR`, after which one call at a time tries the server again.
#[derive(Default)]
pub struct Breaker(Mutex<BreakerState>);

#[derive(Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    pub fn allows(&self) -> bool {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match state.open_until {
            Some(until) if Instant::now() < until => false,
            Some(_) => {
                // Half open: this call probes; the others wait out another period.
                state.open_until = Some(Instant::now() + BREAKER_OPEN_FOR);
                true
            }
            None => true,
        }
    }

    pub fn succeeded(&self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.failures = 0;
        state.open_until = None;
    }

    pub fn failed(&self) {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        state.failures = state.failures.saturating_add(1);
        if state.failures >= BREAKER_FAILURES {
            state.open_until = Some(Instant::now() + BREAKER_OPEN_FOR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn client(plain_http: PlainHttp) -> OutboundClient {
        OutboundClient::new(
            "test system",
            plain_http,
            Limits {
                connect_timeout: Duration::from_secs(2),
                timeout: Duration::from_secs(2),
                max_answer_bytes: 1024,
            },
        )
        .unwrap()
    }

    /// A listener that answers every connection with `answer` after reading the request.
    async fn answering(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    let _ = socket.read(&mut buffer).await;
                    let _ = socket.write_all(answer).await;
                    // Keep the connection open: a bound must not depend on the peer closing.
                    tokio::time::sleep(Duration::from_secs(30)).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn plain_http_is_allowed_only_where_the_policy_says() {
        let never = client(PlainHttp::Never);
        let loopback = client(PlainHttp::Loopback);
        let internal = client(PlainHttp::Internal);
        for url in ["https://sandbox.vnpayment.vn/x", "https://127.0.0.1:8443/"] {
            assert!(never.check_url(url).is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:8080/sandbox",
            "http://[::1]:8080/",
            "http://localhost/x",
        ] {
            assert!(loopback.check_url(url).is_ok(), "{url}");
            assert!(matches!(
                never.check_url(url),
                Err(OutboundError::PlainHttpRefused { .. })
            ));
        }
        for url in [
            "http://sandbox.vnpayment.vn/x",
            "http://10.0.0.5/",
            "http://127.0.0.1.nip.io/",
        ] {
            assert!(matches!(
                loopback.check_url(url),
                Err(OutboundError::PlainHttpRefused { .. })
            ));
        }
        assert!(internal.check_url("http://identity:8080/jwks").is_ok());
        assert!(internal.check_url("ftp://identity/x").is_err());
    }

    #[tokio::test]
    async fn a_chunked_answer_past_the_bound_is_refused() {
        // 2,000 bytes in chunks with no Content-Length: only counting the body catches it.
        static ANSWER: std::sync::LazyLock<&'static [u8]> = std::sync::LazyLock::new(|| {
            let mut answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..20 {
                answer.extend_from_slice(b"64\r\n");
                answer.extend_from_slice(&[b'a'; 100]);
                answer.extend_from_slice(b"\r\n");
            }
            answer.extend_from_slice(b"0\r\n\r\n");
            answer.leak()
        });
        let base = answering(&ANSWER).await;
        let error = client(PlainHttp::Loopback)
            .get(&format!("{base}/big"))
            .await
            .unwrap_err();
        assert!(
            matches!(error, OutboundError::AnswerTooLarge { limit: 1024, .. }),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_redirect_is_an_answer_not_followed() {
        let base = answering(
            b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/steal\r\ncontent-length: 0\r\n\r\n",
        )
        .await;
        let answer = client(PlainHttp::Loopback)
            .get(&format!("{base}/moved"))
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::FOUND);
    }

    #[tokio::test]
    async fn a_peer_that_never_finishes_its_answer_times_out() {
        let base = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc").await;
        let error = client(PlainHttp::Loopback)
            .get(&format!("{base}/slow"))
            .await
            .unwrap_err();
        assert!(matches!(error, OutboundError::TimedOut { .. }), "{error}");
    }

    #[tokio::test]
    async fn https_to_a_plain_http_listener_fails_without_sending_the_request() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut bytes = Vec::new();
            let mut buffer = [0u8; 4096];
            // Answer as a plain HTTP server would, then keep what arrived.
            if let Ok(n) = socket.read(&mut buffer).await {
                bytes.extend_from_slice(&buffer[..n]);
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await;
            while let Ok(n) = socket.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&buffer[..n]);
            }
            bytes
        });
        let request = Request::post(format!("https://{addr}/token"))
            .header(header::AUTHORIZATION, "Basic c2VjcmV0")
            .body(Full::new(Bytes::from_static(b"client_secret=secret")))
            .unwrap();
        assert!(client(PlainHttp::Never).send(request).await.is_err());
        let bytes = received.await.unwrap();
        assert_eq!(bytes.first(), Some(&0x16), "a TLS handshake record");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("secret") && !text.contains("c2VjcmV0"),
            "{text}"
        );
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_a_success_closes_it() {
        let breaker = Breaker::default();
        for _ in 0..BREAKER_FAILURES - 1 {
            breaker.failed();
        }
        assert!(breaker.allows());
        breaker.succeeded();
        for _ in 0..BREAKER_FAILURES - 1 {
            breaker.failed();
        }
        assert!(breaker.allows(), "the success reset the count");
        breaker.failed();
        assert!(!breaker.allows());
        breaker.succeeded();
        assert!(breaker.allows());
    }
}
