//! An emulator of a bill aggregator: one gateway in front of the billers a resident pays in
//! Huế (electricity, water, sanitation, tuition, administrative fees, traffic fines), so bill
//! payment is built and tested without a contract with each. Its protocol is ours, JSON over
//! HTTP:
//!
//! - `GET /sandbox/biller/v1/bills?service=&code=`: the customer behind a code (`name`,
//!   `address`, `ward`, and the `contract_number` printed on their bills, which the payments
//!   service never shows and takes as proof a resident holds the code) and the bills still
//!   unpaid. `400 {"error":"invalid_service"}` for an unknown service,
//!   `400 {"error":"invalid_code"}` for a code not of the service's format,
//!   `404 {"error":"not_found"}` for an unknown code.
//! - `POST /sandbox/biller/v1/bills/{bill_id}/payments` `{"payment_id": uuid, "amount": VND,
//!   "paid_at": RFC 3339}`: posts a payment to the biller: `200 {"status":"posted",
//!   "biller_ref"}`, the same again for the same `payment_id` (retries are safe),
//!   `409 {"error":"already_paid"}` for another payment of a paid bill,
//!   `422 {"error":"amount_mismatch"}` when the amount is not the bill's,
//!   `404 {"error":"not_found"}` for an unknown bill, `400 {"error":"invalid_request"}` for a
//!   malformed body. A posted bill is no longer listed.
//! - `POST /sandbox/biller/faults` `{"status": 503, "times": 2, "retry_after_secs": 30}`: the
//!   next lookups and postings answer that status, with that `Retry-After` if given
//!   (`{"status": null}` goes back to normal).
//!
//! Codes, uppercase (callers trim them and, for plates, strip `-`, `.` and spaces):
//! electricity `PC05HU` + 7 digits, water `HW` + 8 digits, sanitation `VS` + 8 digits, tuition a
//! 10-digit student code, admin_fee a dossier number `H57.NN-YYMMDD-NNNN`, traffic_fine a plate
//! (2 digits, 1-2 letters, 4-5 digits, `75A12345`).
//!
//! Data are made up from a hash of the code, the same every time: any well-formed code has a
//! customer (a name and an address in Huế) and 1-3 unpaid bills, one per month back from the
//! current one (admin_fee: one, for the dossier's month), except that **a code whose last
//! character is `0` owes nothing** and **a code ending in `99` is unknown**. A bill's id is
//! `{service}-{code}-{period}` (`period` is `YYYY-MM`), and its amount depends only on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike, FixedOffset, Months, NaiveDate, Offset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::faults::{self, Faults};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Electricity,
    Water,
    Sanitation,
    Tuition,
    AdminFee,
    TrafficFine,
}

impl Service {
    const ALL: [Self; 6] = [
        Self::Electricity,
        Self::Water,
        Self::Sanitation,
        Self::Tuition,
        Self::AdminFee,
        Self::TrafficFine,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Electricity => "electricity",
            Self::Water => "water",
            Self::Sanitation => "sanitation",
            Self::Tuition => "tuition",
            Self::AdminFee => "admin_fee",
            Self::TrafficFine => "traffic_fine",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// (id, Vietnamese name, English name).
    fn biller(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Electricity => (
                "evn-cpc-hue",
                "Điện lực Thừa Thiên Huế",
                "Thua Thien Hue Power Company",
            ),
            Self::Water => (
                "huewaco",
                "Công ty CP Cấp nước Thừa Thiên Huế",
                "Thua Thien Hue Water Supply JSC",
            ),
            Self::Sanitation => (
                "hue-environment",
                "Công ty CP Môi trường và Công trình đô thị Huế",
                "Hue Urban Environment and Public Works JSC",
            ),
            Self::Tuition => (
                "hue-education",
                "Sở Giáo dục và Đào tạo Huế",
                "Hue Department of Education and Training",
            ),
            Self::AdminFee => (
                "hue-public-service",
                "Trung tâm Phục vụ hành chính công Huế",
                "Hue Public Administration Service Centre",
            ),
            Self::TrafficFine => ("hue-police", "Công an thành phố Huế", "Hue City Police"),
        }
    }

