//! Request extractors whose rejections are problems, like every other error.

use axum::extract::rejection::QueryRejection;
use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, Request};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, SharedError};

/// A JSON body; a malformed one, or one with unknown fields, is a 400/415/413 problem naming
/// what is wrong.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| mime.trim().to_ascii_lowercase())
            .is_some_and(|mime| {
                mime.starts_with("application/")
                    && (mime.ends_with("/json") || mime.ends_with("+json"))
            });
        if !is_json {
            return Err(SharedError::UnsupportedMediaType {
                accepted: "JSON (Content-Type: application/json)",
            }
            .into());
        }
        let bytes = bytes::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    SharedError::TooLarge.into()
                } else {
                    invalid_body(&rejection.body_text())
                }
            })?;
        crate::text::check_json(&bytes)?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(invalid_body(&rejection.body_text())),
        }
    }
}

fn invalid_body(reason: &str) -> ApiError {
    SharedError::InvalidBody {
        reason: reason.to_owned(),
    }
    .into()
}

/// Query parameters; bad ones are a 400 problem.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(invalid_query(rejection)),
        }
    }
}

fn invalid_query(rejection: QueryRejection) -> ApiError {
    SharedError::InvalidQuery {
        reason: rejection.body_text(),
    }
    .into()
}

/// The `Idempotency-Key` header a request that must never be carried out twice requires: at
/// most 255 characters; missing, it is a 400 `idempotency_key_required`.
pub struct IdempotencyKey(pub String);

/// The longest `Idempotency-Key` accepted.
pub(crate) const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let key = parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_CHARS {
            return Err(SharedError::IdempotencyKeyRequired.into());
        }
        Ok(IdempotencyKey(key.to_owned()))
    }
}

/// Where a request came from. Behind our gateway the last `X-Forwarded-For` entry is the
/// address the gateway saw (it appends it), so it is the one trusted.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .and_then(|ip| ip.trim().parse().ok());
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(ClientInfo {
            ip: forwarded.or(peer),
            user_agent,
        })
    }
}
