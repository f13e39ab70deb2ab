//! Filing a report: checked, located, routed, given its deadline, and written with its first
//! timeline event and its outbox event in one transaction, once per key. Residents (through
//! `resident`) and Open311 clients (through `open311`) file through this one function.

use axum::http::StatusCode;
use h3o::Resolution;
use platform::events::types::ReportCreated;
use platform::{ApiError, idempotency};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ReportsError;
use crate::domain::geo::coarsened;
use crate::domain::jurisdiction::{Question, QuestionKind};
use crate::domain::photos::{attach_photos, undo_attach};
use crate::domain::views::{self, Audience, Change, Report};
use crate::domain::workflow::Status;
use crate::domain::{ReportsState, bans};
use platform::geo::{cell_at, cells_within};

/// The operation filing keys are fingerprinted with (a resident's and an Open311 client's).
const FILING: &str = "POST /v1/reports";

pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const MAX_PHOTOS: usize = 10;
/// Open reports of the same category this close are offered as duplicates.
pub const DUPLICATE_RADIUS_M: f64 = 50.0;
const DUPLICATE_WINDOW_DAYS: i32 = 30;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    /// The category code, from `GET /v1/reports/categories`.
    pub category: String,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub description: String,
    /// Photos uploaded by the reporter (`POST /v1/media`), at most 10.
    #[serde(default)]
    pub media_ids: Vec<Uuid>,
    /// Answers to the category's questions, by question code.
    #[serde(default)]
    pub answers: Map<String, Value>,
    /// Hides who filed it from the public (staff still know).
    #[serde(default)]
    pub anonymous: bool,
    /// Only needed where jurisdictions overlap; otherwise found from the position.
    #[serde(default)]
    pub jurisdiction: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Filed {
    pub report: Report,
    /// Open reports of the same category close by: the app offers to follow one instead.
    pub possible_duplicates: Vec<Report>,
}

pub fn check_position(latitude: f64, longitude: f64) -> Result<(), ApiError> {
    if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
        return Ok(());
    }
    Err(platform::error::SharedError::InvalidPosition.into())
}

/// Who files a report: a resident, or a third party's Open311 client (whose id then stands as
/// the reporter: the people behind it are never known here).
pub struct Filer {
    pub account_id: Uuid,
    /// `resident` or `open311`, as the timeline records it.
    pub role: &'static str,
    /// Filings allowed in any hour.
    pub max_per_hour: i64,
    /// For Open311: who the third party says filed it.
    pub submitter: Option<Submitter>,
}

/// Whom a third party says filed a request, kept with the report (staff only).
pub struct Submitter {
    pub client_id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub media_url: Option<String>,
    pub address: Option<String>,
}

impl Submitter {
    /// Written in the transaction that files the report: a request is never kept without them.
    async fn record(&self, tx: &mut sqlx::PgConnection, report_id: Uuid) -> sqlx::Result<()> {
        sqlx::query!(
            r#"INSERT INTO open311_submitters (report_id, client_id, email, phone, first_name,
                   last_name, device_id, account_id, media_url, address)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
            report_id,
            self.client_id,
            self.email,
            self.phone,
            self.first_name,
            self.last_name,
            self.device_id,
            self.account_id,
            self.media_url,
            self.address
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// A report filed, or found filed under the same key before.
pub struct Filing {
    pub report_id: Uuid,
    /// The `Filed` answer, as first given.
    pub body: Value,
    pub replayed: bool,
}

impl Filing {
    /// The report a key filed before, from the first answer.
    fn replayed(answer: idempotency::Answer) -> Result<Filing, ApiError> {
        let report_id = answer.body["report"]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a kept filing names no report")))?;
        Ok(Filing {
            report_id,
            body: answer.body,
            replayed: true,
        })
    }
}

/// Files a report once per key: checks it, routes it, attaches its photos, and writes it with
/// its timeline event and `report.created` in one transaction.
pub async fn file(
    state: &ReportsState,
    filer: &Filer,
    key: &str,
    request: &NewReport,
) -> Result<Filing, ApiError> {
    let fingerprint = idempotency::fingerprint(FILING, request)?;
    if let Some(answer) = kept(state, filer.account_id, key, &fingerprint, request).await? {
        return Filing::replayed(answer);
    }

    check_position(request.latitude, request.longitude)?;
    // A refusal before photos are attached, rather than attaching and letting go of them;
    // counted again, exactly, when writing.
    if !request.media_ids.is_empty() {
        check_rate(&state.pool, filer.account_id, filer.max_per_hour).await?;
    }
    let description = request.description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ReportsError::DescriptionTooLong {
            max: MAX_DESCRIPTION_CHARS,
        }
        .into());
    }
    if description.is_empty() && request.media_ids.is_empty() {
        return Err(ReportsError::ReportEmpty.into());
    }
    if request.media_ids.len() > MAX_PHOTOS {
        return Err(platform::error::SharedError::TooManyMedia { max: MAX_PHOTOS }.into());
    }

