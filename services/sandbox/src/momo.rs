//! An emulator of the MoMo e-wallet's payment gateway (API v2, "all-in-one"), so paying with
//! MoMo is built and tested against MoMo's protocol without MoMo:
//!
//! - `POST /sandbox/momo/partners`: registers a partner (`partner_code`, `access_key`,
//!   `secret_key`); [`DEMO_PARTNER_CODE`] is registered from the start.
//! - `POST /sandbox/momo/v2/gateway/api/create`: creates an order and hands out `payUrl` (the
//!   payment page here), `deeplink` and `qrCodeUrl`. An order can be paid for its
//!   `orderExpireTime` (minutes), else [`ORDER_LIFETIME`].
//! - `GET /sandbox/momo/pay/{token}`: the page where the tester approves or declines
//!   (`POST .../decide`). The outcome goes to the partner twice, as with MoMo: the IPN (a JSON
//!   `POST` to `ipnUrl`, retried until the partner answers `204`, then once more as a duplicate)
//!   and the payer's browser (`302` to `redirectUrl?...`, the same fields).
//! - `POST /sandbox/momo/v2/gateway/api/query` and `.../refund`: an order's status (with its
//!   refunds) and a refund of all or part of a paid order.
//! - `POST /sandbox/momo/switches`: makes the gateway misbehave for an `order_id` (or `*`): no
//!   IPN, a late one, a wrong amount reported, a slow API.
//! - `GET /sandbox/momo/ipn-log?order_id=`: every IPN attempt and the partner's HTTP status.
//!
//! Signatures are the lowercase hex HMAC-SHA256, with the partner's secret key, of the raw
//! string `key=value&key=value` of a fixed set of fields (`accessKey` among them) in a-z order,
//! values not encoded. Errors are MoMo's: a JSON body with `resultCode` and `message`, HTTP 400.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::gateway::{self, IpnLog, SwitchUpdate, Switches};

/// The partner registered from the start, for development and tests: TEST ONLY.
pub const DEMO_PARTNER_CODE: &str = "MOMOCITIZEN";
pub const DEMO_ACCESS_KEY: &str = "citizenmomoaccesskey";
pub const DEMO_SECRET_KEY: &str = "citizenmomosecretkeysandbox00001";
/// How long after its creation an order can be paid.
pub const ORDER_LIFETIME: Duration = Duration::from_secs(100 * 60);
const FIRST_TRANS_ID: i64 = 4_100_000_001;
/// MoMo's limits on one payment, in VND.
const MIN_AMOUNT: i64 = 1_000;
const MAX_AMOUNT: i64 = 50_000_000;
const MIN_REFUND: i64 = 1_000;
const ORDER_TYPE: &str = "momo_wallet";
const PAY_TYPE: &str = "qr";

/// The raw string MoMo signs: `pairs` sorted by key, `k=v&k=v`, values as they are.
pub fn raw_signature_data(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.sort();
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn signature(secret_key: &str, pairs: &[(&str, &str)]) -> String {
    gateway::hmac_sha256_hex(secret_key, &raw_signature_data(pairs))
}

/// MoMo's message for a result code, in `lang` (`vi` unless `en`).
fn message(code: i64, lang: &str) -> &'static str {
    let (vi, en) = match code {
        0 => ("Thành công.", "Successful."),
        11 => ("Truy cập bị từ chối.", "Access denied."),
        13 => (
            "Xác thực doanh nghiệp thất bại.",
            "Merchant authentication failed.",
        ),
        22 => (
            "Số tiền giao dịch không hợp lệ.",
            "Transaction amount is out of range.",
        ),
        40 => ("RequestId bị trùng.", "Duplicated requestId."),
        41 => ("OrderId bị trùng.", "Duplicated orderId."),
        42 => (
            "OrderId không tồn tại hoặc không được tìm thấy.",
            "Invalid orderId or orderId is not found.",
        ),
        1000 => (
            "Giao dịch đã được khởi tạo, chờ người dùng xác nhận thanh toán.",
            "Transaction initiated, waiting for user confirmation.",
        ),
        1005 => (
            "Giao dịch thất bại do url hoặc QR code đã hết hạn.",
            "Transaction failed because the url or QR code expired.",
        ),
        1006 => (
            "Giao dịch bị từ chối bởi người dùng.",
            "Transaction denied by user.",
        ),
        1080 => (
            "Giao dịch hoàn tiền bị từ chối: số tiền không hợp lệ.",
            "Refund rejected: invalid amount.",
        ),
        1088 => (
            "Giao dịch hoàn tiền bị từ chối. Giao dịch thanh toán ban đầu không được hỗ trợ hoàn tiền.",
            "Refund rejected: the original payment is not eligible for refund.",
        ),
        _ => ("Yêu cầu sai định dạng.", "Bad format request."),
    };
    if lang == "en" { en } else { vi }
}

struct Partner {
    access_key: String,
    secret_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Created,
    Paid,
    Declined,
    Expired,
}

