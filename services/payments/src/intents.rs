//! Payment intents: a resident pays one bill through one provider. The intent is made once per
//! `Idempotency-Key` (its id is derived from the key, so a retry after a fault finds it), checked
//! against the biller's current bill, started at the provider, and answered with where to pay.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::{Principal, Role};
use platform::extract::{ClientInfo, IdempotencyKey, JsonBody, QueryParams};
use platform::idempotency;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::bills::{self, Service};
use crate::providers::{self, ProviderError, ProviderName};
use crate::{PaymentsError, PaymentsState};

const MAX_PAGE: i64 = 100;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    service: Service,
    /// The customer code, student code, dossier number or plate the bill was looked up by.
    code: String,
    bill_id: String,
    /// The amount the resident saw and agreed to, VND; a bill that changed since is a 409.
    amount: i64,
    provider: ProviderName,
    /// The provider page's language: `vi` (default) or `en`.
    #[serde(default)]
    locale: Option<String>,
}

/// A payment as its payer sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    pub id: Uuid,
    /// `created`, `redirected`, `pending`, `succeeded`, `failed`, `expired`, `refund_pending`,
    /// `refunded` or `partially_refunded`.
    pub status: String,
    pub provider: String,
    pub service: String,
    pub customer_code: String,
    /// In full once the payer paid this code or linked it; its initials (`N. T. H.`) until then.
    pub customer_name: String,
    pub bill_id: String,
    pub biller_id: String,
    pub biller_name_vi: String,
    pub biller_name_en: String,
    pub description_vi: String,
    pub description_en: String,
    /// VND.
    pub amount: i64,
    pub refunded_amount: i64,
    /// The provider page's language.
    pub locale: String,
    /// Where the payer pays (the provider's page), while it can be paid.
    pub pay_url: Option<String>,
    /// MoMo's app link and QR text.
    pub deeplink: Option<String>,
    pub qr_code: Option<String>,
    pub receipt_number: Option<String>,
    /// Why it failed (`amount_mismatch`, `expired`, `bill_already_paid` when another payment
    /// paid the bill first, the provider's code); the money of a payment that failed after the
    /// provider took it is held for an operator to return.
    pub failure_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    /// Whether the payer may see the customer's name in full; not sent, see `customer_name`.
    #[serde(skip)]
    pub customer_known: bool,
}

impl Payment {
    /// As the payer may see it: the customer's name masked unless they know the customer.
    fn shown(mut self) -> Self {
        if !self.customer_known {
            self.customer_name = crate::customers::initials(&self.customer_name);
        }
        self
    }
}

