//! What the sandboxes behind OAuth 2.0 client credentials share (OneRoster, the one-stop
//! system, BHXH): the token store, `POST /token` and the bearer check, each sandbox giving its
//! [`Issuer`] (its one client and its realm), what its tokens carry and its own `401` body.
//!
//! - `POST /token` (RFC 6749 §4.4): the client authenticated with HTTP Basic (id and secret
//!   each form-urlencoded before the encoding, §2.3.1), checked first; then `grant_type`, which
//!   must be `client_credentials`; then whatever else the sandbox checks (OneRoster's scopes).
//!   Answers `{"access_token", "token_type": "bearer", "expires_in": 3600}`, and `"scope"` when
//!   the sandbox grants scopes, with `Cache-Control: no-store` and `Pragma: no-cache`. Errors
//!   are RFC 6749's `{"error", "error_description"}` (§5.2) with `Cache-Control: no-store`: no
//!   or wrong client credentials `401 invalid_client` with `WWW-Authenticate: Basic
//!   realm="..."`, no `grant_type` `400 invalid_request`, another one `400
//!   unsupported_grant_type`.
//! - Tokens are 32 random bytes, base64url, kept in memory with what they grant for an hour;
//!   at most [`MAX_TOKENS`] (when full, the expired are dropped first, then the oldest).
//! - The bearer check (RFC 6750): `Authorization: Bearer <token>`, the scheme in any case. No
//!   such header, or an unknown or expired token, is refused with the challenge `Bearer
//!   realm="..."` (and `, error="invalid_token"` when a token was given).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
pub const MAX_TOKENS: usize = 10_000;

/// A sandbox's authorisation server: the one client registered with it (a published sandbox
/// credential) and the realm its challenges name.
pub struct Issuer {
    pub realm: &'static str,
    pub client_id: &'static str,
    pub client_secret: &'static str,
}

/// A token's grant (`G`: OneRoster's scopes, nothing for the others) and its end.
pub struct Issued<G> {
    expires: Instant,
    grant: G,
}

/// The tokens issued, by token (the map open to tests).
pub struct Tokens<G = ()>(pub Mutex<HashMap<String, Issued<G>>>);

impl<G> Default for Tokens<G> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<G: Clone> Tokens<G> {
    /// A new token carrying `grant`, making room first when [`MAX_TOKENS`] are kept.
    pub fn issue_granting(&self, grant: G) -> String {
        let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let now = Instant::now();
        let mut tokens = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, issued| issued.expires > now);
        }
        if tokens.len() >= MAX_TOKENS
            && let Some(oldest) = tokens
                .iter()
                .min_by_key(|(_, issued)| issued.expires)
                .map(|(token, _)| token.clone())
        {
            tokens.remove(&oldest);
        }
        tokens.insert(
            token.clone(),
            Issued {
                expires: now + TOKEN_LIFETIME,
                grant,
            },
        );
        token
    }

    /// What a live token carries; `None` for an unknown or expired one.
    pub fn granted(&self, token: &str) -> Option<G> {
        let tokens = self.0.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(token)
            .filter(|issued| Instant::now() < issued.expires)
            .map(|issued| issued.grant.clone())
    }
}

/// For tests, of the sandboxes whose tokens carry nothing.
#[cfg(test)]
impl Tokens {
    pub fn issue(&self) -> String {
        self.issue_granting(())
    }

    pub fn is_live(&self, token: &str) -> bool {
        self.granted(token).is_some()
    }
}

/// An RFC 6749 error of the token endpoint.
pub struct Refusal {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl Refusal {
    pub fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }
}

/// A call refused for its bearer token.
pub struct Unauthorized {
    /// Whether a token was given (unknown or expired), rather than none.
    pub token_given: bool,
    /// The `WWW-Authenticate` to answer.
    pub challenge: String,
}

