//! Bills: what a resident owes, looked up by the code that names it (a customer code, a student
//! code, a dossier number, a plate) at the billers, and told to the biller once paid.
//!
//! Billers are reached through the `Biller` trait. The one adapter here speaks the bill
//! gateway's JSON protocol (an aggregator in front of the city's billers; the sandbox's
//! `/sandbox/biller` serves the same protocol): `GET /v1/bills?service=&code=` and
//! `POST /v1/bills/{bill_id}/payments`.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::QueryParams;
use platform::jobs::Jobs;
use platform::outbound::{OutboundClient, PlainHttp};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::customers::{self, BillCustomer};
use crate::{PaymentsError, PaymentsState};

/// Paid bills told to the biller per round of the posting job.
const POSTING_BATCH: i64 = 50;
/// With nothing to post, the job looks again this often (it is also woken by a payment).
const POSTING_IDLE: Duration = Duration::from_secs(5);

/// A kind of bill or fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = payments::Service)]
pub enum Service {
    Electricity,
    Water,
    Sanitation,
    Tuition,
    AdminFee,
    TrafficFine,
}

impl Service {
    const ALL: [Service; 6] = [
        Service::Electricity,
        Service::Water,
        Service::Sanitation,
        Service::Tuition,
        Service::AdminFee,
        Service::TrafficFine,
    ];

    pub fn parse(text: &str) -> Option<Service> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Electricity => "electricity",
            Service::Water => "water",
            Service::Sanitation => "sanitation",
            Service::Tuition => "tuition",
            Service::AdminFee => "admin_fee",
            Service::TrafficFine => "traffic_fine",
        }
    }

    /// What a VNPay payment page may say of it (no diacritics, no special characters).
    pub fn plain_name(self) -> &'static str {
        match self {
            Service::Electricity => "tien dien",
            Service::Water => "tien nuoc",
            Service::Sanitation => "phi ve sinh",
            Service::Tuition => "hoc phi",
            Service::AdminFee => "le phi ho so",
            Service::TrafficFine => "phat vi pham giao thong",
        }
    }

    /// The code in its one written form, if it has this service's shape: upper case; a plate
    /// without its separators.
    pub fn normalize_code(self, raw: &str) -> Option<String> {
        let mut code = raw.trim().to_uppercase();
        if self == Service::TrafficFine {
            code.retain(|c| !matches!(c, '-' | '.' | ' '));
        }
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let well_formed = match self {
            Service::Electricity => code
                .strip_prefix("PC05HU")
                .is_some_and(|rest| digits(rest, 7)),
            Service::Water => code.strip_prefix("HW").is_some_and(|rest| digits(rest, 8)),
            Service::Sanitation => code.strip_prefix("VS").is_some_and(|rest| digits(rest, 8)),
            Service::Tuition => digits(&code, 10),
            // `H57.22-261120-0001`: the province's dossier number.
            Service::AdminFee => code.strip_prefix("H57.").is_some_and(|rest| {
                let parts: Vec<&str> = rest.split('-').collect();
                parts.len() == 3
                    && digits(parts[0], 2)
                    && digits(parts[1], 6)
                    && digits(parts[2], 4)
            }),
            // `75A12345`: two digits, one or two letters, four or five digits.
            Service::TrafficFine => {
                let bytes = code.as_bytes();
                let letters = bytes
                    .iter()
                    .skip(2)
                    .take_while(|b| b.is_ascii_uppercase())
                    .count();
                let rest = &code[(2 + letters).min(code.len())..];
                code.len() >= 2
                    && digits(&code[..2], 2)
                    && (1..=2).contains(&letters)
                    && (digits(rest, 4) || digits(rest, 5))
            }
        };
        well_formed.then_some(code)
    }

    fn code_format(self) -> (&'static str, &'static str) {
        match self {
            Service::Electricity => (
                "Mã khách hàng điện có dạng PC05HU và 7 chữ số.",
                "An electricity customer code is PC05HU followed by 7 digits.",
            ),
            Service::Water => (
                "Mã khách hàng nước có dạng HW và 8 chữ số.",
                "A water customer code is HW followed by 8 digits.",
            ),
            Service::Sanitation => (
                "Mã khách hàng vệ sinh môi trường có dạng VS và 8 chữ số.",
                "A sanitation customer code is VS followed by 8 digits.",
            ),
            Service::Tuition => (
                "Mã học sinh gồm 10 chữ số.",
                "A student code has 10 digits.",
            ),
            Service::AdminFee => (
                "Số hồ sơ có dạng H57.22-261120-0001.",
                "A dossier number looks like H57.22-261120-0001.",
            ),
            Service::TrafficFine => (
                "Biển số xe có dạng 75A-123.45.",
                "A plate number looks like 75A-123.45.",
            ),
        }
    }
}

