//! Conditional GET: a strong `ETag` computed from the exact body bytes, and `304 Not Modified`
//! when the client's `If-None-Match` already holds it.

use axum::body::Body;
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::ApiError;
use crate::lang::Lang;

/// A JSON response in `lang` that varies by `Accept-Language`, with an ETag, answered with 304
/// when the client already has it.
pub fn localized_json(
    request_headers: &HeaderMap,
    lang: Lang,
    cache_control: &'static str,
    value: &impl Serialize,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    let etag = format!("\"{}\"", &blake3::hash(&body).to_hex()[..32]);
    let not_modified = request_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|list| if_none_match_hits(list, &etag));

    let mut response = if not_modified {
        Response::builder()
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
    } else {
        Response::builder()
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(body))
    }
    .map_err(ApiError::internal)?;
    let headers = response.headers_mut();
    headers.insert(
        ETAG,
        HeaderValue::try_from(etag).map_err(ApiError::internal)?,
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    headers.insert(VARY, HeaderValue::from_static("Accept-Language"));
    headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static(lang.as_str()));
    Ok(response)
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
