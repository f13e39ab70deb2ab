//! The one error type of the HTTP surface, mapped once to `application/problem+json`
//! (RFC 9457). `code` is a stable snake_case identifier the app keys its own messages on;
//! `detail` is in the resident's language. Server errors keep their cause in the log, never in
//! the body.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
pub use http::StatusCode;
use http::{HeaderValue, header};
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
    /// A client-facing error with its detail in Vietnamese and English. Crates declare theirs
    /// with [`error_codes!`](crate::error_codes), which calls this; nothing else does.
    #[doc(hidden)]
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

    /// A path no route serves, or a route that is switched off here.
    pub fn route_not_found() -> Self {
        SharedError::RouteNotFound.into()
    }

    /// A jurisdiction (a city or province) that does not exist, or not for the caller: the
    /// same words from every service that names jurisdictions.
    pub fn jurisdiction_not_found() -> Self {
        SharedError::JurisdictionNotFound.into()
    }

    /// A failure of ours: the body says only that something went wrong; the cause is logged.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..SharedError::Internal.into()
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

/// One error a service may answer, as the API documents it: its code, status and English words
/// (a template where the words carry details).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: StatusCode,
    pub detail_en: &'static str,
}

/// Declares a crate's errors: each variant owns its code, status and Vietnamese and English
/// words once, with `{field}` placeholders for the details it carries. The enum converts into
/// [`ApiError`] (so `?` and `.into()` work in handlers), and `Enum::CODES` lists every code for
/// the OpenAPI document and the registry's uniqueness test.
///
/// ```ignore
/// platform::error_codes! {
///     pub enum ReportsError {
///         /// No such report, or not the caller's.
///         ReportNotFound = (NOT_FOUND, "report_not_found",
///             "Không có phản ánh này.", "There is no such report."),
///         TooLong { field: &'static str, max: usize } = (UNPROCESSABLE_ENTITY, "too_long",
///             "{field} dài quá {max} ký tự.", "{field} is longer than {max} characters."),
///     }
/// }
/// ```
#[macro_export]
macro_rules! error_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident $({ $($field:ident : $type:ty),* $(,)? })?
                    = ($status:ident, $code:literal, $vi:literal, $en:literal $(,)?)
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant $({ $($field: $type),* })? ),*
        }

        impl $name {
            /// Every code this enum answers with, for the API's documentation.
            pub const CODES: &'static [$crate::error::ErrorCode] = &[
                $( $crate::error::ErrorCode {
                    code: $code,
                    status: $crate::error::StatusCode::$status,
                    detail_en: $en,
                } ),*
            ];

            /// The stable code the app keys its own messages on.
            pub fn code(&self) -> &'static str {
                match self { $( Self::$variant { .. } => $code ),* }
            }
        }

        impl ::core::convert::From<$name> for $crate::error::ApiError {
            #[allow(unused_variables)]
            fn from(error: $name) -> Self {
                match error {
                    $( $name::$variant $({ $($field),* })? => $crate::error::ApiError::new(
                        $crate::error::StatusCode::$status,
                        $code,
                        format!($vi),
                        format!($en),
                    ) ),*
                }
            }
        }

        impl $crate::axum::response::IntoResponse for $name {
            fn into_response(self) -> $crate::axum::response::Response {
                $crate::error::ApiError::from(self).into_response()
            }
        }
    };
}

