//! Thừa Thiên Huế's one-stop administrative-procedure system (Hệ thống thông tin giải quyết
//! thủ tục hành chính), as Citizen reaches it through the province's LGSP integration
//! platform: the dossiers (hồ sơ) the city's one-stop desks received, where each is in its
//! procedure and who handles it. JSON, UTF-8; times RFC 3339 in Huế's `+07:00`, to the second;
//! field names as the national public-service portal's dossier sync spec spells them.
//!
//! - `POST /token`: OAuth 2.0 client credentials (RFC 6749 §4.4), the client authenticated
//!   with HTTP Basic as [`CLIENT_ID`]:[`CLIENT_SECRET`] (each form-urlencoded first, §2.3.1),
//!   form `grant_type=client_credentials`. Answers `{"access_token", "token_type": "bearer",
//!   "expires_in": 3600}`; errors are RFC 6749's `{"error", "error_description"}`: `400
//!   invalid_request` (no `grant_type`), `400 unsupported_grant_type`, `401 invalid_client`
//!   with `WWW-Authenticate: Basic`. Tokens are random, kept in memory for an hour; at most
//!   10,000 live ones (the expired are dropped first, then the oldest).
//! - Every `/api/...` call but the sandbox's own needs `Authorization: Bearer <token>`; none,
//!   an unknown or an expired one gets `401 {"error": "invalid_token"}` with
//!   `WWW-Authenticate: Bearer ...`.
//! - `GET /api/hoso/{MaHoSo}`: `200 {"data": Dossier}`, or `404 {"error": "not_found"}`.
//! - `GET /api/hoso?SoGiayToChuHoSo={12-digit personal ID}`: `200 {"data": [Dossier, ...]}`,
//!   the applicant's dossiers, newest `NgayTiepNhan` first (an empty list when none). A value
//!   that is not 12 digits, or none, is `400 {"error": "invalid_request"}`.
//! - `GET /api/hoso/thay-doi?TuThoiDiem={RFC 3339}`: `200 {"data": [Dossier, ...]}`, the
//!   dossiers whose `NgayCapNhat` >= `TuThoiDiem`, oldest change first (then by `MaHoSo`), at
//!   most 100; poll again from the last one's `NgayCapNhat` (it comes again: `>=`). A missing
//!   or malformed `TuThoiDiem` (mind that `+` must be sent as `%2B`) is `400 invalid_request`.
//! - Sandbox control, no token: `POST /api/hoso/{MaHoSo}/su-kien` with one of
//!   - `{"loai": "bo_sung", "noi_dung"}`: more documents asked for: `TrangThaiHoSo` 5,
//!     `YeuCauBoSung` `{"NoiDung", "NgayYeuCau": now}` (kept afterwards, as history);
//!   - `{"loai": "tu_choi", "ly_do"}`: refused: 3, `LyDoTuChoi`; the running step ends now;
//!   - `{"loai": "tre_han", "ly_do", "ngay_hen_moi": RFC 3339}`: late, with an apology letter:
//!     4, `PhieuXinLoi` `{"LyDo", "NgayHenTraMoi", "NgayXinLoi": now}`, `NgayHenTra` the new
//!     date;
//!   - `{"loai": "chuyen_buoc"}`: the running step ends now and the next one starts now; 4;
//!   - `{"loai": "co_ket_qua"}`: every step ended (those not started start and end now); 9;
//!   - `{"loai": "tra_ket_qua"}`: as `co_ket_qua`, then 10 and `NgayTra` now.
//!
//!   Each sets `NgayCapNhat` to now and answers `200 {"data": Dossier}`. A body that is not a
//!   JSON object is `400 invalid_request`, an unknown dossier `404 not_found`, a missing or
//!   unknown `loai` `422 {"error": "unknown_event"}`, a known one with a missing or empty text
//!   or a malformed date (or `chuyen_buoc` with no step running and none left)
//!   `422 {"error": "invalid_event"}`.
//! - `POST /faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n, "delay_ms": n,
//!   "retry_after_secs": n, "method": "GET"}` as the other sandboxes, for every `/api` path
//!   (the token endpoint is spared): `down` answers `503 {"error": "service_unavailable"}`
//!   with `Retry-After` (30 s unless told), `slow` answers `delay_ms` later (10 s unless told),
//!   `garbage` a `200` whose `application/json` body is JSON cut off midway; for `times`
//!   requests (all until `null`), only those of `method` if given.
//!
//! A dossier has, in this order: `MaHoSo` (`[A-Z0-9.]+-\d{6}-\d{4}`: the office, a day
//! `yyMMdd`, a serial), `MaTTHC` (the national procedure code, `1.001193`), `TenTTHC`,
//! `LinhVuc`, `ChuHoSo` (the applicant), `SoGiayToChuHoSo` (12 digits),
//! `SoDienThoaiChuHoSo` (10 digits from `0`), `DiaChiChuHoSo`, `CoQuanTiepNhan`,
//! `MaCoQuan`, `KenhNop` (1 in person, 2 online, 3 by post), `NgayTiepNhan`, `NgayHenTra`,
//! `NgayTra` (`null` until returned), `TrangThaiHoSo` (2 received, 3 refused, 4 in
//! progress, 5 more documents asked for, 6 fees or taxes due, 7 withdrawn, 8 stopped, 9 ready
//! to collect, 10 returned), `YeuCauBoSung` (`null` or `{"NoiDung", "NgayYeuCau"}`),
//! `LyDoTuChoi` (`null` or text), `PhieuXinLoi` (`null` or `{"LyDo", "NgayHenTraMoi",
//! "NgayXinLoi"}`), `QuaTrinhXuLy` (the procedure's 3 to 5 steps in order, each `{"MaBuoc"
//! (1 up), "TenBuoc", "PhongBan", "ChucDanh", "NguoiXuLy", "SoNgayQuyDinh", "BatDau",
//! "KetThuc", "NoiDung"}`: `SoNgayQuyDinh` the working days allotted, whole ones as integers
//! and halves as `0.5`; `BatDau` and `KetThuc` `null` until it starts and ends) and
//! `NgayCapNhat`, when it last changed.
//!
//! The data, fresh on every start and dated from it: [`APPLICANT_ID`]'s two dossiers and
//! [`OTHER_APPLICANT_ID`]'s one, then [`GENERATED_DOSSIERS`] more of other applicants, the same
//! on every start but for their dates. Deadlines count working time: Monday to Friday,
//! 07:30-11:30 and 13:30-17:30, half a day being four hours (holidays are not known). The
//! named dossiers' numbers are fixed, so their six digits are not their reception day.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
#[cfg(test)]
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
#[cfg(test)]
use axum::http::HeaderValue;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
#[cfg(test)]
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{
    DateTime, Datelike as _, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset as _,
    SecondsFormat, TimeDelta, Timelike as _, Utc, Weekday,
};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::faults::{self, Faults};
use crate::oauth;

pub const CLIENT_ID: &str = "citizen-one-stop";
pub const CLIENT_SECRET: &str = "citizen-one-stop-sandbox-secret";

/// Nguyễn Thị Hoa (born 1990), of Phú Hội, with two dossiers: [`BUILDING_PERMIT_CODE`] and
/// [`BIRTH_CODE`].
pub const APPLICANT_ID: &str = "046190001234";
pub const APPLICANT_NAME: &str = "Nguyễn Thị Hoa";
pub const APPLICANT_PHONE: &str = "0905111222";
/// Her building permit for a private house (15 working days), filed online at the city's
/// public administration service centre three working days ago: in progress (4), its first
/// step (reception) ended, its second (the urban management office's appraisal) running, three
/// more to come.
pub const BUILDING_PERMIT_CODE: &str = "H57.22-260112-0001";
/// Her son's birth registration at UBND phường Phú Hội ten working days ago, the same day
/// returned (10).
pub const BIRTH_CODE: &str = "H57.31-260105-0003";
/// Phan Văn Đức (born 1985), of Vỹ Dạ, with one dossier: [`OTHER_CODE`].
pub const OTHER_APPLICANT_ID: &str = "046085009876";
pub const OTHER_APPLICANT_NAME: &str = "Phan Văn Đức";
pub const OTHER_PHONE: &str = "0914222333";
/// His certified copies (chứng thực bản sao) handed in at UBND phường Vỹ Dạ at 15:40 the last
/// working day: received (2), its first step running.
pub const OTHER_CODE: &str = "H57.32-260114-0002";
/// Dossiers of other applicants, one each.
pub const GENERATED_DOSSIERS: usize = 30;

/// The most dossiers one change-feed answer carries.
const MAX_CHANGES: usize = 100;
const DEFAULT_SLOW_MS: u64 = 10_000;
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;
const REALM: &str = "citizen-one-stop-sandbox";
/// Huế's offset from UTC, all year.
const LOCAL_OFFSET_SECS: i32 = 7 * 3600;

// TrangThaiHoSo, as the national portal numbers them.
const RECEIVED: u8 = 2;
const REFUSED: u8 = 3;
const IN_PROGRESS: u8 = 4;
const MORE_DOCUMENTS: u8 = 5;
const FEES_DUE: u8 = 6;
const WITHDRAWN: u8 = 7;
const STOPPED: u8 = 8;
const READY: u8 = 9;
const RETURNED: u8 = 10;

// KenhNop.
const IN_PERSON: u8 = 1;
const ONLINE: u8 = 2;
const BY_POST: u8 = 3;

// --- Dossiers ---

/// An instant as the system writes it: RFC 3339 in `+07:00`, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Time(DateTime<FixedOffset>);

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, false))
    }
}

/// Working days counted in halves: `15` for thirty, `0.5` for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WorkingDays {
    halves: u32,
}

