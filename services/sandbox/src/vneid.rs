//! A sandbox of the national e-ID's identity provider (VNeID) as an OpenID Connect provider:
//! discovery, the authorization-code flow with PKCE (S256 only), a consent page where the
//! tester approves or declines, the token endpoint with client authentication, and ID tokens
//! signed with ES256 carrying `acr` = the identification level (`2`), and the personal ID
//! number (`personal_id`) when the client asked for the `personal_id` scope.
//!
//! One client is registered: `citizen-sandbox` / `citizen-sandbox-secret`, with any redirect URI
//! on a loopback host (this is a development tool).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "citizen-sandbox";
pub const CLIENT_SECRET: &str = "citizen-sandbox-secret";
const CODE_LIFETIME: Duration = Duration::from_secs(60);
const MAX_PENDING_CODES: usize = 10_000;

struct Grant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    subject: String,
    name: String,
    birthdate: String,
    /// The personal ID number, disclosed only when the client asked for the `personal_id`
    /// scope and the person approved.
    personal_id: Option<String>,
    issued: Instant,
}

#[derive(Clone)]
struct Provider {
    key: Arc<EncodingKey>,
    jwk: Arc<serde_json::Value>,
    codes: Arc<Mutex<HashMap<String, Grant>>>,
}

pub fn router() -> Router {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::EncodePrivateKey as _;
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let point = secret.public_key().to_encoded_point(false);
    let coordinate =
        |c: Option<&p256::FieldBytes>| c.map(|c| URL_SAFE_NO_PAD.encode(c)).unwrap_or_default();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "sandbox-1",
        "x": coordinate(point.x()), "y": coordinate(point.y()),
    });
    // A fresh key per start: the sandbox keeps nothing.
    let key = secret
        .to_pkcs8_der()
        .map(|der| EncodingKey::from_ec_der(der.as_bytes()))
        .unwrap_or_else(|_| EncodingKey::from_secret(b"unusable"));
    let provider = Provider {
        key: Arc::new(key),
        jwk: Arc::new(jwk),
        codes: Arc::new(Mutex::new(HashMap::new())),
    };
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize))
        .route("/authorize/decision", post(decide))
        .route("/token", post(token))
        .route("/jwks", get(jwks))
        .with_state(provider)
}

/// The issuer is wherever the sandbox is reached: `http://<host>/sandbox/vneid`.
fn issuer(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}/sandbox/vneid")
}

async fn discovery(headers: HeaderMap) -> Json<serde_json::Value> {
    let issuer = issuer(&headers);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "profile", "personal_id"],
        "acr_values_supported": ["1", "2"],
        "claims_supported": ["sub", "name", "birthdate", "acr", "personal_id"],
    }))
}

async fn jwks(State(provider): State<Provider>) -> Json<serde_json::Value> {
    Json(json!({ "keys": [provider.jwk.as_ref()] }))
}

#[derive(Debug, Deserialize)]
struct AuthorizationRequest {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Only loopback redirect URIs are registered for the sandbox client.
fn registered_redirect(uri: &str) -> bool {
    uri.parse::<Uri>().is_ok_and(|u| {
        matches!(u.scheme_str(), Some("http") | Some("https"))
            && matches!(
                u.host(),
                Some("127.0.0.1") | Some("localhost") | Some("[::1]")
            )
    })
}

fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><meta charset=utf-8><title>VNeID sandbox</title><p>{}</p>",
            escape(message)
        )),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", form_urlencode(v)))
        .collect();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect_uri}{separator}{}", query.join("&"))).into_response()
}

fn form_urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// RFC 6749 §4.1.2.1: a bad client or redirect URI is shown, never redirected to; other
/// errors go back to the client.
async fn authorize(Query(request): Query<AuthorizationRequest>) -> Response {
    let (Some(client_id), Some(redirect_uri)) = (&request.client_id, &request.redirect_uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "client_id và redirect_uri là bắt buộc / client_id and redirect_uri are required",
        );
    };
    if client_id != CLIENT_ID || !registered_redirect(redirect_uri) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Ứng dụng hoặc redirect_uri chưa đăng ký / Unknown client or redirect_uri",
        );
    }
    let state = request.state.clone().unwrap_or_default();
    let fail = |error: &str, description: &str| {
        redirect_with(
            redirect_uri,
            &[
                ("error", error),
                ("error_description", description),
                ("state", &state),
            ],
        )
    };
    if request.response_type.as_deref() != Some("code") {
        return fail("unsupported_response_type", "only code is supported");
    }
    if !request
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .any(|s| s == "openid")
    {
        return fail("invalid_scope", "the openid scope is required");
    }
    let challenge = request.code_challenge.clone().unwrap_or_default();
    if request.code_challenge_method.as_deref() != Some("S256") || challenge.len() != 43 {
        return fail(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        );
    }
    let hidden = [
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("state", state.as_str()),
        ("nonce", request.nonce.as_deref().unwrap_or_default()),
        ("code_challenge", challenge.as_str()),
        ("scope", request.scope.as_deref().unwrap_or_default()),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=hidden name={name} value=\"{}\">",
            escape(value)
        )
    })
    .collect::<String>();
    Html(format!(
        "<!doctype html><html lang=vi><meta charset=utf-8><title>VNeID (sandbox)</title>\
         <h1>Định danh điện tử VNeID (môi trường thử nghiệm)</h1>\
         <p>Ứng dụng <b>{client}</b> yêu cầu xác thực danh tính mức 2. / The app <b>{client}</b> asks to verify your identity (level 2).</p>\
         <form method=post action=\"authorize/decision\">{hidden}\
         <label>Số định danh cá nhân / Personal ID number <input name=personal_id pattern=\"[0-9]{{12}}\" required></label>\
         <label>Họ và tên / Full name <input name=name required></label>\
         <label>Ngày sinh / Date of birth <input name=birthdate type=date required></label>\
         <button name=decision value=approve>Đồng ý / Approve</button>\
         <button name=decision value=decline formnovalidate>Từ chối / Decline</button></form></html>",
        client = escape(client_id)
    ))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct Decision {
    client_id: String,
    redirect_uri: String,
    state: String,
    #[serde(default)]
    nonce: String,
    code_challenge: String,
    decision: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    personal_id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    birthdate: String,
}