    let (jurisdiction, ward) = locate(state, request).await?;
    bans::check_not_banned(state, &jurisdiction, filer.account_id).await?;
    let category = sqlx::query!(
        r#"SELECT c.sla_hours, c.priority, c.urgent, c.public, c.sensitive, c.questions,
                  c.name_vi, c.name_en,
                  (SELECT department_id FROM routing_rules r
                   WHERE r.jurisdiction_id = c.jurisdiction_id AND r.category_code = c.code
                     AND (r.ward_id = $3 OR r.ward_id IS NULL)
                   ORDER BY r.ward_id IS NULL LIMIT 1) AS department_id
           FROM categories c WHERE c.jurisdiction_id = $1 AND c.code = $2 AND c.active"#,
        jurisdiction,
        request.category,
        ward
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ReportsError::UnknownCategory)?;
    let department = category.department_id.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "category {} of {jurisdiction} has no routing rule",
            request.category
        ))
    })?;
    let questions: Vec<Question> =
        serde_json::from_value(category.questions).map_err(ApiError::internal)?;
    check_answers(&questions, &request.answers)?;

    // The same account and key always name the same report, so a retry after a fault attaches
    // the photos to the report it then files.
    let report_id = Uuid::new_v5(
        &filer.account_id,
        format!("report-idempotency-key:{key}").as_bytes(),
    );
    let public = category.public;
    if !request.media_ids.is_empty() {
        attach_photos(
            state,
            filer.account_id,
            report_id,
            &request.media_ids,
            public,
            (request.latitude, request.longitude),
            (&jurisdiction, &ward, &department),
        )
        .await?;
    }

    // Written in one transaction; should it fail, the photos are let go again.
    let written: Result<Filing, ApiError> = async {
    let (latitude, longitude) = (request.latitude, request.longitude);
    let (public_latitude, public_longitude) = if request.anonymous || category.sensitive {
        coarsened(latitude, longitude)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no cell")))?
    } else {
        (latitude, longitude)
    };
    let cell = |lat, lng, res| {
        cell_at(lat, lng, res).ok_or_else(|| ApiError::internal(anyhow::anyhow!("no cell")))
    };

    let mut tx = crate::domain::begin_planned_once(&state.pool).await?;
    // Concurrent retries with one key wait here for the first to commit, then replay it.
    if let Some(answer) = idempotency::claim_in(&mut tx, filer.account_id, key, &fingerprint).await? {
        tx.rollback().await?;
        return Filing::replayed(answer);
    }
    // Concurrent filings of one filer (an account or an Open311 key) are counted one after
    // another, on every replica, so none of them passes the limit together.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('reports.filing:' || $1::text, 0))",
        filer.account_id.to_string()
    )
    .execute(&mut *tx)
    .await?;
    check_rate(&mut *tx, filer.account_id, filer.max_per_hour).await?;
    let sla_due_at = sqlx::query_scalar!(
        r#"INSERT INTO reports (id, jurisdiction_id, category_code, ward_id, department_id, reporter_id,
               anonymous, status, description, answers, media_ids, latitude, longitude, h3_res9, h3_res7,
               h3_res15, public, public_latitude, public_longitude, public_h3_res9, priority, urgent,
               sla_due_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 'submitted', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                   $21, now() + make_interval(hours => $22))
           RETURNING sla_due_at"#,
        report_id,
        jurisdiction,
        request.category,
        ward,
        department,
        filer.account_id,
        request.anonymous,
        description,
        Value::Object(request.answers.clone()),
        &request.media_ids,
        latitude,
        longitude,
        cell(latitude, longitude, Resolution::Nine)?,
        cell(latitude, longitude, Resolution::Seven)?,
        cell(latitude, longitude, Resolution::Fifteen)?,
        public,
        public_latitude,
        public_longitude,
        cell(public_latitude, public_longitude, Resolution::Nine)?,
        category.priority,
        category.urgent,
        category.sla_hours
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(submitter) = &filer.submitter {
        submitter.record(&mut tx, report_id).await?;
    }
    Change {
        report_id,
        kind: "created",
        from_status: None,
        to_status: Some(Status::Submitted.as_str()),
        actor_id: Some(filer.account_id),
        actor_role: filer.role,
        public: true,
        note: None,
        media_ids: &request.media_ids,
        details: json!({}),
    }
    .record_and_announce(
        &mut tx,
        &ReportCreated {
            report_id,
            jurisdiction: jurisdiction.clone(),
            ward: ward.clone(),
            department: department.clone(),
            category: request.category.clone(),
            category_name_vi: category.name_vi.clone(),
            category_name_en: category.name_en.clone(),
            reporter_id: filer.account_id,
            status: Status::Submitted.as_str().to_owned(),
            priority: category.priority.clone(),
            urgent: category.urgent,
            public,
            h3_res9: cell(latitude, longitude, Resolution::Nine)?,
            sla_due_at,
        },
    )
    .await?;
    let report = views::current(&mut tx, report_id, Audience::Reporter).await?;
    let possible_duplicates = nearby_open(
        &mut tx,
        &request.category,
        latitude,
        longitude,
        Some(report_id),
    )
    .await?;
    let filed = Filed {
        report,
        possible_duplicates,
    };
    let response = serde_json::to_value(&filed).map_err(ApiError::internal)?;
    idempotency::answer_in(&mut tx, filer.account_id, key, StatusCode::CREATED, &response).await?;
    tx.commit().await?;
    Ok(Filing {
        report_id,
        body: response,
        replayed: false,
    })
    }
    .await;
    if written.is_err() && !request.media_ids.is_empty() {
        undo_attach(state, report_id, &request.media_ids).await;
    }
    written
}

