//! An emulator of the VNPay payment gateway (API version 2.1.0), so the payment flow is built
//! and tested against VNPay's protocol without VNPay:
//!
//! - `POST /sandbox/vnpay/merchants`: registers a merchant (`tmn_code`, `hash_secret`,
//!   `ipn_url`), as VNPay's merchant portal does; [`DEMO_TMN_CODE`] is registered from the start.
//! - `GET /sandbox/vnpay/paymentv2/vpcpay.html?vnp_...`: the payment page. The request is
//!   checked as VNPay does (signature, merchant, format, expiry, a `vnp_TxnRef` used once) and
//!   refused with VNPay's error code (`data-code`); a good one shows the order and lets the
//!   tester approve or decline (`POST /sandbox/vnpay/paymentv2/decide`). The outcome goes to the
//!   merchant twice, as with VNPay: the IPN (`GET ipn_url?...`, retried until the merchant
//!   answers `RspCode` `00` or `02`, then once more as a duplicate) and the payer's browser
//!   (`302` to `vnp_ReturnUrl?...`).
//! - `POST /sandbox/vnpay/merchant_webapi/api/transaction`: the merchant API, `querydr` (a
//!   transaction's status) and `refund` (full or partial), signed both ways.
//! - `POST /sandbox/vnpay/switches`: makes the gateway misbehave for a `txn_ref` (or `*`): no
//!   IPN, a late one, a wrong amount reported, a slow merchant API.
//! - `GET /sandbox/vnpay/ipn-log?txn_ref=`: every IPN attempt and what the merchant answered.
//!
//! Signatures: the redirect, return and IPN carry `vnp_SecureHash`, the hex HMAC-SHA512 with
//! the merchant's secret of the `vnp_*` parameters (but `vnp_SecureHash`, `vnp_SecureHashType`
//! and empty ones) sorted by name, names and values form-urlencoded as Java's `URLEncoder` does
//! (space as `+`, only `A-Za-z0-9*-._` kept), joined `k=v&k=v`. The merchant API signs the
//! values of a fixed list of fields joined by `|`.
//!
//! Amounts are VND; `vnp_Amount` is VND times 100, as VNPay has it. Dates are `yyyyMMddHHmmss`
//! in GMT+7.
//!
//! As with VNPay, a `vnp_TxnRef` opens the payment page once (again: `94`, a reload too), the
//! merchant API finds a payment by `vnp_TxnRef` *and* `vnp_TransactionDate` (the payment's
//! `vnp_CreateDate`; another date: `91`), and a `vnp_RequestId` serves one API call.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::gateway::{self, IpnLog, SwitchUpdate, Switches};

/// The merchant registered from the start, for development and tests: TEST ONLY.
pub const DEMO_TMN_CODE: &str = "CITIZEN1";
pub const DEMO_HASH_SECRET: &str = "CITIZENVNPAYSANDBOXHASHSECRET001";
pub const DEMO_IPN_URL: &str = "http://127.0.0.1:8080/v1/payments/ipn/vnpay";
pub const VERSION: &str = "2.1.0";
/// `yyyyMMddHHmmss`, in GMT+7.
pub const DATE_FORMAT: &str = "%Y%m%d%H%M%S";
const FIRST_TRANSACTION_NO: u64 = 14_000_001;
/// VNPay's limits on one payment, in VND.
const MIN_AMOUNT: i64 = 5_000;
const MAX_AMOUNT: i64 = 999_999_999;
const BANK_CODE: &str = "NCB";

const QUERY_HASHED: &[&str] = &[
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_TransactionDate",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];
const QUERY_ANSWER_HASHED: &[&str] = &[
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
    "vnp_PromotionCode",
    "vnp_PromotionAmount",
];
const REFUND_HASHED: &[&str] = &[
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];
const REFUND_ANSWER_HASHED: &[&str] = &[
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
];

pub fn gmt7() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix())
}

/// `time` as VNPay writes dates.
pub fn format_date(time: DateTime<Utc>) -> String {
    time.with_timezone(&gmt7()).format(DATE_FORMAT).to_string()
}

fn parse_date(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(text, DATE_FORMAT)
        .ok()?
        .and_local_timezone(gmt7())
        .single()
}

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// What `vnp_SecureHash` covers in a redirect, return or IPN: the signed `vnp_*` parameters,
/// sorted, form-urlencoded, `k=v&k=v`.
pub fn hash_data(params: &[(String, String)]) -> String {
    let mut signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|(key, value)| {
            key.starts_with("vnp_")
                && key != "vnp_SecureHash"
                && key != "vnp_SecureHashType"
                && !value.is_empty()
        })
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    signed.sort();
    signed
        .iter()
        .map(|(key, value)| format!("{}={}", form_encode(key), form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `vnp_SecureHash` of a redirect, return or IPN.
pub fn secure_hash(hash_secret: &str, params: &[(String, String)]) -> String {
    gateway::hmac_sha512_hex(hash_secret, &hash_data(params))
}

/// The `vnp_SecureHash` of a merchant API request or answer: `values` joined by `|`.
pub fn pipe_hash(hash_secret: &str, values: &[&str]) -> String {
    gateway::hmac_sha512_hex(hash_secret, &values.join("|"))
}

/// `params` signed, as a query string: `vnp_SecureHashType` and `vnp_SecureHash` last.
fn signed_query(hash_secret: &str, params: &[(String, String)]) -> String {
    let hash = secure_hash(hash_secret, params);
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        serializer.append_pair(key, value);
    }
    serializer.append_pair("vnp_SecureHashType", "HmacSHA512");
    serializer.append_pair("vnp_SecureHash", &hash);
    serializer.finish()
}

struct Merchant {
    hash_secret: String,
    ipn_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Shown to the payer, no decision yet.
    Pending,
    Paid,
    /// Declined or expired.
    Failed,
}

struct Payment {
    /// VND, as asked.
    amount: i64,
    order_info: String,
    locale: String,
    create_date: String,
    expire_at: DateTime<FixedOffset>,
    return_url: String,
    status: Status,
    response_code: &'static str,
    /// 0 until paid; 0 when declined.
    transaction_no: u64,
    pay_date: String,
    /// VND, as reported once decided (the amount asked, or not: see `amount_delta`); what
    /// refunds are checked against.
    charged: i64,
    refunded: i64,
}

impl Payment {
    fn transaction_status(&self) -> &'static str {
        match self.status {
            Status::Paid => "00",
            Status::Failed => "02",
            Status::Pending if self.expire_at < Utc::now() => "02",
            Status::Pending => "01",
        }
    }
}