impl Serialize for WorkingDays {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.halves.is_multiple_of(2) {
            serializer.serialize_u32(self.halves / 2)
        } else {
            serializer.serialize_f64(f64::from(self.halves) / 2.0)
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Dossier {
    #[serde(rename = "MaHoSo")]
    code: String,
    #[serde(rename = "MaTTHC")]
    procedure_code: &'static str,
    #[serde(rename = "TenTTHC")]
    procedure_name: &'static str,
    #[serde(rename = "LinhVuc")]
    field: &'static str,
    #[serde(rename = "ChuHoSo")]
    applicant: String,
    #[serde(rename = "SoGiayToChuHoSo")]
    applicant_id: String,
    #[serde(rename = "SoDienThoaiChuHoSo")]
    applicant_phone: String,
    #[serde(rename = "DiaChiChuHoSo")]
    applicant_address: String,
    #[serde(rename = "CoQuanTiepNhan")]
    office: &'static str,
    #[serde(rename = "MaCoQuan")]
    office_code: &'static str,
    #[serde(rename = "KenhNop")]
    channel: u8,
    #[serde(rename = "NgayTiepNhan")]
    received: Time,
    #[serde(rename = "NgayHenTra")]
    due: Time,
    #[serde(rename = "NgayTra")]
    returned: Option<Time>,
    #[serde(rename = "TrangThaiHoSo")]
    status: u8,
    #[serde(rename = "YeuCauBoSung")]
    more_documents: Option<MoreDocuments>,
    #[serde(rename = "LyDoTuChoi")]
    refusal: Option<String>,
    #[serde(rename = "PhieuXinLoi")]
    apology: Option<Apology>,
    #[serde(rename = "QuaTrinhXuLy")]
    steps: Vec<Step>,
    #[serde(rename = "NgayCapNhat")]
    updated: Time,
}

#[derive(Debug, Clone, Serialize)]
struct MoreDocuments {
    #[serde(rename = "NoiDung")]
    content: String,
    #[serde(rename = "NgayYeuCau")]
    asked: Time,
}

#[derive(Debug, Clone, Serialize)]
struct Apology {
    #[serde(rename = "LyDo")]
    reason: String,
    #[serde(rename = "NgayHenTraMoi")]
    new_due: Time,
    #[serde(rename = "NgayXinLoi")]
    written: Time,
}

#[derive(Debug, Clone, Serialize)]
struct Step {
    #[serde(rename = "MaBuoc")]
    number: u32,
    #[serde(rename = "TenBuoc")]
    name: &'static str,
    #[serde(rename = "PhongBan")]
    department: String,
    #[serde(rename = "ChucDanh")]
    role: String,
    #[serde(rename = "NguoiXuLy")]
    handler: &'static str,
    #[serde(rename = "SoNgayQuyDinh")]
    allotted: WorkingDays,
    #[serde(rename = "BatDau")]
    started: Option<Time>,
    #[serde(rename = "KetThuc")]
    ended: Option<Time>,
    #[serde(rename = "NoiDung")]
    content: &'static str,
}

impl Dossier {
    fn running_step(&mut self) -> Option<&mut Step> {
        self.steps
            .iter_mut()
            .find(|s| s.started.is_some() && s.ended.is_none())
    }

    /// Every step ended, those never started starting and ending `now`.
    fn end_every_step(&mut self, now: Time) {
        for step in &mut self.steps {
            step.started.get_or_insert(now);
            step.ended.get_or_insert(now);
        }
    }
}

// --- Events ---

enum Event {
    MoreDocuments { content: String },
    Refusal { reason: String },
    Delay { reason: String, new_due: Time },
    NextStep,
    Ready,
    Returned,
}

/// Why an event is not taken, answered `422` with this `error`.
enum Rejection {
    UnknownEvent,
    InvalidEvent,
}

impl Event {
    fn parse(body: &Map<String, Value>) -> Result<Self, Rejection> {
        let text = |field: &str| {
            body.get(field)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .ok_or(Rejection::InvalidEvent)
        };
        match body.get("loai").and_then(Value::as_str) {
            Some("bo_sung") => Ok(Self::MoreDocuments {
                content: text("noi_dung")?,
            }),
            Some("tu_choi") => Ok(Self::Refusal {
                reason: text("ly_do")?,
            }),
            Some("tre_han") => {
                let reason = text("ly_do")?;
                let new_due = DateTime::parse_from_rfc3339(&text("ngay_hen_moi")?)
                    .map_err(|_| Rejection::InvalidEvent)?;
                Ok(Self::Delay {
                    reason,
                    new_due: local(new_due),
                })
            }
            Some("chuyen_buoc") => Ok(Self::NextStep),
            Some("co_ket_qua") => Ok(Self::Ready),
            Some("tra_ket_qua") => Ok(Self::Returned),
            _ => Err(Rejection::UnknownEvent),
        }
    }

    fn apply(self, dossier: &mut Dossier, now: Time) -> Result<(), Rejection> {
        match self {
            Self::MoreDocuments { content } => {
                dossier.status = MORE_DOCUMENTS;
                dossier.more_documents = Some(MoreDocuments {
                    content,
                    asked: now,
                });
            }
            Self::Refusal { reason } => {
                dossier.status = REFUSED;
                dossier.refusal = Some(reason);
                if let Some(step) = dossier.running_step() {
                    step.ended = Some(now);
                }
            }
            Self::Delay { reason, new_due } => {
                dossier.status = IN_PROGRESS;
                dossier.due = new_due;
                dossier.apology = Some(Apology {
                    reason,
                    new_due,
                    written: now,
                });
            }
            Self::NextStep => {
                let running = dossier
                    .steps
                    .iter()
                    .position(|s| s.started.is_some() && s.ended.is_none());
                let next = dossier.steps.iter().position(|s| s.started.is_none());
                if running.is_none() && next.is_none() {
                    return Err(Rejection::InvalidEvent);
                }
                if let Some(i) = running {
                    dossier.steps[i].ended = Some(now);
                }
                if let Some(i) = next {
                    dossier.steps[i].started = Some(now);
                }
                dossier.status = IN_PROGRESS;
            }
            Self::Ready => {
                dossier.end_every_step(now);
                dossier.status = READY;
            }
            Self::Returned => {
                dossier.end_every_step(now);
                dossier.status = RETURNED;
                dossier.returned = Some(now);
            }
        }
        dossier.updated = now;
        Ok(())
    }
}

// --- Tokens ---

const OAUTH: oauth::Issuer = oauth::Issuer {
    realm: REALM,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
};

type Tokens = oauth::Tokens;

async fn issue_token(
    State(one_stop): State<Arc<OneStop>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    OAUTH.token(&one_stop.tokens, &headers, &body)
}

/// The `401` for a call without a live bearer token; `None` lets it through.
fn unauthorized(one_stop: &OneStop, headers: &HeaderMap) -> Option<Response> {
    let refused = OAUTH.bearer(&one_stop.tokens, headers).err()?;
    Some(refused.answer(api_error(StatusCode::UNAUTHORIZED, "invalid_token")))
}

// --- The server ---

#[derive(Debug, Clone, Copy)]
enum Fault {
    Down,
    Slow(Duration),
    Garbage,
}

struct OneStop {
    dossiers: Mutex<Vec<Dossier>>,
    tokens: Tokens,
    faults: Faults<Fault>,
}

impl OneStop {
    fn dossiers(&self) -> MutexGuard<'_, Vec<Dossier>> {
        self.dossiers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router() -> Router {
    let one_stop = Arc::new(OneStop {
        dossiers: Mutex::new(dossiers(now())),
        tokens: Tokens::default(),
        faults: Faults::default(),
    });
    let api = Router::new()
        .route("/hoso", get(by_applicant))
        .route("/hoso/thay-doi", get(changes))
        .route("/hoso/{code}", get(dossier))
        .route("/hoso/{code}/su-kien", post(record_event))
        .layer(middleware::from_fn_with_state(
            one_stop.clone(),
            inject_faults,
        ));
    Router::new()
        .route("/token", post(issue_token))
        .route("/faults", post(set_faults))
        .nest("/api", api)
        .with_state(one_stop)
}

fn api_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

fn data(value: impl Serialize) -> Response {
    Json(json!({ "data": value })).into_response()
}

/// The first value of `name` in a query string.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

async fn dossier(
    State(one_stop): State<Arc<OneStop>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthorized(&one_stop, &headers) {
        return refused;
    }
    match one_stop.dossiers().iter().find(|d| d.code == code) {
        Some(dossier) => data(dossier),
        None => api_error(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn by_applicant(
    State(one_stop): State<Arc<OneStop>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthorized(&one_stop, &headers) {
        return refused;
    }
    let Some(id) = query_value(query.as_deref(), "SoGiayToChuHoSo")
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()))
    else {
        return api_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let dossiers = one_stop.dossiers();
    let mut theirs: Vec<&Dossier> = dossiers.iter().filter(|d| d.applicant_id == id).collect();
    theirs.sort_by(|a, b| b.received.cmp(&a.received).then(a.code.cmp(&b.code)));
    data(theirs)
}

async fn changes(
    State(one_stop): State<Arc<OneStop>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthorized(&one_stop, &headers) {
        return refused;
    }
    let Some(since) = query_value(query.as_deref(), "TuThoiDiem")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
    else {
        return api_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let dossiers = one_stop.dossiers();
    let mut changed: Vec<&Dossier> = dossiers.iter().filter(|d| d.updated.0 >= since).collect();
    changed.sort_by(|a, b| a.updated.cmp(&b.updated).then(a.code.cmp(&b.code)));
    changed.truncate(MAX_CHANGES);
    data(changed)
}

async fn record_event(
    State(one_stop): State<Arc<OneStop>>,
    Path(code): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return api_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let mut dossiers = one_stop.dossiers();
    let Some(dossier) = dossiers.iter_mut().find(|d| d.code == code) else {
        return api_error(StatusCode::NOT_FOUND, "not_found");
    };
    match Event::parse(&body).and_then(|event| event.apply(dossier, now())) {
        Ok(()) => data(&*dossier),
        Err(Rejection::UnknownEvent) => {
            api_error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_event")
        }
        Err(Rejection::InvalidEvent) => {
            api_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_event")
        }
    }
}

async fn inject_faults(
    State(one_stop): State<Arc<OneStop>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some((fault, retry_after)) = one_stop.faults.take(request.method().as_str()) {
        match fault {
            Fault::Down => {
                let down = api_error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
                return faults::retry_after(down, retry_after);
            }
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::Garbage => {
                // What the integration platform leaves when the system drops the connection.
                return (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"data":{"MaHoSo":"H57.22-2601"#,
                )
                    .into_response();
            }
        }
    }
    next.run(request).await
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Down,
    Slow,
    Garbage,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    /// What to do; `null` goes back to normal.
    mode: Option<Mode>,
    /// How many requests get it; every one until told otherwise when absent.
    times: Option<u32>,
    /// How long `slow` waits.
    delay_ms: Option<u64>,
    /// The `Retry-After` of `down`.
    retry_after_secs: Option<u64>,
    /// Only requests of this method get it; all when absent.
    method: Option<String>,
}

async fn set_faults(
    State(one_stop): State<Arc<OneStop>>,
    Json(request): Json<FaultRequest>,
) -> StatusCode {
    let fault = request.mode.map(|mode| match mode {
        Mode::Down => Fault::Down,
        Mode::Slow => Fault::Slow(Duration::from_millis(
            request.delay_ms.unwrap_or(DEFAULT_SLOW_MS),
        )),
        Mode::Garbage => Fault::Garbage,
    });
    let retry_after = match fault {
        Some(Fault::Down) => Some(request.retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS)),
        _ => request.retry_after_secs,
    };
    let key = request
        .method
        .map(|m| m.to_ascii_uppercase())
        .unwrap_or_else(|| "*".to_owned());
    one_stop.faults.set(key, fault, request.times, retry_after);
    StatusCode::NO_CONTENT
}

// --- Working time ---

fn hue() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// `at` in Huế's offset, to the second.
fn local(at: DateTime<FixedOffset>) -> Time {
    let at = at.with_timezone(&hue());
    Time(at.with_nanosecond(0).unwrap_or(at))
}

fn now() -> Time {
    local(Utc::now().fixed_offset())
}

/// Office hours, in minutes of the day: a morning and an afternoon of four hours each.
const SESSIONS: [(u32, u32); 2] = [(7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60 + 30)];
/// Working minutes in half a working day.
const HALF_DAY_MINUTES: i64 = 4 * 60;

fn is_working_day(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// `minute` of `day` in Huế.
fn at_minute(day: NaiveDate, minute: u32) -> DateTime<FixedOffset> {
    let time = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or_default();
    let utc = NaiveDateTime::new(day, time) - TimeDelta::seconds(i64::from(LOCAL_OFFSET_SECS));
    DateTime::from_naive_utc_and_offset(utc, hue())
}

/// The working day `n` working days before `day`.
fn working_days_before(day: NaiveDate, n: u32) -> NaiveDate {
    let mut day = day;
    let mut left = n;
    while left > 0 {
        day = day.checked_sub_days(Days::new(1)).unwrap_or(day);
        if is_working_day(day) {
            left -= 1;
        }
    }
    day
}

/// `at`, or the start of the working time after it; with the end of that stretch.
fn working_stretch(at: DateTime<FixedOffset>) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let mut day = at.date_naive();
    let minute = at.hour() * 60 + at.minute();
    let mut from_minute = Some(minute);
    loop {
        if is_working_day(day) {
            for (start, end) in SESSIONS {
                match from_minute {
                    Some(m) if m >= end => {}
                    Some(m) if m >= start => return (at, at_minute(day, end)),
                    _ => return (at_minute(day, start), at_minute(day, end)),
                }
            }
        }
        day = day.checked_add_days(Days::new(1)).unwrap_or(day);
        from_minute = None;
    }
}

/// The instant `minutes` of working time after `from`.
fn after_working_minutes(from: DateTime<FixedOffset>, minutes: i64) -> DateTime<FixedOffset> {
    let mut at = from;
    let mut left = minutes;
    loop {
        let (start, end) = working_stretch(at);
        let room = (end - start).num_minutes();
        if left <= room {
            return start + TimeDelta::minutes(left);
        }
        left -= room;
        at = end;
    }
}

// --- The data ---

/// Where dossiers are handed in.
struct Office {
    name: &'static str,
    /// The ward, for a ward's desk; empty for the city's centre.
    ward: &'static str,
    code: &'static str,
    /// What its dossiers' numbers start with.
    prefix: &'static str,
}

const CITY_CENTRE: Office = Office {
    name: "Trung tâm Phục vụ hành chính công thành phố Huế",
    ward: "",
    code: "000.00.22.H57",
    prefix: "H57.22",
};
const WARD_OFFICES: [Office; 5] = [
    Office {
        name: "UBND phường Phú Hội",
        ward: "phường Phú Hội",
        code: "000.31.22.H57",
        prefix: "H57.31",
    },
    Office {
        name: "UBND phường Vỹ Dạ",
        ward: "phường Vỹ Dạ",
        code: "000.32.22.H57",
        prefix: "H57.32",
    },
    Office {
        name: "UBND phường Kim Long",
        ward: "phường Kim Long",
        code: "000.33.22.H57",
        prefix: "H57.33",
    },
    Office {
        name: "UBND phường An Cựu",
        ward: "phường An Cựu",
        code: "000.34.22.H57",
        prefix: "H57.34",
    },
    Office {
        name: "UBND phường Thủy Xuân",
        ward: "phường Thủy Xuân",
        code: "000.35.22.H57",
        prefix: "H57.35",
    },
];
/// Streets of each ward in [`WARD_OFFICES`], for addresses.
const STREETS: [&[&str]; 5] = [
    &["Nguyễn Công Trứ", "Chu Văn An", "Bến Nghé", "Phạm Ngũ Lão"],
    &["Nguyễn Sinh Cung", "Phạm Văn Đồng", "Lạc Long Quân"],
    &["Kim Long", "Nguyễn Phúc Nguyên", "Lý Nam Đế"],
    &["Hùng Vương", "Phan Chu Trinh", "Ngự Bình"],
    &["Minh Mạng", "Huyền Trân Công Chúa", "Lê Ngô Cát"],
];

/// A step of a procedure as the province's process (quy trình nội bộ) lays it down. In a
/// ward's procedure `{ward}` stands for the ward.
struct StepPlan {
    name: &'static str,
    department: &'static str,
    role: &'static str,
    half_days: u32,
    content: &'static str,
}

struct Procedure {
    /// The national procedure code. Khai sinh's, khai tử's, kết hôn's, the marital status
    /// certificate's and the household business's are the portal's; the others are
    /// stand-ins of the same form.
    code: &'static str,
    name: &'static str,
    field: &'static str,
    /// Handled by a ward (else by the city, through its centre).
    ward_level: bool,
    steps: &'static [StepPlan],
}

const CITY_DESK: &str = "Bộ phận Một cửa, Trung tâm Phục vụ hành chính công thành phố Huế";
const CITY_CLERK: &str = "Công chức Bộ phận Một cửa";
const WARD_DESK: &str = "Bộ phận Một cửa, UBND {ward}";
const WARD_CLERK: &str = "Công chức Bộ phận Một cửa UBND {ward}";
const WARD_REGISTRAR_OFFICE: &str = "Công chức Tư pháp – Hộ tịch, UBND {ward}";
const WARD_REGISTRAR: &str = "Công chức Tư pháp – Hộ tịch";
const WARD_LEADERS: &str = "Lãnh đạo UBND {ward}";

const fn reception(department: &'static str, role: &'static str, half_days: u32) -> StepPlan {
    StepPlan {
        name: "Tiếp nhận hồ sơ",
        department,
        role,
        half_days,
        content: "Kiểm tra thành phần hồ sơ, cấp Giấy tiếp nhận hồ sơ và hẹn trả kết quả, chuyển hồ sơ đến bộ phận giải quyết",
    }
}

const fn handing_back(department: &'static str, role: &'static str, half_days: u32) -> StepPlan {
    StepPlan {
        name: "Trả kết quả",
        department,
        role,
        half_days,
        content: "Nhận kết quả từ bộ phận giải quyết, vào sổ theo dõi, trả kết quả cho người nộp hồ sơ",
    }
}

const BUILDING_PERMIT: Procedure = Procedure {
    code: "1.009972",
    name: "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
    field: "Hoạt động xây dựng",
    ward_level: false,
    steps: &[
        reception(CITY_DESK, CITY_CLERK, 1),
        StepPlan {
            name: "Thẩm định hồ sơ, kiểm tra thực địa",
            department: "Phòng Quản lý đô thị",
            role: "Chuyên viên Phòng Quản lý đô thị",
            half_days: 22,
            content: "Thẩm định hồ sơ thiết kế, đối chiếu quy hoạch chi tiết, kiểm tra hiện trạng khu đất; dự thảo giấy phép xây dựng",
        },
        StepPlan {
            name: "Xem xét, trình ký",
            department: "Phòng Quản lý đô thị",
            role: "Trưởng phòng Quản lý đô thị",
            half_days: 4,
            content: "Xem xét kết quả thẩm định, trình lãnh đạo UBND thành phố ký giấy phép xây dựng",
        },
        StepPlan {
            name: "Phê duyệt, ký giấy phép xây dựng",
            department: "Lãnh đạo UBND thành phố Huế",
            role: "Phó Chủ tịch UBND thành phố Huế",
            half_days: 2,
            content: "Ký giấy phép xây dựng",
        },
        handing_back(CITY_DESK, CITY_CLERK, 1),
    ],
};

const BIRTH_REGISTRATION: Procedure = Procedure {
    code: "1.001193",
    name: "Đăng ký khai sinh",
    field: "Hộ tịch",
    ward_level: true,
    steps: &[
        reception(WARD_DESK, WARD_CLERK, 0),
        StepPlan {
            name: "Kiểm tra hồ sơ, ghi Sổ đăng ký khai sinh",
            department: WARD_REGISTRAR_OFFICE,
            role: WARD_REGISTRAR,
            half_days: 1,
            content: "Kiểm tra tờ khai và giấy chứng sinh, ghi vào Sổ đăng ký khai sinh, cập nhật Cơ sở dữ liệu hộ tịch điện tử",
        },
        StepPlan {
            name: "Ký Giấy khai sinh",
            department: WARD_LEADERS,
            role: "Chủ tịch UBND {ward}",
            half_days: 0,
            content: "Ký Giấy khai sinh bản chính",
        },
        handing_back(WARD_DESK, WARD_CLERK, 0),
    ],
};

const CERTIFIED_COPY: Procedure = Procedure {
    code: "2.000815",
    name: "Cấp bản sao có chứng thực từ bản chính giấy tờ, văn bản do cơ quan, tổ chức có thẩm quyền của Việt Nam cấp hoặc chứng nhận",
    field: "Chứng thực",
    ward_level: true,
    steps: &[
        reception(WARD_DESK, WARD_CLERK, 0),
        StepPlan {
            name: "Đối chiếu bản chính, chứng thực bản sao",
            department: WARD_REGISTRAR_OFFICE,
            role: WARD_REGISTRAR,
            half_days: 1,
            content: "Đối chiếu bản sao với bản chính, ghi lời chứng, vào sổ chứng thực",
        },
        StepPlan {
            name: "Ký chứng thực, trả kết quả",
            department: WARD_LEADERS,
            role: "Phó Chủ tịch UBND {ward}",
            half_days: 0,
            content: "Ký lời chứng, đóng dấu; Bộ phận Một cửa trả bản sao có chứng thực",
        },
    ],
};

const LAND_CERTIFICATE_RENEWAL: Procedure = Procedure {
    code: "1.004227",
    name: "Cấp đổi Giấy chứng nhận quyền sử dụng đất, quyền sở hữu nhà ở và tài sản khác gắn liền với đất",
    field: "Đất đai",
    ward_level: false,
    steps: &[
        reception(CITY_DESK, CITY_CLERK, 1),
        StepPlan {
            name: "Thẩm định hồ sơ, chỉnh lý hồ sơ địa chính",
            department: "Chi nhánh Văn phòng Đăng ký đất đai thành phố Huế",
            role: "Chuyên viên Chi nhánh Văn phòng Đăng ký đất đai",
            half_days: 9,
            content: "Kiểm tra hồ sơ, đo đạc, chỉnh lý bản đồ địa chính và cơ sở dữ liệu đất đai, in Giấy chứng nhận",
        },
        StepPlan {
            name: "Ký Giấy chứng nhận",
            department: "Văn phòng Đăng ký đất đai, Sở Tài nguyên và Môi trường",
            role: "Phó Giám đốc Văn phòng Đăng ký đất đai",
            half_days: 3,
            content: "Ký Giấy chứng nhận quyền sử dụng đất",
        },
        handing_back(CITY_DESK, CITY_CLERK, 1),
    ],
};

const HOUSEHOLD_BUSINESS: Procedure = Procedure {
    code: "1.001612",
    name: "Đăng ký thành lập hộ kinh doanh",
    field: "Thành lập và hoạt động của hộ kinh doanh",
    ward_level: false,
    steps: &[
        reception(CITY_DESK, CITY_CLERK, 1),
        StepPlan {
            name: "Thẩm định hồ sơ đăng ký",
            department: "Phòng Tài chính – Kế hoạch",
            role: "Chuyên viên Phòng Tài chính – Kế hoạch",
            half_days: 3,
            content: "Kiểm tra tính hợp lệ của hồ sơ, tên hộ kinh doanh, ngành nghề đăng ký",
        },
        StepPlan {
            name: "Cấp Giấy chứng nhận đăng ký hộ kinh doanh",
            department: "Phòng Tài chính – Kế hoạch",
            role: "Trưởng phòng Tài chính – Kế hoạch",
            half_days: 1,
            content: "Ký Giấy chứng nhận đăng ký hộ kinh doanh",
        },
        handing_back(CITY_DESK, CITY_CLERK, 1),
    ],
};

const CRIMINAL_RECORD: Procedure = Procedure {
    code: "2.000488",
    name: "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
    field: "Lý lịch tư pháp",
    ward_level: false,
    steps: &[
        reception(CITY_DESK, CITY_CLERK, 1),
        StepPlan {
            name: "Tra cứu, xác minh thông tin lý lịch tư pháp",
            department: "Phòng Hành chính tư pháp, Sở Tư pháp",
            role: "Chuyên viên Phòng Hành chính tư pháp",
            half_days: 14,
            content: "Tra cứu Cơ sở dữ liệu lý lịch tư pháp, đề nghị cơ quan Công an xác minh; dự thảo Phiếu lý lịch tư pháp",
        },
        StepPlan {
            name: "Ký Phiếu lý lịch tư pháp",
            department: "Lãnh đạo Sở Tư pháp",
            role: "Phó Giám đốc Sở Tư pháp",
            half_days: 4,
            content: "Ký Phiếu lý lịch tư pháp",
        },
        handing_back(CITY_DESK, CITY_CLERK, 1),
    ],
};

const MARITAL_STATUS: Procedure = Procedure {
    code: "1.004873",
    name: "Cấp Giấy xác nhận tình trạng hôn nhân",
    field: "Hộ tịch",
    ward_level: true,
    steps: &[
        reception(WARD_DESK, WARD_CLERK, 1),
        StepPlan {
            name: "Kiểm tra, xác minh tình trạng hôn nhân",
            department: WARD_REGISTRAR_OFFICE,
            role: WARD_REGISTRAR,
            half_days: 3,
            content: "Kiểm tra Cơ sở dữ liệu hộ tịch, xác minh nơi cư trú trước đây của người yêu cầu",
        },
        StepPlan {
            name: "Ký Giấy xác nhận",
            department: WARD_LEADERS,
            role: "Phó Chủ tịch UBND {ward}",
            half_days: 1,
            content: "Ký Giấy xác nhận tình trạng hôn nhân",
        },
        handing_back(WARD_DESK, WARD_CLERK, 1),
    ],
};

const DEATH_REGISTRATION: Procedure = Procedure {
    code: "1.000656",
    name: "Đăng ký khai tử",
    field: "Hộ tịch",
    ward_level: true,
    steps: &[
        reception(WARD_DESK, WARD_CLERK, 0),
        StepPlan {
            name: "Kiểm tra hồ sơ, ghi Sổ đăng ký khai tử",
            department: WARD_REGISTRAR_OFFICE,
            role: WARD_REGISTRAR,
            half_days: 1,
            content: "Kiểm tra giấy báo tử, ghi vào Sổ đăng ký khai tử, cập nhật Cơ sở dữ liệu hộ tịch điện tử",
        },
        StepPlan {
            name: "Ký Trích lục khai tử",
            department: WARD_LEADERS,
            role: "Chủ tịch UBND {ward}",
            half_days: 0,
            content: "Ký Trích lục khai tử bản chính",
        },
        handing_back(WARD_DESK, WARD_CLERK, 0),
    ],
};

const MARRIAGE_REGISTRATION: Procedure = Procedure {
    code: "1.000894",
    name: "Đăng ký kết hôn",
    field: "Hộ tịch",
    ward_level: true,
    steps: &[
        reception(WARD_DESK, WARD_CLERK, 0),
        StepPlan {
            name: "Kiểm tra điều kiện kết hôn, ghi Sổ đăng ký kết hôn",
            department: WARD_REGISTRAR_OFFICE,
            role: WARD_REGISTRAR,
            half_days: 1,
            content: "Kiểm tra tờ khai, xác nhận tình trạng hôn nhân của hai bên, ghi vào Sổ đăng ký kết hôn",
        },
        StepPlan {
            name: "Ký Giấy chứng nhận kết hôn, trao cho hai bên",
            department: WARD_LEADERS,
            role: "Chủ tịch UBND {ward}",
            half_days: 0,
            content: "Ký Giấy chứng nhận kết hôn; hai bên nam, nữ ký vào Sổ và Giấy chứng nhận kết hôn",
        },
    ],
};

/// What the generated dossiers are for, more of the everyday ones.
const GENERATED_PROCEDURES: [&Procedure; 12] = [
    &CERTIFIED_COPY,
    &BIRTH_REGISTRATION,
    &LAND_CERTIFICATE_RENEWAL,
    &CERTIFIED_COPY,
    &HOUSEHOLD_BUSINESS,
    &MARITAL_STATUS,
    &BUILDING_PERMIT,
    &CRIMINAL_RECORD,
    &MARRIAGE_REGISTRATION,
    &CERTIFIED_COPY,
    &DEATH_REGISTRATION,
    &CRIMINAL_RECORD,
];

/// Civil servants, for `NguoiXuLy`: the same role at the same office is the same person.
const STAFF: &[&str] = &[
    "Lê Thị Thu Hằng",
    "Hoàng Minh Tuấn",
    "Trần Văn Minh",
    "Nguyễn Thị Diệu Linh",
    "Phạm Quang Huy",
    "Tôn Nữ Minh Châu",
    "Võ Đình Khôi",
    "Hồ Thị Kim Oanh",
    "Đặng Ngọc Sơn",
    "Bùi Thị Phương Thảo",
    "Ngô Văn Lợi",
    "Dương Thị Thanh Hương",
    "Lê Quang Vinh",
    "Nguyễn Đức Thắng",
];

fn staff(office: &Office, role: &str) -> &'static str {
    // FNV-1a: stable across starts and builds.
    let hash = office
        .name
        .bytes()
        .chain(role.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    STAFF[(hash % STAFF.len() as u64) as usize]
}

/// How far along a dossier is, for the timeline it is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// `ended` steps ended; the next one running if `running`.
    Steps { ended: usize, running: bool },
    /// Every step ended.
    Done,
}

/// Who handed a dossier in.
struct Applicant {
    name: String,
    id: String,
    phone: String,
    address: String,
}

/// A dossier's facts before its dates: what is filed where, by whom, how far along, at what
/// pace (percent of the allotted time each step takes).
struct Plan<'a> {
    code: String,
    procedure: &'a Procedure,
    office: &'a Office,
    applicant: Applicant,
    channel: u8,
    received: DateTime<FixedOffset>,
    progress: Progress,
    pace_percent: i64,
}

/// The dossier `plan` makes: each step starting when the one before ended.
fn lay_out(plan: Plan<'_>) -> Dossier {
    let office = plan.office;
    let fill = |text: &str| text.replace("{ward}", office.ward);
    let total: i64 = plan
        .procedure
        .steps
        .iter()
        .map(|s| i64::from(s.half_days))
        .sum();
    let due = after_working_minutes(plan.received, total * HALF_DAY_MINUTES);
    let mut at = plan.received;
    let mut steps = Vec::with_capacity(plan.procedure.steps.len());
    for (i, step) in plan.procedure.steps.iter().enumerate() {
        let (ends, starts) = match plan.progress {
            Progress::Done => (true, true),
            Progress::Steps { ended, running } => (i < ended, i < ended || (i == ended && running)),
        };
        let started = starts.then_some(local(at));
        let mut ended = None;
        if ends {
            // Even a step of no allotted time takes some minutes.
            let minutes = (i64::from(step.half_days) * HALF_DAY_MINUTES * plan.pace_percent / 100)
                .max(10 + 7 * i as i64);
            at = after_working_minutes(at, minutes);
            ended = Some(local(at));
        }
        steps.push(Step {
            number: i as u32 + 1,
            name: step.name,
            department: fill(step.department),
            role: fill(step.role),
            handler: staff(office, step.role),
            allotted: WorkingDays {
                halves: step.half_days,
            },
            started,
            ended,
            content: step.content,
        });
    }
    Dossier {
        code: plan.code,
        procedure_code: plan.procedure.code,
        procedure_name: plan.procedure.name,
        field: plan.procedure.field,
        applicant: plan.applicant.name,
        applicant_id: plan.applicant.id,
        applicant_phone: plan.applicant.phone,
        applicant_address: plan.applicant.address,
        office: office.name,
        office_code: office.code,
        channel: plan.channel,
        received: local(plan.received),
        due: local(due),
        returned: None,
        status: match plan.progress {
            Progress::Done => READY,
            Progress::Steps { ended: 0, .. } => RECEIVED,
            Progress::Steps { .. } => IN_PROGRESS,
        },
        more_documents: None,
        refusal: None,
        apology: None,
        steps,
        updated: local(at),
    }
}

/// The latest instant a dossier records.
fn last_recorded(dossier: &Dossier) -> Time {
    let mut times = vec![dossier.received];
    times.extend(dossier.returned);
    times.extend(dossier.more_documents.as_ref().map(|m| m.asked));
    times.extend(dossier.apology.as_ref().map(|a| a.written));
    for step in &dossier.steps {
        times.extend(step.started);
        times.extend(step.ended);
    }
    times.into_iter().max().unwrap_or(dossier.received)
}

/// Every dossier of a sandbox started at `now`.
fn dossiers(now: Time) -> Vec<Dossier> {
    let today = now.0.date_naive();
    let phu_hoi = &WARD_OFFICES[0];
    let vy_da = &WARD_OFFICES[1];
    let hoa = || Applicant {
        name: APPLICANT_NAME.to_owned(),
        id: APPLICANT_ID.to_owned(),
        phone: APPLICANT_PHONE.to_owned(),
        address: "27 Nguyễn Công Trứ, phường Phú Hội, thành phố Huế".to_owned(),
    };
    let building = lay_out(Plan {
        code: BUILDING_PERMIT_CODE.to_owned(),
        procedure: &BUILDING_PERMIT,
        office: &CITY_CENTRE,
        applicant: hoa(),
        channel: ONLINE,
        received: at_minute(working_days_before(today, 3), 9 * 60 + 15),
        progress: Progress::Steps {
            ended: 1,
            running: true,
        },
        pace_percent: 50,
    });
    let mut birth = lay_out(Plan {
        code: BIRTH_CODE.to_owned(),
        procedure: &BIRTH_REGISTRATION,
        office: phu_hoi,
        applicant: hoa(),
        channel: IN_PERSON,
        received: at_minute(working_days_before(today, 10), 8 * 60 + 20),
        progress: Progress::Done,
        pace_percent: 60,
    });
    birth.status = RETURNED;
    birth.returned = Some(birth.updated);
    let other = lay_out(Plan {
        code: OTHER_CODE.to_owned(),
        procedure: &CERTIFIED_COPY,
        office: vy_da,
        applicant: Applicant {
            name: OTHER_APPLICANT_NAME.to_owned(),
            id: OTHER_APPLICANT_ID.to_owned(),
            phone: OTHER_PHONE.to_owned(),
            address: "14 Nguyễn Sinh Cung, phường Vỹ Dạ, thành phố Huế".to_owned(),
        },
        channel: IN_PERSON,
        received: at_minute(working_days_before(today, 1), 15 * 60 + 40),
        progress: Progress::Steps {
            ended: 0,
            running: true,
        },
        pace_percent: 100,
    });
    let mut all = vec![building, birth, other];
    all.extend((0..GENERATED_DOSSIERS).map(|i| generated(i, now)));
    all
}

/// What becomes of a generated dossier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Received,
    InProgress,
    /// In progress past its deadline.
    Late,
    /// Late, with an apology letter and a new date.
    Apologised,
    MoreDocuments,
    FeesDue,
    Ready,
    Returned,
    Refused,
    Withdrawn,
    Stopped,
}

const FATES: [Fate; 15] = [
    Fate::Returned,
    Fate::InProgress,
    Fate::Returned,
    Fate::Received,
    Fate::Ready,
    Fate::MoreDocuments,
    Fate::Returned,
    Fate::Apologised,
    Fate::Refused,
    Fate::InProgress,
    Fate::FeesDue,
    Fate::Returned,
    Fate::Late,
    Fate::Withdrawn,
    Fate::Stopped,
];

const FAMILY: &[&str] = &[
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Phan",
    "Võ",
    "Đặng",
    "Bùi",
    "Hồ",
    "Ngô",
    "Tôn Nữ",
    "Dương",
    "Huỳnh",
];
const MIDDLE_MALE: &[&str] = &["Văn", "Hữu", "Minh", "Quang", "Đức", "Đình", "Công"];
const MIDDLE_FEMALE: &[&str] = &["Thị", "Ngọc", "Thị Thu", "Diệu", "Thanh", "Thị Kim"];
const GIVEN_MALE: &[&str] = &[
    "An", "Bảo", "Cường", "Dũng", "Hiếu", "Khoa", "Long", "Nam", "Phúc", "Quân", "Sơn", "Thắng",
];
const GIVEN_FEMALE: &[&str] = &[
    "Anh", "Châu", "Giang", "Hà", "Hương", "Lan", "Linh", "Mai", "My", "Nhi", "Thảo", "Vy",
];
const MOBILE_PREFIXES: &[&str] = &[
    "0935", "0979", "0983", "0988", "0763", "0772", "0777", "0823", "0856", "0886", "0326", "0358",
    "0369", "0398",
];

/// A small linear congruential sequence: the same draws on every start.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
}

fn generated(index: usize, now: Time) -> Dossier {
    let mut draw = Draw((index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let fate = FATES[index % FATES.len()];
    let procedure = match fate {
        // Only land dossiers wait on taxes and fees.
        Fate::FeesDue => &LAND_CERTIFICATE_RENEWAL,
        _ => GENERATED_PROCEDURES[index % GENERATED_PROCEDURES.len()],
    };
    let male = draw.below(2) == 0;
    let born = 1955 + draw.below(49);
    let (middle, given) = if male {
        (MIDDLE_MALE, GIVEN_MALE)
    } else {
        (MIDDLE_FEMALE, GIVEN_FEMALE)
    };
    let family = match draw.pick(FAMILY) {
        // The royal clan's men are Tôn Thất, its women Tôn Nữ.
        "Tôn Nữ" if male => "Tôn Thất",
        family => family,
    };
    let name = format!("{family} {} {}", draw.pick(middle), draw.pick(given));
    // Huế's province code, then sex and century, the year of birth, a serial.
    let century_sex = usize::from(!male) + if born >= 2000 { 2 } else { 0 };
    let id = format!(
        "046{century_sex}{:02}{:06}",
        born % 100,
        200_000 + index * 1000 + draw.below(1000)
    );
    let phone = format!("{}{:06}", draw.pick(MOBILE_PREFIXES), draw.below(1_000_000));
    let ward = draw.below(WARD_OFFICES.len());
    let address = format!(
        "{} {}, {}, thành phố Huế",
        1 + draw.below(180),
        draw.pick(STREETS[ward]),
        WARD_OFFICES[ward].ward
    );
    let office = if procedure.ward_level {
        &WARD_OFFICES[ward]
    } else {
        &CITY_CENTRE
    };
    let channel = match draw.below(10) {
        0..=4 => ONLINE,
        5..=8 => IN_PERSON,
        _ => BY_POST,
    };
    let steps = procedure.steps.len();
    let progress = match fate {
        Fate::Received => Progress::Steps {
            ended: 0,
            running: true,
        },
        Fate::InProgress | Fate::Late | Fate::Apologised | Fate::MoreDocuments => Progress::Steps {
            ended: 1 + draw.below(steps.saturating_sub(2).max(1)),
            running: true,
        },
        Fate::FeesDue | Fate::Refused | Fate::Withdrawn | Fate::Stopped => Progress::Steps {
            ended: 2,
            running: false,
        },
        Fate::Ready | Fate::Returned => Progress::Done,
    };
    let total_days: u32 = procedure
        .steps
        .iter()
        .map(|s| s.half_days)
        .sum::<u32>()
        .div_ceil(2);
    let late = matches!(fate, Fate::Late | Fate::Apologised);
    let pace_percent = if late {
        130
    } else {
        40 + draw.below(50) as i64
    };
    // Late ones were received longer ago than their procedure allows, those under way mostly
    // within it, the others any time in the last weeks.
    let mut days_ago = match fate {
        _ if late => total_days + 2 + draw.below(4) as u32,
        Fate::Received => 1,
        Fate::InProgress | Fate::MoreDocuments => 1 + draw.below(total_days as usize) as u32,
        _ => 1 + draw.below(12) as u32,
    };
    let minute = if draw.below(2) == 0 {
        7 * 60 + 35 + draw.below(200) as u32
    } else {
        13 * 60 + 35 + draw.below(180) as u32
    };
    let refusal = draw.pick(REFUSALS);
    let more_documents = draw.pick(MORE_DOCUMENTS_ASKED);
    // Each dossier's story must be over by now: received earlier until it is.
    loop {
        let received = at_minute(working_days_before(now.0.date_naive(), days_ago), minute);
        let mut dossier = lay_out(Plan {
            code: String::new(),
            procedure,
            office,
            applicant: Applicant {
                name: name.clone(),
                id: id.clone(),
                phone: phone.clone(),
                address: address.clone(),
            },
            channel,
            received,
            progress,
            pace_percent,
        });
        let last_step = dossier
            .steps
            .iter()
            .rev()
            .find_map(|s| s.ended.or(s.started))
            .unwrap_or(dossier.received);
        match fate {
            Fate::Received | Fate::InProgress | Fate::Late | Fate::Ready => {}
            Fate::Apologised => {
                let written = local(dossier.due.0 - TimeDelta::hours(2));
                let new_due = local(after_working_minutes(dossier.due.0, 10 * HALF_DAY_MINUTES));
                dossier.apology = Some(Apology {
                    reason: "Hồ sơ cần xác minh thêm với cơ quan liên quan nên chưa giải quyết kịp thời hạn đã hẹn".to_owned(),
                    new_due,
                    written,
                });
                dossier.due = new_due;
            }
            Fate::MoreDocuments => {
                dossier.status = MORE_DOCUMENTS;
                dossier.more_documents = Some(MoreDocuments {
                    content: more_documents.to_owned(),
                    asked: local(after_working_minutes(last_step.0, 90)),
                });
            }
            Fate::FeesDue => dossier.status = FEES_DUE,
            Fate::Refused => {
                dossier.status = REFUSED;
                dossier.refusal = Some(refusal.to_owned());
            }
            Fate::Withdrawn => dossier.status = WITHDRAWN,
            Fate::Stopped => dossier.status = STOPPED,
            Fate::Returned => {
                dossier.status = RETURNED;
                dossier.returned = Some(last_step);
            }
        }
        dossier.updated = last_recorded(&dossier);
        if dossier.updated < now || days_ago > 200 {
            let office_index = WARD_OFFICES
                .iter()
                .position(|o| o.code == office.code)
                .map_or(0, |i| i + 1);
            // Serials from 0021, clear of the named dossiers' numbers.
            dossier.code = format!(
                "{}-{}-{:04}",
                office.prefix,
                dossier.received.0.format("%y%m%d"),
                21 + index * 6 + office_index
            );
            return dossier;
        }
        days_ago += 1;
    }
}

const REFUSALS: &[&str] = &[
    "Hồ sơ không thuộc thẩm quyền giải quyết của cơ quan tiếp nhận",
    "Người yêu cầu không xuất trình được bản chính giấy tờ để đối chiếu",
    "Thông tin trong tờ khai không khớp với Cơ sở dữ liệu quốc gia về dân cư",
];

const MORE_DOCUMENTS_ASKED: &[&str] = &[
    "Bổ sung văn bản ủy quyền có chứng thực của người được ủy quyền nộp hồ sơ",
    "Bổ sung bản chính giấy tờ để đối chiếu: thông tin trên tờ khai chưa khớp với Cơ sở dữ liệu quốc gia về dân cư",
    "Bổ sung giấy tờ chứng minh nơi cư trú của người yêu cầu",
];

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;

    use super::*;
    use crate::gateway::testing::{self, Answer};

    fn app() -> Router {
        Router::new().nest("/sandbox/one-stop", router())
    }

    async fn call(
        app: &Router,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/sandbox/one-stop{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = body.map_or_else(Body::empty, Body::from);
        testing::send(app, request.body(body).unwrap()).await
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    async fn ask_token(app: &Router, authorization: &str, form: &str) -> Answer {
        let headers = [
            ("authorization", authorization),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        call(app, "POST", "/token", &headers, Some(form.to_owned())).await
    }

    async fn token(app: &Router) -> String {
        let answer = ask_token(
            app,
            &basic(CLIENT_ID, CLIENT_SECRET),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.json()["access_token"].as_str().unwrap().to_owned()
    }

    async fn get(app: &Router, token: &str, path: &str) -> Answer {
        let bearer = format!("Bearer {token}");
        call(app, "GET", path, &[("authorization", &bearer)], None).await
    }

    async fn event(app: &Router, code: &str, body: &Value) -> Answer {
        let headers = [("content-type", "application/json")];
        let path = format!("/api/hoso/{code}/su-kien");
        call(app, "POST", &path, &headers, Some(body.to_string())).await
    }

    async fn fault(app: &Router, body: &Value) {
        let answer = testing::post_json(app, "/sandbox/one-stop/faults", body).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    }

    fn encode(value: &str) -> String {
        form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    fn codes(answer: &Answer) -> Vec<String> {
        answer.json()["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no list in {}", answer.body))
            .iter()
            .map(|d| d["MaHoSo"].as_str().unwrap().to_owned())
            .collect()
    }

    fn instant(value: &Value) -> DateTime<FixedOffset> {
        let text = value
            .as_str()
            .unwrap_or_else(|| panic!("{value} is no time"));
        assert!(text.ends_with("+07:00"), "{text}");
        DateTime::parse_from_rfc3339(text).unwrap()
    }

    fn is_digits(text: &str, n: usize) -> bool {
        text.len() == n && text.bytes().all(|b| b.is_ascii_digit())
    }

    #[tokio::test]
    async fn the_registered_client_gets_a_bearer_token_for_an_hour() {
        let app = app();
        let answer = ask_token(
            &app,
            &basic(CLIENT_ID, CLIENT_SECRET),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        let body = answer.json();
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body["expires_in"], 3600);
        assert!(body["access_token"].as_str().unwrap().len() >= 32);
        assert_eq!(answer.headers["cache-control"], "no-store");
    }

    #[tokio::test]
    async fn the_token_endpoint_answers_rfc_6749_errors() {
        let app = app();
        let wrong = ask_token(
            &app,
            &basic(CLIENT_ID, "not-the-secret"),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.json()["error"], "invalid_client");
        let challenge = wrong.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic"), "{challenge}");

        let none = call(
            &app,
            "POST",
            "/token",
            &[],
            Some("grant_type=client_credentials".into()),
        )
        .await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.json()["error"], "invalid_client");

        let credentials = basic(CLIENT_ID, CLIENT_SECRET);
        let missing = ask_token(&app, &credentials, "scope=x").await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert_eq!(missing.json()["error"], "invalid_request");

        let password = ask_token(&app, &credentials, "grant_type=password").await;
        assert_eq!(password.status, StatusCode::BAD_REQUEST);
        assert_eq!(password.json()["error"], "unsupported_grant_type");
    }

    #[tokio::test]
    async fn the_api_wants_a_live_bearer_token() {
        let app = app();
        let path = format!("/api/hoso/{BUILDING_PERMIT_CODE}");
        let none = call(&app, "GET", &path, &[], None).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert_eq!(none.json(), json!({ "error": "invalid_token" }));
        let challenge = none.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{challenge}");

        let forged = get(&app, "forged", &path).await;
        assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
        assert_eq!(forged.json(), json!({ "error": "invalid_token" }));

        let basic = call(
            &app,
            "GET",
            &format!("/api/hoso?SoGiayToChuHoSo={APPLICANT_ID}"),
            &[("authorization", &basic(CLIENT_ID, CLIENT_SECRET))],
            None,
        )
        .await;
        assert_eq!(basic.status, StatusCode::UNAUTHORIZED);

        let feed = call(
            &app,
            "GET",
            "/api/hoso/thay-doi?TuThoiDiem=2026-01-01T00%3A00%3A00%2B07%3A00",
            &[],
            None,
        )
        .await;
        assert_eq!(feed.status, StatusCode::UNAUTHORIZED);

        let token = token(&app).await;
        assert_eq!(get(&app, &token, &path).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_dossier_is_found_by_its_code_with_where_it_is() {
        let app = app();
        let token = token(&app).await;
        let answer = get(&app, &token, &format!("/api/hoso/{BUILDING_PERMIT_CODE}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let dossier = &answer.json()["data"];
        assert_eq!(dossier["MaHoSo"], BUILDING_PERMIT_CODE);
        assert_eq!(dossier["MaTTHC"], "1.009972");
        assert_eq!(
            dossier["TenTTHC"],
            "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ"
        );
        assert_eq!(dossier["ChuHoSo"], APPLICANT_NAME);
        assert_eq!(dossier["SoGiayToChuHoSo"], APPLICANT_ID);
        assert_eq!(dossier["SoDienThoaiChuHoSo"], APPLICANT_PHONE);
        assert_eq!(
            dossier["CoQuanTiepNhan"],
            "Trung tâm Phục vụ hành chính công thành phố Huế"
        );
        assert_eq!(dossier["KenhNop"], 2);
        assert_eq!(dossier["TrangThaiHoSo"], 4);
        assert_eq!(dossier["NgayTra"], Value::Null);
        assert_eq!(dossier["YeuCauBoSung"], Value::Null);
        assert_eq!(dossier["LyDoTuChoi"], Value::Null);
        assert_eq!(dossier["PhieuXinLoi"], Value::Null);
        let received = instant(&dossier["NgayTiepNhan"]);
        let due = instant(&dossier["NgayHenTra"]);
        // Fifteen working days are three weeks at least.
        assert!(due - received >= TimeDelta::days(20), "{received} {due}");
        let now = Utc::now().fixed_offset();
        assert!(received < now && now < due);

        let steps = dossier["QuaTrinhXuLy"].as_array().unwrap();
        assert_eq!(steps.len(), 5);
        let allotted: f64 = steps
            .iter()
            .map(|s| s["SoNgayQuyDinh"].as_f64().unwrap())
            .sum();
        assert_eq!(allotted, 15.0);
        assert_eq!(steps[0]["SoNgayQuyDinh"], json!(0.5));
        assert_eq!(steps[1]["SoNgayQuyDinh"], json!(11));
        assert!(steps[0]["KetThuc"].is_string());
        assert_eq!(steps[1]["BatDau"], steps[0]["KetThuc"]);
        assert_eq!(steps[1]["KetThuc"], Value::Null);
        assert_eq!(steps[1]["ChucDanh"], "Chuyên viên Phòng Quản lý đô thị");
        assert!(!steps[1]["NguoiXuLy"].as_str().unwrap().is_empty());
        for step in &steps[2..] {
            assert_eq!(step["BatDau"], Value::Null);
            assert_eq!(step["KetThuc"], Value::Null);
        }
        assert_eq!(dossier["NgayCapNhat"], steps[1]["BatDau"]);

        let birth = get(&app, &token, &format!("/api/hoso/{BIRTH_CODE}")).await;
        let birth = &birth.json()["data"];
        assert_eq!(birth["TrangThaiHoSo"], 10);
        assert_eq!(birth["MaTTHC"], "1.001193");
        assert_eq!(birth["CoQuanTiepNhan"], "UBND phường Phú Hội");
        let returned = instant(&birth["NgayTra"]);
        assert_eq!(
            returned.date_naive(),
            instant(&birth["NgayTiepNhan"]).date_naive()
        );
        assert!(returned <= instant(&birth["NgayHenTra"]));

        let missing = get(&app, &token, "/api/hoso/H57.22-260101-9999").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.json(), json!({ "error": "not_found" }));
    }

    #[tokio::test]
    async fn an_applicants_dossiers_are_hers_only_newest_first() {
        let app = app();
        let token = token(&app).await;
        let hers = get(
            &app,
            &token,
            &format!("/api/hoso?SoGiayToChuHoSo={APPLICANT_ID}"),
        )
        .await;
        assert_eq!(hers.status, StatusCode::OK, "{}", hers.body);
        assert_eq!(codes(&hers), [BUILDING_PERMIT_CODE, BIRTH_CODE]);

        let his = get(
            &app,
            &token,
            &format!("/api/hoso?SoGiayToChuHoSo={OTHER_APPLICANT_ID}"),
        )
        .await;
        assert_eq!(codes(&his), [OTHER_CODE]);
        let other = &his.json()["data"][0];
        assert_eq!(other["TrangThaiHoSo"], 2);
        assert_eq!(other["SoDienThoaiChuHoSo"], OTHER_PHONE);

        let nobody = get(&app, &token, "/api/hoso?SoGiayToChuHoSo=046199999999").await;
        assert_eq!(nobody.status, StatusCode::OK);
        assert_eq!(nobody.json(), json!({ "data": [] }));

        for bad in [
            "?SoGiayToChuHoSo=12345",
            "?SoGiayToChuHoSo=04619000123x",
            "",
        ] {
            let answer = get(&app, &token, &format!("/api/hoso{bad}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(answer.json(), json!({ "error": "invalid_request" }));
        }
    }

    #[tokio::test]
    async fn the_change_feed_carries_what_changed_since_oldest_first() {
        let app = app();
        let token = token(&app).await;
        let everything = get(
            &app,
            &token,
            &format!(
                "/api/hoso/thay-doi?TuThoiDiem={}",
                encode("2000-01-01T00:00:00+07:00")
            ),
        )
        .await;
        assert_eq!(everything.status, StatusCode::OK, "{}", everything.body);
        let all = everything.json()["data"].as_array().unwrap().clone();
        assert_eq!(all.len(), 3 + GENERATED_DOSSIERS);
        let times: Vec<_> = all.iter().map(|d| instant(&d["NgayCapNhat"])).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]));

        // Only the newest changes from the newest's time on.
        let newest = all.last().unwrap()["NgayCapNhat"]
            .as_str()
            .unwrap()
            .to_owned();
        let since = get(
            &app,
            &token,
            &format!("/api/hoso/thay-doi?TuThoiDiem={}", encode(&newest)),
        )
        .await;
        assert!(!codes(&since).is_empty() && codes(&since).len() < all.len());

        let changed = event(&app, OTHER_CODE, &json!({ "loai": "chuyen_buoc" })).await;
        assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
        let at = changed.json()["data"]["NgayCapNhat"]
            .as_str()
            .unwrap()
            .to_owned();
        let feed = get(
            &app,
            &token,
            &format!("/api/hoso/thay-doi?TuThoiDiem={}", encode(&at)),
        )
        .await;
        assert_eq!(codes(&feed), [OTHER_CODE]);
        // The same instant in UTC is the same instant.
        let utc = instant(&json!(at)).with_timezone(&Utc).to_rfc3339();
        let feed = get(
            &app,
            &token,
            &format!("/api/hoso/thay-doi?TuThoiDiem={}", encode(&utc)),
        )
        .await;
        assert_eq!(codes(&feed), [OTHER_CODE]);

        for bad in ["", "?TuThoiDiem=yesterday", "?TuThoiDiem=2026-01-01"] {
            let answer = get(&app, &token, &format!("/api/hoso/thay-doi{bad}")).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(answer.json(), json!({ "error": "invalid_request" }));
        }
    }

    #[tokio::test]
    async fn the_change_feed_gives_at_most_a_hundred() {
        let one_stop = OneStop {
            dossiers: Mutex::new(dossiers(now())),
            tokens: Tokens::default(),
            faults: Faults::default(),
        };
        let mut more = Vec::new();
        for i in 0..150 {
            let mut dossier = one_stop.dossiers()[0].clone();
            dossier.code = format!("H57.22-260101-{:04}", 5000 + i);
            more.push(dossier);
        }
        one_stop.dossiers().extend(more);
        let token = one_stop.tokens.issue();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        let answer = changes(
            State(Arc::new(one_stop)),
            RawQuery(Some("TuThoiDiem=2000-01-01T00:00:00Z".to_owned())),
            headers,
        )
        .await;
        let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["data"].as_array().unwrap().len(), 100);
    }

    #[tokio::test]
    async fn a_request_for_more_documents_sets_state_5() {
        let app = app();
        let answer = event(
            &app,
            BUILDING_PERMIT_CODE,
            &json!({ "loai": "bo_sung", "noi_dung": "Bổ sung bản vẽ mặt cắt công trình" }),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let dossier = &answer.json()["data"];
        assert_eq!(dossier["TrangThaiHoSo"], 5);
        assert_eq!(
            dossier["YeuCauBoSung"]["NoiDung"],
            "Bổ sung bản vẽ mặt cắt công trình"
        );
        assert_eq!(
            dossier["YeuCauBoSung"]["NgayYeuCau"],
            dossier["NgayCapNhat"]
        );
        let updated = instant(&dossier["NgayCapNhat"]);
        assert!((Utc::now().fixed_offset() - updated).num_seconds().abs() < 5);

        // What the event answers is what a lookup reads.
        let token = token(&app).await;
        let read = get(&app, &token, &format!("/api/hoso/{BUILDING_PERMIT_CODE}")).await;
        assert_eq!(read.json()["data"], *dossier);
    }

    #[tokio::test]
    async fn a_refusal_sets_state_3_with_its_reason_and_ends_the_running_step() {
        let app = app();
        let answer = event(
            &app,
            BUILDING_PERMIT_CODE,
            &json!({ "loai": "tu_choi", "ly_do": "Không phù hợp quy hoạch" }),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let dossier = &answer.json()["data"];
        assert_eq!(dossier["TrangThaiHoSo"], 3);
        assert_eq!(dossier["LyDoTuChoi"], "Không phù hợp quy hoạch");
        assert_eq!(
            dossier["QuaTrinhXuLy"][1]["KetThuc"],
            dossier["NgayCapNhat"]
        );
        assert_eq!(dossier["QuaTrinhXuLy"][2]["BatDau"], Value::Null);
    }

    #[tokio::test]
    async fn a_delay_writes_an_apology_and_moves_the_date() {
        let app = app();
        let answer = event(
            &app,
            BUILDING_PERMIT_CODE,
            &json!({
                "loai": "tre_han",
                "ly_do": "Cần xin ý kiến Sở Xây dựng",
                "ngay_hen_moi": "2030-02-03T09:00:00Z",
            }),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let dossier = &answer.json()["data"];
        assert_eq!(dossier["TrangThaiHoSo"], 4);
        assert_eq!(dossier["NgayHenTra"], "2030-02-03T16:00:00+07:00");
        let apology = &dossier["PhieuXinLoi"];
        assert_eq!(apology["LyDo"], "Cần xin ý kiến Sở Xây dựng");
        assert_eq!(apology["NgayHenTraMoi"], "2030-02-03T16:00:00+07:00");
        assert_eq!(apology["NgayXinLoi"], dossier["NgayCapNhat"]);
    }

    #[tokio::test]
    async fn the_next_step_starts_when_the_running_one_ends() {
        let app = app();
        let answer = event(
            &app,
            BUILDING_PERMIT_CODE,
            &json!({ "loai": "chuyen_buoc" }),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let dossier = &answer.json()["data"];
        let steps = &dossier["QuaTrinhXuLy"];
        let now = &dossier["NgayCapNhat"];
        assert_eq!(steps[1]["KetThuc"], *now);
        assert_eq!(steps[2]["BatDau"], *now);
        assert_eq!(steps[2]["KetThuc"], Value::Null);
        assert_eq!(steps[3]["BatDau"], Value::Null);
        assert_eq!(dossier["TrangThaiHoSo"], 4);

        // A received dossier goes into progress.
        let other = event(&app, OTHER_CODE, &json!({ "loai": "chuyen_buoc" })).await;
        assert_eq!(other.json()["data"]["TrangThaiHoSo"], 4);
        // Past the last step there is none to start.
        for _ in 0..2 {
            let last = event(&app, OTHER_CODE, &json!({ "loai": "chuyen_buoc" })).await;
            assert_eq!(last.status, StatusCode::OK);
        }
        let past = event(&app, OTHER_CODE, &json!({ "loai": "chuyen_buoc" })).await;
        assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(past.json(), json!({ "error": "invalid_event" }));
    }

    #[tokio::test]
    async fn a_result_is_ready_then_returned() {
        let app = app();
        let ready = event(&app, BUILDING_PERMIT_CODE, &json!({ "loai": "co_ket_qua" })).await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        let dossier = &ready.json()["data"];
        assert_eq!(dossier["TrangThaiHoSo"], 9);
        assert_eq!(dossier["NgayTra"], Value::Null);
        for step in dossier["QuaTrinhXuLy"].as_array().unwrap() {
            assert!(
                step["BatDau"].is_string() && step["KetThuc"].is_string(),
                "{step}"
            );
        }

        let returned = event(
            &app,
            BUILDING_PERMIT_CODE,
            &json!({ "loai": "tra_ket_qua" }),
        )
        .await;
        assert_eq!(returned.status, StatusCode::OK, "{}", returned.body);
        let dossier = &returned.json()["data"];
        assert_eq!(dossier["TrangThaiHoSo"], 10);
        assert_eq!(dossier["NgayTra"], dossier["NgayCapNhat"]);
        assert!(dossier["NgayTra"].is_string());
    }

    #[tokio::test]
    async fn bad_events_are_refused() {
        let app = app();
        let unknown = event(
            &app,
            "H57.22-260101-9999",
            &json!({ "loai": "chuyen_buoc" }),
        )
        .await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.json(), json!({ "error": "not_found" }));

        for body in [json!({ "loai": "huy" }), json!({ "noi_dung": "x" })] {
            let answer = event(&app, OTHER_CODE, &body).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(answer.json(), json!({ "error": "unknown_event" }));
        }
        for body in [
            json!({ "loai": "bo_sung" }),
            json!({ "loai": "tu_choi", "ly_do": " " }),
            json!({ "loai": "tre_han", "ly_do": "x" }),
            json!({ "loai": "tre_han", "ly_do": "x", "ngay_hen_moi": "03/02/2030" }),
        ] {
            let answer = event(&app, OTHER_CODE, &body).await;
            assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(answer.json(), json!({ "error": "invalid_event" }));
        }
        let path = format!("/api/hoso/{OTHER_CODE}/su-kien");
        let garbled = call(&app, "POST", &path, &[], Some("loai=bo_sung".into())).await;
        assert_eq!(garbled.status, StatusCode::BAD_REQUEST);

        // None of it changed the dossier.
        let token = token(&app).await;
        let other = get(&app, &token, &format!("/api/hoso/{OTHER_CODE}")).await;
        assert_eq!(other.json()["data"]["TrangThaiHoSo"], 2);
    }

    #[tokio::test]
    async fn faults_come_when_told_and_spare_the_token_endpoint() {
        let app = app();
        let token = token(&app).await;
        let path = format!("/api/hoso/{BIRTH_CODE}");

        fault(
            &app,
            &json!({ "mode": "down", "times": 1, "retry_after_secs": 7 }),
        )
        .await;
        let down = get(&app, &token, &path).await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers["retry-after"], "7");
        assert_eq!(get(&app, &token, &path).await.status, StatusCode::OK);

        fault(&app, &json!({ "mode": "down" })).await;
        assert_eq!(
            down_retry_after(&app, &token, "/api/hoso/thay-doi").await,
            "30"
        );
        let event_down = event(&app, OTHER_CODE, &json!({ "loai": "chuyen_buoc" })).await;
        assert_eq!(event_down.status, StatusCode::SERVICE_UNAVAILABLE);
        // The token endpoint is not the system's API.
        let _ = self::token(&app).await;
        fault(&app, &json!({ "mode": null })).await;
        assert_eq!(get(&app, &token, &path).await.status, StatusCode::OK);

        fault(&app, &json!({ "mode": "garbage", "times": 1 })).await;
        let garbage = get(&app, &token, &path).await;
        assert_eq!(garbage.status, StatusCode::OK);
        assert!(serde_json::from_str::<Value>(&garbage.body).is_err());

        fault(
            &app,
            &json!({ "mode": "slow", "times": 1, "delay_ms": 200 }),
        )
        .await;
        let started = Instant::now();
        let slow = get(&app, &token, &path).await;
        assert_eq!(slow.status, StatusCode::OK);
        assert!(started.elapsed() >= Duration::from_millis(200));

        // Only the method told.
        fault(&app, &json!({ "mode": "down", "method": "post" })).await;
        assert_eq!(get(&app, &token, &path).await.status, StatusCode::OK);
        let posted = event(&app, OTHER_CODE, &json!({ "loai": "chuyen_buoc" })).await;
        assert_eq!(posted.status, StatusCode::SERVICE_UNAVAILABLE);

        let unknown =
            testing::post_json(&app, "/sandbox/one-stop/faults", &json!({ "mode": "x" })).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    async fn down_retry_after(app: &Router, token: &str, path: &str) -> String {
        let answer = get(app, token, path).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(answer.json(), json!({ "error": "service_unavailable" }));
        answer.headers["retry-after"].to_str().unwrap().to_owned()
    }

    #[test]
    fn every_dossier_is_well_formed_and_over_by_now_whenever_the_sandbox_starts() {
        let monday = NaiveDate::from_ymd_opt(2026, 1, 19).unwrap();
        let saturday = NaiveDate::from_ymd_opt(2026, 1, 24).unwrap();
        let starts = [
            now(),
            local(at_minute(monday, 6 * 60 + 50)),
            local(at_minute(monday, 12 * 60)),
            local(at_minute(saturday, 23 * 60 + 59)),
            local(at_minute(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(), 0)),
        ];
        for now in starts {
            assert_well_formed(now);
        }
    }

    fn assert_well_formed(now: Time) {
        let all = dossiers(now);
        let building = &all[0];
        assert_eq!(building.code, BUILDING_PERMIT_CODE);
        assert_eq!(building.status, IN_PROGRESS);
        assert!(building.received < now && now < building.due);
        assert_eq!(all.len(), 3 + GENERATED_DOSSIERS);
        let mut seen = std::collections::HashSet::new();
        let mut statuses = std::collections::BTreeSet::new();
        for dossier in &all {
            let code = &dossier.code;
            assert!(seen.insert(code.clone()), "{code} twice");
            let parts: Vec<&str> = code.rsplitn(3, '-').collect();
            assert!(
                matches!(parts.as_slice(), [serial, day, office]
                    if is_digits(serial, 4) && is_digits(day, 6)
                        && !office.is_empty()
                        && office.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'.')),
                "{code}"
            );
            assert!(is_digits(&dossier.applicant_id, 12), "{code}");
            assert!(dossier.applicant_id.starts_with("046"), "{code}");
            assert!(is_digits(&dossier.applicant_phone, 10), "{code}");
            assert!(dossier.applicant_phone.starts_with('0'), "{code}");
            assert!((3..=5).contains(&dossier.steps.len()), "{code}");
            assert!((1..=3).contains(&dossier.channel), "{code}");
            assert!(dossier.received < dossier.due, "{code}");
            assert!(dossier.updated <= now, "{code}");
            assert_eq!(dossier.updated, last_recorded(dossier), "{code}");
            assert_eq!(
                dossier.returned.is_some(),
                dossier.status == RETURNED,
                "{code}"
            );
            assert_eq!(
                dossier.refusal.is_some(),
                dossier.status == REFUSED,
                "{code}"
            );
            if dossier.status >= READY {
                assert!(dossier.steps.iter().all(|s| s.ended.is_some()), "{code}");
            }
            let mut last = dossier.received;
            for (i, step) in dossier.steps.iter().enumerate() {
                assert_eq!(step.number as usize, i + 1);
                assert!(step.ended.is_none() || step.started.is_some(), "{code}");
                for time in [step.started, step.ended].into_iter().flatten() {
                    assert!(last <= time && time <= now, "{code} step {}", i + 1);
                    last = time;
                }
                assert!(!step.department.contains('{'), "{code}");
            }
            statuses.insert(dossier.status);
        }
        let every_status: std::collections::BTreeSet<u8> = (2..=10).collect();
        assert_eq!(statuses, every_status);
        assert!(all.iter().any(|d| d.apology.is_some()));
        assert!(all.iter().any(|d| d.status == IN_PROGRESS && d.due < now));

        // The same dossiers on every start.
        let again = dossiers(now);
        assert_eq!(
            serde_json::to_value(&all).unwrap(),
            serde_json::to_value(&again).unwrap()
        );
    }

    #[test]
    fn working_time_skips_nights_lunches_and_weekends() {
        // Friday 16:30 plus half a day: an hour on Friday, three on Monday morning.
        let friday = NaiveDate::from_ymd_opt(2026, 1, 16).unwrap();
        let due = after_working_minutes(at_minute(friday, 16 * 60 + 30), HALF_DAY_MINUTES);
        assert_eq!(due.to_rfc3339(), "2026-01-19T10:30:00+07:00");
        // Across lunch.
        let due = after_working_minutes(at_minute(friday, 10 * 60), 120);
        assert_eq!(due.to_rfc3339(), "2026-01-16T14:00:00+07:00");
        // From a Sunday.
        let sunday = NaiveDate::from_ymd_opt(2026, 1, 18).unwrap();
        let due = after_working_minutes(at_minute(sunday, 9 * 60), 0);
        assert_eq!(due.to_rfc3339(), "2026-01-19T07:30:00+07:00");
        assert_eq!(
            working_days_before(NaiveDate::from_ymd_opt(2026, 1, 19).unwrap(), 1),
            friday
        );
        assert_eq!(working_days_before(sunday, 1), friday);
    }
}