/// What `key` already holds. Keys kept before filing used the shared mechanism (December 2026)
/// were fingerprinted by the body's SHA-256 alone, and name their report for good: a retry of
/// one is recognised by that fingerprint too.
async fn kept(
    state: &ReportsState,
    account: Uuid,
    key: &str,
    fingerprint: &[u8],
    request: &NewReport,
) -> Result<Option<idempotency::Answer>, ApiError> {
    match idempotency::kept(&state.pool, account, key, fingerprint).await {
        Err(reused) if reused.code() == "idempotency_key_reused" => {
            let body_only =
                Sha256::digest(serde_json::to_vec(request).map_err(ApiError::internal)?);
            match idempotency::kept(&state.pool, account, key, &body_only).await {
                Ok(Some(answer)) => Ok(Some(answer)),
                _ => Err(reused),
            }
        }
        other => other,
    }
}

/// One account files at most `max_reports_per_hour` reports an hour (retries of one key do not
/// count: they are answered before this).
async fn check_rate(
    db: impl sqlx::PgExecutor<'_>,
    account: Uuid,
    max_per_hour: i64,
) -> Result<(), ApiError> {
    let oldest_in_hour = sqlx::query_scalar!(
        r#"SELECT min(created_at) FROM (
               SELECT created_at FROM reports
               WHERE reporter_id = $1 AND created_at > now() - interval '1 hour'
               ORDER BY created_at DESC LIMIT $2) recent
           HAVING count(*) >= $2"#,
        account,
        max_per_hour
    )
    .fetch_optional(db)
    .await?
    .flatten();
    let Some(oldest) = oldest_in_hour else {
        return Ok(());
    };
    let wait = (oldest + chrono::Duration::hours(1) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default()
        .max(std::time::Duration::from_secs(1));
    Err(ApiError::from(ReportsError::TooManyReports)
        .with_retry_after(std::time::Duration::from_secs(wait.as_secs() + 1)))
}