struct Ledger {
    merchants: HashMap<String, Merchant>,
    /// By (tmn_code, txn_ref).
    payments: HashMap<(String, String), Payment>,
    /// Merchant API request ids used, by (tmn_code, request id).
    request_ids: HashSet<(String, String)>,
    last_transaction_no: u64,
}

impl Ledger {
    fn next_transaction_no(&mut self) -> u64 {
        self.last_transaction_no += 1;
        self.last_transaction_no
    }
}

#[derive(Clone)]
struct Gateway {
    ledger: Arc<Mutex<Ledger>>,
    switches: Arc<Switches>,
    ipn_log: Arc<IpnLog>,
    http: reqwest::Client,
}

impl Gateway {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router() -> Router {
    let mut merchants = HashMap::new();
    merchants.insert(
        DEMO_TMN_CODE.to_owned(),
        Merchant {
            hash_secret: DEMO_HASH_SECRET.to_owned(),
            ipn_url: DEMO_IPN_URL.to_owned(),
        },
    );
    let gateway = Gateway {
        ledger: Arc::new(Mutex::new(Ledger {
            merchants,
            payments: HashMap::new(),
            request_ids: HashSet::new(),
            last_transaction_no: FIRST_TRANSACTION_NO - 1,
        })),
        switches: Arc::default(),
        ipn_log: Arc::default(),
        http: reqwest::Client::builder()
            .timeout(gateway::IPN_TIMEOUT)
            .build()
            .unwrap_or_default(),
    };
    Router::new()
        .route("/merchants", post(register))
        .route("/paymentv2/vpcpay.html", get(payment_page))
        .route("/paymentv2/decide", post(decide))
        .route("/merchant_webapi/api/transaction", post(merchant_api))
        .route("/switches", post(switch))
        .route("/ipn-log", get(ipn_log))
        .with_state(gateway)
}

#[derive(Deserialize)]
struct Registration {
    tmn_code: String,
    hash_secret: String,
    ipn_url: String,
}

async fn register(
    State(gateway): State<Gateway>,
    Json(merchant): Json<Registration>,
) -> StatusCode {
    gateway.ledger().merchants.insert(
        merchant.tmn_code,
        Merchant {
            hash_secret: merchant.hash_secret,
            ipn_url: merchant.ipn_url,
        },
    );
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SwitchRequest {
    txn_ref: String,
    #[serde(flatten)]
    update: SwitchUpdate,
}

async fn switch(State(gateway): State<Gateway>, Json(request): Json<SwitchRequest>) -> StatusCode {
    gateway.switches.update(request.txn_ref, request.update);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct IpnLogQuery {
    txn_ref: String,
}

async fn ipn_log(
    State(gateway): State<Gateway>,
    Query(query): Query<IpnLogQuery>,
) -> Json<Vec<Value>> {
    Json(gateway.ipn_log.attempts(&query.txn_ref))
}

fn page(lang: &str, status: StatusCode, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang={lang}><meta charset=utf-8><title>VNPay (sandbox)</title>{body}</html>"
        )),
    )
        .into_response()
}

/// The payment page's refusal, with VNPay's error code.
fn refusal(locale: &str, code: &str) -> Response {
    let (vi, en) = match code {
        "70" => ("Sai chữ ký", "Invalid signature"),
        "71" => ("Website này chưa được phê duyệt", "Merchant not approved"),
        "15" => (
            "Giao dịch đã quá thời gian chờ thanh toán",
            "Transaction has expired",
        ),
        "94" => ("Giao dịch bị trùng lặp", "Duplicate transaction"),
        _ => (
            "Dữ liệu gửi sang không đúng định dạng",
            "Invalid data format",
        ),
    };
    let (lang, message) = if locale == "en" {
        ("en", en)
    } else {
        ("vi", vi)
    };
    page(
        lang,
        StatusCode::BAD_REQUEST,
        &format!(
            "<h1>VNPAY</h1><p class=error data-code=\"{code}\">{message} (mã lỗi / error code: {code})</p>"
        ),
    )
}

/// A VND amount as `vnp_Amount` has it (times 100), when it is one.
fn parse_vnp_amount(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hundredths: i64 = text.parse().ok()?;
    (hundredths % 100 == 0).then_some(hundredths / 100)
}

