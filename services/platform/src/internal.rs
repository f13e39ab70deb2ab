//! Calls one service makes to another's `/internal/` routes, bearing the deployment's service
//! token. The callee is a `tower::Service`: its router when it runs in this process, an HTTP
//! client when it runs elsewhere; either answers with a response, never an error.

use std::convert::Infallible;

use axum::body::Body;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::auth::{Acr, Principal};
use crate::error::{ApiError, SharedError};

pub type ServiceHandle = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// Most bytes an internal answer may have; they are small JSON documents.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct ServiceClient {
    name: &'static str,
    service: ServiceHandle,
    token: SecretString,
}

/// A resident verified with VNeID, as identity tells of them.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VerifiedCitizen {
    /// The personal ID number (12 digits) records are filed under.
    pub national_id: String,
    /// The jurisdiction of their home ward, if they set one.
    pub home_jurisdiction: Option<String>,
}

/// An internal answer: its status and its JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl ServiceClient {
    pub fn new(name: &'static str, service: ServiceHandle, token: SecretString) -> Self {
        Self {
            name,
            service,
            token,
        }
    }

    /// Calls `path` with `body` as JSON. A callee that cannot be reached, or answers 5xx, is a
    /// 503 problem for our caller (the cause is logged).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<Answer, ApiError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.token.expose_secret()),
            )
            .header(header::ACCEPT, "application/json");
        let body = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(body).map_err(ApiError::internal)?)
            }
            None => Body::empty(),
        };
        let request = request.body(body).map_err(ApiError::internal)?;
        let Ok(response) = self.service.clone().oneshot(request).await;
        let status = response.status();
        let bytes = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| self.unavailable(anyhow::anyhow!("reading the answer: {error}")))?
            .to_bytes();
        if status.is_server_error() || status == StatusCode::UNAUTHORIZED {
            let text = String::from_utf8_lossy(&bytes);
            return Err(self.unavailable(anyhow::anyhow!("answered {status}: {text}")));
        }
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|error| self.unavailable(anyhow::anyhow!("not JSON: {error}")))?
        };
        Ok(Answer { status, body })
    }

    /// What identity knows of a caller verified with VNeID: 403 `verification_required` for
    /// any other (or one verified before identity asked VNeID for the number: verifying again
    /// gives it). Only for a client of identity.
    pub async fn verified_citizen(
        &self,
        principal: &Principal,
    ) -> Result<VerifiedCitizen, ApiError> {
        if principal.acr < Acr::Verified {
            return Err(SharedError::VerificationRequired.into());
        }
        let answer = self
            .call(
                Method::GET,
                &format!("/internal/v1/citizens/{}", principal.account_id),
                None::<&()>,
            )
            .await?;
        if !answer.status.is_success() {
            return Err(SharedError::VerificationRequired.into());
        }
        serde_json::from_value(answer.body).map_err(ApiError::internal)
    }

    fn unavailable(&self, cause: anyhow::Error) -> ApiError {
        tracing::warn!(service = self.name, error = %format!("{cause:#}"), "internal call failed");
        ApiError::from(SharedError::UpstreamUnavailable)
            .with_retry_after(std::time::Duration::from_secs(2))
    }
}