/// Pays a bill: makes the payment once per `Idempotency-Key` and answers where to pay.
#[utoipa::path(post, path = "/v1/payments", operation_id = "create_payment", tag = "payments", request_body = NewPayment,
    params(("Idempotency-Key" = String, Header, description = "Unique per payment the resident means to make; retries reuse it")),
    responses(
        (status = 201, body = Payment, description = "Made: send the payer to `pay_url` (replays carry `Idempotent-Replayed: true`)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 404, body = platform::error::Problem, description = "`bill_not_found` (also for a wrong code or amount, unless the caller looked the code up within a day), `customer_not_found`"),
        (status = 409, body = platform::error::Problem, description = "`idempotency_key_in_use`, `bill_changed`, `bill_payment_in_progress` (the caller's own payment of the bill is under way), `bill_already_paid`, `payment_expired`"),
        (status = 422, body = platform::error::Problem, description = "`idempotency_key_reused`, `invalid_customer_code`, `provider_unavailable`, `amount_out_of_range`, `provider_refused`"),
        (status = 429, body = platform::error::Problem, description = "`too_many_lookups`: each payment counts as a bill lookup"),
        (status = 503, body = platform::error::Problem, description = "`biller_unavailable`, `provider_unreachable`"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<PaymentsState>,
    principal: Principal,
    client: ClientInfo,
    headers: HeaderMap,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewPayment>,
) -> Result<Response, ApiError> {
    // Paying names a code and a bill, as a lookup does: it counts as one.
    bills::count_lookup(&state, &principal).await?;
    let fingerprint = idempotency::fingerprint("POST /v1/payments", &request)?;
    let lease = Duration::from_millis(
        state.config.provider_timeout_ms + state.config.biller_timeout_ms + 10_000,
    );
    let pool = state.pool.clone();
    idempotency::once(
        &pool,
        principal.account_id,
        &key,
        &fingerprint,
        lease,
        || async {
            let payment = make(
                &state,
                &principal,
                &client,
                &headers,
                &key,
                &fingerprint,
                &request,
            )
            .await?;
            Ok((StatusCode::CREATED, payment))
        },
    )
    .await
}

async fn make(
    state: &PaymentsState,
    principal: &Principal,
    client: &ClientInfo,
    headers: &HeaderMap,
    key: &str,
    fingerprint: &[u8],
    request: &NewPayment,
) -> Result<Payment, ApiError> {
    let account = principal.account_id;
    // The same account, key and request always name the same payment, so a retry after a
    // fault finds it (and a key reused for another request after 24 hours names another).
    let id = Uuid::new_v5(
        &account,
        format!("payment:{key}:{}", hex::encode(fingerprint)).as_bytes(),
    );
    if let Some(existing) = load(state, id).await? {
        // A retry after a fault: started already, or to be started again.
        if existing.pay_url.is_some() || existing.status != "created" {
            return Ok(existing);
        }
        return start(state, existing, client, headers).await;
    }
    if !state.providers.offered().contains(&request.provider) {
        return Err(PaymentsError::ProviderUnavailable.into());
    }
    let (least, most) = request.provider.limits();
    if !(least..=most).contains(&request.amount) {
        return Err(PaymentsError::AmountOutOfRange { least, most }.into());
    }
    let code = bills::normalized(request.service, &request.code)?;
    // To a caller who has not looked the code up, a wrong code, bill or amount are answered
    // alike, so paying cannot stand in for lookups to learn what codes and bills exist.
    let looked_up = bills::looked_up(state, account, request.service, &code).await?;
    let wrong = |precise: PaymentsError| {
        if looked_up {
            precise
        } else {
            PaymentsError::BillNotFound
        }
    };
    let statement = bills::find_statement(state, request.service, &code)
        .await?
        .ok_or_else(|| wrong(PaymentsError::CustomerNotFound))?;
    let bill = statement
        .bills
        .iter()
        .find(|b| b.bill_id == request.bill_id)
        .ok_or(PaymentsError::BillNotFound)?;
    if bill.amount != request.amount {
        return Err(wrong(PaymentsError::BillChanged {
            amount: bill.amount,
        })
        .into());
    }
    // Paid by anyone, and not yet told to the biller (which then stops listing it).
    let paid = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payment_intents WHERE biller_id = $1 AND bill_id = $2
               AND status IN ('succeeded', 'refund_pending', 'partially_refunded')) AS "paid!""#,
        statement.biller.id,
        bill.bill_id
    )
    .fetch_one(&state.pool)
    .await?;
    if paid {
        return Err(PaymentsError::BillAlreadyPaid.into());
    }
    let locale = match request.locale.as_deref() {
        Some("en") => "en",
        _ => "vi",
    };
    let inserted = sqlx::query!(
        r#"INSERT INTO payment_intents (id, account_id, provider, service, customer_code, bill_id,
               biller_id, biller_name_vi, biller_name_en, customer_name, description_vi,
               description_en, amount, status, provider_ref, locale, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'created', $14, $15,
                   now() + make_interval(secs => $16))"#,
        id,
        account,
        request.provider.as_str(),
        request.service.as_str(),
        code,
        bill.bill_id,
        statement.biller.id,
        statement.biller.name_vi,
        statement.biller.name_en,
        statement.customer.name,
        bill.description_vi,
        bill.description_en,
        bill.amount,
        new_reference(),
        locale,
        state.config.payment_ttl_secs as f64
    )
    .execute(&state.pool)
    .await;
    match inserted {
        Ok(_) => {}
        // The caller's own payment of the bill is under way (other payers' never hold it up).
        Err(sqlx::Error::Database(e))
            if e.constraint() == Some("payment_intents_one_in_flight_per_payer") =>
        {
            return Err(PaymentsError::BillPaymentInProgress.into());
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(payment = %id, provider = request.provider.as_str(), amount = bill.amount, "payment made");
    let payment = load(state, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment {id} vanished")))?;
    start(state, payment, client, headers).await
}

/// Starts the payment at its provider (a fresh reference each try, so a provider that saw an
/// earlier try never confuses the two) and keeps where to pay.
async fn start(
    state: &PaymentsState,
    payment: Payment,
    client: &ClientInfo,
    headers: &HeaderMap,
) -> Result<Payment, ApiError> {
    let provider = ProviderName::parse(&payment.provider)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown provider")))?;
    // One time for our record and for the provider: VNPay finds the payment by it later.
    let created_at = Utc::now();
    // Too late to send the payer anywhere: reconciliation expires it.
    if created_at + chrono::Duration::minutes(1) >= payment.expires_at {
        return Err(PaymentsError::PaymentExpired.into());
    }
    let reference = new_reference();
    let taken = sqlx::query!(
        r#"UPDATE payment_intents SET provider_ref = $2, provider_created_at = $3
           WHERE id = $1 AND status = 'created'"#,
        payment.id,
        reference,
        created_at
    )
    .execute(&state.pool)
    .await?;
    if taken.rows_affected() == 0 {
        // Started (or settled) by a request that raced this one: answer with what it made.
        return Ok(load(state, payment.id)
            .await?
            .ok_or(PaymentsError::PaymentNotFound)?);
    }
    let ip = client
        .ip
        .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string());
    let order_info = match provider {
        ProviderName::Vnpay => format!(
            "Thanh toan {} {}",
            Service::parse(&payment.service).map_or("hoa don", Service::plain_name),
            payment.customer_code.replace(['.', '-'], "")
        ),
        ProviderName::Momo => payment.description_vi.clone(),
    };
    let base = public_base(state, headers);
    let checkout = state
        .providers
        .checkout(
            provider,
            &providers::Payment {
                reference: &reference,
                amount: payment.amount,
                order_info: &order_info,
                created_at,
                expires_at: payment.expires_at,
                locale: &payment.locale,
                client_ip: &ip,
                provider_txn: None,
            },
            &base,
        )
        .await;
    let checkout = match checkout {
        Ok(checkout) => checkout,
        Err(ProviderError::Refused { code, message, .. }) => {
            tracing::warn!(payment = %payment.id, code, message, "the provider refused to start a payment");
            // The provider's own answer about this payment: it fails, and the payer is told.
            crate::settle::apply(
                state,
                provider,
                &reference,
                &providers::Outcome::Failed {
                    code: format!("{}_{code}", provider.as_str()),
                },
            )
            .await
            .map_err(ApiError::internal)?;
            return Err(PaymentsError::ProviderRefused.into());
        }
        Err(error) => {
            tracing::warn!(payment = %payment.id, error = %error, "could not start a payment");
            return Err(ApiError::from(PaymentsError::ProviderUnreachable)
                .with_retry_after(Duration::from_secs(2)));
        }
    };
    // Kept only if no racing start replaced the reference meanwhile.
    sqlx::query!(
        r#"UPDATE payment_intents
           SET status = 'redirected', pay_url = $3, deeplink = $4, qr_code = $5, updated_at = now()
           WHERE id = $1 AND provider_ref = $2 AND status = 'created'"#,
        payment.id,
        reference,
        checkout.pay_url,
        checkout.deeplink,
        checkout.qr_code
    )
    .execute(&state.pool)
    .await?;
    load(state, payment.id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("payment vanished")))
}