async fn payment_page(State(gateway): State<Gateway>, RawQuery(query): RawQuery) -> Response {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_default()
    };
    let locale = if param("vnp_Locale") == "en" {
        "en"
    } else {
        "vn"
    };
    let tmn_code = param("vnp_TmnCode");
    let txn_ref = param("vnp_TxnRef");
    let mut ledger = gateway.ledger();
    let Some(merchant) = ledger.merchants.get(tmn_code) else {
        return refusal(locale, "71");
    };
    if !param("vnp_SecureHash").eq_ignore_ascii_case(&secure_hash(&merchant.hash_secret, &params)) {
        return refusal(locale, "70");
    }
    let amount = parse_vnp_amount(param("vnp_Amount"))
        .filter(|amount| (MIN_AMOUNT..=MAX_AMOUNT).contains(amount));
    let create_date = parse_date(param("vnp_CreateDate"));
    let expire_at = parse_date(param("vnp_ExpireDate"));
    let required_present = [
        "vnp_TxnRef",
        "vnp_ReturnUrl",
        "vnp_OrderInfo",
        "vnp_OrderType",
        "vnp_IpAddr",
    ]
    .iter()
    .all(|name| !param(name).trim().is_empty());
    let well_formed = param("vnp_Version") == VERSION
        && param("vnp_Command") == "pay"
        && param("vnp_CurrCode") == "VND"
        && matches!(param("vnp_Locale"), "vn" | "en")
        && required_present
        && create_date.is_some();
    let (Some(amount), Some(expire_at), true) = (amount, expire_at, well_formed) else {
        return refusal(locale, "03");
    };
    if expire_at < Utc::now() {
        return refusal(locale, "15");
    }
    let key = (tmn_code.to_owned(), txn_ref.to_owned());
    if ledger.payments.contains_key(&key) {
        return refusal(locale, "94");
    }
    let order_info = param("vnp_OrderInfo").to_owned();
    ledger.payments.insert(
        key,
        Payment {
            amount,
            order_info: order_info.clone(),
            locale: locale.to_owned(),
            create_date: param("vnp_CreateDate").to_owned(),
            expire_at,
            return_url: param("vnp_ReturnUrl").to_owned(),
            status: Status::Pending,
            response_code: "",
            transaction_no: 0,
            pay_date: String::new(),
            charged: amount,
            refunded: 0,
        },
    );
    drop(ledger);

    let hidden = format!(
        "<input type=hidden name=tmn_code value=\"{}\"><input type=hidden name=txn_ref value=\"{}\">",
        gateway::escape(tmn_code),
        gateway::escape(txn_ref)
    );
    let (lang, amount_text, labels) = if locale == "en" {
        (
            "en",
            format!("{} VND", gateway::grouped(amount, ',')),
            [
                "Payment by VNPAY (sandbox)",
                "Merchant",
                "Order reference",
                "Amount",
                "Order description",
                "Pay",
                "Cancel payment",
            ],
        )
    } else {
        (
            "vi",
            format!("{} VND", gateway::grouped(amount, '.')),
            [
                "Thanh toán qua VNPAY (môi trường thử nghiệm)",
                "Nhà cung cấp",
                "Mã đơn hàng",
                "Số tiền",
                "Nội dung thanh toán",
                "Thanh toán",
                "Hủy thanh toán",
            ],
        )
    };
    let [
        title,
        merchant_label,
        ref_label,
        amount_label,
        info_label,
        approve,
        decline,
    ] = labels;
    page(
        lang,
        StatusCode::OK,
        &format!(
            "<h1>{title}</h1><dl>\
             <dt>{merchant_label}</dt><dd>{merchant}</dd>\
             <dt>{ref_label}</dt><dd>{txn}</dd>\
             <dt>{amount_label}</dt><dd data-amount=\"{amount}\">{amount_text}</dd>\
             <dt>{info_label}</dt><dd>{info}</dd></dl>\
             <form method=post action=\"/sandbox/vnpay/paymentv2/decide\">{hidden}\
             <button name=decision value=approve>{approve}</button></form>\
             <form method=post action=\"/sandbox/vnpay/paymentv2/decide\">{hidden}\
             <button name=decision value=decline>{decline}</button></form>",
            merchant = gateway::escape(tmn_code),
            txn = gateway::escape(txn_ref),
            info = gateway::escape(&order_info),
        ),
    )
}

fn not_found() -> Response {
    page(
        "vi",
        StatusCode::NOT_FOUND,
        "<p>Không tìm thấy giao dịch / Transaction not found</p>",
    )
}

#[derive(Deserialize)]
struct Decision {
    tmn_code: String,
    txn_ref: String,
    decision: String,
}