/// The customer behind a code, as the biller answers (never shown to a resident as it is: see
/// `customers::BillCustomer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    pub address: String,
    /// The ward of the address, when the biller names it.
    #[serde(default)]
    pub ward: Option<String>,
    /// The number of the customer's contract with the biller, printed on every bill: what a
    /// resident proves they hold the code with.
    #[serde(default)]
    pub contract_number: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BillerInfo {
    pub id: String,
    pub name_vi: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Bill {
    pub bill_id: String,
    /// The month or term billed (`2026-10`).
    pub period: String,
    pub description_vi: String,
    pub description_en: String,
    /// VND.
    pub amount: i64,
    pub due_date: String,
}

/// What a code owes, as the biller answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    pub customer: Customer,
    pub biller: BillerInfo,
    pub bills: Vec<Bill>,
}

/// What the biller said to a payment it was told of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posting {
    Posted {
        biller_ref: String,
    },
    /// It refuses for good (the bill is gone or already paid by someone else).
    Refused {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("the bill gateway is unavailable: {reason}")]
pub struct BillerUnavailable {
    reason: String,
    /// How long the gateway asked us to wait (`Retry-After`, capped).
    retry_after: Option<Duration>,
}

impl BillerUnavailable {
    fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// A biller, or a gateway in front of many.
#[async_trait::async_trait]
pub trait Biller: Send + Sync {
    /// What `code` owes; `None` when the biller knows no such code.
    async fn statement(
        &self,
        service: Service,
        code: &str,
    ) -> Result<Option<Statement>, BillerUnavailable>;

    /// Tells the biller `bill_id` was paid by `payment` (the same payment again is no-op).
    async fn post_payment(
        &self,
        bill_id: &str,
        payment: Uuid,
        amount: i64,
        paid_at: DateTime<Utc>,
    ) -> Result<Posting, BillerUnavailable>;
}

/// The bill gateway's JSON protocol.
pub struct BillGateway {
    base: String,
    http: OutboundClient,
}

impl BillGateway {
    pub fn new(base: &str, timeout: Duration, plain_http: PlainHttp) -> anyhow::Result<Self> {
        let http = crate::providers::http_client("the bill gateway", timeout, plain_http)?;
        http.check_url(base)
            .map_err(|e| anyhow::anyhow!("payments.biller_url: {e}"))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }
}

#[async_trait::async_trait]
impl Biller for BillGateway {
    async fn statement(
        &self,
        service: Service,
        code: &str,
    ) -> Result<Option<Statement>, BillerUnavailable> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("service", service.as_str())
            .append_pair("code", code)
            .finish();
        let answer = self
            .http
            .get(&format!("{}/v1/bills?{query}", self.base))
            .await
            .map_err(|e| BillerUnavailable::new(e.to_string()))?;
        match answer.status {
            StatusCode::OK => answer
                .json::<Statement>()
                .map(Some)
                .map_err(|e| BillerUnavailable::new(format!("unreadable statement: {e}"))),
            StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => Ok(None),
            status => Err(BillerUnavailable {
                reason: format!("HTTP {status}"),
                retry_after: crate::providers::retry_after(&answer),
            }),
        }
    }

