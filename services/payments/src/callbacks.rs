//! What the providers send us: the server-to-server notification (IPN) that settles a payment,
//! and the payer's browser coming back. The browser's return is signed too, but a payer holds
//! it and may replay or forge a lost one, so it only tells us the payer is back (`pending`);
//! only the IPN or our own query settles.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use platform::ApiError;
use platform::lang::Lang;
use serde_json::json;
use uuid::Uuid;

use crate::providers::ProviderName;
use crate::providers::momo::Notification;
use crate::providers::vnpay;
use crate::settle::{self, Settled};
use crate::{PaymentsError, PaymentsState};

fn pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .take(64)
        .collect()
}

/// VNPay's IPN: answered with `{"RspCode","Message"}` as VNPay documents (`00` confirmed,
/// `01` unknown order, `02` already confirmed, `04` wrong amount, `97` bad signature, `99`
/// anything else, which VNPay retries).
#[utoipa::path(get, path = "/v1/payments/ipn/vnpay", tag = "payment-providers",
    params(("vnp_TxnRef" = String, Query, description = "And the other signed `vnp_*` result parameters")),
    responses((status = 200, description = "`{\"RspCode\":\"00\",\"Message\":\"Confirm Success\"}` and the other documented codes")))]
pub async fn vnpay_ipn(State(state): State<PaymentsState>, RawQuery(query): RawQuery) -> Response {
    let answer = |code: &str, message: &str| {
        Json(json!({ "RspCode": code, "Message": message })).into_response()
    };
    let Ok(client) = state.providers.vnpay() else {
        return answer("99", "Unknown error");
    };
    let params = pairs(query);
    if !client.verify(&params) {
        return answer("97", "Invalid signature");
    }
    let Ok((reference, outcome)) = vnpay::outcome_of(&params) else {
        return answer("99", "Invalid request");
    };
    match settle::apply(&state, ProviderName::Vnpay, &reference, &outcome).await {
        Ok(Settled::Applied | Settled::StillPending) => answer("00", "Confirm Success"),
        Ok(Settled::AlreadyFinal) => answer("02", "Order already confirmed"),
        Ok(Settled::NotFound) => answer("01", "Order not found"),
        Ok(Settled::AmountMismatch) => answer("04", "Invalid amount"),
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "a VNPay IPN could not be applied; VNPay will retry");
            answer("99", "Unknown error")
        }
    }
}

/// MoMo's IPN: acknowledged with 204 once handled; MoMo retries anything else.
#[utoipa::path(post, path = "/v1/payments/ipn/momo", tag = "payment-providers",
    request_body(content = Object, description = "MoMo's signed result"),
    responses(
        (status = 204, description = "Handled (also for a notification already handled)"),
        (status = 400, body = platform::error::Problem, description = "`invalid_callback_signature`"),
        (status = 404, body = platform::error::Problem, description = "`payment_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`amount_mismatch`"),
    ))]
pub async fn momo_ipn(
    State(state): State<PaymentsState>,
    Json(notification): Json<Notification>,
) -> Result<StatusCode, ApiError> {
    let client = state
        .providers
        .momo()
        .map_err(|_| ApiError::route_not_found())?;
    if !client.verify(&notification) {
        return Err(PaymentsError::InvalidCallbackSignature.into());
    }
    let settled = settle::apply(
        &state,
        ProviderName::Momo,
        &notification.order_id,
        &notification.outcome(),
    )
    .await
    .map_err(ApiError::internal)?;
    match settled {
        Settled::Applied | Settled::AlreadyFinal | Settled::StillPending => {
            Ok(StatusCode::NO_CONTENT)
        }
        Settled::NotFound => Err(PaymentsError::PaymentNotFound.into()),
        Settled::AmountMismatch => Err(PaymentsError::AmountMismatch.into()),
    }
}

/// The payer's browser back from VNPay.
#[utoipa::path(get, path = "/v1/payments/return/vnpay", tag = "payment-providers",
    params(("vnp_TxnRef" = String, Query, description = "And the other signed `vnp_*` result parameters")),
    responses(
        (status = 200, description = "A page telling the payer the result is being confirmed", content_type = "text/html"),
        (status = 400, description = "The link is not VNPay's", content_type = "text/html"),
    ))]