/// The parameters of the return and the IPN, unsigned.
fn result_params(tmn_code: &str, txn_ref: &str, payment: &Payment) -> Vec<(String, String)> {
    let paid = payment.status == Status::Paid;
    let mut params = vec![
        ("vnp_Amount", (payment.charged * 100).to_string()),
        ("vnp_BankCode", BANK_CODE.to_owned()),
    ];
    if paid {
        params.push(("vnp_BankTranNo", format!("VNP{}", payment.transaction_no)));
        params.push(("vnp_CardType", "ATM".to_owned()));
    }
    params.extend([
        ("vnp_OrderInfo", payment.order_info.clone()),
        ("vnp_PayDate", payment.pay_date.clone()),
        ("vnp_ResponseCode", payment.response_code.to_owned()),
        ("vnp_TmnCode", tmn_code.to_owned()),
        ("vnp_TransactionNo", payment.transaction_no.to_string()),
        (
            "vnp_TransactionStatus",
            payment.transaction_status().to_owned(),
        ),
        ("vnp_TxnRef", txn_ref.to_owned()),
    ]);
    params
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

async fn decide(State(gateway): State<Gateway>, Form(decision): Form<Decision>) -> Response {
    let approve = match decision.decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return page("vi", StatusCode::BAD_REQUEST, "<p>decision?</p>"),
    };
    let switch = gateway.switches.get(&decision.txn_ref);
    let mut ledger = gateway.ledger();
    let Some((hash_secret, ipn_url)) = ledger
        .merchants
        .get(&decision.tmn_code)
        .map(|m| (m.hash_secret.clone(), m.ipn_url.clone()))
    else {
        return not_found();
    };
    let key = (decision.tmn_code.clone(), decision.txn_ref.clone());
    let (status, expire_at, lang) = match ledger.payments.get(&key) {
        Some(payment) => (
            payment.status,
            payment.expire_at,
            if payment.locale == "en" { "en" } else { "vi" },
        ),
        None => return not_found(),
    };
    if status != Status::Pending {
        return page(
            lang,
            StatusCode::CONFLICT,
            "<p>Giao dịch đã được xử lý / Transaction already processed</p>",
        );
    }
    let now = Utc::now();
    let (status, response_code) = if expire_at < now {
        (Status::Failed, "11")
    } else if approve {
        (Status::Paid, "00")
    } else {
        (Status::Failed, "24")
    };
    let transaction_no = if status == Status::Paid {
        ledger.next_transaction_no()
    } else {
        0
    };
    let Some(payment) = ledger.payments.get_mut(&key) else {
        return not_found();
    };
    payment.status = status;
    payment.response_code = response_code;
    payment.transaction_no = transaction_no;
    payment.pay_date = format_date(now);
    payment.charged = payment.amount + switch.amount_delta;
    let query = signed_query(
        &hash_secret,
        &result_params(&decision.tmn_code, &decision.txn_ref, payment),
    );
    let return_url = gateway::with_query(&payment.return_url, &query);
    drop(ledger);

    let ipn = gateway::with_query(&ipn_url, &query);
    let (http, log, txn_ref) = (
        gateway.http.clone(),
        gateway.ipn_log.clone(),
        decision.txn_ref,
    );
    tokio::spawn(async move {
        gateway::deliver_ipn(switch, &log, &txn_ref, |attempt| {
            let (http, ipn) = (http.clone(), ipn.clone());
            async move {
                let (status, rsp_code) = match http.get(&ipn).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let body = response.json::<Value>().await.ok();
                        let rsp_code = body
                            .as_ref()
                            .and_then(|b| b.get("RspCode"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                        (Some(status), rsp_code)
                    }
                    Err(_) => (None, None),
                };
                let acknowledged = matches!(rsp_code.as_deref(), Some("00" | "02"));
                (
                    acknowledged,
                    json!({ "attempt": attempt, "rsp_code": rsp_code, "http_status": status }),
                )
            }
        })
        .await;
    });
    gateway::found(&return_url)
}

/// A merchant API answer: `fields`, signed over `hashed` (absent ones as empty strings) when
/// the merchant is known.
fn signed_answer(hash_secret: Option<&str>, fields: &[(&str, String)], hashed: &[&str]) -> Value {
    let mut answer: Map<String, Value> = fields
        .iter()
        .map(|(key, value)| ((*key).to_owned(), Value::String(value.clone())))
        .collect();
    if let Some(secret) = hash_secret {
        let values: Vec<&str> = hashed
            .iter()
            .map(|key| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default()
            })
            .collect();
        answer.insert(
            "vnp_SecureHash".to_owned(),
            Value::String(pipe_hash(secret, &values)),
        );
    }
    Value::Object(answer)
}

fn api_message(command: &str, code: &str) -> &'static str {
    match (command, code) {
        ("querydr", "00") => "QueryDR Success",
        ("refund", "00") => "Refund success",
        (_, "91") => "Transaction not found",
        (_, "97") => "Invalid Checksum",
        ("querydr", "02") => "Merchant is not valid",
        ("refund", "02") => "Refund amount exceeds the remaining amount",
        (_, "04") => "Full refund is not allowed after a partial refund",
        (_, "94") => "Request is duplicate",
        (_, "95") => "Transaction is not paid",
        _ => "Invalid data format",
    }
}

/// The merchant API's request fields, as strings (numbers accepted as VNPay's own clients send
/// some that way).
struct ApiRequest(Map<String, Value>);

impl ApiRequest {
    fn field(&self, name: &str) -> String {
        match self.0.get(name) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => String::new(),
        }
    }
}

async fn merchant_api(State(gateway): State<Gateway>, body: Bytes) -> Json<Value> {
    let request = match serde_json::from_slice::<Map<String, Value>>(&body) {
        Ok(fields) => ApiRequest(fields),
        Err(_) => ApiRequest(Map::new()),
    };
    let command = request.field("vnp_Command");
    let txn_ref = request.field("vnp_TxnRef");
    let answer = match command.as_str() {
        "querydr" => query(&gateway, &request),
        "refund" => refund(&gateway, &request),
        _ => signed_answer(
            None,
            &[
                ("vnp_ResponseId", response_id()),
                ("vnp_Command", command.clone()),
                ("vnp_ResponseCode", "03".to_owned()),
                ("vnp_Message", api_message("", "03").to_owned()),
            ],
            &[],
        ),
    };
    if !txn_ref.is_empty() {
        gateway.switches.api_delay(&txn_ref).await;
    }
    Json(answer)
}

