//! An emulator of Firebase Cloud Messaging's HTTP v1 API, so pushes are sent and tested without
//! Firebase:
//!
//! - `POST /sandbox/fcm/token`: Google's OAuth 2.0 token endpoint for service accounts
//!   (RFC 7523 JWT bearer grant): the RS256 assertion is verified against the test service
//!   account's public key (`data/fcm-test-service-account.json`), it must ask for the
//!   `firebase.messaging` or the `cloud-platform` scope (Google's firebase-admin SDKs ask for the
//!   latter), and an access token valid for an hour is issued.
//! - `POST /sandbox/fcm/v1/projects/{project}/messages:send`: validates the message as FCM does
//!   (exactly one target of `token`, `fid`, `topic` or `condition`; condition syntax and its
//!   five-topic limit; string-only `data`, reserved keys, the payload limit counted on keys and
//!   values, TTL range, topic names, boolean Android flags, snake_case or camelCase fields) and
//!   answers with FCM's error envelope.
//! - `POST /sandbox/fcm/control`: tells it to answer a token (or every token) with
//!   `UNREGISTERED`, 429 with `Retry-After`, 500, 503, an HTML 502, ... the next N times.
//! - `GET /sandbox/fcm/deliveries`: what it accepted, for tests to read; `DELETE` forgets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::faults::{self, Faults};
use crate::recorded::Recorded;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The test service account the emulator trusts: TEST ONLY, not a Google key.
pub const TEST_SERVICE_ACCOUNT: &str = include_str!("../data/fcm-test-service-account.json");
const TEST_PUBLIC_KEY: &str = include_str!("../data/fcm-test-service-account.pub.pem");
pub const TEST_PROJECT: &str = "citizen-test";
/// Either grants `messages:send`, as on Google's token endpoint.
const SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
];
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// FCM's limit on a message's payload (its keys and values), and on one sent to topics.
const MAX_PAYLOAD_BYTES: usize = 4096;
const MAX_TOPIC_PAYLOAD_BYTES: usize = 2048;
/// Topics one condition may name.
const MAX_CONDITION_TOPICS: usize = 5;
/// FCM keeps a message at most four weeks.
const MAX_TTL_SECS: f64 = 2_419_200.0;

#[derive(Clone)]
struct Emulator {
    key: Arc<DecodingKey>,
    client_email: Arc<str>,
    /// Access tokens issued, with when they expire.
    tokens: Arc<Mutex<HashMap<String, Instant>>>,
    /// Answers to give instead of success, by registration token (`*` for all).
    faults: Arc<Faults<Answer>>,
    deliveries: Arc<Recorded<Delivery>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Unregistered,
    QuotaExceeded,
    Unavailable,
    Internal,
    Html502,
    SenderIdMismatch,
    ThirdPartyAuthError,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub name: String,
    pub project: String,
    pub message: Value,
    /// When the emulator accepted it (latency measurements read it).
    pub received_at: chrono::DateTime<chrono::Utc>,
}

pub fn router() -> Router {
    let account: Value = serde_json::from_str(TEST_SERVICE_ACCOUNT).unwrap_or_default();
    let emulator = Emulator {
        key: Arc::new(
            DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY.as_bytes())
                .unwrap_or_else(|_| DecodingKey::from_secret(&[])),
        ),
        client_email: account["client_email"].as_str().unwrap_or_default().into(),
        tokens: Arc::default(),
        faults: Arc::default(),
        deliveries: Arc::default(),
    };
    Router::new()
        .route("/token", post(token))
        .route("/v1/projects/{project}/{method}", post(send))
        .route("/control", post(control))
        .route("/deliveries", axum::routing::get(deliveries).delete(forget))
        .with_state(emulator)
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    assertion: String,
}

