//! Dossier tracking: an administrative-procedure dossier (hồ sơ thủ tục hành chính) read from
//! the jurisdiction's one-stop system, in the states the one-stop forms of Decree 61/2018/NĐ-CP
//! and Circular 01/2018/TT-VPCP name (received with a promised return date, more documents
//! requested, refused with a reason, delayed with an apology and a new date, ready to collect,
//! returned), with each processing step's department, handler role and working days used and
//! left. Anyone holding the receipt looks a dossier up by its code and the applicant's phone's
//! last four digits; a verified resident sees their own dossiers, filed under their personal ID
//! number, and follows them: the poller ([`start_feed`]) tells them of each change.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use platform::ApiError;
use platform::auth::Principal;
use platform::events::types::DossierChanged;
use platform::extract::{ClientInfo, JsonBody};
use platform::jobs::{Jobs, lead};
use platform::ratelimit::address_key;
use platform::text::Text;
use platform::vietnam_time::OFFSET;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::upstream::{TokenApi, UpstreamError};
use crate::{AdministrationError, AdministrationState, unavailable};

/// A dossier as the one-stop system sends it (the national portal's sync field names).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Upstream {
    ma_ho_so: String,
    #[serde(rename = "MaTTHC")]
    ma_tthc: String,
    #[serde(rename = "TenTTHC")]
    ten_tthc: String,
    so_giay_to_chu_ho_so: Option<String>,
    chu_ho_so: Option<String>,
    so_dien_thoai_chu_ho_so: Option<String>,
    co_quan_tiep_nhan: Option<String>,
    kenh_nop: Option<i32>,
    ngay_tiep_nhan: Option<DateTime<Utc>>,
    ngay_hen_tra: Option<DateTime<Utc>>,
    ngay_tra: Option<DateTime<Utc>>,
    trang_thai_ho_so: i32,
    yeu_cau_bo_sung: Option<DocumentsRequest>,
    ly_do_tu_choi: Option<String>,
    phieu_xin_loi: Option<Apology>,
    #[serde(default)]
    qua_trinh_xu_ly: Vec<UpstreamStep>,
    ngay_cap_nhat: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DocumentsRequest {
    noi_dung: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Apology {
    ly_do: String,
    ngay_hen_tra_moi: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpstreamStep {
    ma_buoc: i32,
    ten_buoc: String,
    phong_ban: Option<String>,
    chuc_danh: Option<String>,
    so_ngay_quy_dinh: Option<f64>,
    bat_dau: Option<DateTime<Utc>>,
    ket_thuc: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct One {
    data: Upstream,
}

#[derive(Deserialize)]
struct Many {
    data: Vec<Upstream>,
}

/// Where a dossier stands, as the one-stop forms name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DossierState {
    /// Received, a return date promised (Phiếu tiếp nhận và hẹn trả kết quả).
    Received,
    /// Being handled by the departments.
    Processing,
    /// More documents requested (Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ).
    MoreDocumentsRequested,
    /// Fees or taxes to pay before it goes on.
    FinancialObligation,
    /// Refused, with the reason (Phiếu từ chối tiếp nhận, giải quyết hồ sơ).
    Refused,
    /// Late, with an apology and a new date (Phiếu xin lỗi và hẹn lại ngày trả kết quả).
    Delayed,
    /// Withdrawn by the applicant.
    Withdrawn,
    /// Stopped by the office.
    Stopped,
    /// The result is ready to collect.
    Ready,
    /// The result was handed over.
    Returned,
}

impl DossierState {
    fn of(dossier: &Upstream) -> Self {
        match dossier.trang_thai_ho_so {
            2 => Self::Received,
            3 => Self::Refused,
            5 => Self::MoreDocumentsRequested,
            6 => Self::FinancialObligation,
            7 => Self::Withdrawn,
            8 => Self::Stopped,
            9 => Self::Ready,
            10 => Self::Returned,
            _ if dossier.phieu_xin_loi.is_some() => Self::Delayed,
            _ => Self::Processing,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processing => "processing",
            Self::MoreDocumentsRequested => "more_documents_requested",
            Self::FinancialObligation => "financial_obligation",
            Self::Refused => "refused",
            Self::Delayed => "delayed",
            Self::Withdrawn => "withdrawn",
            Self::Stopped => "stopped",
            Self::Ready => "ready",
            Self::Returned => "returned",
        }
    }

    fn label(self) -> Text {
        match self {
            Self::Received => Text::new("Đã tiếp nhận", "Received"),
            Self::Processing => Text::new("Đang giải quyết", "Being processed"),
            Self::MoreDocumentsRequested => {
                Text::new("Yêu cầu bổ sung hồ sơ", "More documents requested")
            }
            Self::FinancialObligation => Text::new(
                "Chờ thực hiện nghĩa vụ tài chính",
                "Waiting for fees or taxes to be paid",
            ),
            Self::Refused => Text::new("Từ chối giải quyết", "Refused"),
            Self::Delayed => Text::new("Trễ hạn, đã hẹn lại ngày trả", "Delayed, new date given"),
            Self::Withdrawn => Text::new("Đã rút hồ sơ", "Withdrawn"),
            Self::Stopped => Text::new("Dừng xử lý", "Stopped"),
            Self::Ready => Text::new("Đã có kết quả, chờ trả", "Ready to collect"),
            Self::Returned => Text::new("Đã trả kết quả", "Result handed over"),
        }
    }

    fn open(self) -> bool {
        matches!(
            self,
            Self::Received
                | Self::Processing
                | Self::MoreDocumentsRequested
                | Self::FinancialObligation
                | Self::Delayed
        )
    }
}

/// A dossier as a resident sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dossier {
    code: String,
    procedure: Procedure,
    /// The applicant's name: in full for the applicant, initials but the given name for a
    /// lookup by code.
    applicant: Option<String>,
    /// Where it was received.
    office: Option<String>,
    /// `in_person`, `online` or `post`.
    channel: Option<&'static str>,
    received_at: Option<DateTime<Utc>>,
    /// The promised return date (a new one when delayed).
    due_at: Option<DateTime<Utc>>,
    returned_at: Option<DateTime<Utc>>,
    state: DossierState,
    state_label: Text,
    /// The office's words: the documents to add, why it was refused, why it is late.
    reason: Option<String>,
    /// Open and past its promised date.
    overdue: bool,
    steps: Vec<Step>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Procedure {
    /// The national procedure code (`1.009972`).
    code: String,
    name: String,
}

/// One processing step (the control form's lines, Phiếu kiểm soát quá trình giải quyết).
#[derive(Debug, Serialize, ToSchema)]
pub struct Step {
    number: i32,
    name: String,
    department: Option<String>,
    /// The handler's role (the handler's name stays with the office).
    handler_role: Option<String>,
    /// `done`, `current` or `pending`.
    status: &'static str,
    started_at: Option<DateTime<Utc>>,
    ended_at: Option<DateTime<Utc>>,
    /// Working days the step is allowed.
    allowed_days: Option<f64>,
    /// Working days it took, or has taken so far (Monday to Friday, Việt Nam time).
    used_days: Option<i64>,
    /// Of a current step: working days left (negative: late).
    left_days: Option<f64>,
}

impl Dossier {
    fn of(upstream: &Upstream, full: bool, now: DateTime<Utc>) -> Self {
        let state = DossierState::of(upstream);
        let reason = match state {
            DossierState::Refused => upstream.ly_do_tu_choi.clone(),
            DossierState::MoreDocumentsRequested => upstream
                .yeu_cau_bo_sung
                .as_ref()
                .map(|r| r.noi_dung.clone()),
            _ => upstream.phieu_xin_loi.as_ref().map(|a| a.ly_do.clone()),
        };
        let due_at = upstream
            .phieu_xin_loi
            .as_ref()
            .and_then(|a| a.ngay_hen_tra_moi)
            .or(upstream.ngay_hen_tra);
        let mut steps: Vec<&UpstreamStep> = upstream.qua_trinh_xu_ly.iter().collect();
        steps.sort_by_key(|s| s.ma_buoc);
        Self {
            code: upstream.ma_ho_so.clone(),
            procedure: Procedure {
                code: upstream.ma_tthc.clone(),
                name: upstream.ten_tthc.clone(),
            },
            applicant: upstream.chu_ho_so.as_deref().map(|name| {
                if full {
                    name.to_owned()
                } else {
                    initials(name)
                }
            }),
            office: upstream.co_quan_tiep_nhan.clone(),
            channel: upstream.kenh_nop.and_then(|k| match k {
                1 => Some("in_person"),
                2 => Some("online"),
                3 => Some("post"),
                _ => None,
            }),
            received_at: upstream.ngay_tiep_nhan,
            due_at,
            returned_at: upstream.ngay_tra,
            state,
            state_label: state.label(),
            reason,
            overdue: state.open() && due_at.is_some_and(|due| due < now),
            steps: steps.into_iter().map(|s| Step::of(s, now)).collect(),
        }
    }
}

impl Step {
    fn of(step: &UpstreamStep, now: DateTime<Utc>) -> Self {
        let status = match (step.bat_dau, step.ket_thuc) {
            (_, Some(_)) => "done",
            (Some(_), None) => "current",
            (None, None) => "pending",
        };
        let used_days = step.bat_dau.map(|start| {
            working_days_between(local_day(start), local_day(step.ket_thuc.unwrap_or(now)))
        });
        let left_days = match (status, step.so_ngay_quy_dinh, used_days) {
            ("current", Some(allowed), Some(used)) => Some(allowed - used as f64),
            _ => None,
        };
        Self {
            number: step.ma_buoc,
            name: step.ten_buoc.clone(),
            department: step.phong_ban.clone(),
            handler_role: step.chuc_danh.clone(),
            status,
            started_at: step.bat_dau,
            ended_at: step.ket_thuc,
            allowed_days: step.so_ngay_quy_dinh,
            used_days,
            left_days,
        }
    }
}

fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&OFFSET).date_naive()
}