fn response_id() -> String {
    gateway::lower_hex(&rand::random::<[u8; 16]>())
}

/// What is common to both commands' checks, in VNPay's order: the merchant, the format, the
/// signature, the request id. `Err` is the answer's response code.
fn check_request(
    ledger: &mut Ledger,
    request: &ApiRequest,
    required: &[&str],
    hashed: &[&str],
) -> Result<String, (&'static str, Option<String>)> {
    let tmn_code = request.field("vnp_TmnCode");
    let Some(hash_secret) = ledger
        .merchants
        .get(&tmn_code)
        .map(|m| m.hash_secret.clone())
    else {
        return Err(("02", None));
    };
    let well_formed = required.iter().all(|name| !request.field(name).is_empty())
        && request.field("vnp_Version") == VERSION
        && parse_date(&request.field("vnp_CreateDate")).is_some()
        && parse_date(&request.field("vnp_TransactionDate")).is_some();
    if !well_formed {
        return Err(("03", Some(hash_secret)));
    }
    let values: Vec<String> = hashed.iter().map(|name| request.field(name)).collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    if !request
        .field("vnp_SecureHash")
        .eq_ignore_ascii_case(&pipe_hash(&hash_secret, &values))
    {
        return Err(("97", Some(hash_secret)));
    }
    if !ledger
        .request_ids
        .insert((tmn_code.clone(), request.field("vnp_RequestId")))
    {
        return Err(("94", Some(hash_secret)));
    }
    Ok(hash_secret)
}

/// `querydr`: a payment's status.
fn query(gateway: &Gateway, request: &ApiRequest) -> Value {
    let tmn_code = request.field("vnp_TmnCode");
    let txn_ref = request.field("vnp_TxnRef");
    let mut fields = vec![
        ("vnp_ResponseId", response_id()),
        ("vnp_Command", "querydr".to_owned()),
        ("vnp_ResponseCode", String::new()),
        ("vnp_Message", String::new()),
        ("vnp_TmnCode", tmn_code.clone()),
        ("vnp_TxnRef", txn_ref.clone()),
    ];
    let mut ledger = gateway.ledger();
    let required = [
        "vnp_RequestId",
        "vnp_TmnCode",
        "vnp_TxnRef",
        "vnp_OrderInfo",
        "vnp_IpAddr",
    ];
    let (code, secret) = match check_request(&mut ledger, request, &required, QUERY_HASHED) {
        Err(failure) => failure,
        Ok(secret) => {
            let key = (tmn_code, txn_ref.clone());
            match ledger
                .payments
                .get(&key)
                .filter(|p| p.create_date == request.field("vnp_TransactionDate"))
            {
                None => ("91", Some(secret)),
                Some(payment) => {
                    let decided = payment.status != Status::Pending;
                    let amount = if decided {
                        payment.charged
                    } else {
                        payment.amount + gateway.switches.get(&txn_ref).amount_delta
                    };
                    fields.extend([
                        ("vnp_Amount", (amount * 100).to_string()),
                        ("vnp_OrderInfo", payment.order_info.clone()),
                        (
                            "vnp_BankCode",
                            if decided { BANK_CODE } else { "" }.to_owned(),
                        ),
                        ("vnp_PayDate", payment.pay_date.clone()),
                        (
                            "vnp_TransactionNo",
                            if decided {
                                payment.transaction_no.to_string()
                            } else {
                                String::new()
                            },
                        ),
                        ("vnp_TransactionType", "01".to_owned()),
                        (
                            "vnp_TransactionStatus",
                            payment.transaction_status().to_owned(),
                        ),
                        ("vnp_PromotionCode", String::new()),
                        ("vnp_PromotionAmount", String::new()),
                    ]);
                    ("00", Some(secret))
                }
            }
        }
    };
    fields[2].1 = code.to_owned();
    fields[3].1 = api_message("querydr", code).to_owned();
    signed_answer(secret.as_deref(), &fields, QUERY_ANSWER_HASHED)
}

