//! Web Push for the web app: the payload encrypted with `aes128gcm` for the browser's keys
//! (RFC 8291) and signed for the push service with our VAPID key (RFC 8292), both by the
//! `web-push` crate's message builder; sent by our own pooled HTTP client, and the push
//! service's answer classified like FCM's: 404/410 the subscription is gone, 429 and 5xx
//! retried as asked, 401/403 our VAPID key is refused.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use tokio::sync::Semaphore;
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, Urgency, VapidSignature,
    VapidSignatureBuilder, WebPushMessageBuilder,
};

use crate::SendError;
use crate::transport::{self, HttpClient};

/// A VAPID signature (valid 12 hours) is reused per push service for this long.
const SIGNATURE_REUSE: Duration = Duration::from_secs(3600);

pub struct WebPushClient {
    http: HttpClient,
    vapid: PartialVapidSignatureBuilder,
    /// The VAPID public key, base64url: the web app's `applicationServerKey`.
    public_key: String,
    /// Whom the push services contact about our traffic (`mailto:` or `https:`).
    subject: String,
    /// Signatures by push-service origin: signing each message would cost more than encrypting.
    signatures: std::sync::Mutex<HashMap<String, (VapidSignature, Instant)>>,
    permits: Semaphore,
}

/// A browser's subscription: where to push, and the keys to encrypt for.
pub struct Subscription<'a> {
    pub endpoint: &'a str,
    pub p256dh: &'a str,
    pub auth: &'a str,
}

/// What to send, and how the push service should treat it.
pub struct Message<'a> {
    pub payload: &'a [u8],
    /// How long the push service keeps it for a browser that is offline.
    pub ttl: Duration,
    pub urgent: bool,
    /// A newer message with the same topic replaces one not yet delivered.
    pub topic: Option<String>,
}