#[derive(Clone)]
struct RefundRecord {
    order_id: String,
    amount: i64,
    trans_id: i64,
    created_time: i64,
}

struct Order {
    partner_code: String,
    order_id: String,
    request_id: String,
    amount: i64,
    order_info: String,
    redirect_url: String,
    ipn_url: String,
    extra_data: String,
    lang: String,
    created_at: DateTime<Utc>,
    /// How long the payer has (`orderExpireTime`, else [`ORDER_LIFETIME`]).
    lifetime: chrono::Duration,
    status: Status,
    /// 0 until decided.
    trans_id: i64,
    /// The amount reported once decided (see `amount_delta`); what refunds are checked against.
    charged: i64,
    last_updated: i64,
    refunds: Vec<RefundRecord>,
}

impl Order {
    /// The status now: an order nobody decided on expires.
    fn status(&self) -> Status {
        let expired = Utc::now() > self.created_at + self.lifetime;
        if self.status == Status::Created && expired {
            Status::Expired
        } else {
            self.status
        }
    }

    fn result_code(&self) -> i64 {
        match self.status() {
            Status::Created => 1000,
            Status::Paid => 0,
            Status::Declined => 1006,
            Status::Expired => 1005,
        }
    }
}

#[derive(Default)]
struct Books {
    partners: HashMap<String, Partner>,
    /// By (partner code, order id).
    orders: HashMap<(String, String), Order>,
    /// Payment page tokens, to (partner code, order id).
    tokens: HashMap<String, (String, String)>,
    /// (partner code, request id) of every order created.
    request_ids: HashSet<(String, String)>,
    /// (partner code, order id) of every refund made: they share the orders' namespace.
    refund_order_ids: HashSet<(String, String)>,
    /// Payments' transIds, to (partner code, order id).
    payments: HashMap<i64, (String, String)>,
    last_trans_id: i64,
}

impl Books {
    fn next_trans_id(&mut self) -> i64 {
        self.last_trans_id += 1;
        self.last_trans_id
    }
}

#[derive(Clone)]
struct Gateway {
    books: Arc<Mutex<Books>>,
    switches: Arc<Switches>,
    ipn_log: Arc<IpnLog>,
    http: reqwest::Client,
}

impl Gateway {
    fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router() -> Router {
    let mut books = Books {
        last_trans_id: FIRST_TRANS_ID - 1,
        ..Books::default()
    };
    books.partners.insert(
        DEMO_PARTNER_CODE.to_owned(),
        Partner {
            access_key: DEMO_ACCESS_KEY.to_owned(),
            secret_key: DEMO_SECRET_KEY.to_owned(),
        },
    );
    let gateway = Gateway {
        books: Arc::new(Mutex::new(books)),
        switches: Arc::default(),
        ipn_log: Arc::default(),
        http: reqwest::Client::builder()
            .timeout(gateway::IPN_TIMEOUT)
            .build()
            .unwrap_or_default(),
    };
    Router::new()
        .route("/partners", post(register))
        .route("/v2/gateway/api/create", post(create))
        .route("/v2/gateway/api/query", post(query))
        .route("/v2/gateway/api/refund", post(refund))
        .route("/pay/{token}", get(payment_page))
        .route("/pay/{token}/decide", post(decide))
        .route("/switches", post(switch))
        .route("/ipn-log", get(ipn_log))
        .with_state(gateway)
}

#[derive(Deserialize)]
struct Registration {
    partner_code: String,
    access_key: String,
    secret_key: String,
}

async fn register(State(gateway): State<Gateway>, Json(partner): Json<Registration>) -> StatusCode {
    gateway.books().partners.insert(
        partner.partner_code,
        Partner {
            access_key: partner.access_key,
            secret_key: partner.secret_key,
        },
    );
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct SwitchRequest {
    order_id: String,
    #[serde(flatten)]
    update: SwitchUpdate,
}

async fn switch(State(gateway): State<Gateway>, Json(request): Json<SwitchRequest>) -> StatusCode {
    gateway.switches.update(request.order_id, request.update);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct IpnLogQuery {
    order_id: String,
}

async fn ipn_log(
    State(gateway): State<Gateway>,
    Query(query): Query<IpnLogQuery>,
) -> Json<Vec<Value>> {
    Json(gateway.ipn_log.attempts(&query.order_id))
}

/// A request body's fields, typed as MoMo expects them; a wrong type counts as missing.
struct Fields(Map<String, Value>);

impl Fields {
    fn parse(body: &[u8]) -> Self {
        Self(serde_json::from_slice(body).unwrap_or_default())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name)?.as_str().map(str::to_owned)
    }

    /// A required non-empty string.
    fn required(&self, name: &str) -> Option<String> {
        self.text(name).filter(|t| !t.is_empty())
    }

    fn integer(&self, name: &str) -> Option<i64> {
        self.0.get(name)?.as_i64()
    }

    /// `vi` or `en`; `vi` when absent; `None` when something else.
    fn lang(&self) -> Option<String> {
        match self.0.get("lang") {
            None | Some(Value::Null) => Some("vi".to_owned()),
            Some(Value::String(lang)) if lang == "vi" || lang == "en" => Some(lang.clone()),
            _ => None,
        }
    }

    fn echo(&self, name: &str) -> Value {
        self.0
            .get(name)
            .cloned()
            .unwrap_or(Value::String(String::new()))
    }
}

/// A refused request: MoMo's body with the result code, HTTP 400.
fn refused(fields: &Fields, code: i64, lang: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "partnerCode": fields.echo("partnerCode"),
            "requestId": fields.echo("requestId"),
            "orderId": fields.echo("orderId"),
            "responseTime": Utc::now().timestamp_millis(),
            "message": message(code, lang),
            "resultCode": code,
        })),
    )
        .into_response()
}

