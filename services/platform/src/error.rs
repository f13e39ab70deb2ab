//! The one error type of the HTTP surface, mapped once to `application/problem+json`
//! (RFC 9457). `code` is a stable snake_case identifier the app keys its own messages on;
//! `detail` is in the resident's language. Server errors keep their cause in the log, never in
//! the body.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::lang::Lang;
use crate::request::RequestContext;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail_vi: String,
    detail_en: String,
    retry_after: Option<Duration>,
    /// Extra response headers, such as `WWW-Authenticate`.
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// What went wrong inside, for the log only.
    cause: Option<anyhow::Error>,
}

impl ApiError {
    /// A client-facing error with its detail in Vietnamese and English.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        detail_vi: impl Into<String>,
        detail_en: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            detail_vi: detail_vi.into(),
            detail_en: detail_en.into(),
            retry_after: None,
            headers: Vec::new(),
            cause: None,
        }
    }

    pub fn bad_request(
        code: &'static str,
        detail_vi: impl Into<String>,
        detail_en: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail_vi, detail_en)
    }

    pub fn not_found(
        code: &'static str,
        detail_vi: impl Into<String>,
        detail_en: impl Into<String>,
    ) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail_vi, detail_en)
    }

    /// A path no route serves, or a route that is switched off here.
    pub fn route_not_found() -> Self {
        Self::not_found(
            "route_not_found",
            "Không có đường dẫn này.",
            "There is no such route.",
        )
    }

    /// A jurisdiction (a city or province) that does not exist, or not for the caller: the
    /// same words from every service that names jurisdictions.
    pub fn jurisdiction_not_found() -> Self {
        Self::not_found(
            "jurisdiction_not_found",
            "Không có địa bàn này.",
            "There is no such jurisdiction.",
        )
    }

    /// A failure of ours: the body says only that something went wrong; the cause is logged.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Đã có lỗi xảy ra ở phía máy chủ. Vui lòng thử lại sau.",
                "Something went wrong on our side. Please try again later.",
            )
        }
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// `code: detail` in English, for a command line.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.code, self.detail_en)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_busy",
                "Hệ thống đang quá tải. Vui lòng thử lại sau giây lát.",
                "The service is busy. Please try again in a moment.",
            )
            .with_retry_after(Duration::from_secs(1)),
            other => ApiError::internal(other),
        }
    }
}

/// An error, as RFC 9457 `application/problem+json`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:citizen:problem:<code>`.
    #[serde(rename = "type")]
    #[schema(example = "urn:citizen:problem:service_not_found")]
    kind: String,
    /// Short summary of the status, in the resident's language.
    title: String,
    status: u16,
    /// What went wrong with this request, in the resident's language.
    detail: String,
    /// Stable snake_case identifier to key the app's own messages on.
    #[schema(example = "service_not_found")]
    code: String,
    /// `urn:citizen:request:<request id>`, to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
}

fn title(status: StatusCode, lang: Lang) -> &'static str {
    let (vi, en) = match status.as_u16() {
        400 => ("Yêu cầu không hợp lệ", "Bad request"),
        401 => ("Chưa đăng nhập", "Unauthorized"),
        403 => ("Không có quyền", "Forbidden"),
        404 => ("Không tìm thấy", "Not found"),
        405 => ("Phương thức không được hỗ trợ", "Method not allowed"),
        408 => ("Hết thời gian chờ yêu cầu", "Request timeout"),
        409 => ("Xung đột", "Conflict"),
        413 => ("Dữ liệu quá lớn", "Payload too large"),
        415 => ("Định dạng không được hỗ trợ", "Unsupported media type"),
        422 => ("Dữ liệu không hợp lệ", "Unprocessable content"),
        429 => ("Quá nhiều yêu cầu", "Too many requests"),
        502 => ("Lỗi cổng kết nối", "Bad gateway"),
        503 => ("Dịch vụ tạm thời không sẵn sàng", "Service unavailable"),
        504 => ("Hết thời gian chờ dịch vụ", "Gateway timeout"),
        s if s >= 500 => ("Lỗi máy chủ", "Internal server error"),
        _ => ("Lỗi", "Error"),
    };
    lang.pick(vi, en)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let context = RequestContext::current();
        let lang = context.as_ref().map(|c| c.lang).unwrap_or_default();
        if self.status.is_server_error() {
            match &self.cause {
                Some(cause) => {
                    tracing::error!(code = self.code, error = %format!("{cause:#}"), "request failed")
                }
                None => tracing::warn!(code = self.code, "request failed"),
            }
        }
        let body = Problem {
            kind: format!("urn:citizen:problem:{}", self.code),
            title: title(self.status, lang).to_owned(),
            status: self.status.as_u16(),
            detail: lang.pick(&self.detail_vi, &self.detail_en).to_owned(),
            code: self.code.to_owned(),
            instance: context.map(|c| format!("urn:citizen:request:{}", c.request_id)),
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(
            header::CONTENT_LANGUAGE,
            HeaderValue::from_static(lang.as_str()),
        );
        for (name, value) in self.headers {
            headers.insert(name, value);
        }
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        response
    }
}

/// Middleware: turns the bare error responses that framework layers produce (an unknown route,
/// a wrong method, a body over the limit, a request timeout: no body type, or plain text) into
/// problems, so every error a client sees has the same shape.
pub async fn problem_for_bare_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // Framework errors come with no body type or plain text; anything else was written on
    // purpose (a problem, an OAuth error document, a page) and is left alone.
    let is_bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !is_bare {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::route_not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "Đường dẫn này không hỗ trợ phương thức đã dùng.",
            "This route does not support the method used.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "too_large",
            "Nội dung gửi lên vượt quá giới hạn cho phép.",
            "The request body is larger than allowed.",
        ),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "request_timeout",
            "Yêu cầu xử lý quá lâu và đã bị dừng.",
            "The request took too long and was stopped.",
        ),
        s if s.is_server_error() => ApiError::internal(anyhow::anyhow!("bare {s} response")),
        s => ApiError::new(
            s,
            "bad_request",
            "Yêu cầu không hợp lệ.",
            "The request is not valid.",
        ),
    };
    let mut problem = error.into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}
