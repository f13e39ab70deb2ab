//! Per-request context: the request id (accepted from `x-request-id` or generated) and the
//! resident's language, available to everything the request runs, including the error
//! mapping, without threading them through every function.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderName, HeaderValue};
use uuid::Uuid;

use crate::lang::Lang;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id accepted from a client; longer ones are replaced, not truncated.
const MAX_REQUEST_ID_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub lang: Lang,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

impl RequestContext {
    /// The context of the request being handled, if any.
    pub fn current() -> Option<RequestContext> {
        CONTEXT.try_with(Clone::clone).ok()
    }
}

fn acceptable_request_id(value: &HeaderValue) -> Option<&str> {
    let id = value.to_str().ok()?;
    let well_formed = !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    well_formed.then_some(id)
}

/// Settles the request's id (the client's, when acceptable, else a new one) on its headers,
/// so upstreams and in-process services see the same one, and reads its language.
pub fn settle(request: &mut Request) -> RequestContext {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_request_id)
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    RequestContext {
        lang: Lang::negotiate(request.headers()),
        request_id,
    }
}

impl RequestContext {
    /// Runs `handling` with this context as the current one, and echoes the id on its answer.
    pub async fn scope(self, handling: impl Future<Output = Response>) -> Response {
        let id = HeaderValue::from_str(&self.request_id).ok();
        let mut response = CONTEXT.scope(self, handling).await;
        if let Some(id) = id {
            response.headers_mut().insert(REQUEST_ID.clone(), id);
        }
        response
    }
}

/// Middleware: settles the request id, opens the request's context, and echoes the id on the
/// response.
pub async fn context_middleware(mut request: Request, next: Next) -> Response {
    settle(&mut request).scope(next.run(request)).await
}