/// The partner's keys, if it is known.
fn partner_keys(gateway: &Gateway, partner_code: &str) -> Option<(String, String)> {
    gateway
        .books()
        .partners
        .get(partner_code)
        .map(|p| (p.access_key.clone(), p.secret_key.clone()))
}

struct CreateRequest {
    partner_code: String,
    request_id: String,
    amount: i64,
    order_id: String,
    order_info: String,
    redirect_url: String,
    ipn_url: String,
    request_type: String,
    extra_data: String,
    lang: String,
    /// `orderExpireTime`, in minutes.
    expire_minutes: Option<i64>,
}

impl CreateRequest {
    fn parse(fields: &Fields) -> Option<Self> {
        let request_type = fields.required("requestType")?;
        let optional_ok = ["partnerName", "storeId"]
            .iter()
            .all(|name| matches!(fields.0.get(*name), None | Some(Value::String(_))))
            && matches!(fields.0.get("autoCapture"), None | Some(Value::Bool(_)));
        let known_type = matches!(
            request_type.as_str(),
            "captureWallet" | "payWithMethod" | "payWithATM"
        );
        // `orderExpireTime`: minutes, a positive integer when given.
        let expire_minutes = match fields.0.get("orderExpireTime") {
            None => None,
            Some(_) => Some(fields.integer("orderExpireTime").filter(|m| *m > 0)?),
        };
        (optional_ok && known_type).then_some(())?;
        Some(Self {
            partner_code: fields.required("partnerCode")?,
            request_id: fields.required("requestId")?,
            amount: fields.integer("amount")?,
            order_id: fields.required("orderId")?,
            order_info: fields.required("orderInfo")?,
            redirect_url: fields.required("redirectUrl")?,
            ipn_url: fields.required("ipnUrl")?,
            request_type,
            extra_data: fields.text("extraData")?,
            lang: fields.lang()?,
            expire_minutes,
        })
    }
}

async fn create(State(gateway): State<Gateway>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let answer = create_order(&gateway, &headers, &fields);
    let order_id = fields.text("orderId").unwrap_or_default();
    gateway.switches.api_delay(&order_id).await;
    answer
}

fn create_order(gateway: &Gateway, headers: &HeaderMap, fields: &Fields) -> Response {
    let lang = fields.lang().unwrap_or_else(|| "vi".to_owned());
    let Some(request) = CreateRequest::parse(fields) else {
        return refused(fields, 20, &lang);
    };
    let Some((access_key, secret_key)) = partner_keys(gateway, &request.partner_code) else {
        return refused(fields, 11, &lang);
    };
    let amount = request.amount.to_string();
    let expected = signature(
        &secret_key,
        &[
            ("accessKey", &access_key),
            ("amount", &amount),
            ("extraData", &request.extra_data),
            ("ipnUrl", &request.ipn_url),
            ("orderId", &request.order_id),
            ("orderInfo", &request.order_info),
            ("partnerCode", &request.partner_code),
            ("redirectUrl", &request.redirect_url),
            ("requestId", &request.request_id),
            ("requestType", &request.request_type),
        ],
    );
    if fields.text("signature").as_deref() != Some(expected.as_str()) {
        return refused(fields, 13, &lang);
    }
    if !(MIN_AMOUNT..=MAX_AMOUNT).contains(&request.amount) {
        return refused(fields, 22, &lang);
    }
    let mut books = gateway.books();
    let order_key = (request.partner_code.clone(), request.order_id.clone());
    if books
        .request_ids
        .contains(&(request.partner_code.clone(), request.request_id.clone()))
    {
        return refused(fields, 40, &lang);
    }
    if books.orders.contains_key(&order_key) || books.refund_order_ids.contains(&order_key) {
        return refused(fields, 41, &lang);
    }
    books
        .request_ids
        .insert((request.partner_code.clone(), request.request_id.clone()));
    let token = gateway::lower_hex(&rand::random::<[u8; 16]>());
    let now = Utc::now();
    books.tokens.insert(token.clone(), order_key.clone());
    books.orders.insert(
        order_key,
        Order {
            partner_code: request.partner_code.clone(),
            order_id: request.order_id.clone(),
            request_id: request.request_id.clone(),
            amount: request.amount,
            order_info: request.order_info,
            redirect_url: request.redirect_url,
            ipn_url: request.ipn_url,
            extra_data: request.extra_data,
            lang: request.lang.clone(),
            created_at: now,
            lifetime: request
                .expire_minutes
                .map(chrono::Duration::minutes)
                .or_else(|| chrono::Duration::from_std(ORDER_LIFETIME).ok())
                .unwrap_or_else(|| chrono::Duration::minutes(100)),
            status: Status::Created,
            trans_id: 0,
            charged: request.amount,
            last_updated: now.timestamp_millis(),
            refunds: Vec::new(),
        },
    );
    drop(books);
    let host = gateway::host(headers);
    Json(json!({
        "partnerCode": request.partner_code,
        "requestId": request.request_id,
        "orderId": request.order_id,
        "amount": request.amount,
        "responseTime": now.timestamp_millis(),
        "message": message(0, &request.lang),
        "resultCode": 0,
        "payUrl": format!("http://{host}/sandbox/momo/pay/{token}"),
        "deeplink": format!("momo://app?action=payWithApp&isScanQR=false&serviceType=app&sid={token}&v=3.0"),
        "qrCodeUrl": format!("momo://app?action=payWithApp&isScanQR=true&serviceType=qr&sid={token}&v=3.0"),
    }))
    .into_response()
}