#[derive(Deserialize)]
struct Assertion {
    iss: String,
    scope: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Google's token endpoint errors: `{"error": ..., "error_description": ...}` with 400.
fn grant_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(
    State(emulator): State<Emulator>,
    headers: HeaderMap,
    Form(request): Form<TokenRequest>,
) -> Response {
    if request.grant_type != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return grant_error("unsupported_grant_type", "Invalid grant_type.");
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.leeway = 60;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
    let claims = match jsonwebtoken::decode::<Assertion>(
        &request.assertion,
        &emulator.key,
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(error) => {
            return match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => grant_error(
                    "invalid_grant",
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
                ),
                _ => grant_error("invalid_grant", "Invalid JWT Signature."),
            };
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let audience_ok = claims.aud == format!("http://{host}/sandbox/fcm/token")
        || claims.aud == "https://oauth2.googleapis.com/token";
    if !audience_ok {
        return grant_error("invalid_grant", "Invalid JWT: Failed audience check.");
    }
    if claims.exp - claims.iat > 3600 || claims.exp <= claims.iat {
        return grant_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    if claims.iss != *emulator.client_email {
        return grant_error("invalid_grant", "Invalid JWT Signature.");
    }
    if !claims.scope.split(' ').any(|s| SCOPES.contains(&s)) {
        return grant_error(
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    let bytes: [u8; 24] = rand::random();
    let access_token = format!(
        "ya29.emulator-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut tokens = emulator.tokens.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    tokens.retain(|_, expires| *expires > now);
    tokens.insert(access_token.clone(), now + TOKEN_LIFETIME);
    Json(json!({
        "access_token": access_token,
        "expires_in": TOKEN_LIFETIME.as_secs() - 1,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// FCM's error envelope (google.rpc.Status), with an `FcmError` detail when there is a code.
fn fcm_error(
    status: StatusCode,
    rpc_status: &str,
    message: &str,
    error_code: Option<&str>,
) -> Response {
    let mut error = json!({ "code": status.as_u16(), "message": message, "status": rpc_status });
    if let Some(code) = error_code {
        error["details"] = json!([{
            "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
            "errorCode": code,
        }]);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

/// Why a send request is refused: a message, or a field FCM names in a `BadRequest` detail.
#[derive(Debug, PartialEq, Eq)]
enum Invalid {
    Message(String),
    Field {
        field: &'static str,
        description: &'static str,
    },
}

impl From<String> for Invalid {
    fn from(message: String) -> Self {
        Invalid::Message(message)
    }
}

impl From<&str> for Invalid {
    fn from(message: &str) -> Self {
        Invalid::Message(message.to_owned())
    }
}

fn invalid(invalid: Invalid) -> Response {
    match invalid {
        Invalid::Message(message) => fcm_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            &message,
            Some("INVALID_ARGUMENT"),
        ),
        // FCM names the field in a google.rpc.BadRequest before its own FcmError detail.
        Invalid::Field { field, description } => {
            let error = json!({
                "code": 400,
                "message": "Request contains an invalid argument.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [{ "field": field, "description": description }],
                    },
                    {
                        "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                        "errorCode": "INVALID_ARGUMENT",
                    },
                ],
            });
            (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
        }
    }
}

async fn send(
    State(emulator): State<Emulator>,
    Path((project, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if method != "messages:send" {
        return StatusCode::NOT_FOUND.into_response();
    }
    emulator.accept(&project, &headers, &body)
}

impl Emulator {
    fn accept(&self, project: &str, headers: &HeaderMap, body: &[u8]) -> Response {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        let authorised = bearer.is_some_and(|token| {
            self.tokens
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(token)
                .is_some_and(|expires| *expires > Instant::now())
        });
        if !authorised {
            return fcm_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                None,
            );
        }
        if project != TEST_PROJECT {
            return fcm_error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                &format!(
                    "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist)."
                ),
                None,
            );
        }
        let request: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(error) => {
                return invalid(format!("Invalid JSON payload received. {error}").into());
            }
        };
        let message = match validate_request(&request) {
            Ok(message) => message,
            Err(refused) => return invalid(refused),
        };
        // Faults are set per device: its registration token or installation ID.
        let target = ["token", "fid"]
            .iter()
            .find_map(|t| message.get(*t).and_then(Value::as_str))
            .unwrap_or("*")
            .to_owned();
        if let Some(response) = self.fault_for(&target) {
            return response;
        }
        let validate_only = field(&request, "validate_only").and_then(Value::as_bool) == Some(true);
        let id: u64 = rand::random::<u64>() >> 11;
        let name = format!("projects/{project}/messages/{id}");
        if !validate_only {
            self.deliveries.push(Delivery {
                name: name.clone(),
                project: project.to_owned(),
                message: message.clone(),
                received_at: chrono::Utc::now(),
            });
        }
        Json(json!({ "name": name })).into_response()
    }

    /// The fault configured for `token` (or for every token), counting it down.
    fn fault_for(&self, token: &str) -> Option<Response> {
        let (answer, retry_after) = self.faults.take(token)?;
        let response = match answer {
            Answer::Unregistered => fcm_error(StatusCode::NOT_FOUND, "NOT_FOUND", "Requested entity was not found.", Some("UNREGISTERED")),
            Answer::QuotaExceeded => fcm_error(StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send messages' and limit 'Send messages per minute'.", Some("QUOTA_EXCEEDED")),
            Answer::Unavailable => fcm_error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "The service is currently unavailable.", Some("UNAVAILABLE")),
            Answer::Internal => fcm_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "Internal error encountered.", Some("INTERNAL")),
            Answer::SenderIdMismatch => fcm_error(StatusCode::FORBIDDEN, "PERMISSION_DENIED", "SenderId mismatch", Some("SENDER_ID_MISMATCH")),
            Answer::ThirdPartyAuthError => fcm_error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service", Some("THIRD_PARTY_AUTH_ERROR")),
            Answer::Html502 => (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
                "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>",
            )
                .into_response(),
        };
        Some(faults::retry_after(response, retry_after))
    }
}

/// A field by its proto name or its lowerCamelCase JSON name: FCM accepts both.
fn field<'a>(object: &'a Value, snake: &str) -> Option<&'a Value> {
    object
        .get(snake)
        .or_else(|| object.get(camel(snake).as_str()))
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Refuses fields the message type does not have, as the proto JSON parser does.
fn known_fields(object: &Map<String, Value>, at: &str, fields: &[&str]) -> Result<(), String> {
    for name in object.keys() {
        if !fields.iter().any(|f| *f == name || camel(f) == *name) {
            return Err(format!(
                "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
            ));
        }
    }
    Ok(())
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("Invalid JSON payload received. Expected an object at '{at}'."))
}

/// A `data` map: string values only, no reserved keys.
fn check_data(data: &Value, at: &str) -> Result<(), String> {
    for (key, value) in object(data, at)? {
        if !value.is_string() {
            return Err(format!(
                "Invalid value at '{at}[{key}]' (TYPE_STRING), {value}"
            ));
        }
        let lower = key.to_ascii_lowercase();
        if ["from", "notification", "message_type"].contains(&lower.as_str())
            || lower.starts_with("google")
            || lower.starts_with("gcm")
        {
            return Err(format!(
                "Invalid data payload key: {key} is a reserved key."
            ));
        }
    }
    Ok(())
}

/// Checks a send request; the message on success.
fn validate_request(request: &Value) -> Result<Value, Invalid> {
    known_fields(object(request, "")?, "", &["message", "validate_only"])?;
    let message = field(request, "message").ok_or("Request contains an invalid argument.")?;
    let fields = object(message, "message")?;
    known_fields(
        fields,
        "message",
        &[
            "name",
            "data",
            "notification",
            "android",
            "webpush",
            "apns",
            "fcm_options",
            "token",
            "fid",
            "topic",
            "condition",
        ],
    )?;
    let targets = ["token", "fid", "topic", "condition"]
        .iter()
        .filter(|t| fields.contains_key(**t))
        .count();
    if targets != 1 {
        return Err("Exactly one of token, fid, topic or condition must be specified.".into());
    }
    if let Some(token) = fields.get("token") {
        let valid = token.as_str().is_some_and(|t| {
            (20..=4096).contains(&t.len())
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
        });
        if !valid {
            return Err("The registration token is not a valid FCM registration token".into());
        }
    }
    if let Some(fid) = fields.get("fid") {
        // A Firebase installation ID is 17 bytes in URL-safe base64: 22 characters.
        let valid = fid.as_str().is_some_and(|f| {
            f.len() == 22
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !valid {
            return Err(Invalid::Field {
                field: "message.fid",
                description: "Invalid Firebase installation ID.",
            });
        }
    }
    if let Some(topic) = fields.get("topic") {
        let name = topic.as_str().unwrap_or_default();
        if !valid_topic(name.strip_prefix("/topics/").unwrap_or(name)) {
            return Err(format!("Invalid topic name: {topic}").into());
        }
    }
    if let Some(condition) = fields.get("condition") {
        let topics = condition.as_str().and_then(condition_topics);
        if topics.is_none_or(|n| n > MAX_CONDITION_TOPICS) {
            return Err(Invalid::Field {
                field: "message.condition",
                description: "Invalid condition expression provided.",
            });
        }
    }
    if let Some(data) = fields.get("data") {
        check_data(data, "message.data")?;
    }
    if let Some(notification) = fields.get("notification") {
        known_fields(
            object(notification, "message.notification")?,
            "message.notification",
            &["title", "body", "image"],
        )?;
    }
    if let Some(android) = fields.get("android") {
        let android_fields = object(android, "message.android")?;
        known_fields(
            android_fields,
            "message.android",
            &[
                "collapse_key",
                "priority",
                "ttl",
                "restricted_package_name",
                "data",
                "notification",
                "fcm_options",
                "direct_boot_ok",
                "bandwidth_constrained_ok",
                "restricted_satellite_ok",
            ],
        )?;
        if let Some(data) = field(android, "data") {
            check_data(data, "message.android.data")?;
        }
        for flag in [
            "direct_boot_ok",
            "bandwidth_constrained_ok",
            "restricted_satellite_ok",
        ] {
            if let Some(value) = field(android, flag)
                && !value.is_boolean()
            {
                return Err(format!(
                    "Invalid value at 'message.android.{flag}' (TYPE_BOOL), {value}"
                )
                .into());
            }
        }
        if let Some(priority) = field(android, "priority")
            && !matches!(
                priority.as_str(),
                Some("NORMAL" | "HIGH" | "normal" | "high")
            )
        {
            return Err(format!(
                "Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), {priority}"
            ).into());
        }
        if let Some(ttl) = field(android, "ttl") {
            let seconds = ttl
                .as_str()
                .and_then(|t| t.strip_suffix('s'))
                .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                .and_then(|t| t.parse::<f64>().ok());
            match seconds {
                Some(s) if (0.0..=MAX_TTL_SECS).contains(&s) => {}
                _ => {
                    return Err(format!(
                        "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), {ttl}"
                    ).into());
                }
            }
        }
    }
    if let Some(webpush) = fields.get("webpush") {
        known_fields(
            object(webpush, "message.webpush")?,
            "message.webpush",
            &["headers", "data", "notification", "fcm_options"],
        )?;
        if let Some(data) = field(webpush, "data") {
            check_data(data, "message.webpush.data")?;
        }
    }
    if let Some(apns) = fields.get("apns") {
        known_fields(
            object(apns, "message.apns")?,
            "message.apns",
            &["headers", "payload", "fcm_options", "live_activity_token"],
        )?;
    }
    let limit = if fields.contains_key("topic") || fields.contains_key("condition") {
        MAX_TOPIC_PAYLOAD_BYTES
    } else {
        MAX_PAYLOAD_BYTES
    };
    let size = payload_bytes(message);
    if size > limit {
        return Err(format!(
            "Message is too big: its payload has {size} bytes of keys and values, the limit is {limit}."
        )
        .into());
    }
    Ok(message.clone())
}

/// A topic name as FCM allows it (without the `/topics/` prefix).
fn valid_topic(name: &str) -> bool {
    (1..=900).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b))
}

/// The number of topics a condition names, if it is one: `'name' in topics` tests joined by
/// `&&` and `||`, grouped with parentheses. FCM has no `!`.
fn condition_topics(condition: &str) -> Option<usize> {
    let mut rest = condition.trim_start();
    let mut topics = 0;
    let mut depth = 0usize;
    // Alternates between an operand (a test or an opening parenthesis) and what may follow one.
    let mut want_operand = true;
    while !rest.is_empty() {
        if want_operand {
            if let Some(after) = rest.strip_prefix('(') {
                depth += 1;
                rest = after;
            } else {
                let (name, after) = rest.strip_prefix('\'')?.split_once('\'')?;
                let after = after.trim_start().strip_prefix("in")?;
                let after = after
                    .strip_prefix(char::is_whitespace)?
                    .trim_start()
                    .strip_prefix("topics")?;
                if !valid_topic(name) || after.starts_with(|c: char| c.is_alphanumeric()) {
                    return None;
                }
                topics += 1;
                want_operand = false;
                rest = after;
            }
        } else if let Some(after) = rest.strip_prefix(')') {
            depth = depth.checked_sub(1)?;
            rest = after;
        } else {
            rest = rest
                .strip_prefix("&&")
                .or_else(|| rest.strip_prefix("||"))?;
            want_operand = true;
        }
        rest = rest.trim_start();
    }
    (!want_operand && depth == 0).then_some(topics)
}

/// What FCM counts against its payload limit: the keys and values of what a device receives
/// (its `data` and notification fields, a platform's own replacing the message's), on the
/// platform that gets the most.
fn payload_bytes(message: &Value) -> usize {
    let data = field(message, "data");
    let notification = field(message, "notification");
    let android = field(message, "android");
    let webpush = field(message, "webpush");
    let apns = field(message, "apns");
    let for_platform = |config: Option<&Value>| {
        let data = config.and_then(|c| field(c, "data")).or(data);
        let mut shown = notification
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(own) = config
            .and_then(|c| field(c, "notification"))
            .and_then(Value::as_object)
        {
            shown.extend(own.clone());
        }
        data.map_or(0, keys_and_values) + keys_and_values(&Value::Object(shown))
    };
    let apple = for_platform(None)
        + apns
            .and_then(|a| field(a, "payload"))
            .map_or(0, keys_and_values);
    for_platform(android).max(for_platform(webpush)).max(apple)
}

/// The bytes of an object's keys and of its values, nested ones counted the same way.
fn keys_and_values(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + keys_and_values(v)).sum(),
        Value::Array(items) => items.iter().map(keys_and_values).sum(),
        Value::String(text) => text.len(),
        Value::Null => 0,
        other => other.to_string().len(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Control {
    /// A registration token or installation ID, or `*` for every device.
    token: String,
    /// What to answer; `null` goes back to success.
    answer: Option<Answer>,
    /// How many requests get it; every one until told otherwise when absent.
    times: Option<u32>,
    retry_after_secs: Option<u64>,
}

async fn control(State(emulator): State<Emulator>, Json(control): Json<Control>) -> StatusCode {
    emulator.faults.set(
        control.token,
        control.answer,
        control.times,
        control.retry_after_secs,
    );
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct DeliveryQuery {
    token: Option<String>,
}

async fn deliveries(
    State(emulator): State<Emulator>,
    Query(query): Query<DeliveryQuery>,
) -> Json<Vec<Delivery>> {
    Json(emulator.deliveries.matching(|d| {
        query
            .token
            .as_deref()
            .is_none_or(|t| d.message.get("token").and_then(Value::as_str) == Some(t))
    }))
}

async fn forget(State(emulator): State<Emulator>) -> StatusCode {
    emulator.deliveries.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_topic_tests_joined_by_and_or_and_parentheses() {
        for (condition, topics) in [
            ("'weather' in topics", 1),
            (
                "'TopicA' in topics && ('TopicB' in topics || 'TopicC' in topics)",
                3,
            ),
            ("('a' in topics||'b' in topics)&&'c' in topics", 3),
            ("  ( ( 'a' in topics ) )  ", 1),
            (
                "'a' in topics && 'b' in topics && 'c' in topics && 'd' in topics && 'e' in topics && 'f' in topics",
                6,
            ),
        ] {
            assert_eq!(condition_topics(condition), Some(topics), "{condition}");
        }
        for condition in [
            "",
            "weather",
            "'weather'",
            "'weather' in topic",
            "'weather' in topicsx",
            "'weather' intopics",
            "\"weather\" in topics",
            "!('weather' in topics)",
            "'a' in topics &&",
            "&& 'a' in topics",
            "'a' in topics 'b' in topics",
            "'a' in topics & 'b' in topics",
            "('a' in topics",
            "'a' in topics)",
            "()",
            "'a b' in topics",
            "'' in topics",
        ] {
            assert_eq!(condition_topics(condition), None, "{condition}");
        }
        // Deep nesting is counted, not recursed into.
        let deep = format!(
            "{}'a' in topics{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert_eq!(condition_topics(&deep), Some(1));
    }

    #[test]
    fn the_payload_limit_counts_keys_and_values_not_the_envelope() {
        let token = "t".repeat(200);
        let at_limit = json!({ "token": token, "data": { "a": "x".repeat(4095) } });
        assert_eq!(payload_bytes(&at_limit), 4096);
        assert!(validate_request(&json!({ "message": at_limit })).is_ok());
        let over = json!({ "token": token, "data": { "a": "x".repeat(4096) } });
        assert!(matches!(
            validate_request(&json!({ "message": over })),
            Err(Invalid::Message(m)) if m.starts_with("Message is too big")
        ));
        // Notification fields count; a platform's data replaces the message's.
        let message = json!({
            "token": token,
            "notification": { "title": "ab", "body": "cd" },
            "data": { "k": "vvvv" },
            "android": { "data": { "k": "v" }, "notification": { "title": "abcdef" } },
        });
        // Apple: k + vvvv + title + ab + body + cd = 1+4+5+2+4+2; Android: 1+1+5+6+4+2.
        assert_eq!(payload_bytes(&message), 19);
        // Messages to topics have half the room.
        let topic = json!({ "topic": "news", "data": { "a": "x".repeat(2048) } });
        assert!(validate_request(&json!({ "message": topic })).is_err());
    }
}