pub async fn vnpay_return(
    State(state): State<PaymentsState>,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::negotiate(&headers);
    let params = pairs(query);
    let verified = state
        .providers
        .vnpay()
        .is_ok_and(|client| client.verify(&params));
    let reference = vnpay::outcome_of(&params).ok().map(|(r, _)| r);
    match (verified, reference) {
        (true, Some(reference)) => back(&state, lang, ProviderName::Vnpay, &reference).await,
        _ => invalid_link(lang),
    }
}

/// The payer's browser back from MoMo.
#[utoipa::path(get, path = "/v1/payments/return/momo", tag = "payment-providers",
    params(("orderId" = String, Query, description = "And the other signed result fields")),
    responses(
        (status = 200, description = "A page telling the payer the result is being confirmed", content_type = "text/html"),
        (status = 400, description = "The link is not MoMo's", content_type = "text/html"),
    ))]
pub async fn momo_return(
    State(state): State<PaymentsState>,
    headers: axum::http::HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::negotiate(&headers);
    // The return's fields as JSON text (MoMo's numbers arrive as text and are read as such).
    let fields: serde_json::Map<String, serde_json::Value> = pairs(query)
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let notification: Option<Notification> =
        serde_json::from_value(serde_json::Value::Object(fields)).ok();
    match notification {
        Some(n) if state.providers.momo().is_ok_and(|c| c.verify(&n)) => {
            back(&state, lang, ProviderName::Momo, &n.order_id).await
        }
        _ => invalid_link(lang),
    }
}

/// Marks the payer back (`pending`) and tells them the result is being confirmed.
async fn back(
    state: &PaymentsState,
    lang: Lang,
    provider: ProviderName,
    reference: &str,
) -> Response {
    let id: Option<Uuid> = match sqlx::query_scalar!(
        r#"WITH back AS (
               UPDATE payment_intents SET status = 'pending', updated_at = now()
               WHERE provider = $1 AND provider_ref = $2 AND status IN ('created', 'redirected')
               RETURNING id)
           SELECT id AS "id!" FROM back
           UNION ALL
           SELECT id FROM payment_intents WHERE provider = $1 AND provider_ref = $2"#,
        provider.as_str(),
        reference
    )
    .fetch_optional(&state.pool)
    .await
    {
        Ok(id) => id,
        Err(error) => {
            tracing::warn!(error = %error, "could not mark a payer back");
            None
        }
    };
    let Some(id) = id else {
        return invalid_link(lang);
    };
    let link = format!("{}/{id}", state.config.app_return_url.trim_end_matches('/'));
    let (title, text, open) = match lang {
        Lang::Vi => (
            "Đang xác nhận thanh toán",
            "Cảm ơn bạn. Chúng tôi đang chờ cổng thanh toán xác nhận giao dịch; kết quả sẽ hiện trong ứng dụng và được gửi thông báo cho bạn.",
            "Mở ứng dụng",
        ),
        Lang::En => (
            "Confirming your payment",
            "Thank you. We are waiting for the payment provider to confirm the payment; the result will show in the app and you will be notified.",
            "Open the app",
        ),
    };
    page(StatusCode::OK, lang, title, text, Some((&link, open)))
}

fn invalid_link(lang: Lang) -> Response {
    let (title, text) = match lang {
        Lang::Vi => (
            "Liên kết không hợp lệ",
            "Liên kết này không phải do cổng thanh toán tạo ra. Vui lòng xem kết quả trong ứng dụng.",
        ),
        Lang::En => (
            "Invalid link",
            "This link was not made by the payment provider. Please see the result in the app.",
        ),
    };
    page(StatusCode::BAD_REQUEST, lang, title, text, None)
}

fn page(
    status: StatusCode,
    lang: Lang,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = link
        .map(|(href, label)| format!(r#"<p><a href="{}">{label}</a></p>"#, escape(href)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html><html lang="{}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p>{link}</body></html>"#,
        lang.as_str()
    );
    (status, Html(body)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