    /// Whether `code` has this service's format.
    pub fn accepts(self, code: &str) -> bool {
        let digits =
            |text: &str, n: usize| text.len() == n && text.bytes().all(|b| b.is_ascii_digit());
        match self {
            Self::Electricity => code.strip_prefix("PC05HU").is_some_and(|rest| digits(rest, 7)),
            Self::Water => code.strip_prefix("HW").is_some_and(|rest| digits(rest, 8)),
            Self::Sanitation => code.strip_prefix("VS").is_some_and(|rest| digits(rest, 8)),
            Self::Tuition => digits(code, 10),
            Self::AdminFee => code.strip_prefix("H57.").is_some_and(|rest| {
                let parts: Vec<&str> = rest.split('-').collect();
                matches!(parts.as_slice(), [a, b, c] if digits(a, 2) && digits(b, 6) && digits(c, 4))
            }),
            Self::TrafficFine => {
                let bytes = code.as_bytes();
                let letters = bytes
                    .iter()
                    .skip(2)
                    .take_while(|b| b.is_ascii_uppercase())
                    .count();
                let tail = bytes.len().saturating_sub(2 + letters);
                bytes.len() >= 2
                    && bytes[..2].iter().all(u8::is_ascii_digit)
                    && (1..=2).contains(&letters)
                    && (4..=5).contains(&tail)
                    && bytes[2 + letters..].iter().all(u8::is_ascii_digit)
            }
        }
    }
}

/// Numbers drawn from a hash of a seed: the same seed, the same numbers.
struct Draw {
    seed: Vec<u8>,
    counter: u32,
}

impl Draw {
    fn new(seed: &str) -> Self {
        Self {
            seed: seed.as_bytes().to_vec(),
            counter: 0,
        }
    }

    fn next(&mut self) -> u64 {
        let mut hasher = Sha256::new();
        hasher.update(&self.seed);
        hasher.update(self.counter.to_be_bytes());
        self.counter += 1;
        let digest = hasher.finalize();
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(bytes)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = high
            .saturating_sub(low)
            .saturating_add(1)
            .max(1)
            .unsigned_abs();
        low + i64::try_from(self.next() % span).unwrap_or(0)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let index = usize::try_from(self.next() % items.len().max(1) as u64).unwrap_or(0);
        items.get(index).copied().unwrap_or_default()
    }
}

const FAMILY_NAMES: &[&str] = &[
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Phan",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Tôn Nữ",
    "Trương",
];
const MIDDLE_NAMES: &[&str] = &[
    "Văn",
    "Thị",
    "Hữu",
    "Đức",
    "Minh",
    "Ngọc",
    "Thanh",
    "Quang",
    "Thị Thu",
    "Công",
];
const GIVEN_NAMES: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Hà", "Hạnh", "Hiếu", "Hoa", "Hùng", "Lan", "Long", "Mai", "Nam",
    "Phương", "Quân", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Khoa", "Nhung",
];
const STREETS: &[&str] = &[
    "Lê Lợi",
    "Hùng Vương",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Lý Thường Kiệt",
    "Bà Triệu",
    "Điện Biên Phủ",
    "Phan Đình Phùng",
    "Đống Đa",
    "Nguyễn Trãi",
    "Chi Lăng",
    "Kim Long",
    "Nguyễn Sinh Cung",
    "Tố Hữu",
];
const WARDS: &[&str] = &[
    "Thuận Hóa",
    "Phú Xuân",
    "Kim Long",
    "Vỹ Dạ",
    "An Cựu",
    "Thủy Xuân",
    "Hương An",
    "Dương Nỗ",
    "Thuận An",
];
/// Administrative procedures and their fees, by dossier type (the two digits after `H57.`).
const PROCEDURES: &[(i64, &str, &str)] = &[
    (
        15_000,
        "Lệ phí chứng thực hợp đồng, giao dịch",
        "Certification of a contract",
    ),
    (
        50_000,
        "Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ",
        "Building permit for a private house",
    ),
    (
        100_000,
        "Lệ phí đăng ký hộ kinh doanh",
        "Household business registration",
    ),
    (
        135_000,
        "Lệ phí cấp đổi giấy phép lái xe",
        "Driving licence renewal",
    ),
    (
        200_000,
        "Phí thẩm định hồ sơ cấp giấy chứng nhận quyền sử dụng đất",
        "Appraisal of a land use right certificate dossier",
    ),
    (
        300_000,
        "Phí thẩm định cấp giấy phép kinh doanh dịch vụ lữ hành nội địa",
        "Appraisal of a domestic travel business licence",
    ),
];
const VIOLATIONS: &[(&str, &str)] = &[
    (
        "Không chấp hành hiệu lệnh của đèn tín hiệu giao thông",
        "Running a red light",
    ),
    ("Chạy quá tốc độ quy định", "Speeding"),
    (
        "Dừng, đỗ xe không đúng quy định",
        "Illegal stopping or parking",
    ),
    (
        "Đi không đúng phần đường, làn đường",
        "Driving in the wrong lane",
    ),
    (
        "Không đội mũ bảo hiểm khi điều khiển xe mô tô",
        "Riding a motorbike without a helmet",
    ),
];

