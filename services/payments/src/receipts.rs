//! Receipts: what a paid payment was, in Vietnamese and in English, for its payer.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::lang::Lang;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::intents::{Payment, visible};
use crate::{PaymentsError, PaymentsState};

#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    receipt_number: String,
    payment_id: Uuid,
    /// When the provider confirmed it, in Huế time.
    paid_at: String,
    /// VND.
    amount: i64,
    refunded_amount: i64,
    provider: String,
    provider_transaction: Option<String>,
    biller_id: String,
    customer_code: String,
    bill_id: String,
    vi: ReceiptText,
    en: ReceiptText,
}

/// The receipt as a person reads it, in one language.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptText {
    title: String,
    /// Label and value, in order.
    lines: Vec<(String, String)>,
}

/// The receipt of one of the caller's paid payments.
#[utoipa::path(get, path = "/v1/payments/{id}/receipt", operation_id = "get_receipt", tag = "payments",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Receipt),
        (status = 404, body = platform::error::Problem, description = "`payment_not_found`: none, or not the caller's"),
        (status = 409, body = platform::error::Problem, description = "`not_paid`: no receipt until the provider confirms"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Receipt>, ApiError> {
    let payment = visible(&state, &principal, id).await?;
    let provider_txn =
        sqlx::query_scalar!("SELECT provider_txn FROM payment_intents WHERE id = $1", id)
            .fetch_one(&state.pool)
            .await?;
    let (Some(number), Some(paid_at)) = (payment.receipt_number.clone(), payment.settled_at) else {
        return Err(PaymentsError::NotPaid.into());
    };
    Ok(Json(receipt(&payment, number, paid_at, provider_txn)))
}

fn receipt(
    payment: &Payment,
    number: String,
    paid_at: DateTime<Utc>,
    provider_txn: Option<String>,
) -> Receipt {
    let local = paid_at.with_timezone(&platform::vietnam_time::OFFSET);
    let hue = local.to_rfc3339();
    let clock = local.format("%H:%M %d/%m/%Y").to_string();
    let provider_name = match payment.provider.as_str() {
        "vnpay" => "VNPay",
        "momo" => "Ví MoMo",
        other => other,
    };
    let txn = provider_txn.clone().unwrap_or_default();
    let line = |label: &str, value: String| (label.to_owned(), value);
    let mut vi = vec![
        line("Số biên lai", number.clone()),
        line("Thời gian", clock.clone()),
        line("Nội dung", payment.description_vi.clone()),
        line("Đơn vị thu", payment.biller_name_vi.clone()),
        line("Mã khách hàng", payment.customer_code.clone()),
        line("Khách hàng", payment.customer_name.clone()),
        line("Số tiền", vnd_vi(payment.amount)),
        line("Phương thức", provider_name.to_owned()),
        line("Mã giao dịch", txn.clone()),
    ];
    let mut en = vec![
        line("Receipt number", number.clone()),
        line("Time", clock),
        line("For", payment.description_en.clone()),
        line("Biller", payment.biller_name_en.clone()),
        line("Customer code", payment.customer_code.clone()),
        line("Customer", payment.customer_name.clone()),
        line("Amount", vnd_en(payment.amount)),
        line("Paid with", provider_name.replace("Ví ", "")),
        line("Transaction", txn),
    ];
    if payment.refunded_amount > 0 {
        vi.push(line("Đã hoàn tiền", vnd_vi(payment.refunded_amount)));
        en.push(line("Refunded", vnd_en(payment.refunded_amount)));
    }
    Receipt {
        receipt_number: number,
        payment_id: payment.id,
        paid_at: hue,
        amount: payment.amount,
        refunded_amount: payment.refunded_amount,
        provider: payment.provider.clone(),
        provider_transaction: provider_txn,
        biller_id: payment.biller_id.clone(),
        customer_code: payment.customer_code.clone(),
        bill_id: payment.bill_id.clone(),
        vi: ReceiptText {
            title: "Biên lai thanh toán".to_owned(),
            lines: vi,
        },
        en: ReceiptText {
            title: "Payment receipt".to_owned(),
            lines: en,
        },
    }
}

fn vnd_vi(amount: i64) -> String {
    platform::lang::vnd(amount, Lang::Vi)
}

fn vnd_en(amount: i64) -> String {
    platform::lang::vnd(amount, Lang::En)
}