    async fn post_payment(
        &self,
        bill_id: &str,
        payment: Uuid,
        amount: i64,
        paid_at: DateTime<Utc>,
    ) -> Result<Posting, BillerUnavailable> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            biller_ref: String,
            #[serde(default)]
            error: String,
        }
        let response = self
            .http
            .post_json(
                &format!(
                    "{}/v1/bills/{}/payments",
                    self.base,
                    form_urlencoded::byte_serialize(bill_id.as_bytes()).collect::<String>()
                ),
                &serde_json::json!({
                    "payment_id": payment, "amount": amount, "paid_at": paid_at,
                }),
            )
            .await
            .map_err(|e| BillerUnavailable::new(e.to_string()))?;
        let status = response.status;
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(BillerUnavailable {
                reason: format!("HTTP {status}"),
                retry_after: crate::providers::retry_after(&response),
            });
        }
        let answer: Answer = response
            .json()
            .map_err(|e| BillerUnavailable::new(format!("unreadable answer: {e}")))?;
        Ok(if status.is_success() {
            Posting::Posted {
                biller_ref: answer.biller_ref,
            }
        } else {
            Posting::Refused {
                reason: format!("HTTP {status} {}", answer.error),
            }
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// `electricity`, `water`, `sanitation`, `tuition`, `admin_fee` or `traffic_fine`.
    #[param(value_type = String)]
    service: Service,
    /// The customer code, student code, dossier number or plate.
    code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillLookup {
    service: Service,
    code: String,
    customer: BillCustomer,
    biller: BillerInfo,
    bills: Vec<OwedBill>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OwedBill {
    #[serde(flatten)]
    bill: Bill,
    /// The caller's payment of it under way, or anyone's that paid it (`created`, `redirected`,
    /// `pending`, `succeeded`, ...), if any; its id when it is the caller's.
    payment_status: Option<String>,
    payment_id: Option<Uuid>,
}

/// How long a lookup lets its account be told exactly what is wrong with a payment of the code.
const LOOKUP_REMEMBERED_SECS: f64 = 24.0 * 3600.0;

/// What a code owes: its customer (masked unless the caller paid or linked the code), its
/// biller and its unpaid bills.
#[utoipa::path(get, path = "/v1/payments/bills", tag = "payments", params(LookupQuery),
    responses(
        (status = 200, body = BillLookup),
        (status = 404, body = platform::error::Problem, description = "`customer_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_customer_code`"),
        (status = 429, body = platform::error::Problem, description = "`too_many_lookups`"),
        (status = 503, body = platform::error::Problem, description = "`biller_unavailable`"),
    ),
    security(("bearer" = [])))]
pub async fn lookup(
    State(state): State<PaymentsState>,
    principal: Principal,
    QueryParams(query): QueryParams<LookupQuery>,
) -> Result<Json<BillLookup>, ApiError> {
    count_lookup(&state, &principal).await?;
    let account = principal.account_id;
    let code = normalized(query.service, &query.code)?;
    let statement = statement(&state, query.service, &code).await?;
    sqlx::query!(
        r#"INSERT INTO bill_lookups (account_id, service, code) VALUES ($1, $2, $3)
           ON CONFLICT (account_id, service, code) DO UPDATE SET looked_up_at = now()"#,
        account,
        query.service.as_str(),
        code
    )
    .execute(&state.pool)
    .await?;
    let known = customers::known(&state, account, query.service, &code).await?;
    let bill_ids: Vec<String> = statement.bills.iter().map(|b| b.bill_id.clone()).collect();
    // One query for every bill's payment: the caller's under way, or anyone's that paid it
    // (that one first); its id only if it is the caller's.
    let payments: HashMap<String, (Option<Uuid>, String)> = sqlx::query!(
        r#"SELECT DISTINCT ON (bill_id) bill_id, id, account_id, status FROM payment_intents
           WHERE biller_id = $1 AND bill_id = ANY($2)
             AND (status IN ('succeeded', 'refund_pending', 'partially_refunded')
                  OR (account_id = $3 AND status IN ('created', 'redirected', 'pending')))
           ORDER BY bill_id, status IN ('created', 'redirected', 'pending')"#,
        statement.biller.id,
        &bill_ids,
        account
    )
    .fetch_all(&state.pool)
    .await?
    .into_iter()
    .map(|row| {
        let mine = row.account_id == account;
        (row.bill_id, (mine.then_some(row.id), row.status))
    })
    .collect();
    Ok(Json(BillLookup {
        service: query.service,
        code,
        customer: BillCustomer::shown(statement.customer, known),
        biller: statement.biller,
        bills: statement
            .bills
            .into_iter()
            .map(|bill| {
                let payment = payments.get(&bill.bill_id);
                OwedBill {
                    payment_status: payment.map(|(_, status)| status.clone()),
                    payment_id: payment.and_then(|(id, _)| *id),
                    bill,
                }
            })
            .collect(),
    }))
}

/// Counts one use of the bill gateway by the caller (a lookup, a payment made, a code linked)
/// against `payments.bill_lookups_per_minute`, so codes cannot be enumerated through any of
/// them; 429 `too_many_lookups` past it.
pub async fn count_lookup(state: &PaymentsState, principal: &Principal) -> Result<(), ApiError> {
    if let Err(wait) = state.lookups.check(&principal.account_id.to_string()).await {
        return Err(ApiError::from(PaymentsError::TooManyLookups)
            .with_retry_after(wait.max(Duration::from_secs(1))));
    }
    Ok(())
}

/// Whether `account` looked `code` up (and found it) within the last day.
pub async fn looked_up(
    state: &PaymentsState,
    account: Uuid,
    service: Service,
    code: &str,
) -> Result<bool, ApiError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM bill_lookups
               WHERE account_id = $1 AND service = $2 AND code = $3
                 AND looked_up_at > now() - make_interval(secs => $4)) AS "looked_up!""#,
        account,
        service.as_str(),
        code,
        LOOKUP_REMEMBERED_SECS
    )
    .fetch_one(&state.pool)
    .await?)
}