/// Working days (Monday to Friday) after `from` up to and including `to`: a step begun and
/// ended the same day took 0.
fn working_days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    let mut days = 0;
    let mut day = from;
    // Bounded: a step is never years long, and a broken date must not spin.
    for _ in 0..3660 {
        if day >= to {
            break;
        }
        day = day.succ_opt().unwrap_or(day);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            days += 1;
        }
    }
    days
}

/// Whether `phone`, as the office typed it (`0905 111 222`, `+84905111222`), ends with
/// `digits`: only its digits count.
fn phone_ends_with(phone: &str, digits: &str) -> bool {
    let phone: String = phone.chars().filter(char::is_ascii_digit).collect();
    phone.len() >= digits.len() && phone.ends_with(digits)
}

/// `Nguyễn Thị Hoa` as `N. T. Hoa`: enough for the holder of the receipt to recognise it.
fn initials(name: &str) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    match words.split_last() {
        Some((given, family)) => family
            .iter()
            .filter_map(|w| w.chars().next())
            .map(|c| format!("{c}. "))
            .chain(std::iter::once((*given).to_owned()))
            .collect(),
        None => String::new(),
    }
}

/// What a change is told by: the state, the step under way and the promised date.
fn signature(dossier: &Upstream) -> String {
    let step = dossier
        .qua_trinh_xu_ly
        .iter()
        .filter(|s| s.bat_dau.is_some() && s.ket_thuc.is_none())
        .map(|s| s.ma_buoc)
        .max()
        .unwrap_or(0);
    let due = dossier
        .phieu_xin_loi
        .as_ref()
        .and_then(|a| a.ngay_hen_tra_moi)
        .or(dossier.ngay_hen_tra)
        .map(|d| d.timestamp())
        .unwrap_or(0);
    format!("{}:{step}:{due}", DossierState::of(dossier).as_str())
}