fn page(lang: &str, status: StatusCode, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html lang={lang}><meta charset=utf-8><title>MoMo (sandbox)</title>{body}</html>"
        )),
    )
        .into_response()
}

fn unknown_token() -> Response {
    page(
        "vi",
        StatusCode::NOT_FOUND,
        "<p>Không tìm thấy đơn hàng / Order not found</p>",
    )
}

async fn payment_page(State(gateway): State<Gateway>, Path(token): Path<String>) -> Response {
    let books = gateway.books();
    let Some(order) = books
        .tokens
        .get(&token)
        .and_then(|key| books.orders.get(key))
    else {
        return unknown_token();
    };
    let en = order.lang == "en";
    let labels = if en {
        [
            "Pay with MoMo (sandbox)",
            "Order",
            "Amount",
            "Description",
            "Confirm payment",
            "Decline",
            "This order has already been processed or has expired.",
        ]
    } else {
        [
            "Thanh toán bằng Ví MoMo (môi trường thử nghiệm)",
            "Mã đơn hàng",
            "Số tiền",
            "Nội dung",
            "Xác nhận thanh toán",
            "Từ chối",
            "Đơn hàng đã được xử lý hoặc đã hết hạn.",
        ]
    };
    let [
        title,
        order_label,
        amount_label,
        info_label,
        approve,
        decline,
        done,
    ] = labels;
    let amount_text = format!(
        "{}đ",
        gateway::grouped(order.amount, if en { ',' } else { '.' })
    );
    let action = format!("/sandbox/momo/pay/{}/decide", gateway::escape(&token));
    let forms = if order.status() == Status::Created {
        format!(
            "<form method=post action=\"{action}\"><button name=decision value=approve>{approve}</button></form>\
             <form method=post action=\"{action}\"><button name=decision value=decline>{decline}</button></form>"
        )
    } else {
        format!("<p>{done}</p>")
    };
    page(
        if en { "en" } else { "vi" },
        StatusCode::OK,
        &format!(
            "<h1>{title}</h1><dl><dt>{order_label}</dt><dd>{id}</dd>\
             <dt>{amount_label}</dt><dd data-amount=\"{amount}\">{amount_text}</dd>\
             <dt>{info_label}</dt><dd>{info}</dd></dl>{forms}",
            id = gateway::escape(&order.order_id),
            amount = order.amount,
            info = gateway::escape(&order.order_info),
        ),
    )
}

#[derive(Deserialize)]
struct Decision {
    decision: String,
}

/// The fields of the IPN and the redirect, signed, in MoMo's order.
fn outcome_fields(order: &Order, access_key: &str, secret_key: &str) -> Vec<(&'static str, Value)> {
    let code = order.result_code();
    let message = message(code, &order.lang);
    let response_time = Utc::now().timestamp_millis();
    let (amount, trans_id, result_code, time) = (
        order.charged.to_string(),
        order.trans_id.to_string(),
        code.to_string(),
        response_time.to_string(),
    );
    let signature = signature(
        secret_key,
        &[
            ("accessKey", access_key),
            ("amount", &amount),
            ("extraData", &order.extra_data),
            ("message", message),
            ("orderId", &order.order_id),
            ("orderInfo", &order.order_info),
            ("orderType", ORDER_TYPE),
            ("partnerCode", &order.partner_code),
            ("payType", PAY_TYPE),
            ("requestId", &order.request_id),
            ("responseTime", &time),
            ("resultCode", &result_code),
            ("transId", &trans_id),
        ],
    );
    vec![
        ("partnerCode", json!(order.partner_code)),
        ("orderId", json!(order.order_id)),
        ("requestId", json!(order.request_id)),
        ("amount", json!(order.charged)),
        ("orderInfo", json!(order.order_info)),
        ("orderType", json!(ORDER_TYPE)),
        ("transId", json!(order.trans_id)),
        ("resultCode", json!(code)),
        ("message", json!(message)),
        ("payType", json!(PAY_TYPE)),
        ("responseTime", json!(response_time)),
        ("extraData", json!(order.extra_data)),
        ("signature", json!(signature)),
    ]
}