crate::error_codes! {
    /// The errors every service may answer: the framework's, the extractors', the token
    /// check's and the shared mechanisms' (idempotency, cursors, calls between services).
    pub enum SharedError {
        RouteNotFound = (NOT_FOUND, "route_not_found",
            "Không có đường dẫn này.", "There is no such route."),
        JurisdictionNotFound = (NOT_FOUND, "jurisdiction_not_found",
            "Không có địa bàn này.", "There is no such jurisdiction."),
        /// Built only by [`ApiError::internal`], which keeps the cause for the log.
        Internal = (INTERNAL_SERVER_ERROR, "internal_error",
            "Đã có lỗi xảy ra ở phía máy chủ. Vui lòng thử lại sau.",
            "Something went wrong on our side. Please try again later."),
        ServiceBusy = (SERVICE_UNAVAILABLE, "service_busy",
            "Hệ thống đang quá tải. Vui lòng thử lại sau giây lát.",
            "The service is busy. Please try again in a moment."),
        UpstreamUnavailable = (SERVICE_UNAVAILABLE, "upstream_unavailable",
            "Một dịch vụ liên quan đang tạm thời gián đoạn. Vui lòng thử lại sau.",
            "A service this needs is unavailable. Please try again later."),
        MethodNotAllowed = (METHOD_NOT_ALLOWED, "method_not_allowed",
            "Đường dẫn này không hỗ trợ phương thức đã dùng.",
            "This route does not support the method used."),
        TooLarge = (PAYLOAD_TOO_LARGE, "too_large",
            "Nội dung gửi lên vượt quá giới hạn cho phép.",
            "The request body is larger than allowed."),
        /// A request stopped at the deadline (the framework's 408, answered as 504).
        RequestTimeout = (GATEWAY_TIMEOUT, "request_timeout",
            "Yêu cầu xử lý quá lâu và đã bị dừng.",
            "The request took too long and was stopped."),
        BadRequest = (BAD_REQUEST, "bad_request",
            "Yêu cầu không hợp lệ.", "The request is not valid."),
        /// A body of a type the route does not take; `accepted` names the ones it does.
        UnsupportedMediaType { accepted: &'static str } = (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
            "Không nhận định dạng nội dung này. Chỉ nhận: {accepted}.",
            "This type of content is not accepted. Accepted: {accepted}."),
        InvalidBody { reason: String } = (BAD_REQUEST, "invalid_body",
            "Nội dung không hợp lệ: {reason}", "The body is not valid: {reason}"),
        InvalidQuery { reason: String } = (BAD_REQUEST, "invalid_query",
            "Tham số truy vấn không hợp lệ: {reason}", "Invalid query parameters: {reason}"),
        /// A field of a well-formed body that breaks its rule, said in both languages.
        InvalidField { field: &'static str, rule_vi: String, rule_en: String } = (
            UNPROCESSABLE_ENTITY, "invalid_field", "{field}: {rule_vi}", "{field}: {rule_en}"),
        InvalidText = (BAD_REQUEST, "invalid_text",
            "Văn bản gửi lên chứa ký tự điều khiển không được phép.",
            "The text sent contains control characters, which are not allowed."),
        InvalidCursor = (BAD_REQUEST, "invalid_cursor",
            "Con trỏ trang không hợp lệ.", "The page cursor is not valid."),
        IdempotencyKeyRequired = (BAD_REQUEST, "idempotency_key_required",
            "Cần tiêu đề Idempotency-Key (tối đa 255 ký tự) để yêu cầu không bị thực hiện hai lần.",
            "An Idempotency-Key header (at most 255 characters) is needed so the request is never carried out twice."),
        IdempotencyKeyInUse = (CONFLICT, "idempotency_key_in_use",
            "Yêu cầu trước với Idempotency-Key này đang được xử lý. Vui lòng thử lại sau giây lát.",
            "A request with this Idempotency-Key is still being processed. Please retry in a moment."),
        IdempotencyKeyReused = (UNPROCESSABLE_ENTITY, "idempotency_key_reused",
            "Idempotency-Key này đã được dùng cho một yêu cầu khác.",
            "This Idempotency-Key was used for a different request."),
        Unauthenticated = (UNAUTHORIZED, "unauthenticated",
            "Vui lòng đăng nhập để sử dụng chức năng này.", "Please sign in to use this."),
        InvalidToken = (UNAUTHORIZED, "invalid_token",
            "Phiên đăng nhập không hợp lệ hoặc đã hết hạn. Vui lòng đăng nhập lại.",
            "The sign-in is invalid or has expired. Please sign in again."),
        /// Records filed under the personal ID number (health, a child's school results) are
        /// only for accounts verified with VNeID, which gave us that number.
        VerificationRequired = (FORBIDDEN, "verification_required",
            "Cần định danh điện tử VNeID (mức 2) để xem hồ sơ này. Vui lòng xác thực tài khoản trong mục Cá nhân.",
            "These records need an account verified with VNeID (level 2). Please verify your account under Me."),
        AssuranceTooLow = (FORBIDDEN, "assurance_too_low",
            "Dịch vụ này yêu cầu tài khoản đã định danh điện tử (VNeID).",
            "This service needs an account verified with the national e-ID (VNeID)."),
        // Photos, which media keeps and reports attaches: reports passes media's answers on.
        /// A point off the earth, or a search radius out of range.
        InvalidPosition = (UNPROCESSABLE_ENTITY, "invalid_position",
            "Vị trí (hoặc bán kính tìm kiếm) không hợp lệ.",
            "The position (or the search radius) is not valid."),
        TooManyMedia { max: usize } = (UNPROCESSABLE_ENTITY, "too_many_media",
            "Tối đa {max} ảnh.", "At most {max} photos."),
        /// No such photo, or not where the caller looked (another's, another report's).
        MediaNotFound = (NOT_FOUND, "media_not_found",
            "Không có ảnh này.", "There is no such photo."),
        /// Its derivatives are still being made.
        MediaNotReady = (CONFLICT, "media_not_ready",
            "Ảnh đang được xử lý; hãy thử lại sau giây lát.",
            "The photo is still being processed; try again in a moment."),
        MediaAlreadyAttached = (CONFLICT, "media_already_attached",
            "Ảnh đã được đính kèm vào nội dung khác.",
            "A photo is already attached to something else."),
        /// A photo whose derivatives could not be made cannot be attached.
        MediaFailed = (UNPROCESSABLE_ENTITY, "media_failed",
            "Không xử lý được một ảnh; vui lòng tải lại ảnh đó.",
            "A photo could not be processed; please upload it again."),
        /// A staff-only action by a resident.
        StaffOnly = (FORBIDDEN, "staff_only",
            "Chức năng dành cho cán bộ.", "This is for staff only."),
        ServiceTokenRequired = (UNAUTHORIZED, "service_token_required",
            "Chỉ dành cho các dịch vụ nội bộ.", "For internal services only."),
        // Areas (a list of wards, a GeoJSON polygon or H3 cells), which reports resolves for
        // its own answers and for notifications' broadcasts: one vocabulary for both.
        InvalidArea = (UNPROCESSABLE_ENTITY, "invalid_area",
            "Khu vực phải là đúng một trong: danh sách phường (ít nhất một), một vùng GeoJSON hợp lệ, hoặc các ô H3 cấp 5 đến 15.",
            "The area must be exactly one of: a list of wards (at least one), a valid GeoJSON polygon, or H3 cells of resolution 5 to 15."),
        UnknownWard { ward: String } = (UNPROCESSABLE_ENTITY, "unknown_ward",
            "Không có phường `{ward}` trong địa bàn.", "There is no ward `{ward}` in the jurisdiction."),
        AreaOutsideJurisdiction = (UNPROCESSABLE_ENTITY, "area_outside_jurisdiction",
            "Khu vực nằm ngoài địa bàn.", "The area lies outside the jurisdiction."),
        AreaTooLarge = (UNPROCESSABLE_ENTITY, "area_too_large",
            "Khu vực quá rộng (tối đa khoảng 21.000 km²).", "The area is too large (at most about 21,000 km²)."),
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut => {
                ApiError::from(SharedError::ServiceBusy).with_retry_after(Duration::from_secs(1))
            }
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

/// Turns a bare error response that framework layers produce (an unknown route, a wrong
/// method, a body over the limit, a request timeout: no body type, or plain text) into a
/// problem, so every error a client sees has the same shape.
pub fn problem_for_bare_error(response: Response) -> Response {
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
        StatusCode::METHOD_NOT_ALLOWED => SharedError::MethodNotAllowed.into(),
        StatusCode::PAYLOAD_TOO_LARGE => SharedError::TooLarge.into(),
        StatusCode::REQUEST_TIMEOUT => SharedError::RequestTimeout.into(),
        s if s.is_server_error() => ApiError::internal(anyhow::anyhow!("bare {s} response")),
        // Another 4xx of the framework (a path parameter of the wrong form, ...).
        _ => SharedError::BadRequest.into(),
    };
    let mut problem = error.into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}