/// Our reference at the provider: letters and digits only, as both accept.
fn new_reference() -> String {
    format!("CZ{}", Uuid::new_v4().simple()).to_uppercase()
}

/// The address providers and browsers reach us at: configured, or the host the caller used.
pub fn public_base(state: &PaymentsState, headers: &HeaderMap) -> String {
    platform::http::public_base_url(state.config.public_url.as_deref(), headers)
}

/// A payment by id, whoever's it is.
pub async fn load(state: &PaymentsState, id: Uuid) -> Result<Option<Payment>, ApiError> {
    Ok(sqlx::query_as!(
        Payment,
        r#"SELECT id, status, provider, service, customer_code, customer_name, bill_id, biller_id,
                  biller_name_vi, biller_name_en, description_vi, description_en, amount,
                  refunded_amount, locale, pay_url, deeplink, qr_code, receipt_number, failure_code,
                  created_at, expires_at, settled_at,
                  customer_known(account_id, service, customer_code) AS "customer_known!"
           FROM payment_intents WHERE id = $1"#,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .map(Payment::shown))
}

/// A payment the caller may see: their own, or any for a platform admin; 404 otherwise.
pub async fn visible(
    state: &PaymentsState,
    principal: &Principal,
    id: Uuid,
) -> Result<Payment, ApiError> {
    let owner = sqlx::query_scalar!("SELECT account_id FROM payment_intents WHERE id = $1", id)
        .fetch_optional(&state.pool)
        .await?;
    match owner {
        Some(owner) if owner == principal.account_id || principal.has_role(Role::PlatformAdmin) => {
            Ok(load(state, id)
                .await?
                .ok_or(PaymentsError::PaymentNotFound)?)
        }
        _ => Err(PaymentsError::PaymentNotFound.into()),
    }
}

/// One of the caller's payments.
#[utoipa::path(get, path = "/v1/payments/{id}", operation_id = "get_payment", tag = "payments",
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Payment),
        (status = 404, body = platform::error::Problem, description = "`payment_not_found`: none, or not the caller's"),
    ),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<PaymentsState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Payment>, ApiError> {
    Ok(Json(visible(&state, &principal, id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    cursor: Option<String>,
    /// At most 100; 20 by default.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPage {
    payments: Vec<Payment>,
    next_cursor: Option<String>,
}

/// The caller's payments, newest first.
#[utoipa::path(get, path = "/v1/payments", operation_id = "list_payments", tag = "payments", params(ListQuery),
    responses((status = 200, body = PaymentPage)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<PaymentsState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<PaymentPage>, ApiError> {
    let limit = query.limit.unwrap_or(20).clamp(1, MAX_PAGE);
    let (before_at, before_id) = match &query.cursor {
        Some(cursor) => {
            let (at, id) = platform::cursor::decode(cursor)?;
            (Some(at), Some(id))
        }
        None => (None, None),
    };
    let payments = sqlx::query_as!(
        Payment,
        r#"SELECT id, status, provider, service, customer_code, customer_name, bill_id, biller_id,
                  biller_name_vi, biller_name_en, description_vi, description_en, amount,
                  refunded_amount, locale, pay_url, deeplink, qr_code, receipt_number, failure_code,
                  created_at, expires_at, settled_at,
                  customer_known(account_id, service, customer_code) AS "customer_known!"
           FROM payment_intents
           WHERE account_id = $1
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
           ORDER BY created_at DESC, id DESC LIMIT $4"#,
        principal.account_id,
        before_at,
        before_id,
        limit
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(Payment::shown)
    .collect::<Vec<_>>();
    let next_cursor = (payments.len() as i64 == limit)
        .then(|| {
            payments
                .last()
                .map(|p| platform::cursor::encode(p.created_at, p.id))
        })
        .flatten();
    Ok(Json(PaymentPage {
        payments,
        next_cursor,
    }))
}
