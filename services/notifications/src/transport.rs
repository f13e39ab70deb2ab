//! The HTTP side shared by the FCM and Web Push clients: platform's outbound client, and push
//! services' answers read as what to do next.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::Full;
use platform::outbound::{Limits, OutboundClient, OutboundError, PlainHttp};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

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

pub(crate) type HttpClient = OutboundClient;

/// A pooled client to the push services (HTTP/2 where they speak it: one connection carries
/// many sends); plain HTTP only where `plain_http` allows (an emulator in development).
pub(crate) fn client(system: &'static str, plain_http: PlainHttp) -> anyhow::Result<HttpClient> {
    OutboundClient::new(
        system,
        plain_http,
        Limits {
            connect_timeout: Duration::from_secs(3),
            timeout: REQUEST_TIMEOUT,
            // Push services answer with small documents.
            max_answer_bytes: 64 * 1024,
        },
    )
}

/// An answer: status, `Retry-After`, `Location` (Web Push names the message with it), body.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub location: Option<String>,
    pub body: Bytes,
}

/// One request, with a deadline and a bounded answer; a transport failure is worth retrying,
/// a URL we may not call is ours to fix.
pub(crate) async fn exchange(
    http: &HttpClient,
    request: Request<Full<Bytes>>,
) -> Result<Answer, SendError> {
    let answer = http.send(request).await.map_err(|error| match error {
        OutboundError::PlainHttpRefused { .. } | OutboundError::InvalidUrl { .. } => {
            SendError::Misconfigured(error.to_string())
        }
        _ => SendError::Retry {
            after: None,
            reason: error.to_string(),
        },
    })?;
    Ok(Answer {
        status: answer.status,
        retry_after: answer.retry_after(),
        location: answer
            .headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: answer.body,
    })
}