/// Forgets lookups past the day they count for.
pub async fn prune_lookups(pool: &sqlx::PgPool) -> sqlx::Result<u64> {
    Ok(sqlx::query!(
        "DELETE FROM bill_lookups WHERE looked_up_at < now() - make_interval(secs => $1)",
        LOOKUP_REMEMBERED_SECS
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// The code in its one written form; 422 `invalid_customer_code` otherwise.
pub fn normalized(service: Service, raw: &str) -> Result<String, ApiError> {
    service.normalize_code(raw).ok_or_else(|| {
        let (form_vi, form_en) = service.code_format();
        PaymentsError::InvalidCustomerCode { form_vi, form_en }.into()
    })
}

/// What `code` owes, from the billers; 404 `customer_not_found` for a code they do not know.
pub async fn statement(
    state: &PaymentsState,
    service: Service,
    code: &str,
) -> Result<Statement, ApiError> {
    find_statement(state, service, code)
        .await?
        .ok_or_else(|| PaymentsError::CustomerNotFound.into())
}

/// What `code` owes, from the billers; `None` for a code they do not know. 503
/// `biller_unavailable` with the wait the gateway asked for (5 s if it said none).
pub async fn find_statement(
    state: &PaymentsState,
    service: Service,
    code: &str,
) -> Result<Option<Statement>, ApiError> {
    let unavailable = |retry_after: Option<Duration>| {
        ApiError::from(PaymentsError::BillerUnavailable)
            .with_retry_after(retry_after.unwrap_or(Duration::from_secs(5)))
    };
    let billers = state.billers.as_ref().ok_or_else(|| unavailable(None))?;
    billers.statement(service, code).await.map_err(|e| {
        tracing::warn!(error = %e, "bill lookup failed");
        unavailable(e.retry_after)
    })
}

/// Tells billers of paid bills, for as long as the process runs: woken by each payment,
/// retrying an unavailable biller on the next round.
pub fn start_postings(state: PaymentsState, jobs: &Jobs) {
    let Some(billers) = state.billers.clone() else {
        return;
    };
    let settled = state.settled.clone();
    jobs.repeat("bill postings", POSTING_IDLE, Some(settled), move || {
        let (state, billers) = (state.clone(), billers.clone());
        async move { Ok(post_paid_bills(&state, billers.as_ref()).await? == POSTING_BATCH as usize) }
    });
}

/// Takes a batch of paid bills for a while (replicas take others), then tells the biller of
/// each outside any transaction, so nothing waits on the biller holding a lock.
async fn post_paid_bills(state: &PaymentsState, billers: &dyn Biller) -> anyhow::Result<usize> {
    let due = sqlx::query!(
        r#"UPDATE payment_intents SET posting_until = now() + make_interval(secs => $2)
           WHERE id IN (
               SELECT id FROM payment_intents
               WHERE status IN ('succeeded', 'partially_refunded') AND biller_posted_at IS NULL
                 AND biller_error IS NULL AND (posting_until IS NULL OR posting_until < now())
               ORDER BY settled_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING id, bill_id, amount, settled_at AS "settled_at!""#,
        POSTING_BATCH,
        (state.config.biller_timeout_ms as f64 / 1000.0) * POSTING_BATCH as f64 + 60.0
    )
    .fetch_all(&state.pool)
    .await?;
    let mut handled = 0;
    for payment in &due {
        match billers
            .post_payment(
                &payment.bill_id,
                payment.id,
                payment.amount,
                payment.settled_at,
            )
            .await
        {
            Ok(Posting::Posted { biller_ref }) => {
                sqlx::query!(
                    r#"UPDATE payment_intents SET biller_posted_at = now(), biller_ref = $2,
                           posting_until = NULL WHERE id = $1"#,
                    payment.id,
                    biller_ref
                )
                .execute(&state.pool)
                .await?;
            }
            Ok(Posting::Refused { reason }) => {
                tracing::error!(payment = %payment.id, reason, "the biller refused a paid bill; it needs an operator");
                sqlx::query!(
                    "UPDATE payment_intents SET biller_error = $2, posting_until = NULL WHERE id = $1",
                    payment.id,
                    reason
                )
                .execute(&state.pool)
                .await?;
            }
            // The rest waits for the next round, as the biller is down.
            Err(error) => {
                tracing::warn!(error = %error, "the bill gateway is unavailable; posting later");
                sqlx::query!(
                    "UPDATE payment_intents SET posting_until = NULL WHERE id = ANY($1)",
                    &due.iter().map(|p| p.id).collect::<Vec<_>>()
                )
                .execute(&state.pool)
                .await?;
                break;
            }
        }
        handled += 1;
    }
    Ok(handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_take_one_written_form_per_service() {
        assert_eq!(
            Service::Electricity
                .normalize_code(" pc05hu0012345 ")
                .as_deref(),
            Some("PC05HU0012345")
        );
        assert_eq!(
            Service::TrafficFine.normalize_code("75a-123.45").as_deref(),
            Some("75A12345")
        );
        assert_eq!(
            Service::TrafficFine.normalize_code("75AB-1234").as_deref(),
            Some("75AB1234")
        );
        assert_eq!(
            Service::AdminFee
                .normalize_code("h57.22-261120-0001")
                .as_deref(),
            Some("H57.22-261120-0001")
        );
        assert!(
            Service::Electricity
                .normalize_code("PC05HU001234")
                .is_none()
        );
        assert!(Service::Tuition.normalize_code("12345678901").is_none());
        assert!(Service::TrafficFine.normalize_code("7A12345").is_none());
        assert!(Service::TrafficFine.normalize_code("75ABC1234").is_none());
        assert!(Service::Water.normalize_code("").is_none());
    }
}
