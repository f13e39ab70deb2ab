//! Việt Nam Social Security (BHXH Việt Nam)'s participant lookup, as offered to the provinces
//! over their LGSP platform: who has paid social insurance (BHXH) and unemployment insurance
//! (BHTN), where and on what salary. JSON (`application/json`) throughout:
//!
//! - `POST /token`: OAuth 2.0 client credentials (RFC 6749 §4.4), the client authenticated
//!   with HTTP Basic as [`CLIENT_ID`]:[`CLIENT_SECRET`] (each form-urlencoded before the
//!   encoding, §2.3.1), form `grant_type=client_credentials` (a `scope` is ignored). Answers
//!   `200 {"access_token", "token_type": "bearer", "expires_in": 3600}` with `Cache-Control:
//!   no-store`. Errors are RFC 6749's `{"error", "error_description"}`: no or wrong client
//!   credentials `401 invalid_client` with `WWW-Authenticate: Basic realm="citizen-bhxh-sandbox"`
//!   (checked first), no `grant_type` `400 invalid_request`, another one `400
//!   unsupported_grant_type`. Tokens are random, kept in memory for an hour; at most 10,000
//!   live ones (the expired are dropped first, then the oldest).
//! - `GET /api/v1/nguoi-tham-gia?soDinhDanh={personal ID}` with `Authorization: Bearer
//!   <token>`. No bearer token, an unknown or an expired one: `401 {"error": "invalid_token"}`
//!   with `WWW-Authenticate: Bearer realm="citizen-bhxh-sandbox"` (and `, error="invalid_token"`
//!   when a token was given). Then `soDinhDanh` missing or not exactly 12 ASCII digits: `400
//!   {"error": "invalid_request"}`; a person who never contributed: `404 {"error":
//!   "not_found"}`; else `200 {"data": {...}}`:
//!   - `maSoBhxh` (the 10-digit social insurance number), `hoTen`, `ngaySinh` (`YYYY-MM-DD`),
//!     `soDinhDanh` (as asked);
//!   - `donViHienTai`: the employer now paying for them, `{"maDonVi", "tenDonVi", "diaChi"}`,
//!     or `null` (no employer: not contributing, or contributing voluntarily);
//!   - `quaTrinhDong`: the contribution periods, oldest first, a new one at each change of
//!     employer or salary: `{"tuThang": "YYYY-MM", "denThang": "YYYY-MM" or null for the
//!     ongoing one (at most one, the last), "maDonVi", "tenDonVi", "chucVu", "mucLuongDong"
//!     (the monthly salary contributions are based on, whole VND), "loaiHinh": "bat_buoc"
//!     (compulsory, through an employer) or "tu_nguyen" (voluntary), "thamGiaBhtn": bool}`;
//!   - `tongThang`: `{"bhxh", "bhtn"}`, months paid: `bhxh` is the sum over the periods of the
//!     months from `tuThang` to `denThang` inclusive, an ongoing period counting to the
//!     current month inclusive (Huế time, UTC+7); `bhtn` the same over the periods with
//!     `thamGiaBhtn`. A test computes them from the clock as the constants below say.
//!   - `ngayCapNhat`: when the record was last brought up to date, `YYYY-MM-DD`: the day of
//!     the answer, Huế time (contributions are booked as they arrive).
//! - `POST /faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n, "delay_ms": n,
//!   "retry_after_secs": n}` (not BHXH's; as the other sandboxes): `down` answers `503` with
//!   `Retry-After` (30 s unless told), `slow` answers `delay_ms` late (10 s unless told),
//!   `garbage` answers `200` with `Content-Type: application/json` and an HTML error page for
//!   a body, as a misconfigured gateway does; `times` requests (all until `null`). Only the
//!   lookup is affected, not the token endpoint; faults come before the token is checked. An
//!   unknown mode is `422`.
//!
//! The people: [`INSURED_ID`], [`VOLUNTARY_ID`] and [`NEVER_INSURED_ID`]; everyone else has
//! never contributed either.