/// `refund`: all (`02`) or part (`03`) of a paid payment back to the payer.
fn refund(gateway: &Gateway, request: &ApiRequest) -> Value {
    let tmn_code = request.field("vnp_TmnCode");
    let txn_ref = request.field("vnp_TxnRef");
    let transaction_type = request.field("vnp_TransactionType");
    let mut fields = vec![
        ("vnp_ResponseId", response_id()),
        ("vnp_Command", "refund".to_owned()),
        ("vnp_ResponseCode", String::new()),
        ("vnp_Message", String::new()),
        ("vnp_TmnCode", tmn_code.clone()),
        ("vnp_TxnRef", txn_ref.clone()),
        ("vnp_Amount", request.field("vnp_Amount")),
        ("vnp_OrderInfo", request.field("vnp_OrderInfo")),
        ("vnp_TransactionType", transaction_type.clone()),
    ];
    let mut ledger = gateway.ledger();
    let required = [
        "vnp_RequestId",
        "vnp_TmnCode",
        "vnp_TxnRef",
        "vnp_OrderInfo",
        "vnp_IpAddr",
        "vnp_CreateBy",
    ];
    let checked =
        check_request(&mut ledger, request, &required, REFUND_HASHED).and_then(|secret| {
            let amount = parse_vnp_amount(&request.field("vnp_Amount")).filter(|a| *a > 0);
            match (amount, transaction_type.as_str()) {
                (Some(amount), "02" | "03") => Ok((secret, amount)),
                _ => Err(("03", Some(secret))),
            }
        });
    let (code, secret) = match checked {
        Err(failure) => failure,
        Ok((secret, amount)) => {
            let refund_no = ledger.last_transaction_no + 1;
            let transaction_no = request.field("vnp_TransactionNo");
            let key = (tmn_code, txn_ref);
            let found = ledger.payments.get_mut(&key).filter(|p| {
                p.create_date == request.field("vnp_TransactionDate")
                    && (transaction_no.is_empty() || transaction_no == p.transaction_no.to_string())
            });
            let code = match found {
                None => "91",
                Some(payment) if payment.status != Status::Paid => "95",
                Some(payment) if transaction_type == "02" && payment.refunded > 0 => "04",
                Some(payment) if amount > payment.charged - payment.refunded => "02",
                Some(payment) => {
                    payment.refunded += amount;
                    fields.extend([
                        ("vnp_BankCode", BANK_CODE.to_owned()),
                        ("vnp_PayDate", format_date(Utc::now())),
                        ("vnp_TransactionNo", refund_no.to_string()),
                        ("vnp_TransactionStatus", "05".to_owned()),
                    ]);
                    "00"
                }
            };
            if code == "00" {
                ledger.last_transaction_no = refund_no;
            }
            (code, Some(secret))
        }
    };
    fields[2].1 = code.to_owned();
    fields[3].1 = api_message("refund", code).to_owned();
    signed_answer(secret.as_deref(), &fields, REFUND_ANSWER_HASHED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing::{self, Answer};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Expected values computed apart from this code, with Python's `hmac` and
    /// `urllib.parse.quote_plus`.
    #[test]
    fn the_query_string_hash_is_vnpays() {
        let params = owned(&[
            ("vnp_Version", "2.1.0"),
            ("vnp_Command", "pay"),
            ("vnp_TmnCode", "CITIZEN1"),
            ("vnp_Amount", "48735000"),
            ("vnp_CreateDate", "20261105103000"),
            ("vnp_CurrCode", "VND"),
            ("vnp_IpAddr", "127.0.0.1"),
            ("vnp_Locale", "vn"),
            ("vnp_OrderInfo", "Tiền điện tháng 10/2026 (PC05HU0012345)"),
            ("vnp_OrderType", "billpayment"),
            (
                "vnp_ReturnUrl",
                "http://127.0.0.1:8080/v1/payments/return/vnpay?x=1",
            ),
            ("vnp_TxnRef", "ORD-0001"),
            ("vnp_BankCode", ""),
            ("vnp_SecureHashType", "HmacSHA512"),
            ("vnp_SecureHash", "ignored"),
        ]);
        assert_eq!(
            hash_data(&params),
            "vnp_Amount=48735000&vnp_Command=pay&vnp_CreateDate=20261105103000&vnp_CurrCode=VND&vnp_IpAddr=127.0.0.1&vnp_Locale=vn&vnp_OrderInfo=Ti%E1%BB%81n+%C4%91i%E1%BB%87n+th%C3%A1ng+10%2F2026+%28PC05HU0012345%29&vnp_OrderType=billpayment&vnp_ReturnUrl=http%3A%2F%2F127.0.0.1%3A8080%2Fv1%2Fpayments%2Freturn%2Fvnpay%3Fx%3D1&vnp_TmnCode=CITIZEN1&vnp_TxnRef=ORD-0001&vnp_Version=2.1.0"
        );
        assert_eq!(
            secure_hash(DEMO_HASH_SECRET, &params),
            "30414c9468dbf6a52de4eaf7253da9ebf5b380f99ca197cdde76732989a688247aed7e7e91ca0a9b69c6937ce93192629c3ae468d23a68f21b273ab4ff74c5fb"
        );
    }

    #[test]
    fn the_pipe_hash_is_vnpays() {
        let values = [
            "req-1",
            "2.1.0",
            "querydr",
            "CITIZEN1",
            "ORD-0001",
            "20261105103000",
            "20261105110000",
            "127.0.0.1",
            "Truy van giao dich ORD-0001",
        ];
        assert_eq!(
            pipe_hash(DEMO_HASH_SECRET, &values),
            "351eba8e2b1b3c9c4eb1b32eaf218c41c8ba3581767855453f3fef4f2f24fb4b12ec2721ae43a042b7a232687208335781614e0fb5a45b82958c0ee371319eec"
        );
    }

    fn payment_params(tmn_code: &str, txn_ref: &str, amount: i64) -> Vec<(String, String)> {
        let now = Utc::now();
        owned(&[
            ("vnp_Version", VERSION),
            ("vnp_Command", "pay"),
            ("vnp_TmnCode", tmn_code),
            ("vnp_Amount", &(amount * 100).to_string()),
            ("vnp_CreateDate", &format_date(now)),
            (
                "vnp_ExpireDate",
                &format_date(now + chrono::Duration::minutes(15)),
            ),
            ("vnp_CurrCode", "VND"),
            ("vnp_IpAddr", "127.0.0.1"),
            ("vnp_Locale", "vn"),
            ("vnp_OrderInfo", "Thanh toán hóa đơn điện"),
            ("vnp_OrderType", "billpayment"),
            ("vnp_ReturnUrl", "http://127.0.0.1:8080/return"),
            ("vnp_TxnRef", txn_ref),
        ])
    }

    fn payment_url(secret: &str, params: &[(String, String)]) -> String {
        format!(
            "/sandbox/vnpay/paymentv2/vpcpay.html?{}",
            signed_query(secret, params)
        )
    }

    fn app() -> Router {
        Router::new().nest("/sandbox/vnpay", router())
    }

    async fn api(app: &Router, fields: &[(&str, String)], hashed: &[&str], secret: &str) -> Value {
        let values: Vec<&str> = hashed
            .iter()
            .map(|k| {
                fields
                    .iter()
                    .find(|(f, _)| f == k)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default()
            })
            .collect();
        let mut body: Map<String, Value> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect();
        body.insert(
            "vnp_SecureHash".to_owned(),
            Value::String(pipe_hash(secret, &values)),
        );
        let answer = testing::post_json(
            app,
            "/sandbox/vnpay/merchant_webapi/api/transaction",
            &Value::Object(body),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.json()
    }

    fn check_answer_hash(answer: &Value, hashed: &[&str], secret: &str) {
        let values: Vec<&str> = hashed
            .iter()
            .map(|k| answer[*k].as_str().unwrap_or_default())
            .collect();
        assert_eq!(answer["vnp_SecureHash"], pipe_hash(secret, &values));
    }

    fn refund_fields(
        request_id: &str,
        kind: &str,
        txn_ref: &str,
        amount: i64,
        transaction_date: &str,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("vnp_RequestId", request_id.to_owned()),
            ("vnp_Version", VERSION.to_owned()),
            ("vnp_Command", "refund".to_owned()),
            ("vnp_TmnCode", "SHOP1".to_owned()),
            ("vnp_TransactionType", kind.to_owned()),
            ("vnp_TxnRef", txn_ref.to_owned()),
            ("vnp_Amount", (amount * 100).to_string()),
            ("vnp_TransactionNo", String::new()),
            ("vnp_TransactionDate", transaction_date.to_owned()),
            ("vnp_CreateBy", "ops@citizen".to_owned()),
            ("vnp_CreateDate", format_date(Utc::now())),
            ("vnp_IpAddr", "127.0.0.1".to_owned()),
            ("vnp_OrderInfo", "Hoàn tiền".to_owned()),
        ]
    }

    #[tokio::test]
    async fn a_payment_is_approved_reported_twice_queried_and_refunded_within_what_was_paid() {
        // The merchant's IPN endpoint: fails once, then confirms.
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let merchant = Router::new().route(
            "/ipn",
            get(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                async move {
                    let code = if n == 0 { "99" } else { "00" };
                    Json(json!({ "RspCode": code, "Message": "ok" }))
                }
            }),
        );
        let base = testing::serve(merchant).await;
        let app = app();
        let secret = "SHOP1SECRET";
        let registered = testing::post_json(
            &app,
            "/sandbox/vnpay/merchants",
            &json!({ "tmn_code": "SHOP1", "hash_secret": secret, "ipn_url": format!("{base}/ipn") }),
        )
        .await;
        assert_eq!(registered.status, StatusCode::NO_CONTENT);

        let params = payment_params("SHOP1", "T1", 487_350);
        let create_date = params[4].1.clone();
        let page = testing::get(&app, &payment_url(secret, &params)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("487.350"));
        let again = testing::get(&app, &payment_url(secret, &params)).await;
        assert!(again.body.contains("data-code=\"94\""));

        let decided = testing::post_form(
            &app,
            "/sandbox/vnpay/paymentv2/decide",
            &[
                ("tmn_code", "SHOP1"),
                ("txn_ref", "T1"),
                ("decision", "approve"),
            ],
        )
        .await;
        assert_eq!(decided.status, StatusCode::FOUND);
        let location = decided.location().to_owned();
        let query = location.split_once('?').unwrap().1;
        let returned: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let field = |name: &str| {
            returned
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(field("vnp_ResponseCode"), "00");
        assert_eq!(field("vnp_TransactionStatus"), "00");
        assert_eq!(field("vnp_Amount"), "48735000");
        assert_eq!(field("vnp_TransactionNo").len(), 8);
        assert_eq!(field("vnp_SecureHash"), secure_hash(secret, &returned));
        let twice = testing::post_form(
            &app,
            "/sandbox/vnpay/paymentv2/decide",
            &[
                ("tmn_code", "SHOP1"),
                ("txn_ref", "T1"),
                ("decision", "approve"),
            ],
        )
        .await;
        assert_eq!(twice.status, StatusCode::CONFLICT);

        // Refused once, confirmed, then sent once more.
        let log = testing::eventually(
            || async {
                testing::get(&app, "/sandbox/vnpay/ipn-log?txn_ref=T1")
                    .await
                    .json()
            },
            |log: &Value| log.as_array().is_some_and(|a| a.len() >= 3),
        )
        .await;
        assert_eq!(
            log,
            json!([
                { "attempt": 1, "rsp_code": "99", "http_status": 200 },
                { "attempt": 2, "rsp_code": "00", "http_status": 200 },
                { "attempt": 3, "rsp_code": "00", "http_status": 200 },
            ])
        );

        let query_fields = vec![
            ("vnp_RequestId", "q1".to_owned()),
            ("vnp_Version", VERSION.to_owned()),
            ("vnp_Command", "querydr".to_owned()),
            ("vnp_TmnCode", "SHOP1".to_owned()),
            ("vnp_TxnRef", "T1".to_owned()),
            ("vnp_OrderInfo", "Truy vấn".to_owned()),
            ("vnp_TransactionDate", create_date.clone()),
            ("vnp_CreateDate", format_date(Utc::now())),
            ("vnp_IpAddr", "127.0.0.1".to_owned()),
        ];
        let status = api(&app, &query_fields, QUERY_HASHED, secret).await;
        assert_eq!(status["vnp_ResponseCode"], "00");
        assert_eq!(status["vnp_TransactionStatus"], "00");
        assert_eq!(status["vnp_Amount"], "48735000");
        check_answer_hash(&status, QUERY_ANSWER_HASHED, secret);
        let repeated = api(&app, &query_fields, QUERY_HASHED, secret).await;
        assert_eq!(repeated["vnp_ResponseCode"], "94");

        let too_much = api(
            &app,
            &refund_fields("r1", "03", "T1", 487_400, &create_date),
            REFUND_HASHED,
            secret,
        )
        .await;
        assert_eq!(too_much["vnp_ResponseCode"], "02");
        let partial = api(
            &app,
            &refund_fields("r2", "03", "T1", 87_350, &create_date),
            REFUND_HASHED,
            secret,
        )
        .await;
        assert_eq!(partial["vnp_ResponseCode"], "00");
        assert_eq!(partial["vnp_TransactionStatus"], "05");
        check_answer_hash(&partial, REFUND_ANSWER_HASHED, secret);
        let full = api(
            &app,
            &refund_fields("r3", "02", "T1", 400_000, &create_date),
            REFUND_HASHED,
            secret,
        )
        .await;
        assert_eq!(full["vnp_ResponseCode"], "04");
        let rest_too_much = api(
            &app,
            &refund_fields("r4", "03", "T1", 400_100, &create_date),
            REFUND_HASHED,
            secret,
        )
        .await;
        assert_eq!(rest_too_much["vnp_ResponseCode"], "02");
        let mut forged = refund_fields("r5", "03", "T1", 1_000, &create_date);
        let forged_answer = api(&app, &forged, REFUND_HASHED, "not the secret").await;
        assert_eq!(forged_answer["vnp_ResponseCode"], "97");
        forged[5].1 = "never-opened".to_owned();
        let unknown = api(&app, &forged, REFUND_HASHED, secret).await;
        assert_eq!(unknown["vnp_ResponseCode"], "91");
    }

    #[tokio::test]
    async fn the_payment_page_refuses_what_vnpay_refuses() {
        let app = app();
        let refused = |answer: &Answer, code: &str| {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST);
            assert!(
                answer.body.contains(&format!("data-code=\"{code}\"")),
                "{code}: {}",
                answer.body
            );
        };
        let params = payment_params(DEMO_TMN_CODE, "BAD1", 50_000);
        refused(
            &testing::get(&app, &payment_url("wrong secret", &params)).await,
            "70",
        );
        let stranger = payment_params("NOBODY", "BAD2", 50_000);
        refused(
            &testing::get(&app, &payment_url(DEMO_HASH_SECRET, &stranger)).await,
            "71",
        );
        let small = payment_params(DEMO_TMN_CODE, "BAD3", 4_999);
        refused(
            &testing::get(&app, &payment_url(DEMO_HASH_SECRET, &small)).await,
            "03",
        );
        let mut expired = payment_params(DEMO_TMN_CODE, "BAD4", 50_000);
        expired[5].1 = format_date(Utc::now() - chrono::Duration::minutes(1));
        refused(
            &testing::get(&app, &payment_url(DEMO_HASH_SECRET, &expired)).await,
            "15",
        );
    }

    #[tokio::test]
    async fn a_declined_payment_reports_24_and_a_wrong_amount_when_told() {
        let app = app();
        testing::post_json(
            &app,
            "/sandbox/vnpay/switches",
            &json!({ "txn_ref": "D1", "ipn": "none", "amount_delta": 1000 }),
        )
        .await;
        let params = payment_params(DEMO_TMN_CODE, "D1", 100_000);
        let page = testing::get(&app, &payment_url(DEMO_HASH_SECRET, &params)).await;
        assert_eq!(page.status, StatusCode::OK);
        let decided = testing::post_form(
            &app,
            "/sandbox/vnpay/paymentv2/decide",
            &[
                ("tmn_code", DEMO_TMN_CODE),
                ("txn_ref", "D1"),
                ("decision", "decline"),
            ],
        )
        .await;
        let location = decided.location();
        assert!(location.contains("vnp_ResponseCode=24"), "{location}");
        assert!(location.contains("vnp_TransactionStatus=02"));
        assert!(location.contains("vnp_TransactionNo=0&"));
        assert!(location.contains("vnp_Amount=10100000"));
        assert!(!location.contains("vnp_BankTranNo"));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let log = testing::get(&app, "/sandbox/vnpay/ipn-log?txn_ref=D1").await;
        assert_eq!(log.json(), json!([]));
    }
}