async fn decide(
    State(gateway): State<Gateway>,
    Path(token): Path<String>,
    Form(decision): Form<Decision>,
) -> Response {
    let approve = match decision.decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return page("vi", StatusCode::BAD_REQUEST, "<p>decision?</p>"),
    };
    let mut books = gateway.books();
    let Some(key) = books.tokens.get(&token).cloned() else {
        return unknown_token();
    };
    let Some(current) = books.orders.get(&key).map(Order::status) else {
        return unknown_token();
    };
    // Only once; an expired order is decided here, when the payer gets to it.
    if books.orders.get(&key).is_some_and(|o| o.trans_id != 0) {
        return page(
            "vi",
            StatusCode::CONFLICT,
            "<p>Đơn hàng đã được xử lý / Order already processed</p>",
        );
    }
    let Some((access_key, secret_key)) = books
        .partners
        .get(&key.0)
        .map(|p| (p.access_key.clone(), p.secret_key.clone()))
    else {
        return unknown_token();
    };
    let switch = gateway.switches.get(&key.1);
    let trans_id = books.next_trans_id();
    let status = match (current, approve) {
        (Status::Expired, _) => Status::Expired,
        (_, true) => Status::Paid,
        (_, false) => Status::Declined,
    };
    if status == Status::Paid {
        books.payments.insert(trans_id, key.clone());
    }
    let Some(order) = books.orders.get_mut(&key) else {
        return unknown_token();
    };
    order.status = status;
    order.trans_id = trans_id;
    order.charged = order.amount + switch.amount_delta;
    order.last_updated = Utc::now().timestamp_millis();
    let fields = outcome_fields(order, &access_key, &secret_key);
    let (redirect_url, ipn_url) = (order.redirect_url.clone(), order.ipn_url.clone());
    drop(books);

    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &fields {
        match value {
            Value::String(text) => query.append_pair(name, text),
            other => query.append_pair(name, &other.to_string()),
        };
    }
    let location = gateway::with_query(&redirect_url, &query.finish());
    let body: Map<String, Value> = fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    let (http, log, order_id) = (gateway.http.clone(), gateway.ipn_log.clone(), key.1);
    tokio::spawn(async move {
        gateway::deliver_ipn(switch, &log, &order_id, |attempt| {
            let (http, ipn_url, body) = (http.clone(), ipn_url.clone(), body.clone());
            async move {
                let status = http
                    .post(&ipn_url)
                    .json(&body)
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status().as_u16());
                (
                    status == Some(204),
                    json!({ "attempt": attempt, "http_status": status }),
                )
            }
        })
        .await;
    });
    gateway::found(&location)
}

async fn query(State(gateway): State<Gateway>, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let order_id = fields.text("orderId").unwrap_or_default();
    let answer = query_order(&gateway, &fields);
    gateway.switches.api_delay(&order_id).await;
    answer
}

fn query_order(gateway: &Gateway, fields: &Fields) -> Response {
    let lang = fields.lang().unwrap_or_else(|| "vi".to_owned());
    let (Some(partner_code), Some(request_id), Some(order_id), Some(_)) = (
        fields.required("partnerCode"),
        fields.required("requestId"),
        fields.required("orderId"),
        fields.lang(),
    ) else {
        return refused(fields, 20, &lang);
    };
    let Some((access_key, secret_key)) = partner_keys(gateway, &partner_code) else {
        return refused(fields, 11, &lang);
    };
    let expected = signature(
        &secret_key,
        &[
            ("accessKey", &access_key),
            ("orderId", &order_id),
            ("partnerCode", &partner_code),
            ("requestId", &request_id),
        ],
    );
    if fields.text("signature").as_deref() != Some(expected.as_str()) {
        return refused(fields, 13, &lang);
    }
    let books = gateway.books();
    let Some(order) = books.orders.get(&(partner_code.clone(), order_id.clone())) else {
        return refused(fields, 42, &lang);
    };
    let code = order.result_code();
    let amount = if order.trans_id == 0 {
        order.amount + gateway.switches.get(&order_id).amount_delta
    } else {
        order.charged
    };
    let refunds: Vec<Value> = order
        .refunds
        .iter()
        .map(|r| {
            json!({
                "orderId": r.order_id, "amount": r.amount, "resultCode": 0,
                "transId": r.trans_id, "createdTime": r.created_time,
            })
        })
        .collect();
    Json(json!({
        "partnerCode": partner_code,
        "requestId": request_id,
        "orderId": order_id,
        "extraData": order.extra_data,
        "amount": amount,
        "transId": order.trans_id,
        "payType": if order.trans_id == 0 { "" } else { PAY_TYPE },
        "resultCode": code,
        "message": message(code, &lang),
        "refundTrans": refunds,
        "responseTime": Utc::now().timestamp_millis(),
        "lastUpdated": order.last_updated,
    }))
    .into_response()
}

