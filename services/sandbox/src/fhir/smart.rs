//! SMART Backend Services authorization
//! (https://hl7.org/fhir/smart-app-launch/backend-services.html): a registered client asks
//! `POST /auth/token` for an access token with the `client_credentials` grant, authenticating
//! with a JWT it signs with its own key (`private_key_jwt`, ES384 here); the server checks the
//! signature with the key it registered, `iss` = `sub` = the client id, `aud` = the token
//! endpoint, an `exp` at most five minutes ahead and a `jti` never seen before, and answers
//! an access token valid for five minutes. Errors are RFC 6749's (`invalid_client`,
//! `invalid_grant`, `unsupported_grant_type`, `invalid_scope`). Discovery is
//! `GET /.well-known/smart-configuration`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

/// The client registered for backend services: the health service.
pub const CLIENT_ID: &str = "citizen-health";
/// The private key of [`CLIENT_ID`] (P-384, PKCS#8): a published sandbox credential, for
/// development and tests only.
pub const CLIENT_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDBougf8DsNEjpnJEP0R
jk+Tgj3AqfYvfJedF8WntCmZ3G5ErhXKDKzlcce6LYUZ+jehZANiAAScMu5nivdl
3HoxDEYldGZ0S/GCRlIhjeVTpntaYHhPQ+GWJoPGeXeN/BodZGWfU3XxfcK05mt+
AQx6XX4yA7IkZfU9GOG/KxdJ6ci0YDGRcr4y5p32b/kU7fonXckXcjM=
-----END PRIVATE KEY-----
";
/// Its public key, as the server registered it.
const CLIENT_PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEnDLuZ4r3Zdx6MQxGJXRmdEvxgkZSIY3l
U6Z7WmB4T0PhliaDxnl3jfwaHWRln1N18X3CtOZrfgEMel1+MgOyJGX1PRjhvysX
SenItGAxkXK+Muad9m/5FO36J13JF3Iz
-----END PUBLIC KEY-----
";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long an access token lives.
const TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// Tokens and assertion ids remembered at most: older ones are forgotten first.
const MAX_REMEMBERED: usize = 100_000;
/// The scopes granted: reading every resource, and writing appointments (SMART v2).
const SCOPES: &[&str] = &["system/*.rs", "system/*.read", "system/Appointment.cu"];

/// Access tokens issued, and client assertions already used.
#[derive(Default)]
pub struct Tokens {
    issued: Mutex<HashMap<String, Instant>>,
    used_assertions: Mutex<HashMap<String, Instant>>,
}

impl Tokens {
    /// Whether `token` was issued here and is still alive.
    pub fn valid(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    fn remember(map: &Mutex<HashMap<String, Instant>>, key: String, until: Instant) -> bool {
        let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_REMEMBERED {
            let now = Instant::now();
            map.retain(|_, until| *until > now);
        }
        if map.len() >= MAX_REMEMBERED || map.contains_key(&key) {
            return false;
        }
        map.insert(key, until);
        true
    }
}

/// `GET /.well-known/smart-configuration`.
pub fn configuration(base: &str) -> Response {
    Json(json!({
        "token_endpoint": format!("{base}/auth/token"),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES384"],
        "scopes_supported": SCOPES,
        "capabilities": ["client-confidential-asymmetric"],
    }))
    .into_response()
}

struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Assertion {
    iss: String,
    sub: String,
    jti: String,
}

fn error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /auth/token` (a form).
pub fn token(tokens: &Tokens, base: &str, body: &[u8]) -> Response {
    let request = form(body);
    if request.grant_type.as_deref() != Some("client_credentials") {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let (Some(ASSERTION_TYPE), Some(assertion)) = (
        request.client_assertion_type.as_deref(),
        request.client_assertion.as_deref(),
    ) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "a client_assertion of type jwt-bearer is required",
        );
    };
    let Ok(key) = DecodingKey::from_ec_pem(CLIENT_PUBLIC_KEY_PEM.as_bytes()) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "no key");
    };
    let mut validation = Validation::new(Algorithm::ES384);
    validation.set_audience(&[format!("{base}/auth/token")]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud", "jti"]);
    validation.leeway = 0;
    let claims = match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation) {
        Ok(decoded) => decoded.claims,
        Err(_) => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "the client assertion does not verify (key, algorithm, audience or expiry)",
            );
        }
    };
    let now = chrono::Utc::now().timestamp();
    // Backend services: an assertion lives five minutes at most.
    if claims["exp"].as_i64().is_none_or(|exp| exp > now + 300) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "exp is more than five minutes ahead",
        );
    }
    let Ok(assertion) = serde_json::from_value::<Assertion>(claims) else {
        return error(StatusCode::BAD_REQUEST, "invalid_grant", "claims missing");
    };
    if assertion.iss != CLIENT_ID || assertion.sub != CLIENT_ID {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "iss and sub must be the registered client id",
        );
    }
    let until = Instant::now() + TOKEN_LIFETIME * 2;
    if !Tokens::remember(&tokens.used_assertions, assertion.jti, until) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "this assertion (jti) was used before",
        );
    }
    let asked = request.scope.unwrap_or_default();
    let granted: Vec<&str> = asked
        .split(' ')
        .filter(|scope| SCOPES.contains(scope))
        .collect();
    if granted.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "ask for system/*.rs (or system/*.read)",
        );
    }
    let access = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    if !Tokens::remember(
        &tokens.issued,
        access.clone(),
        Instant::now() + TOKEN_LIFETIME,
    ) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "busy",
        );
    }
    let mut response = Json(json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": TOKEN_LIFETIME.as_secs(),
        "scope": granted.join(" "),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn form(body: &[u8]) -> TokenRequest {
    let mut pairs: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    TokenRequest {
        grant_type: pairs.remove("grant_type"),
        scope: pairs.remove("scope"),
        client_assertion_type: pairs.remove("client_assertion_type"),
        client_assertion: pairs.remove("client_assertion"),
    }
}