impl Unauthorized {
    /// `response`, the sandbox's own `401`, with the challenge.
    pub fn answer(self, mut response: Response) -> Response {
        if let Ok(value) = HeaderValue::from_str(&self.challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl Issuer {
    /// `POST /token` where tokens carry nothing and no `scope` is answered (any asked is
    /// ignored); the form's first `grant_type` counts.
    pub fn token(&self, tokens: &Tokens, headers: &HeaderMap, form: &[u8]) -> Response {
        let grant_type = form_value(form, "grant_type");
        self.token_granting(tokens, headers, grant_type.as_deref(), || Ok(((), None)))
    }

    /// `POST /token`: the client, then `grant_type` (the form's, read as the sandbox reads
    /// its form), then `grant`, which gives what the token carries and the `scope` to answer
    /// (if any), or refuses.
    pub fn token_granting<G: Clone>(
        &self,
        tokens: &Tokens<G>,
        headers: &HeaderMap,
        grant_type: Option<&str>,
        grant: impl FnOnce() -> Result<(G, Option<String>), Refusal>,
    ) -> Response {
        let credentials = basic_credentials(headers);
        if credentials
            .as_ref()
            .map(|(id, secret)| (id.as_str(), secret.as_str()))
            != Some((self.client_id, self.client_secret))
        {
            return self.refuse(Refusal {
                status: StatusCode::UNAUTHORIZED,
                error: "invalid_client",
                description:
                    "the client must authenticate with HTTP Basic and its registered credentials"
                        .to_owned(),
            });
        }
        match grant_type {
            Some("client_credentials") => {}
            None => {
                return self.refuse(Refusal::bad_request(
                    "invalid_request",
                    "grant_type is required",
                ));
            }
            Some(_) => {
                return self.refuse(Refusal::bad_request(
                    "unsupported_grant_type",
                    "only client_credentials is supported",
                ));
            }
        }
        let (grant, scope) = match grant() {
            Ok(granted) => granted,
            Err(refusal) => return self.refuse(refusal),
        };
        let mut body = json!({
            "access_token": tokens.issue_granting(grant),
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME.as_secs(),
        });
        if let Some(scope) = scope {
            body["scope"] = json!(scope);
        }
        let mut response = Json(body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }

    fn refuse(&self, refusal: Refusal) -> Response {
        let mut response = (
            refusal.status,
            Json(json!({ "error": refusal.error, "error_description": refusal.description })),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if refusal.status == StatusCode::UNAUTHORIZED
            && let Ok(value) = HeaderValue::from_str(&format!(r#"Basic realm="{}""#, self.realm))
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// What the live bearer token of a call carries, or why the call is refused.
    pub fn bearer<G: Clone>(
        &self,
        tokens: &Tokens<G>,
        headers: &HeaderMap,
    ) -> Result<G, Unauthorized> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let realm = self.realm;
        match token {
            None => Err(Unauthorized {
                token_given: false,
                challenge: format!(r#"Bearer realm="{realm}""#),
            }),
            Some(token) => tokens.granted(token).ok_or_else(|| Unauthorized {
                token_given: true,
                challenge: format!(r#"Bearer realm="{realm}", error="invalid_token""#),
            }),
        }
    }
}

/// The first value of `name` in a form (`application/x-www-form-urlencoded`).
fn form_value(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.into_owned())
}

/// The client id and secret of an HTTP Basic `Authorization` (each form-urlencoded before
/// the encoding, RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const ISSUER: Issuer = Issuer {
        realm: "test-realm",
        client_id: "a client:1",
        client_secret: "s3cret%&",
    };

    fn authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    /// HTTP Basic as RFC 6749 §2.3.1 has it: each part form-urlencoded, then base64.
    fn basic(id: &str, secret: &str) -> HeaderMap {
        let encode =
            |part: &str| form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(id), encode(secret));
        authorization(&format!("Basic {}", STANDARD.encode(pair)))
    }

    async fn read(response: Response) -> (StatusCode, HeaderMap, String) {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    fn no_grant() -> Result<((), Option<String>), Refusal> {
        panic!("the grant is asked for only once the client and grant type are right")
    }

    #[tokio::test]
    async fn the_client_comes_first_then_the_grant_type_then_the_grant() {
        let tokens = Tokens::default();
        for headers in [
            HeaderMap::new(),
            basic(ISSUER.client_id, "wrong"),
            // The id's colon not encoded: the secret starts after it.
            authorization(&format!("Basic {}", STANDARD.encode("a client:1:s3cret%&"))),
            authorization("Bearer abc"),
            authorization("Basic !!!"),
        ] {
            let (status, headers, body) =
                read(ISSUER.token_granting(&tokens, &headers, None, no_grant)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                headers[header::WWW_AUTHENTICATE],
                r#"Basic realm="test-realm""#
            );
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
            assert_eq!(
                body,
                r#"{"error":"invalid_client","error_description":"the client must authenticate with HTTP Basic and its registered credentials"}"#
            );
        }

        let client = basic(ISSUER.client_id, ISSUER.client_secret);
        for (grant_type, error, description) in [
            (None, "invalid_request", "grant_type is required"),
            (
                Some("password"),
                "unsupported_grant_type",
                "only client_credentials is supported",
            ),
        ] {
            let (status, headers, body) =
                read(ISSUER.token_granting(&tokens, &client, grant_type, no_grant)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
            assert_eq!(headers[header::CACHE_CONTROL], "no-store");
            assert_eq!(
                body,
                format!(r#"{{"error":"{error}","error_description":"{description}"}}"#)
            );
        }

        let refused = ISSUER.token_granting(&tokens, &client, Some("client_credentials"), || {
            Err::<((), _), _>(Refusal::bad_request("invalid_scope", "unknown scope x"))
        });
        let (status, headers, body) = read(refused).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(
            body,
            r#"{"error":"invalid_scope","error_description":"unknown scope x"}"#
        );
        assert!(tokens.0.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_token_carries_its_grant_and_the_scope_is_answered_when_given() {
        let tokens = Tokens::<&str>::default();
        // The scheme in any case, the parts form-urlencoded.
        let mut client = basic(ISSUER.client_id, ISSUER.client_secret);
        let value = client[header::AUTHORIZATION]
            .to_str()
            .unwrap()
            .replace("Basic", "basic");
        client.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).unwrap(),
        );

        let granted = ISSUER.token_granting(&tokens, &client, Some("client_credentials"), || {
            Ok(("reader", Some("read".to_owned())))
        });
        let (status, headers, body) = read(granted).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::PRAGMA], "no-cache");
        let body: Value = serde_json::from_str(&body).unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(
            body,
            json!({ "access_token": token, "token_type": "bearer", "expires_in": 3600, "scope": "read" })
        );
        assert_eq!(token.len(), 43);
        assert_eq!(tokens.granted(&token), Some("reader"));
        assert_eq!(
            ISSUER
                .bearer(&tokens, &authorization(&format!("  bearer   {token} ")))
                .ok(),
            Some("reader")
        );

        let plain = ISSUER.token_granting(&tokens, &client, Some("client_credentials"), || {
            Ok(("plain", None))
        });
        let body: Value = serde_json::from_str(&read(plain).await.2).unwrap();
        assert!(body.get("scope").is_none(), "{body}");
        assert_ne!(body["access_token"], json!(token));
    }

    #[test]
    fn a_call_without_a_live_bearer_token_is_challenged() {
        let tokens = Tokens::default();
        let expired = "expired".to_owned();
        tokens.0.lock().unwrap().insert(
            expired.clone(),
            Issued {
                expires: Instant::now(),
                grant: (),
            },
        );
        for headers in [
            HeaderMap::new(),
            authorization("Basic abc"),
            authorization("Bearer"),
        ] {
            let refused = ISSUER.bearer(&tokens, &headers).unwrap_err();
            assert!(!refused.token_given);
            assert_eq!(refused.challenge, r#"Bearer realm="test-realm""#);
        }
        for token in ["unknown", &expired] {
            let headers = authorization(&format!("Bearer {token}"));
            let refused = ISSUER.bearer(&tokens, &headers).unwrap_err();
            assert!(refused.token_given);
            assert_eq!(
                refused.challenge,
                r#"Bearer realm="test-realm", error="invalid_token""#
            );
            let answer = refused.answer((StatusCode::UNAUTHORIZED, "no").into_response());
            assert_eq!(
                answer.headers()[header::WWW_AUTHENTICATE],
                r#"Bearer realm="test-realm", error="invalid_token""#
            );
        }
        assert!(!tokens.is_live(&expired));
        let live = tokens.issue();
        assert!(tokens.is_live(&live));
        assert_eq!(
            ISSUER
                .bearer(&tokens, &authorization(&format!("Bearer {live}")))
                .ok(),
            Some(())
        );
    }

    #[test]
    fn when_full_every_expired_token_goes_before_the_oldest_live_one() {
        let tokens = Tokens::default();
        let now = Instant::now();
        {
            let mut map = tokens.0.lock().unwrap();
            for i in 0..MAX_TOKENS {
                // Two expired, the rest live, the oldest live one `live-2`.
                let expires = match i {
                    0 | 1 => now,
                    _ => now + TOKEN_LIFETIME + Duration::from_millis(i as u64),
                };
                let name = if i < 2 { "expired" } else { "live" };
                map.insert(format!("{name}-{i}"), Issued { expires, grant: () });
            }
        }
        let newest = tokens.issue();
        {
            let map = tokens.0.lock().unwrap();
            assert_eq!(map.len(), MAX_TOKENS - 1);
            assert!(map.keys().all(|token| !token.starts_with("expired")));
        }
        assert!(tokens.is_live("live-2"));
        assert!(tokens.is_live(&newest));

        // The room the expired left, then, full of live tokens, the oldest goes.
        let again = tokens.issue();
        assert!(tokens.is_live("live-2"));
        let last = tokens.issue();
        let map = tokens.0.lock().unwrap();
        assert_eq!(map.len(), MAX_TOKENS);
        assert!(!map.contains_key("live-2"));
        assert!(map.contains_key("live-3"));
        assert!(
            [&newest, &again, &last]
                .iter()
                .all(|t| map.contains_key(*t))
        );
    }

    #[tokio::test]
    async fn a_plain_token_takes_the_first_grant_type_and_ignores_a_scope() {
        let tokens = Tokens::default();
        let client = basic(ISSUER.client_id, ISSUER.client_secret);
        let form = b"scope=a+b&grant_type=client%5Fcredentials&grant_type=password";
        let (status, headers, body) = read(ISSUER.token(&tokens, &client, form)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body.get("scope").is_none(), "{body}");
        assert!(tokens.is_live(body["access_token"].as_str().unwrap()));

        let form = b"grant_type=password&grant_type=client_credentials";
        let (status, _, body) = read(ISSUER.token(&tokens, &client, form)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("unsupported_grant_type"), "{body}");
    }
}