use std::sync::Arc;
use std::time::Duration;
#[cfg(test)]
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
#[cfg(test)]
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{Datelike as _, FixedOffset, NaiveDate, Offset as _, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{self, Faults};
use crate::oauth;
#[cfg(test)]
use crate::oauth::MAX_TOKENS;

/// The client registered for client credentials: Citizen. A published sandbox credential, for
/// development and tests only.
pub const CLIENT_ID: &str = "citizen-bhxh";
pub const CLIENT_SECRET: &str = "citizen-bhxh-sandbox-secret";

/// Nguyễn Thị Hoa, born 1990-05-12: compulsory insurance without a gap since
/// [`INSURED_SINCE`], first at Công ty TNHH Thiết bị Y tế Phú Xuân (2012-07 to 2016-12, BHTN
/// from [`INSURED_BHTN_SINCE`], when the Law on Employment brought small firms in), then at
/// Bệnh viện Trung ương Huế from 2017-01, her current employer ([`INSURED_EMPLOYER_CODE`]),
/// the last period ongoing. So `tongThang.bhxh` is the months from 2012-07 to the current
/// month inclusive (174 in December 2026) and `bhtn` those from 2015-01 (144 then).
pub const INSURED_ID: &str = "046190001234";
pub const INSURED_BHXH_NUMBER: &str = "4601234567";
pub const INSURED_NAME: &str = "Nguyễn Thị Hoa";
pub const INSURED_BIRTH_DATE: &str = "1990-05-12";
pub const INSURED_SINCE: &str = "2012-07";
pub const INSURED_BHTN_SINCE: &str = "2015-01";
/// Bệnh viện Trung ương Huế's unit code.
pub const INSURED_EMPLOYER_CODE: &str = "YT0003A";
/// Lê Văn Thành, born 1975-10-20, a trader at Đông Ba market: compulsory insurance as a
/// driver from 2003-03 to 2008-12 ([`VOLUNTARY_EARLIER_MONTHS`] months, before BHTN
/// existed), then nothing until he joined voluntary insurance in [`VOLUNTARY_SINCE`], ongoing.
/// No current employer (`donViHienTai` is `null`), no BHTN: `tongThang.bhxh` is 70 plus the
/// months from 2018-07 to the current month inclusive, `bhtn` 0.
pub const VOLUNTARY_ID: &str = "046075004321";
pub const VOLUNTARY_BHXH_NUMBER: &str = "4607504321";
pub const VOLUNTARY_EARLIER_MONTHS: u32 = 70;
pub const VOLUNTARY_SINCE: &str = "2018-07";
/// A valid personal ID of someone who never contributed: `404`.
pub const NEVER_INSURED_ID: &str = "046199000001";

const REALM: &str = "citizen-bhxh-sandbox";
const LOCAL_OFFSET_SECS: i32 = 7 * 3600;
const DEFAULT_SLOW_MS: u64 = 10_000;
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

// --- The records ---

struct Unit {
    code: &'static str,
    name: &'static str,
    address: &'static str,
}

#[derive(Clone, Copy, PartialEq)]
enum Scheme {
    Compulsory,
    Voluntary,
}

/// A month, `(year, month)`.
type Month = (i32, u32);

struct Period {
    from: Month,
    /// `None`: ongoing.
    to: Option<Month>,
    unit: &'static Unit,
    position: &'static str,
    salary: u64,
    scheme: Scheme,
    unemployment: bool,
}

struct Participant {
    id: &'static str,
    number: &'static str,
    name: &'static str,
    birth: &'static str,
    employer: Option<&'static Unit>,
    periods: Vec<Period>,
}

const MEDICAL_SUPPLIER: Unit = Unit {
    code: "TM0512A",
    name: "Công ty TNHH Thiết bị Y tế Phú Xuân",
    address: "45 Nguyễn Huệ, phường Thuận Hóa, thành phố Huế",
};
const HOSPITAL: Unit = Unit {
    code: INSURED_EMPLOYER_CODE,
    name: "Bệnh viện Trung ương Huế",
    address: "16 Lê Lợi, phường Thuận Hóa, thành phố Huế",
};
const HAULIER: Unit = Unit {
    code: "TV0218A",
    name: "Công ty TNHH Vận tải Thuận An",
    address: "120 Nguyễn Sinh Cung, phường Vỹ Dạ, thành phố Huế",
};
/// Voluntary contributions are paid at a collection agent, which the record names as unit.
const COLLECTION_AGENT: Unit = Unit {
    code: "TN0017Z",
    name: "Đại lý thu BHXH tự nguyện - Bưu điện Đông Ba",
    address: "8 Trần Hưng Đạo, phường Phú Xuân, thành phố Huế",
};

fn participants() -> Vec<Participant> {
    let hoa = |from, to, unit, position, salary, unemployment| Period {
        from,
        to,
        unit,
        position,
        salary,
        scheme: Scheme::Compulsory,
        unemployment,
    };
    let sales = "Nhân viên kinh doanh";
    let accountant = "Kế toán viên, Phòng Tài chính - Kế toán";
    vec![
        Participant {
            id: INSURED_ID,
            number: INSURED_BHXH_NUMBER,
            name: INSURED_NAME,
            birth: INSURED_BIRTH_DATE,
            employer: Some(&HOSPITAL),
            // Above the regional minimum wage for trained workers at the company; at the
            // hospital her grade's coefficient (2.34, 2.67 from 2020, 3.00 from 2023, 3.33
            // from 2026) times the statutory base salary of the day.
            periods: vec![
                hoa(
                    (2012, 7),
                    Some((2013, 12)),
                    &MEDICAL_SUPPLIER,
                    sales,
                    2_300_000,
                    false,
                ),
                hoa(
                    (2014, 1),
                    Some((2014, 12)),
                    &MEDICAL_SUPPLIER,
                    sales,
                    2_700_000,
                    false,
                ),
                hoa(
                    (2015, 1),
                    Some((2015, 12)),
                    &MEDICAL_SUPPLIER,
                    sales,
                    3_200_000,
                    true,
                ),
                hoa(
                    (2016, 1),
                    Some((2016, 12)),
                    &MEDICAL_SUPPLIER,
                    sales,
                    3_500_000,
                    true,
                ),
                hoa(
                    (2017, 1),
                    Some((2017, 6)),
                    &HOSPITAL,
                    accountant,
                    2_831_400,
                    true,
                ),
                hoa(
                    (2017, 7),
                    Some((2018, 6)),
                    &HOSPITAL,
                    accountant,
                    3_042_000,
                    true,
                ),
                hoa(
                    (2018, 7),
                    Some((2019, 6)),
                    &HOSPITAL,
                    accountant,
                    3_252_600,
                    true,
                ),
                hoa(
                    (2019, 7),
                    Some((2019, 12)),
                    &HOSPITAL,
                    accountant,
                    3_486_600,
                    true,
                ),
                hoa(
                    (2020, 1),
                    Some((2022, 12)),
                    &HOSPITAL,
                    accountant,
                    3_978_300,
                    true,
                ),
                hoa(
                    (2023, 1),
                    Some((2023, 6)),
                    &HOSPITAL,
                    accountant,
                    4_470_000,
                    true,
                ),
                hoa(
                    (2023, 7),
                    Some((2024, 6)),
                    &HOSPITAL,
                    accountant,
                    5_400_000,
                    true,
                ),
                hoa(
                    (2024, 7),
                    Some((2025, 12)),
                    &HOSPITAL,
                    accountant,
                    7_020_000,
                    true,
                ),
                hoa((2026, 1), None, &HOSPITAL, accountant, 7_792_200, true),
            ],
        },
        Participant {
            id: VOLUNTARY_ID,
            number: VOLUNTARY_BHXH_NUMBER,
            name: "Lê Văn Thành",
            birth: "1975-10-20",
            employer: None,
            periods: vec![
                Period {
                    from: (2003, 3),
                    to: Some((2005, 12)),
                    unit: &HAULIER,
                    position: "Lái xe",
                    salary: 950_000,
                    scheme: Scheme::Compulsory,
                    unemployment: false,
                },
                Period {
                    from: (2006, 1),
                    to: Some((2008, 12)),
                    unit: &HAULIER,
                    position: "Lái xe",
                    salary: 1_350_000,
                    scheme: Scheme::Compulsory,
                    unemployment: false,
                },
                Period {
                    from: (2018, 7),
                    to: Some((2021, 12)),
                    unit: &COLLECTION_AGENT,
                    position: "Tiểu thương chợ Đông Ba",
                    salary: 1_500_000,
                    scheme: Scheme::Voluntary,
                    unemployment: false,
                },
                Period {
                    from: (2022, 1),
                    to: None,
                    unit: &COLLECTION_AGENT,
                    position: "Tiểu thương chợ Đông Ba",
                    salary: 2_500_000,
                    scheme: Scheme::Voluntary,
                    unemployment: false,
                },
            ],
        },
    ]
}

fn today() -> NaiveDate {
    let offset = FixedOffset::east_opt(LOCAL_OFFSET_SECS).unwrap_or_else(|| Utc.fix());
    Utc::now().with_timezone(&offset).date_naive()
}

fn month_text((year, month): Month) -> String {
    format!("{year:04}-{month:02}")
}

/// Months from `from` to `to`, both inclusive; none when `to` comes first.
fn months_between(from: Month, to: Month) -> u32 {
    let index = |(year, month): Month| i64::from(year) * 12 + i64::from(month);
    u32::try_from(index(to) - index(from) + 1).unwrap_or(0)
}

fn record(participant: &Participant, today: NaiveDate) -> Value {
    let now = (today.year(), today.month());
    let months = |period: &Period| {
        let to = period.to.map_or(now, |to| to.min(now));
        months_between(period.from, to)
    };
    let bhxh: u32 = participant.periods.iter().map(months).sum();
    let bhtn: u32 = participant
        .periods
        .iter()
        .filter(|p| p.unemployment)
        .map(months)
        .sum();
    let periods: Vec<Value> = participant
        .periods
        .iter()
        .map(|period| {
            json!({
                "tuThang": month_text(period.from),
                "denThang": period.to.map(month_text),
                "maDonVi": period.unit.code,
                "tenDonVi": period.unit.name,
                "chucVu": period.position,
                "mucLuongDong": period.salary,
                "loaiHinh": match period.scheme {
                    Scheme::Compulsory => "bat_buoc",
                    Scheme::Voluntary => "tu_nguyen",
                },
                "thamGiaBhtn": period.unemployment,
            })
        })
        .collect();
    json!({
        "maSoBhxh": participant.number,
        "hoTen": participant.name,
        "ngaySinh": participant.birth,
        "soDinhDanh": participant.id,
        "donViHienTai": participant.employer.map(|unit| json!({
            "maDonVi": unit.code,
            "tenDonVi": unit.name,
            "diaChi": unit.address,
        })),
        "quaTrinhDong": periods,
        "tongThang": { "bhxh": bhxh, "bhtn": bhtn },
        "ngayCapNhat": today.format("%Y-%m-%d").to_string(),
    })
}

// --- Tokens ---

const OAUTH: oauth::Issuer = oauth::Issuer {
    realm: REALM,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
};

type Tokens = oauth::Tokens;

async fn token(State(bhxh): State<Arc<Bhxh>>, headers: HeaderMap, body: Bytes) -> Response {
    OAUTH.token(&bhxh.tokens, &headers, &body)
}

// --- The lookup ---

fn error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// `401 invalid_token`, unless the bearer token in `headers` is live.
fn unauthorized(headers: &HeaderMap, tokens: &Tokens) -> Option<Response> {
    let refused = OAUTH.bearer(tokens, headers).err()?;
    Some(refused.answer(error(StatusCode::UNAUTHORIZED, "invalid_token")))
}

async fn participant(
    State(bhxh): State<Arc<Bhxh>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some((fault, retry_after)) = bhxh.faults.take("*") {
        match fault {
            Fault::Down => {
                return faults::retry_after(
                    (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
                    Some(retry_after.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
                );
            }
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::Garbage => {
                let page = "<html><head><title>502 Bad Gateway</title></head>\
                            <body><h1>LGSP: upstream error</h1></body></html>";
                return (
                    [(header::CONTENT_TYPE, "application/json")],
                    page.to_owned(),
                )
                    .into_response();
            }
        }
    }
    if let Some(refused) = unauthorized(&headers, &bhxh.tokens) {
        return refused;
    }
    let id = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(name, _)| name == "soDinhDanh")
        .map(|(_, value)| value.into_owned())
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()));
    let Some(id) = id else {
        return error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    match bhxh.participants.iter().find(|p| p.id == id) {
        Some(participant) => Json(json!({ "data": record(participant, today()) })).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

// --- Faults ---

#[derive(Clone, Copy)]
enum Fault {
    Down,
    Slow(Duration),
    Garbage,
}

#[derive(Deserialize)]
struct FaultRequest {
    mode: Option<String>,
    times: Option<u32>,
    delay_ms: Option<u64>,
    retry_after_secs: Option<u64>,
}

async fn set_faults(
    State(bhxh): State<Arc<Bhxh>>,
    Json(request): Json<FaultRequest>,
) -> StatusCode {
    let fault = match request.mode.as_deref() {
        None => None,
        Some("down") => Some(Fault::Down),
        Some("slow") => Some(Fault::Slow(Duration::from_millis(
            request.delay_ms.unwrap_or(DEFAULT_SLOW_MS),
        ))),
        Some("garbage") => Some(Fault::Garbage),
        Some(_) => return StatusCode::UNPROCESSABLE_ENTITY,
    };
    bhxh.faults.set(
        "*".to_owned(),
        fault,
        request.times,
        request.retry_after_secs,
    );
    StatusCode::NO_CONTENT
}

// --- The server ---

struct Bhxh {
    participants: Vec<Participant>,
    tokens: Tokens,
    faults: Faults<Fault>,
}

pub fn router() -> Router {
    let bhxh = Bhxh {
        participants: participants(),
        tokens: Tokens::default(),
        faults: Faults::default(),
    };
    Router::new()
        .route("/token", post(token))
        .route("/api/v1/nguoi-tham-gia", get(participant))
        .route("/faults", post(set_faults))
        .with_state(Arc::new(bhxh))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use chrono::Datelike as _;

    use super::*;
    use crate::gateway::testing::{self, Answer};

    const LOOKUP: &str = "/sandbox/social-insurance/api/v1/nguoi-tham-gia";

    fn app() -> Router {
        Router::new().nest("/sandbox/social-insurance", router())
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    async fn ask_token(app: &Router, authorization: Option<&str>, form: &str) -> Answer {
        let mut request = Request::post("/sandbox/social-insurance/token")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        testing::send(app, request.body(Body::from(form.to_owned())).unwrap()).await
    }

    async fn token(app: &Router) -> String {
        let answer = ask_token(
            app,
            Some(&basic(CLIENT_ID, CLIENT_SECRET)),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.json()["access_token"].as_str().unwrap().to_owned()
    }

    async fn lookup(app: &Router, authorization: Option<&str>, query: &str) -> Answer {
        let mut request = Request::get(format!("{LOOKUP}{query}"));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        testing::send(app, request.body(Body::empty()).unwrap()).await
    }

    async fn person(app: &Router, token: &str, id: &str) -> Answer {
        let bearer = format!("Bearer {token}");
        lookup(app, Some(&bearer), &format!("?soDinhDanh={id}")).await
    }

    /// The current month, Huế time, computed here apart from the module's own code.
    fn this_month() -> (i32, i32) {
        let now = Utc::now() + chrono::Duration::hours(7);
        (now.year(), now.month() as i32)
    }

    /// Months from `since` (`YYYY-MM`) to the current month inclusive.
    fn months_since(since: &str) -> u64 {
        let (year, month) = since.split_once('-').unwrap();
        let (year, month): (i32, i32) = (year.parse().unwrap(), month.parse().unwrap());
        let (now_year, now_month) = this_month();
        ((now_year - year) * 12 + now_month - month + 1) as u64
    }

    #[tokio::test]
    async fn the_token_endpoint_takes_only_the_registered_client() {
        let app = app();
        let form = "grant_type=client_credentials";
        for authorization in [
            None,
            Some(basic(CLIENT_ID, "wrong").as_str()),
            Some(basic("someone-else", CLIENT_SECRET).as_str()),
            Some("Bearer abc"),
        ] {
            let refused = ask_token(&app, authorization, form).await;
            assert_eq!(
                refused.status,
                StatusCode::UNAUTHORIZED,
                "{authorization:?}"
            );
            assert_eq!(refused.json()["error"], "invalid_client");
            assert_eq!(
                refused.headers["www-authenticate"],
                r#"Basic realm="citizen-bhxh-sandbox""#
            );
        }

        let client = basic(CLIENT_ID, CLIENT_SECRET);
        let missing = ask_token(&app, Some(&client), "scope=x").await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(missing.json()["error"], "invalid_request");
        let other = ask_token(&app, Some(&client), "grant_type=password").await;
        assert_eq!(other.status, StatusCode::BAD_REQUEST);
        assert_eq!(other.json()["error"], "unsupported_grant_type");

        let granted = ask_token(&app, Some(&client), form).await;
        assert_eq!(granted.status, StatusCode::OK);
        assert_eq!(granted.headers["cache-control"], "no-store");
        let body = granted.json();
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 3600);
        let first = body["access_token"].as_str().unwrap().to_owned();
        assert!(first.len() >= 32);
        assert_ne!(first, token(&app).await);
    }

    #[test]
    fn at_most_ten_thousand_tokens_live_the_newest_kept() {
        let tokens = Tokens::default();
        let first = tokens.issue();
        let mut last = String::new();
        for _ in 0..MAX_TOKENS {
            last = tokens.issue();
        }
        assert_eq!(tokens.0.lock().unwrap().len(), MAX_TOKENS);
        assert!(tokens.is_live(&last));
        assert!(!tokens.is_live(&first));
    }

    #[tokio::test]
    async fn the_lookup_needs_a_live_bearer_token() {
        let app = app();
        let query = format!("?soDinhDanh={INSURED_ID}");
        let none = lookup(&app, None, &query).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.json(), json!({ "error": "invalid_token" }));
        assert_eq!(
            none.headers["www-authenticate"],
            r#"Bearer realm="citizen-bhxh-sandbox""#
        );
        let unknown = lookup(&app, Some("Bearer not-a-token"), &query).await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
        assert_eq!(unknown.json(), json!({ "error": "invalid_token" }));
        assert_eq!(
            unknown.headers["www-authenticate"],
            r#"Bearer realm="citizen-bhxh-sandbox", error="invalid_token""#
        );
        let client = basic(CLIENT_ID, CLIENT_SECRET);
        let basic_auth = lookup(&app, Some(&client), &query).await;
        assert_eq!(basic_auth.status, StatusCode::UNAUTHORIZED);
        // Before the ID is looked at.
        let bad_id = lookup(&app, None, "?soDinhDanh=12").await;
        assert_eq!(bad_id.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn ids_not_of_twelve_digits_are_invalid_and_the_never_insured_not_found() {
        let app = app();
        let token = token(&app).await;
        let bearer = format!("Bearer {token}");
        for query in [
            "",
            "?soDinhDanh=",
            "?soDinhDanh=04619000123",
            "?soDinhDanh=0461900012345",
            "?soDinhDanh=04619000123a",
            "?soDinhDanh=%EF%BC%900461900012",
            "?so_dinh_danh=046190001234",
        ] {
            let answer = lookup(&app, Some(&bearer), query).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!(answer.json(), json!({ "error": "invalid_request" }));
        }
        for id in [NEVER_INSURED_ID, "000000000000"] {
            let answer = person(&app, &token, id).await;
            assert_eq!(answer.status, StatusCode::NOT_FOUND);
            assert_eq!(answer.json(), json!({ "error": "not_found" }));
        }
    }

    /// The periods follow one another, oldest first, and only the last may be ongoing.
    fn check_periods(periods: &[Value]) {
        let month = |value: &Value| -> (i32, i32) {
            let (year, month) = value.as_str().unwrap().split_once('-').unwrap();
            (year.parse().unwrap(), month.parse().unwrap())
        };
        for (i, period) in periods.iter().enumerate() {
            let from = month(&period["tuThang"]);
            let ongoing = period["denThang"].is_null();
            assert_eq!(ongoing, i == periods.len() - 1, "{period}");
            if !ongoing {
                assert!(from <= month(&period["denThang"]));
            }
            if let Some(next) = periods.get(i + 1) {
                let to = month(&period["denThang"]);
                assert!(to < month(&next["tuThang"]), "{period} then {next}");
            }
            assert!(period["mucLuongDong"].as_u64().unwrap() > 0);
            assert!(period["thamGiaBhtn"].is_boolean());
            assert!(["bat_buoc", "tu_nguyen"].contains(&period["loaiHinh"].as_str().unwrap()));
            for field in ["maDonVi", "tenDonVi", "chucVu"] {
                assert!(!period[field].as_str().unwrap().is_empty());
            }
        }
    }

    #[tokio::test]
    async fn the_insured_accountant_has_her_hospital_and_months_to_date() {
        let app = app();
        let token = token(&app).await;
        let answer = person(&app, &token, INSURED_ID).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert!(
            answer.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
        let data = &answer.json()["data"];
        assert_eq!(data["maSoBhxh"], INSURED_BHXH_NUMBER);
        assert_eq!(data["hoTen"], INSURED_NAME);
        assert_eq!(data["ngaySinh"], INSURED_BIRTH_DATE);
        assert_eq!(data["soDinhDanh"], INSURED_ID);
        assert_eq!(data["donViHienTai"]["maDonVi"], INSURED_EMPLOYER_CODE);
        assert_eq!(data["donViHienTai"]["tenDonVi"], "Bệnh viện Trung ương Huế");
        assert!(data["donViHienTai"]["diaChi"].is_string());

        let periods = data["quaTrinhDong"].as_array().unwrap();
        check_periods(periods);
        assert_eq!(periods[0]["tuThang"], INSURED_SINCE);
        assert_eq!(periods[0]["denThang"], "2013-12");
        assert_eq!(periods[0]["mucLuongDong"], 2_300_000);
        assert_eq!(periods[0]["thamGiaBhtn"], false);
        let last = periods.last().unwrap();
        assert_eq!(last["maDonVi"], INSURED_EMPLOYER_CODE);
        assert_eq!(last["loaiHinh"], "bat_buoc");
        assert_eq!(last["thamGiaBhtn"], true);
        let first_bhtn = periods.iter().find(|p| p["thamGiaBhtn"] == true).unwrap();
        assert_eq!(first_bhtn["tuThang"], INSURED_BHTN_SINCE);

        assert_eq!(data["tongThang"]["bhxh"], months_since(INSURED_SINCE));
        assert_eq!(data["tongThang"]["bhtn"], months_since(INSURED_BHTN_SINCE));
        let (year, month) = this_month();
        let updated = data["ngayCapNhat"].as_str().unwrap();
        assert!(
            updated.starts_with(&format!("{year:04}-{month:02}-")),
            "{updated}"
        );
    }

    #[tokio::test]
    async fn the_trader_pays_voluntarily_with_no_employer_and_no_bhtn() {
        let app = app();
        let token = token(&app).await;
        let answer = person(&app, &token, VOLUNTARY_ID).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let data = &answer.json()["data"];
        assert_eq!(data["maSoBhxh"], VOLUNTARY_BHXH_NUMBER);
        assert!(data["donViHienTai"].is_null());
        let periods = data["quaTrinhDong"].as_array().unwrap();
        check_periods(periods);
        assert!(periods.iter().all(|p| p["thamGiaBhtn"] == false));
        assert_eq!(periods.last().unwrap()["loaiHinh"], "tu_nguyen");
        let voluntary_from = periods
            .iter()
            .find(|p| p["loaiHinh"] == "tu_nguyen")
            .unwrap();
        assert_eq!(voluntary_from["tuThang"], VOLUNTARY_SINCE);
        assert_eq!(
            data["tongThang"]["bhxh"],
            u64::from(VOLUNTARY_EARLIER_MONTHS) + months_since(VOLUNTARY_SINCE)
        );
        assert_eq!(data["tongThang"]["bhtn"], 0);
    }

    #[test]
    fn months_count_both_ends_and_stop_at_the_current_month() {
        assert_eq!(months_between((2012, 7), (2016, 12)), 54);
        assert_eq!(
            months_between((2003, 3), (2008, 12)),
            VOLUNTARY_EARLIER_MONTHS
        );
        assert_eq!(months_between((2026, 1), (2025, 12)), 0);
        let participants = participants();
        let hoa = &participants[0];
        let in_december_2026 = record(hoa, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(
            in_december_2026["tongThang"],
            json!({ "bhxh": 174, "bhtn": 144 })
        );
        // Before her last period began, it counts nothing.
        let in_2025 = record(hoa, NaiveDate::from_ymd_opt(2025, 12, 1).unwrap());
        assert_eq!(in_2025["tongThang"]["bhxh"], 162);
    }

    #[tokio::test]
    async fn faults_go_down_slow_and_garbled_then_back_to_normal() {
        let app = app();
        let access = token(&app).await;
        let fault = |body: Value| {
            let app = app.clone();
            async move {
                testing::post_json(&app, "/sandbox/social-insurance/faults", &body)
                    .await
                    .status
            }
        };
        assert_eq!(
            fault(json!({ "mode": "down", "times": 1 })).await,
            StatusCode::NO_CONTENT
        );
        // The token endpoint is spared.
        let down = person(&app, &token(&app).await, INSURED_ID).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "30");
        assert_eq!(
            person(&app, &access, INSURED_ID).await.status,
            StatusCode::OK
        );

        fault(json!({ "mode": "down", "retry_after_secs": 5 })).await;
        for _ in 0..2 {
            let down = person(&app, &access, INSURED_ID).await;
            assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(down.headers["retry-after"], "5");
        }
        fault(json!({ "mode": null })).await;
        assert_eq!(
            person(&app, &access, INSURED_ID).await.status,
            StatusCode::OK
        );

        fault(json!({ "mode": "garbage", "times": 1 })).await;
        let garbage = person(&app, &access, INSURED_ID).await;
        assert_eq!(garbage.status, StatusCode::OK);
        assert_eq!(garbage.headers["content-type"], "application/json");
        assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
        assert_eq!(
            person(&app, &access, INSURED_ID).await.status,
            StatusCode::OK
        );

        fault(json!({ "mode": "slow", "delay_ms": 200, "times": 1 })).await;
        let started = Instant::now();
        assert_eq!(
            person(&app, &access, INSURED_ID).await.status,
            StatusCode::OK
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
        let started = Instant::now();
        person(&app, &access, INSURED_ID).await;
        assert!(started.elapsed() < Duration::from_millis(200));

        assert_eq!(
            fault(json!({ "mode": "sideways" })).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn the_sandbox_router_serves_it_under_sandbox_social_insurance() {
        let app = crate::router();
        let token = token(&app).await;
        let answer = person(&app, &token, INSURED_ID).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}
