//! Conditional GET: a JSON representation with a strong `ETag` computed from its exact bytes,
//! answered with `304 Not Modified` when the client's `If-None-Match` already holds it.

use axum::body::{Body, Bytes};
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::ApiError;
use crate::lang::Lang;

/// A rendered JSON body and its ETag; cheap to clone and to keep in a cache.
#[derive(Debug, Clone)]
pub struct Representation {
    etag: HeaderValue,
    body: Bytes,
}

impl Representation {
    pub fn json(value: &impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
        let etag = format!("\"{}\"", &blake3::hash(&body).to_hex()[..32]);
        Ok(Self {
            etag: HeaderValue::try_from(etag).map_err(ApiError::internal)?,
            body: Bytes::from(body),
        })
    }

    /// The response in `lang`, which varies by `Accept-Language`: 304 when the client already
    /// has this representation, else 200 with the body.
    pub fn respond(
        &self,
        request_headers: &HeaderMap,
        lang: Lang,
        cache_control: &'static str,
    ) -> Response {
        let etag = self.etag.to_str().unwrap_or_default();
        let not_modified = request_headers
            .get_all(IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|list| if_none_match_hits(list, etag));
        let mut response = if not_modified {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            response
        } else {
            let mut response = Response::new(Body::from(self.body.clone()));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        };
        let headers = response.headers_mut();
        headers.insert(ETAG, self.etag.clone());
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
        headers.insert(VARY, HeaderValue::from_static("Accept-Language"));
        headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(lang.as_str()));
        response
    }
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `W/` is ignored.
fn if_none_match_hits(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(if_none_match_hits("\"a\", \"b\"", "\"b\""));
        assert!(if_none_match_hits("W/\"b\"", "\"b\""));
        assert!(if_none_match_hits("*", "\"b\""));
        assert!(!if_none_match_hits("\"a\"", "\"b\""));
    }
}