async fn decide(State(provider): State<Provider>, Form(decision): Form<Decision>) -> Response {
    if decision.client_id != CLIENT_ID || !registered_redirect(&decision.redirect_uri) {
        return error_page(StatusCode::BAD_REQUEST, "Unknown client or redirect_uri");
    }
    if decision.decision != "approve" {
        return redirect_with(
            &decision.redirect_uri,
            &[("error", "access_denied"), ("state", &decision.state)],
        );
    }
    let valid_id = decision.personal_id.len() == 12
        && decision.personal_id.bytes().all(|b| b.is_ascii_digit());
    if !valid_id
        || decision.name.trim().is_empty()
        || chrono::NaiveDate::parse_from_str(&decision.birthdate, "%Y-%m-%d").is_err()
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Thông tin không hợp lệ / Invalid personal details",
        );
    }
    let code = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    // Pairwise subject: the same person, the same client, the same sub; the ID number stays here.
    let subject = URL_SAFE_NO_PAD.encode(Sha256::digest(format!(
        "{}:{}",
        decision.client_id, decision.personal_id
    )));
    {
        let mut codes = provider.codes.lock().unwrap_or_else(|p| p.into_inner());
        codes.retain(|_, grant| grant.issued.elapsed() < CODE_LIFETIME);
        if codes.len() >= MAX_PENDING_CODES {
            return error_page(StatusCode::SERVICE_UNAVAILABLE, "Too many pending sign-ins");
        }
        codes.insert(
            code.clone(),
            Grant {
                client_id: decision.client_id,
                redirect_uri: decision.redirect_uri.clone(),
                code_challenge: decision.code_challenge,
                nonce: Some(decision.nonce).filter(|n| !n.is_empty()),
                subject,
                name: decision.name.trim().to_owned(),
                birthdate: decision.birthdate,
                personal_id: decision
                    .scope
                    .split(' ')
                    .any(|s| s == "personal_id")
                    .then_some(decision.personal_id),
                issued: Instant::now(),
            },
        );
    }
    redirect_with(
        &decision.redirect_uri,
        &[("code", &code), ("state", &decision.state)],
    )
}

#[derive(Debug, Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// RFC 6749 §5.2 error response.
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"vneid-sandbox\""),
        );
    }
    response
}

/// Client credentials from HTTP Basic (client_secret_basic) or the form (client_secret_post).
fn client_credentials(headers: &HeaderMap, form: &TokenRequest) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = String::from_utf8(STANDARD.decode(basic.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        return Some((id.to_owned(), secret.to_owned()));
    }
    Some((form.client_id.clone()?, form.client_secret.clone()?))
}

async fn token(
    State(provider): State<Provider>,
    headers: HeaderMap,
    Form(form): Form<TokenRequest>,
) -> Response {
    match client_credentials(&headers, &form) {
        Some((id, secret)) if id == CLIENT_ID && secret == CLIENT_SECRET => {}
        _ => {
            return token_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
        }
    }
    if form.grant_type.as_deref() != Some("authorization_code") {
        return token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    // A code works once: taken out whether or not the rest checks out.
    let grant = form.code.as_deref().and_then(|code| {
        provider
            .codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(code)
    });
    let Some(grant) =
        grant.filter(|g| g.issued.elapsed() < CODE_LIFETIME && g.client_id == CLIENT_ID)
    else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown, used or expired code",
        );
    };
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri does not match",
        );
    }
    let verifier = form.code_verifier.unwrap_or_default();
    let verifier_ok = (43..=128).contains(&verifier.len())
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == grant.code_challenge;
    if !verifier_ok {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "PKCE verification failed",
        );
    }
    let now = chrono::Utc::now().timestamp();
    let mut id_header = Header::new(Algorithm::ES256);
    id_header.kid = Some("sandbox-1".to_owned());
    let mut claims = json!({
        "iss": issuer(&headers), "sub": grant.subject, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": grant.nonce, "acr": "2", "name": grant.name, "birthdate": grant.birthdate,
    });
    if let Some(personal_id) = &grant.personal_id {
        claims["personal_id"] = json!(personal_id);
    }
    let Ok(id_token) = jsonwebtoken::encode(&id_header, &claims, &provider.key) else {
        return token_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "cannot sign",
        );
    };
    let mut response = Json(json!({
        "access_token": URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