/// The jurisdiction and ward a position is in; 422 when it is in none.
async fn locate(state: &ReportsState, request: &NewReport) -> Result<(String, String), ApiError> {
    let indexes = state
        .wards
        .current(&state.pool)
        .await
        .map_err(ApiError::internal)?;
    indexes
        .iter()
        .filter(|index| {
            request
                .jurisdiction
                .as_deref()
                .is_none_or(|j| j == index.jurisdiction)
        })
        .find_map(|index| {
            index
                .locate(request.latitude, request.longitude)
                .map(|ward| (index.jurisdiction.clone(), ward.to_owned()))
        })
        .ok_or_else(|| ReportsError::OutsideJurisdiction.into())
}

fn check_answers(questions: &[Question], answers: &Map<String, Value>) -> Result<(), ApiError> {
    let wrong = |code: &str, problem_vi, problem_en| {
        ApiError::from(ReportsError::InvalidAnswers {
            question: code.to_owned(),
            problem_vi,
            problem_en,
        })
    };
    for code in answers.keys() {
        if !questions.iter().any(|q| &q.code == code) {
            return Err(wrong(
                code,
                "không có câu hỏi này.",
                "there is no such question.",
            ));
        }
    }
    for question in questions {
        let code = question.code.as_str();
        let answer = answers.get(code).filter(|v| !v.is_null());
        let Some(answer) = answer else {
            if question.required {
                return Err(wrong(code, "bắt buộc.", "required."));
            }
            continue;
        };
        let option = |value: &Value| {
            value
                .as_str()
                .is_some_and(|v| question.options.iter().any(|o| o.code == v))
        };
        let fits = match question.kind {
            QuestionKind::String => answer.as_str().is_some_and(|s| s.chars().count() <= 200),
            QuestionKind::Text => answer
                .as_str()
                .is_some_and(|s| s.chars().count() <= MAX_DESCRIPTION_CHARS),
            QuestionKind::Number => answer.is_number(),
            QuestionKind::Datetime => answer
                .as_str()
                .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
            QuestionKind::SingleChoice => option(answer),
            QuestionKind::MultiChoice => answer.as_array().is_some_and(|values| {
                let mut codes: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
                codes.sort_unstable();
                codes.dedup();
                codes.len() == values.len()
                    && values.iter().all(option)
                    && !(question.required && values.is_empty())
            }),
        };
        if !fits {
            return Err(wrong(
                code,
                "không đúng kiểu hoặc không nằm trong các lựa chọn.",
                "wrong type, too long, or not one of the options.",
            ));
        }
    }
    Ok(())
}

/// Open public reports of `category` within `DUPLICATE_RADIUS_M`, nearest first, as the public
/// sees them. Reports whose position the public only sees coarsened (anonymous, sensitive) are
/// never offered: being offered within 50 m of a point would give their place away.
pub async fn nearby_open(
    conn: &mut sqlx::PgConnection,
    category: &str,
    latitude: f64,
    longitude: f64,
    except: Option<Uuid>,
) -> Result<Vec<Report>, ApiError> {
    let Some(cells) = cells_within(latitude, longitude, DUPLICATE_RADIUS_M) else {
        return Ok(Vec::new());
    };
    #[derive(sqlx::FromRow)]
    struct Near {
        #[sqlx(flatten)]
        row: views::ReportRow,
        distance_m: f64,
    }
    let near: Vec<Near> = sqlx::query_as(
        r#"SELECT * FROM (
               SELECT d.*, distance_m(d.latitude, d.longitude, $3, $4) AS distance_m
               FROM report_details d
               WHERE d.category_code = $1 AND d.h3_res9 = ANY($2) AND d.public
                 AND (d.public_latitude, d.public_longitude) = (d.latitude, d.longitude)
                 AND d.status NOT IN ('resolved', 'closed', 'rejected')
                 AND d.created_at > now() - make_interval(days => $6)
                 AND d.id IS DISTINCT FROM $7
           ) near WHERE distance_m <= $5 ORDER BY distance_m LIMIT 10"#,
    )
    .bind(category)
    .bind(&cells)
    .bind(latitude)
    .bind(longitude)
    .bind(DUPLICATE_RADIUS_M)
    .bind(DUPLICATE_WINDOW_DAYS)
    .bind(except)
    .fetch_all(conn)
    .await?;
    let reports = near
        .into_iter()
        .map(|near| {
            let mut report = near.row.view(Audience::Public);
            report.distance_m = Some(near.distance_m.round());
            report
        })
        .collect();
    Ok(reports)
}