async fn refund(State(gateway): State<Gateway>, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let (answer, original_order) = refund_order(&gateway, &fields);
    gateway
        .switches
        .api_delay(original_order.as_deref().unwrap_or("*"))
        .await;
    answer
}

/// The answer, and the order refunded (for its switch), when found.
fn refund_order(gateway: &Gateway, fields: &Fields) -> (Response, Option<String>) {
    let lang = fields.lang().unwrap_or_else(|| "vi".to_owned());
    let (
        Some(partner_code),
        Some(order_id),
        Some(request_id),
        Some(amount),
        Some(trans_id),
        Some(_),
    ) = (
        fields.required("partnerCode"),
        fields.required("orderId"),
        fields.required("requestId"),
        fields.integer("amount"),
        fields.integer("transId"),
        fields.lang(),
    )
    else {
        return (refused(fields, 20, &lang), None);
    };
    let description = match fields.0.get("description") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return (refused(fields, 20, &lang), None),
    };
    let Some((access_key, secret_key)) = partner_keys(gateway, &partner_code) else {
        return (refused(fields, 11, &lang), None);
    };
    let (amount_text, trans_id_text) = (amount.to_string(), trans_id.to_string());
    let expected = signature(
        &secret_key,
        &[
            ("accessKey", &access_key),
            ("amount", &amount_text),
            ("description", &description),
            ("orderId", &order_id),
            ("partnerCode", &partner_code),
            ("requestId", &request_id),
            ("transId", &trans_id_text),
        ],
    );
    if fields.text("signature").as_deref() != Some(expected.as_str()) {
        return (refused(fields, 13, &lang), None);
    }
    let mut books = gateway.books();
    let refund_key = (partner_code.clone(), order_id.clone());
    if books.refund_order_ids.contains(&refund_key) || books.orders.contains_key(&refund_key) {
        return (refused(fields, 41, &lang), None);
    }
    let Some(original_key) = books
        .payments
        .get(&trans_id)
        .filter(|(partner, _)| *partner == partner_code)
        .cloned()
    else {
        // A declined or expired order's transId is known too, but not refundable.
        let known = books
            .orders
            .values()
            .any(|o| o.partner_code == partner_code && o.trans_id == trans_id && trans_id != 0);
        let code = if known { 1088 } else { 42 };
        return (refused(fields, code, &lang), None);
    };
    let original = Some(original_key.1.clone());
    let refund_trans_id = books.last_trans_id + 1;
    let Some(order) = books.orders.get_mut(&original_key) else {
        return (refused(fields, 42, &lang), original);
    };
    if order.status() != Status::Paid {
        return (refused(fields, 1088, &lang), original);
    }
    let refunded: i64 = order.refunds.iter().map(|r| r.amount).sum();
    if amount < MIN_REFUND || amount > order.charged - refunded {
        return (refused(fields, 1080, &lang), original);
    }
    let now = Utc::now().timestamp_millis();
    order.refunds.push(RefundRecord {
        order_id: order_id.clone(),
        amount,
        trans_id: refund_trans_id,
        created_time: now,
    });
    order.last_updated = now;
    books.last_trans_id = refund_trans_id;
    books.refund_order_ids.insert(refund_key);
    let answer = Json(json!({
        "partnerCode": partner_code,
        "orderId": order_id,
        "requestId": request_id,
        "amount": amount,
        "transId": refund_trans_id,
        "resultCode": 0,
        "message": message(0, &lang),
        "responseTime": now,
    }))
    .into_response();
    (answer, original)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing;

    const IPN: &str = "http://127.0.0.1:8080/v1/payments/ipn/momo";
    const REDIRECT: &str = "http://127.0.0.1:8080/v1/payments/return/momo";

    fn app() -> Router {
        Router::new().nest("/sandbox/momo", router())
    }

    /// Expected value computed apart from this code, with Python's `hmac`.
    #[test]
    fn the_create_signature_is_momos() {
        let pairs = [
            ("partnerCode", DEMO_PARTNER_CODE),
            ("accessKey", DEMO_ACCESS_KEY),
            ("requestId", "req-1"),
            ("amount", "487350"),
            ("orderId", "ORD-0001"),
            ("orderInfo", "Tiền điện tháng 10/2026"),
            ("redirectUrl", REDIRECT),
            ("ipnUrl", IPN),
            ("extraData", ""),
            ("requestType", "captureWallet"),
        ];
        assert_eq!(
            raw_signature_data(&pairs),
            "accessKey=citizenmomoaccesskey&amount=487350&extraData=&ipnUrl=http://127.0.0.1:8080/v1/payments/ipn/momo&orderId=ORD-0001&orderInfo=Tiền điện tháng 10/2026&partnerCode=MOMOCITIZEN&redirectUrl=http://127.0.0.1:8080/v1/payments/return/momo&requestId=req-1&requestType=captureWallet"
        );
        assert_eq!(
            signature(DEMO_SECRET_KEY, &pairs),
            "539c75bf9acd88654eb7d1da7b4fce62f0718aa4d7d2d008eb625136e5487c49"
        );
    }

    fn create_body(order_id: &str, request_id: &str, amount: i64, ipn_url: &str) -> Value {
        let amount_text = amount.to_string();
        let signature = signature(
            DEMO_SECRET_KEY,
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("amount", &amount_text),
                ("extraData", ""),
                ("ipnUrl", ipn_url),
                ("orderId", order_id),
                ("orderInfo", "Tiền nước tháng 10/2026"),
                ("partnerCode", DEMO_PARTNER_CODE),
                ("redirectUrl", REDIRECT),
                ("requestId", request_id),
                ("requestType", "captureWallet"),
            ],
        );
        json!({
            "partnerCode": DEMO_PARTNER_CODE, "partnerName": "Citizen", "storeId": "citizen",
            "requestId": request_id, "amount": amount, "orderId": order_id,
            "orderInfo": "Tiền nước tháng 10/2026", "redirectUrl": REDIRECT, "ipnUrl": ipn_url,
            "requestType": "captureWallet", "extraData": "", "lang": "vi", "autoCapture": true,
            "signature": signature,
        })
    }

    fn refund_body(order_id: &str, amount: i64, trans_id: i64) -> Value {
        let (amount_text, trans_text) = (amount.to_string(), trans_id.to_string());
        let request_id = format!("{order_id}-req");
        let signature = signature(
            DEMO_SECRET_KEY,
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("amount", &amount_text),
                ("description", "Hoàn tiền"),
                ("orderId", order_id),
                ("partnerCode", DEMO_PARTNER_CODE),
                ("requestId", &request_id),
                ("transId", &trans_text),
            ],
        );
        json!({
            "partnerCode": DEMO_PARTNER_CODE, "orderId": order_id, "requestId": request_id,
            "amount": amount, "transId": trans_id, "lang": "en", "description": "Hoàn tiền",
            "signature": signature,
        })
    }

    #[tokio::test]
    async fn a_bad_signature_or_amount_or_a_duplicate_is_refused() {
        let app = app();
        let create = "/sandbox/momo/v2/gateway/api/create";
        let mut forged = create_body("F1", "F1-req", 50_000, IPN);
        forged["amount"] = json!(5_000);
        let answer = testing::post_json(&app, create, &forged).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(answer.json()["resultCode"], 13);

        let small = testing::post_json(&app, create, &create_body("F2", "F2-req", 999, IPN)).await;
        assert_eq!(small.json()["resultCode"], 22);
        let mut untyped = create_body("F3", "F3-req", 50_000, IPN);
        untyped["amount"] = json!("50000");
        let untyped = testing::post_json(&app, create, &untyped).await;
        assert_eq!(untyped.json()["resultCode"], 20);

        let made =
            testing::post_json(&app, create, &create_body("F4", "F4-req", 50_000, IPN)).await;
        assert_eq!(made.status, StatusCode::OK);
        let made = made.json();
        assert_eq!(made["resultCode"], 0);
        assert_eq!(made["message"], "Thành công.");
        assert!(
            made["payUrl"]
                .as_str()
                .unwrap()
                .starts_with("http://sandbox.test/sandbox/momo/pay/")
        );
        let same_request =
            testing::post_json(&app, create, &create_body("F5", "F4-req", 50_000, IPN)).await;
        assert_eq!(same_request.json()["resultCode"], 40);
        let same_order =
            testing::post_json(&app, create, &create_body("F4", "F6-req", 50_000, IPN)).await;
        assert_eq!(same_order.json()["resultCode"], 41);
    }

    #[tokio::test]
    async fn an_approved_order_is_reported_twice_queried_and_refunded_within_what_was_paid() {
        let merchant = Router::new().route("/ipn", post(|| async { StatusCode::NO_CONTENT }));
        let ipn = format!("{}/ipn", testing::serve(merchant).await);
        let app = app();
        let made = testing::post_json(
            &app,
            "/sandbox/momo/v2/gateway/api/create",
            &create_body("P1", "P1-req", 120_000, &ipn),
        )
        .await
        .json();
        let path = made["payUrl"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://sandbox.test")
            .to_owned();
        let page = testing::get(&app, &path).await;
        assert!(page.body.contains("120.000đ"), "{}", page.body);

        let decided =
            testing::post_form(&app, &format!("{path}/decide"), &[("decision", "approve")]).await;
        assert_eq!(decided.status, StatusCode::FOUND);
        let location = decided.location().to_owned();
        assert!(location.starts_with(REDIRECT));
        let returned: HashMap<String, String> =
            form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(returned["resultCode"], "0");
        assert_eq!(returned["transId"], "4100000001");
        let field = |name: &str| returned[name].as_str();
        let expected = signature(
            DEMO_SECRET_KEY,
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("amount", field("amount")),
                ("extraData", field("extraData")),
                ("message", field("message")),
                ("orderId", field("orderId")),
                ("orderInfo", field("orderInfo")),
                ("orderType", field("orderType")),
                ("partnerCode", field("partnerCode")),
                ("payType", field("payType")),
                ("requestId", field("requestId")),
                ("responseTime", field("responseTime")),
                ("resultCode", field("resultCode")),
                ("transId", field("transId")),
            ],
        );
        assert_eq!(returned["signature"], expected);
        let again =
            testing::post_form(&app, &format!("{path}/decide"), &[("decision", "decline")]).await;
        assert_eq!(again.status, StatusCode::CONFLICT);

        let log = testing::eventually(
            || async {
                testing::get(&app, "/sandbox/momo/ipn-log?order_id=P1")
                    .await
                    .json()
            },
            |log: &Value| log.as_array().is_some_and(|a| a.len() >= 2),
        )
        .await;
        assert_eq!(
            log,
            json!([{ "attempt": 1, "http_status": 204 }, { "attempt": 2, "http_status": 204 }])
        );

        let refund = "/sandbox/momo/v2/gateway/api/refund";
        let too_much =
            testing::post_json(&app, refund, &refund_body("R1", 120_001, 4_100_000_001)).await;
        assert_eq!(too_much.json()["resultCode"], 1080);
        let partial =
            testing::post_json(&app, refund, &refund_body("R2", 20_000, 4_100_000_001)).await;
        assert_eq!(partial.status, StatusCode::OK);
        assert_eq!(partial.json()["transId"], 4_100_000_002_i64);
        let repeated =
            testing::post_json(&app, refund, &refund_body("R2", 20_000, 4_100_000_001)).await;
        assert_eq!(repeated.json()["resultCode"], 41);
        let rest_too_much =
            testing::post_json(&app, refund, &refund_body("R3", 100_001, 4_100_000_001)).await;
        assert_eq!(rest_too_much.json()["resultCode"], 1080);
        let unknown =
            testing::post_json(&app, refund, &refund_body("R4", 1_000, 4_999_999_999)).await;
        assert_eq!(unknown.json()["resultCode"], 42);

        let query_signature = signature(
            DEMO_SECRET_KEY,
            &[
                ("accessKey", DEMO_ACCESS_KEY),
                ("orderId", "P1"),
                ("partnerCode", DEMO_PARTNER_CODE),
                ("requestId", "Q1"),
            ],
        );
        let status = testing::post_json(
            &app,
            "/sandbox/momo/v2/gateway/api/query",
            &json!({ "partnerCode": DEMO_PARTNER_CODE, "requestId": "Q1", "orderId": "P1",
                     "lang": "vi", "signature": query_signature }),
        )
        .await
        .json();
        assert_eq!(status["resultCode"], 0);
        assert_eq!(status["transId"], 4_100_000_001_i64);
        assert_eq!(status["refundTrans"][0]["amount"], 20_000);
        let forged = testing::post_json(
            &app,
            "/sandbox/momo/v2/gateway/api/query",
            &json!({ "partnerCode": DEMO_PARTNER_CODE, "requestId": "Q2", "orderId": "P1",
                     "lang": "vi", "signature": query_signature }),
        )
        .await;
        assert_eq!(forged.json()["resultCode"], 13);
    }

    #[tokio::test]
    async fn a_declined_order_is_not_refundable() {
        let app = app();
        testing::post_json(
            &app,
            "/sandbox/momo/switches",
            &json!({ "order_id": "N1", "ipn": "none" }),
        )
        .await;
        let made = testing::post_json(
            &app,
            "/sandbox/momo/v2/gateway/api/create",
            &create_body("N1", "N1-req", 10_000, IPN),
        )
        .await
        .json();
        let path = made["payUrl"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://sandbox.test")
            .to_owned();
        let decided =
            testing::post_form(&app, &format!("{path}/decide"), &[("decision", "decline")]).await;
        assert!(decided.location().contains("resultCode=1006"));
        let refund = testing::post_json(
            &app,
            "/sandbox/momo/v2/gateway/api/refund",
            &refund_body("NR1", 10_000, 4_100_000_001),
        )
        .await;
        assert_eq!(refund.json()["resultCode"], 1088);
    }
}