/// A dossier code as the one-stop systems print them (`H57.22-261201-0001`).
fn valid_code(code: &str) -> bool {
    (8..=40).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && code.contains('-')
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DossierLookup {
    /// The code on the receipt.
    code: String,
    /// The last four digits of the phone number the applicant gave.
    phone_last_digits: String,
}

/// Looks a dossier up by its code and the applicant's phone's last four digits, as the
/// receipt allows anyone holding it. Rate-limited per address, and per code for wrong digits.
/// A signed-in resident follows the dossier: each change is pushed to them.
#[utoipa::path(post, path = "/v1/administration/dossiers/lookup", operation_id = "lookup_dossier", tag = "administration",
    request_body = DossierLookup,
    responses((status = 200, body = Dossier),
        (status = 404, description = "`dossier_not_found`, `no_one_stop_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_dossier_code`, `invalid_phone_digits`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_dossier_lookups`, `dossier_lookups_locked`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn lookup(
    State(state): State<AdministrationState>,
    principal: Option<Principal>,
    client: ClientInfo,
    JsonBody(lookup): JsonBody<DossierLookup>,
) -> Result<Json<Dossier>, ApiError> {
    let address = client.ip.map_or_else(|| "unknown".to_owned(), address_key);
    if let Err(wait) = state.limits.dossier_lookups.check(&address).await {
        return Err(
            ApiError::from(AdministrationError::TooManyDossierLookups).with_retry_after(wait)
        );
    }
    let code = lookup.code.trim().to_uppercase();
    if !valid_code(&code) {
        return Err(AdministrationError::InvalidDossierCode.into());
    }
    let digits = lookup.phone_last_digits.trim();
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(AdministrationError::InvalidPhoneDigits.into());
    }
    // Every lookup of the code counts, whoever asks, before it is answered: guesses of its
    // digits sent at once from many addresses meet the same limit.
    if let Err(wait) = state.limits.code_lookups.check(&code).await {
        return Err(
            ApiError::from(AdministrationError::DossierLookupsLocked).with_retry_after(wait)
        );
    }
    // The receipts of the city's own one-stop system, whoever holds them.
    let jurisdiction = state.config.default_jurisdiction.clone();
    let system = state.one_stop(&jurisdiction)?;
    let found = match system.get::<One>(&format!("/api/hoso/{code}"), &[]).await {
        Ok(one) => Some(one.data),
        Err(UpstreamError::NotFound) => None,
        Err(error) => return Err(unavailable(error)),
    };
    let matches = |dossier: &Upstream| {
        dossier
            .so_dien_thoai_chu_ho_so
            .as_deref()
            .is_some_and(|phone| phone_ends_with(phone, digits))
    };
    let Some(dossier) = found.filter(matches) else {
        return Err(AdministrationError::DossierNotFound.into());
    };
    if let Some(principal) = &principal {
        follow(
            &state,
            principal,
            &jurisdiction,
            std::slice::from_ref(&dossier),
        )
        .await?;
    }
    Ok(Json(Dossier::of(&dossier, false, Utc::now())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyDossiers {
    /// Newest first.
    dossiers: Vec<Dossier>,
}

/// My dossiers: those filed under my personal ID number, which I follow from now on.
#[utoipa::path(get, path = "/v1/administration/dossiers", operation_id = "list_my_dossiers", tag = "administration", security(("bearer" = [])),
    responses((status = 200, body = MyDossiers),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`no_one_stop_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn mine(
    State(state): State<AdministrationState>,
    principal: Principal,
) -> Result<Json<MyDossiers>, ApiError> {
    let (jurisdiction, dossiers) = own_dossiers(&state, &principal).await?;
    follow(&state, &principal, &jurisdiction, &dossiers).await?;
    let now = Utc::now();
    Ok(Json(MyDossiers {
        dossiers: dossiers.iter().map(|d| Dossier::of(d, true, now)).collect(),
    }))
}

/// One of my dossiers, in full; another's is 404.
#[utoipa::path(get, path = "/v1/administration/dossiers/{code}", operation_id = "get_my_dossier", tag = "administration", security(("bearer" = [])),
    params(("code" = String, Path, description = "The dossier's code")),
    responses((status = 200, body = Dossier),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`dossier_not_found`, `no_one_stop_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<AdministrationState>,
    principal: Principal,
    Path(code): Path<String>,
) -> Result<Json<Dossier>, ApiError> {
    let citizen = state.identity.verified_citizen(&principal).await?;
    let jurisdiction = state.jurisdiction(&citizen);
    let system = state.one_stop(&jurisdiction)?;
    let code = code.to_uppercase();
    if !valid_code(&code) {
        return Err(AdministrationError::DossierNotFound.into());
    }
    let dossier = match system.get::<One>(&format!("/api/hoso/{code}"), &[]).await {
        Ok(one) => one.data,
        Err(UpstreamError::NotFound) => return Err(AdministrationError::DossierNotFound.into()),
        Err(error) => return Err(unavailable(error)),
    };
    if dossier.so_giay_to_chu_ho_so.as_deref() != Some(citizen.national_id.as_str()) {
        return Err(AdministrationError::DossierNotFound.into());
    }
    follow(
        &state,
        &principal,
        &jurisdiction,
        std::slice::from_ref(&dossier),
    )
    .await?;
    Ok(Json(Dossier::of(&dossier, true, Utc::now())))
}

async fn own_dossiers(
    state: &AdministrationState,
    principal: &Principal,
) -> Result<(String, Vec<Upstream>), ApiError> {
    let citizen = state.identity.verified_citizen(principal).await?;
    let jurisdiction = state.jurisdiction(&citizen);
    let system = state.one_stop(&jurisdiction)?;
    let many: Many = system
        .get(
            "/api/hoso",
            &[("SoGiayToChuHoSo", citizen.national_id.as_str())],
        )
        .await
        .map_err(unavailable)?;
    // Only what is filed under the number asked for, whatever the system sent.
    let mut dossiers: Vec<Upstream> = many
        .data
        .into_iter()
        .filter(|d| d.so_giay_to_chu_ho_so.as_deref() == Some(citizen.national_id.as_str()))
        .collect();
    dossiers.sort_by_key(|d| std::cmp::Reverse(d.ngay_tiep_nhan));
    dossiers.truncate(MAX_FOLLOWED);
    Ok((jurisdiction, dossiers))
}

/// Own dossiers listed and followed at most (a resident files a few a year).
const MAX_FOLLOWED: usize = 100;

/// Follows `dossiers` for the caller, as they stand now: only later changes are told.
async fn follow(
    state: &AdministrationState,
    principal: &Principal,
    jurisdiction: &str,
    dossiers: &[Upstream],
) -> Result<(), ApiError> {
    let codes: Vec<String> = dossiers.iter().map(|d| d.ma_ho_so.clone()).collect();
    let signatures: Vec<String> = dossiers.iter().map(signature).collect();
    let procedures: Vec<String> = dossiers.iter().map(|d| d.ten_tthc.clone()).collect();
    sqlx::query!(
        r#"INSERT INTO dossier_follows (account_id, jurisdiction, code, procedure, signature)
           SELECT $1, $2, * FROM UNNEST($3::text[], $4::text[], $5::text[])
           ON CONFLICT (account_id, code) DO UPDATE SET signature = EXCLUDED.signature"#,
        principal.account_id,
        jurisdiction,
        &codes,
        &procedures,
        &signatures,
    )
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// Changes read again from this far back, for a system whose clock or commits lag.
const FEED_OVERLAP: chrono::Duration = chrono::Duration::minutes(5);

/// Polls each one-stop system for the dossiers changed since it was last asked and tells
/// their followers of each new state, step or date, once.
pub fn start_feed(state: AdministrationState, jobs: &Jobs) {
    let every = Duration::from_millis(state.config.dossier_poll_ms.max(100));
    jobs.repeat("administration.dossier_feed", every, None, move || {
        let state = state.clone();
        async move {
            for (jurisdiction, system) in state.one_stop.iter() {
                if let Err(error) = poll(&state, jurisdiction, system).await {
                    tracing::warn!(jurisdiction, error = %format!("{error:#}"), "dossier changes not read this round");
                }
            }
            Ok(false)
        }
    });
}

async fn poll(
    state: &AdministrationState,
    jurisdiction: &str,
    system: &TokenApi,
) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    if !lead(
        &mut tx,
        &format!("administration.dossier_feed.{jurisdiction}"),
    )
    .await?
    {
        return Ok(());
    }
    let feed = sqlx::query!(
        "SELECT read_until, paging FROM dossier_feeds WHERE jurisdiction = $1",
        jurisdiction
    )
    .fetch_optional(&mut *tx)
    .await?;
    let started = Utc::now();
    let Some(feed) = feed else {
        // The first round starts the feed now: what changed before was read when followed.
        remember(&mut tx, jurisdiction, started, false).await?;
        tx.commit().await?;
        return Ok(());
    };
    // Paging through a burst goes on from the last change read; otherwise a margin back.
    let since = if feed.paging {
        feed.read_until
    } else {
        feed.read_until - FEED_OVERLAP
    }
    .to_rfc3339();
    let changed: Many = system
        .get("/api/hoso/thay-doi", &[("TuThoiDiem", since.as_str())])
        .await?;
    let codes: Vec<String> = changed.data.iter().map(|d| d.ma_ho_so.clone()).collect();
    let followers = sqlx::query!(
        "SELECT account_id, code, signature FROM dossier_follows
         WHERE jurisdiction = $1 AND code = ANY($2)",
        jurisdiction,
        &codes
    )
    .fetch_all(&mut *tx)
    .await?;
    let by_code: HashMap<&str, &Upstream> = changed
        .data
        .iter()
        .map(|d| (d.ma_ho_so.as_str(), d))
        .collect();
    for follower in &followers {
        let Some(dossier) = by_code.get(follower.code.as_str()) else {
            continue;
        };
        let now = signature(dossier);
        if now == follower.signature {
            continue;
        }
        sqlx::query!(
            "UPDATE dossier_follows SET signature = $3 WHERE account_id = $1 AND code = $2",
            follower.account_id,
            follower.code,
            now
        )
        .execute(&mut *tx)
        .await?;
        let view = Dossier::of(dossier, true, started);
        let event = DossierChanged {
            account_id: follower.account_id,
            code: view.code.clone(),
            procedure_vi: view.procedure.name.clone(),
            // The one-stop systems name procedures in Vietnamese only.
            procedure_en: view.procedure.name.clone(),
            state: view.state.as_str().to_owned(),
            reason: view.reason.clone(),
            due: view.due_at,
        };
        platform::events::enqueue(&mut tx, follower.account_id, &event).await?;
    }
    // A full page may have more behind it: the next round goes on from its last change.
    let last_change = changed.data.iter().filter_map(|d| d.ngay_cap_nhat).max();
    match last_change {
        Some(last) if changed.data.len() >= FEED_PAGE => {
            // A page of changes all made in one second would be read again forever: past it.
            let next = if feed.paging && last <= feed.read_until {
                tracing::warn!(jurisdiction, %last, "a page of dossier changes made in one second; the rest of that second is skipped");
                feed.read_until + chrono::Duration::seconds(1)
            } else {
                last
            };
            remember(&mut tx, jurisdiction, next, true).await?;
        }
        _ => remember(&mut tx, jurisdiction, started, false).await?,
    }
    tx.commit().await?;
    Ok(())
}

/// The most changes the one-stop system answers at once.
const FEED_PAGE: usize = 100;

/// Where the next round reads from: `read_until`, exactly when `paging` through a burst.
async fn remember(
    tx: &mut sqlx::PgConnection,
    jurisdiction: &str,
    read_until: DateTime<Utc>,
    paging: bool,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO dossier_feeds (jurisdiction, read_until, paging) VALUES ($1, $2, $3)
         ON CONFLICT (jurisdiction) DO UPDATE
           SET read_until = EXCLUDED.read_until, paging = EXCLUDED.paging",
        jurisdiction,
        read_until,
        paging
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_days_skip_the_weekend() {
        let day = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        // Friday 4th to Monday 7th: one working day.
        assert_eq!(working_days_between(day(4), day(7)), 1);
        assert_eq!(working_days_between(day(7), day(7)), 0);
        // Monday to Monday: five.
        assert_eq!(working_days_between(day(7), day(14)), 5);
    }

    #[test]
    fn a_phone_matches_by_its_digits_however_typed() {
        for phone in ["0905111222", "0905 111 222", "+84 905.111.222"] {
            assert!(phone_ends_with(phone, "1222"), "{phone}");
        }
        assert!(!phone_ends_with("0905111222", "1223"));
        assert!(!phone_ends_with("", "1222"));
    }

    #[test]
    fn a_name_keeps_its_given_name_only() {
        assert_eq!(initials("Nguyễn Thị Hoa"), "N. T. Hoa");
        assert_eq!(initials("Hoa"), "Hoa");
    }

    #[test]
    fn codes_are_checked_before_they_reach_a_path() {
        assert!(valid_code("H57.22-261201-0001"));
        assert!(!valid_code("../../token"));
        assert!(!valid_code("H57.22-261201-0001?x=1"));
        assert!(!valid_code("short-1"));
    }
}