#[derive(Debug, Clone, Serialize)]
pub struct Bill {
    pub bill_id: String,
    pub period: String,
    pub description_vi: String,
    pub description_en: String,
    pub amount: i64,
    pub due_date: String,
}

fn today() -> NaiveDate {
    let offset = FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| Utc.fix());
    Utc::now().with_timezone(&offset).date_naive()
}

fn month_name_en(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES
        .get(usize::try_from(month).unwrap_or(0).saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

/// The bill of `code` for the month starting `month`.
fn bill(service: Service, code: &str, month: NaiveDate, draw_index: usize) -> Bill {
    let period = format!("{:04}-{:02}", month.year(), month.month());
    let bill_id = format!("{}-{code}-{period}", service.name());
    let mut draw = Draw::new(&bill_id);
    let (m, y) = (month.month(), month.year());
    let next_month = month.checked_add_months(Months::new(1)).unwrap_or(month);
    let due = |day: u32| {
        next_month
            .with_day(day)
            .unwrap_or(next_month)
            .format("%Y-%m-%d")
            .to_string()
    };
    let (amount, vi, en, due_date) = match service {
        Service::Electricity => (
            150_000 + 50 * draw.between(0, 27_000),
            format!("Tiền điện tháng {m}/{y}"),
            format!("Electricity, {} {y}", month_name_en(m)),
            due(25),
        ),
        Service::Water => (
            draw.between(60_000, 400_000),
            format!("Tiền nước tháng {m}/{y}"),
            format!("Water, {} {y}", month_name_en(m)),
            due(20),
        ),
        Service::Sanitation => (
            1_000 * draw.between(20, 60),
            format!("Phí vệ sinh môi trường tháng {m}/{y}"),
            format!("Waste collection, {} {y}", month_name_en(m)),
            due(15),
        ),
        Service::Tuition => (
            10_000 * draw.between(30, 200),
            format!("Học phí tháng {m}/{y}"),
            format!("Tuition, {} {y}", month_name_en(m)),
            due(10),
        ),
        Service::AdminFee => {
            let kind = code
                .get(4..6)
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(0);
            let (fee, vi, en) = PROCEDURES[kind % PROCEDURES.len()];
            let due_date = month
                .checked_add_days(chrono::Days::new(30))
                .unwrap_or(month)
                .format("%Y-%m-%d")
                .to_string();
            (
                fee,
                format!("{vi} (hồ sơ {code})"),
                format!("{en} (dossier {code})"),
                due_date,
            )
        }
        Service::TrafficFine => {
            let (vi, en) = VIOLATIONS[(draw.next() as usize + draw_index) % VIOLATIONS.len()];
            let day = u32::try_from(draw.between(1, 28)).unwrap_or(1);
            let date = month.with_day(day).unwrap_or(month);
            (
                50_000 * draw.between(16, 120),
                format!(
                    "Phạt vi phạm giao thông: {vi} ({})",
                    date.format("%d/%m/%Y")
                ),
                format!("Traffic fine: {en} ({})", date.format("%d/%m/%Y")),
                date.checked_add_days(chrono::Days::new(30))
                    .unwrap_or(date)
                    .format("%Y-%m-%d")
                    .to_string(),
            )
        }
    };
    Bill {
        bill_id,
        period,
        description_vi: vi,
        description_en: en,
        amount,
        due_date,
    }
}

/// Everything the biller knows of `code`, paid or not; `None` when the code is unknown.
fn account(service: Service, code: &str, today: NaiveDate) -> Option<(Value, Vec<Bill>)> {
    if code.ends_with("99") {
        return None;
    }
    let mut draw = Draw::new(&format!("{}:{code}", service.name()));
    let name = format!(
        "{} {} {}",
        draw.pick(FAMILY_NAMES),
        draw.pick(MIDDLE_NAMES),
        draw.pick(GIVEN_NAMES)
    );
    let (number, street, ward) = (draw.between(1, 250), draw.pick(STREETS), draw.pick(WARDS));
    let address = format!("{number} {street}, phường {ward}, Huế");
    let count = if code.ends_with('0') {
        0
    } else {
        draw.between(1, 3)
    };
    let this_month = today.with_day(1).unwrap_or(today);
    let bills = if service == Service::AdminFee {
        // The dossier's month: `H57.NN-YYMMDD-NNNN`.
        let filed = code
            .get(7..13)
            .and_then(|d| NaiveDate::parse_from_str(&format!("20{d}"), "%Y%m%d").ok())
            .map_or(this_month, |d| d.with_day(1).unwrap_or(d));
        if count > 0 {
            vec![bill(service, code, filed, 0)]
        } else {
            Vec::new()
        }
    } else {
        (1..=count)
            .filter_map(|back| {
                let months = u32::try_from(back).ok()?;
                let month = this_month.checked_sub_months(Months::new(months))?;
                Some(bill(
                    service,
                    code,
                    month,
                    usize::try_from(back).unwrap_or(0),
                ))
            })
            .rev()
            .collect()
    };
    let customer = json!({
        "name": name,
        "address": address,
        "ward": ward,
        "contract_number": contract_number(service, code),
    });
    Some((customer, bills))
}

/// The number of `code`'s contract with its biller, printed on each of its bills (what its
/// holder links the code with).
fn contract_number(service: Service, code: &str) -> String {
    let mut draw = Draw::new(&format!("{}:{code}:contract", service.name()));
    format!("{:010}", draw.between(0, 9_999_999_999))
}

/// The contract number on the bills of `code` of `service` (`electricity`, ...), as its holder
/// reads it off a bill; `None` for an unknown service or code.
pub fn contract_number_on_bill(service: &str, code: &str) -> Option<String> {
    let service = Service::parse(service)?;
    account(service, code, today()).map(|_| contract_number(service, code))
}

struct Posting {
    payment_id: String,
    biller_ref: String,
}

#[derive(Clone)]
struct Aggregator {
    /// Bills paid, by bill id.
    postings: Arc<Mutex<HashMap<String, Posting>>>,
    faults: Arc<Faults<u16>>,
}

pub fn router() -> Router {
    let aggregator = Aggregator {
        postings: Arc::default(),
        faults: Arc::default(),
    };
    Router::new()
        .route("/v1/bills", get(lookup))
        .route("/v1/bills/{bill_id}/payments", post(pay))
        .route("/faults", post(set_fault))
        .with_state(aggregator)
}

fn error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// The fault due now, if a test asked for one.
fn fault(aggregator: &Aggregator) -> Option<Response> {
    let (status, retry_after) = aggregator.faults.take("*")?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let name = status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace(' ', "_");
    Some(faults::retry_after(error(status, &name), retry_after))
}

#[derive(Deserialize)]
struct LookupQuery {
    service: Option<String>,
    code: Option<String>,
}

async fn lookup(
    State(aggregator): State<Aggregator>,
    Query(query): Query<LookupQuery>,
) -> Response {
    if let Some(fault) = fault(&aggregator) {
        return fault;
    }
    let Some(service) = query.service.as_deref().and_then(Service::parse) else {
        return error(StatusCode::BAD_REQUEST, "invalid_service");
    };
    let code = query.code.unwrap_or_default();
    if !service.accepts(&code) {
        return error(StatusCode::BAD_REQUEST, "invalid_code");
    }
    let Some((customer, bills)) = account(service, &code, today()) else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    let postings = aggregator
        .postings
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let unpaid: Vec<Bill> = bills
        .into_iter()
        .filter(|b| !postings.contains_key(&b.bill_id))
        .collect();
    let (id, name_vi, name_en) = service.biller();
    Json(json!({
        "service": service.name(),
        "code": code,
        "customer": customer,
        "biller": { "id": id, "name_vi": name_vi, "name_en": name_en },
        "bills": unpaid,
    }))
    .into_response()
}

/// The bill `bill_id` names, if the biller has it: `{service}-{code}-{YYYY-MM}`.
fn find_bill(bill_id: &str) -> Option<(Service, Bill)> {
    let (service, rest) = Service::ALL.into_iter().find_map(|s| {
        bill_id
            .strip_prefix(s.name())
            .and_then(|r| r.strip_prefix('-'))
            .map(|r| (s, r))
    })?;
    let split = rest.len().checked_sub(8)?;
    let (code, period) = (rest.get(..split)?, rest.get(split..)?.strip_prefix('-')?);
    if !service.accepts(code) {
        return None;
    }
    let (_, bills) = account(service, code, today())?;
    let bill = bills
        .into_iter()
        .find(|b| b.period == period && b.bill_id == bill_id)?;
    Some((service, bill))
}

async fn pay(
    State(aggregator): State<Aggregator>,
    Path(bill_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(fault) = fault(&aggregator) {
        return fault;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let payment_id = request
        .get("payment_id")
        .and_then(Value::as_str)
        .and_then(|id| uuid::Uuid::parse_str(id).ok());
    let amount = request.get("amount").and_then(Value::as_i64);
    let paid_at = request
        .get("paid_at")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let (Some(payment_id), Some(amount), Some(_)) = (payment_id, amount, paid_at) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let payment_id = payment_id.to_string();
    let Some((service, bill)) = find_bill(&bill_id) else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    let mut postings = aggregator
        .postings
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(posting) = postings.get(&bill_id) {
        return if posting.payment_id == payment_id {
            Json(json!({ "status": "posted", "biller_ref": posting.biller_ref })).into_response()
        } else {
            error(StatusCode::CONFLICT, "already_paid")
        };
    }
    if amount != bill.amount {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "amount_mismatch");
    }
    let (biller_id, _, _) = service.biller();
    let biller_ref = format!(
        "{}-{}-{:06}",
        biller_id.to_uppercase(),
        today().format("%Y%m%d"),
        postings.len() + 1
    );
    postings.insert(
        bill_id,
        Posting {
            payment_id,
            biller_ref: biller_ref.clone(),
        },
    );
    Json(json!({ "status": "posted", "biller_ref": biller_ref })).into_response()
}

#[derive(Deserialize)]
struct FaultRequest {
    /// The HTTP status to answer; `null` goes back to normal.
    status: Option<u16>,
    /// How many requests get it; every one until told otherwise when absent.
    times: Option<u32>,
    retry_after_secs: Option<u64>,
}

async fn set_fault(
    State(aggregator): State<Aggregator>,
    Json(request): Json<FaultRequest>,
) -> StatusCode {
    aggregator.faults.set(
        "*".to_owned(),
        request.status,
        request.times,
        request.retry_after_secs,
    );
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::testing;

    fn app() -> Router {
        Router::new().nest("/sandbox/biller", router())
    }

    #[test]
    fn codes_are_checked_against_each_services_format() {
        let accepted = [
            (Service::Electricity, "PC05HU0012345"),
            (Service::Water, "HW12345678"),
            (Service::Sanitation, "VS12345678"),
            (Service::Tuition, "4601234567"),
            (Service::AdminFee, "H57.22-261120-0001"),
            (Service::TrafficFine, "75A12345"),
            (Service::TrafficFine, "75AB1234"),
        ];
        for (service, code) in accepted {
            assert!(service.accepts(code), "{code}");
        }
        let refused = [
            (Service::Electricity, "PC05HU001234"),
            (Service::Water, "HW1234567A"),
            (Service::Tuition, "460123456"),
            (Service::AdminFee, "H57.22-26112-0001"),
            (Service::TrafficFine, "75ABC1234"),
            (Service::TrafficFine, "75A123"),
            (Service::TrafficFine, "7A12345"),
        ];
        for (service, code) in refused {
            assert!(!service.accepts(code), "{code}");
        }
    }

    #[test]
    fn the_same_code_always_gives_the_same_customer_and_bills() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap();
        for service in Service::ALL {
            let code = match service {
                Service::Electricity => "PC05HU0012345",
                Service::Water => "HW12345678",
                Service::Sanitation => "VS12345677",
                Service::Tuition => "4601234567",
                Service::AdminFee => "H57.22-261120-0001",
                Service::TrafficFine => "75A12345",
            };
            let (customer, bills) = account(service, code, day).unwrap();
            let (again, bills_again) = account(service, code, day).unwrap();
            assert_eq!(customer, again);
            assert_eq!(
                serde_json::to_value(&bills).unwrap(),
                serde_json::to_value(&bills_again).unwrap()
            );
            assert!((1..=3).contains(&bills.len()), "{code}");
            for bill in &bills {
                assert_eq!(
                    bill.bill_id,
                    format!("{}-{code}-{}", service.name(), bill.period)
                );
                let range = match service {
                    Service::Electricity => 150_000..=1_500_000,
                    Service::Water => 60_000..=400_000,
                    Service::Sanitation => 20_000..=60_000,
                    Service::Tuition => 300_000..=2_000_000,
                    Service::AdminFee => 15_000..=300_000,
                    Service::TrafficFine => 800_000..=6_000_000,
                };
                assert!(range.contains(&bill.amount), "{bill:?}");
            }
        }
        // A bill keeps its amount as months go by.
        let (_, later) = account(
            Service::Electricity,
            "PC05HU0012345",
            NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
        )
        .unwrap();
        let (_, now) = account(Service::Electricity, "PC05HU0012345", day).unwrap();
        for bill in &now {
            if let Some(same) = later.iter().find(|b| b.bill_id == bill.bill_id) {
                assert_eq!(same.amount, bill.amount);
            }
        }
        let (_, none) = account(Service::Water, "HW12345670", day).unwrap();
        assert!(none.is_empty());
        assert!(account(Service::Water, "HW12345699", day).is_none());
    }

    #[tokio::test]
    async fn lookups_answer_the_protocols_errors() {
        let app = app();
        let found = testing::get(
            &app,
            "/sandbox/biller/v1/bills?service=electricity&code=PC05HU0012345",
        )
        .await;
        assert_eq!(found.status, StatusCode::OK);
        let found = found.json();
        assert_eq!(found["biller"]["id"], "evn-cpc-hue");
        assert!(
            found["customer"]["address"]
                .as_str()
                .unwrap()
                .ends_with(", Huế")
        );
        let unknown = testing::get(
            &app,
            "/sandbox/biller/v1/bills?service=water&code=HW12345699",
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.json(), json!({ "error": "not_found" }));
        let malformed =
            testing::get(&app, "/sandbox/biller/v1/bills?service=water&code=HW123").await;
        assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
        assert_eq!(malformed.json(), json!({ "error": "invalid_code" }));
        let owes_nothing = testing::get(
            &app,
            "/sandbox/biller/v1/bills?service=water&code=HW12345670",
        )
        .await;
        assert_eq!(owes_nothing.json()["bills"], json!([]));
    }

    #[tokio::test]
    async fn a_payment_is_posted_once_and_its_bill_is_no_longer_listed() {
        let app = app();
        let lookup = "/sandbox/biller/v1/bills?service=traffic_fine&code=75A12345";
        let bills = testing::get(&app, lookup).await.json()["bills"].clone();
        let bill = &bills[0];
        let (id, amount) = (
            bill["bill_id"].as_str().unwrap(),
            bill["amount"].as_i64().unwrap(),
        );
        let uri = format!("/sandbox/biller/v1/bills/{id}/payments");
        let payment_id = uuid::Uuid::new_v4().to_string();
        let body = json!({ "payment_id": payment_id, "amount": amount, "paid_at": "2026-11-05T10:30:00+07:00" });

        let wrong = json!({ "payment_id": payment_id, "amount": amount + 1, "paid_at": "2026-11-05T10:30:00+07:00" });
        let mismatch = testing::post_json(&app, &uri, &wrong).await;
        assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(mismatch.json(), json!({ "error": "amount_mismatch" }));

        let posted = testing::post_json(&app, &uri, &body).await;
        assert_eq!(posted.status, StatusCode::OK);
        assert_eq!(posted.json()["status"], "posted");
        let retried = testing::post_json(&app, &uri, &body).await;
        assert_eq!(retried.status, StatusCode::OK);
        assert_eq!(retried.json(), posted.json());

        let other = json!({ "payment_id": uuid::Uuid::new_v4(), "amount": amount, "paid_at": "2026-11-05T10:31:00+07:00" });
        let twice = testing::post_json(&app, &uri, &other).await;
        assert_eq!(twice.status, StatusCode::CONFLICT);
        assert_eq!(twice.json(), json!({ "error": "already_paid" }));

        let listed = testing::get(&app, lookup).await.json()["bills"].clone();
        assert_eq!(
            listed.as_array().unwrap().len(),
            bills.as_array().unwrap().len() - 1
        );
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["bill_id"] != id)
        );

        let nowhere = testing::post_json(
            &app,
            "/sandbox/biller/v1/bills/water-HW12345699-2026-10/payments",
            &body,
        )
        .await;
        assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_fault_is_answered_as_many_times_as_asked() {
        let app = app();
        testing::post_json(
            &app,
            "/sandbox/biller/faults",
            &json!({ "status": 503, "times": 2 }),
        )
        .await;
        let lookup = "/sandbox/biller/v1/bills?service=tuition&code=4601234567";
        assert_eq!(
            testing::get(&app, lookup).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            testing::get(&app, lookup).await.status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(testing::get(&app, lookup).await.status, StatusCode::OK);
    }
}