impl WebPushClient {
    /// A client signing with `private_key` (the P-256 scalar, base64url), at most
    /// `concurrency` requests at once.
    pub fn new(
        private_key: &str,
        subject: &str,
        concurrency: usize,
        plain_http: platform::outbound::PlainHttp,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            subject.starts_with("mailto:") || subject.starts_with("https://"),
            "notifications.web_push.subject must be a mailto: or https: URL"
        );
        let vapid = VapidSignatureBuilder::from_base64_no_sub(private_key.trim())
            .map_err(|e| anyhow::anyhow!("notifications.web_push.vapid_private_key: {e}"))?;
        let public_key =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vapid.get_public_key());
        Ok(Self {
            http: transport::client("Web Push", plain_http)?,
            vapid,
            public_key,
            subject: subject.to_owned(),
            signatures: std::sync::Mutex::default(),
            permits: Semaphore::new(concurrency.max(1)),
        })
    }

    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Sends one message; the push service's name for it (its `Location`), if it gave one.
    pub async fn send(
        &self,
        subscription: &Subscription<'_>,
        message: &Message<'_>,
    ) -> Result<String, SendError> {
        let _permit = self.permits.acquire().await.map_err(|_| SendError::Retry {
            after: None,
            reason: "shutting down".into(),
        })?;
        let request = self.request(subscription, message)?;
        let answer = transport::exchange(&self.http, request).await?;
        if answer.status.is_success() {
            return Ok(answer.location.unwrap_or_default());
        }
        let reason = format!(
            "{} {}",
            answer.status.as_u16(),
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
        );
        Err(match answer.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => SendError::Unregistered,
            StatusCode::TOO_MANY_REQUESTS => SendError::Retry {
                after: answer.retry_after,
                reason,
            },
            status if status.is_server_error() => SendError::Retry {
                after: answer.retry_after,
                reason,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                // A signature refused early: sign afresh next time.
                self.lock_signatures().clear();
                SendError::Misconfigured(format!("VAPID refused: {reason}"))
            }
            _ => SendError::Rejected(reason),
        })
    }

    /// The encrypted, signed request, built by the `web-push` crate.
    fn request(
        &self,
        subscription: &Subscription<'_>,
        message: &Message<'_>,
    ) -> Result<Request<Full<Bytes>>, SendError> {
        let gone = |_| SendError::InvalidToken("not a usable Web Push subscription".into());
        let info = SubscriptionInfo::new(
            subscription.endpoint,
            subscription.p256dh.trim_end_matches('='),
            subscription.auth.trim_end_matches('='),
        );
        let origin = origin(subscription.endpoint).ok_or_else(|| gone(()))?;
        let signature = self.signature(&info, &origin)?;
        let mut builder = WebPushMessageBuilder::new(&info);
        builder.set_payload(ContentEncoding::Aes128Gcm, message.payload);
        builder.set_ttl(u32::try_from(message.ttl.as_secs()).unwrap_or(u32::MAX));
        builder.set_urgency(if message.urgent {
            Urgency::High
        } else {
            Urgency::Normal
        });
        if let Some(topic) = &message.topic {
            builder.set_topic(topic.clone());
        }
        builder.set_vapid_signature(signature);
        let built = builder.build().map_err(|e| match e {
            web_push::WebPushError::PayloadTooLarge | web_push::WebPushError::InvalidTopic => {
                SendError::Rejected(e.to_string())
            }
            _ => gone(()),
        })?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(subscription.endpoint)
            .header("TTL", built.ttl.to_string());
        if let Some(urgency) = built.urgency {
            request = request.header("Urgency", urgency.to_string());
        }
        if let Some(topic) = built.topic {
            request = request.header("Topic", topic);
        }
        let body = match built.payload {
            Some(payload) => {
                request = request
                    .header(header::CONTENT_ENCODING, payload.content_encoding.to_str())
                    .header(header::CONTENT_TYPE, "application/octet-stream");
                for (name, value) in payload.crypto_headers {
                    request = request.header(name, value);
                }
                payload.content
            }
            None => Vec::new(),
        };
        request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| gone(()))
    }

    /// A VAPID signature for the push service at `origin`: reused, or made now.
    fn signature(
        &self,
        info: &SubscriptionInfo,
        origin: &str,
    ) -> Result<VapidSignature, SendError> {
        if let Some((signature, made)) = self.lock_signatures().get(origin)
            && made.elapsed() < SIGNATURE_REUSE
        {
            return Ok(signature.clone());
        }
        let mut builder = self.vapid.clone().add_sub_info(info);
        // The audience is the push service's origin, port included (RFC 8292 section 2).
        builder.add_claim("aud", origin);
        builder.add_claim("sub", self.subject.as_str());
        let signature = builder
            .build()
            .map_err(|e| SendError::Misconfigured(format!("cannot sign for VAPID: {e}")))?;
        self.lock_signatures()
            .insert(origin.to_owned(), (signature.clone(), Instant::now()));
        Ok(signature)
    }

    fn lock_signatures(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (VapidSignature, Instant)>> {
        self.signatures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct WebPushKey {
    /// The VAPID public key, base64url: `applicationServerKey` for `pushManager.subscribe()`.
    public_key: String,
}

/// The key the web app subscribes to pushes with; then it registers the subscription as a
/// `web` device at `POST /v1/me/devices`.
#[utoipa::path(get, path = "/v1/notifications/web-push/key", tag = "inbox",
    responses((status = 200, body = WebPushKey),
        (status = 404, description = "Web Push is not configured", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn key(
    axum::extract::State(state): axum::extract::State<crate::NotificationsState>,
) -> Result<axum::Json<WebPushKey>, platform::ApiError> {
    let client = state
        .senders
        .web_push
        .as_ref()
        .ok_or(crate::NotificationsError::WebPushUnavailable)?;
    Ok(axum::Json(WebPushKey {
        public_key: client.public_key().to_owned(),
    }))
}

/// The origin of a URL (`scheme://host[:port]`), the port only when it is not the default.
fn origin(endpoint: &str) -> Option<String> {
    let uri: http::Uri = endpoint.parse().ok()?;
    let scheme = uri.scheme_str()?;
    let host = uri.host()?;
    Some(match uri.port_u16() {
        Some(port) if !matches!((scheme, port), ("https", 443) | ("http", 80)) => {
            format!("{scheme}://{host}:{port}")
        }
        _ => format!("{scheme}://{host}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vapid_audience_is_the_endpoint_origin() {
        assert_eq!(
            origin("https://fcm.googleapis.com/fcm/send/abc").as_deref(),
            Some("https://fcm.googleapis.com")
        );
        assert_eq!(
            origin("https://push.example:443/x").as_deref(),
            Some("https://push.example")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/sandbox/webpush/push/x").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("not a url"), None);
    }
}
