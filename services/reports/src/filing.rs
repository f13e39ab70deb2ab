//! Filing a report: checked, located, routed, given its deadline, and written with its first
//! timeline event and its outbox event in one transaction, once per `Idempotency-Key`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use h3o::Resolution;
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::jurisdiction::{Question, QuestionKind};
use crate::views::{self, Audience, Change, Report};
use crate::workflow::Status;
use crate::{ReportsState, cell_at, coarsened};

pub const MAX_DESCRIPTION_CHARS: usize = 4000;
const MAX_PHOTOS: usize = 10;
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

fn invalid(code: &'static str, vi: impl Into<String>, en: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, vi, en)
}

fn check_position(latitude: f64, longitude: f64) -> Result<(), ApiError> {
    if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "invalid_position",
        "Vị trí không hợp lệ.",
        "The position is not valid.",
    ))
}

/// Files a report, once per `Idempotency-Key`: a retry with the same key and body gets the
/// first answer again; the same key with another body is refused.
#[utoipa::path(post, path = "/v1/reports", tag = "reports",
    request_body = NewReport,
    params(("Idempotency-Key" = String, Header, description = "Unique per report the resident means to file; retries reuse it")),
    responses(
        (status = 201, body = Filed, description = "Filed (or the first answer to this key, replayed)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_position`, `invalid_body`"),
        (status = 422, body = platform::error::Problem, description = "`outside_jurisdiction`, `unknown_category`, `invalid_answers`, `description_too_long`, `media_not_owned`, `idempotency_key_reused`"),
        (status = 429, body = platform::error::Problem, description = "`too_many_reports`, with Retry-After"),
        (status = 503, body = platform::error::Problem, description = "Media could not be reached; nothing was filed")
    ),
    security(("bearer" = [])))]
pub async fn file_report(
    State(state): State<ReportsState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewReport>,
) -> Result<Response, ApiError> {
    let filer = Filer {
        account_id: principal.account_id,
        role: "resident",
        max_per_hour: state.max_reports_per_hour,
        submitter: None,
    };
    let filing = file(&state, &filer, &key, &request).await?;
    Ok(created(filing.report_id, filing.body, filing.replayed))
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
    pub submitter: Option<crate::open311::Submitter>,
}

/// A report filed, or found filed under the same key before.
pub struct Filing {
    pub report_id: Uuid,
    /// The `Filed` answer, as first given.
    pub body: Value,
    pub replayed: bool,
}

/// Files a report once per key: checks it, routes it, attaches its photos, and writes it with
/// its timeline event and `report.created` in one transaction.
pub async fn file(
    state: &ReportsState,
    filer: &Filer,
    key: &str,
    request: &NewReport,
) -> Result<Filing, ApiError> {
    let request_hash = Sha256::digest(serde_json::to_vec(request).map_err(ApiError::internal)?);
    if let Some(replayed) = replay(state, filer.account_id, key, &request_hash).await? {
        return Ok(replayed);
    }

    check_position(request.latitude, request.longitude)?;
    // A cheap refusal before anything is attached; counted again, exactly, when writing.
    check_rate(&state.pool, filer.account_id, filer.max_per_hour).await?;
    let description = request.description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid(
            "description_too_long",
            format!("Mô tả tối đa {MAX_DESCRIPTION_CHARS} ký tự."),
            format!("The description may have at most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    if description.is_empty() && request.media_ids.is_empty() {
        return Err(invalid(
            "report_empty",
            "Hãy mô tả sự việc hoặc gửi kèm ảnh.",
            "Describe the problem or attach a photo.",
        ));
    }
    if request.media_ids.len() > MAX_PHOTOS {
        return Err(invalid(
            "too_many_media",
            format!("Tối đa {MAX_PHOTOS} ảnh."),
            format!("At most {MAX_PHOTOS} photos."),
        ));
    }

    let (jurisdiction, ward) = locate(state, request).await?;
    crate::moderation::check_not_banned(state, &jurisdiction, filer.account_id).await?;
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
    .ok_or_else(|| {
        invalid(
            "unknown_category",
            "Không có loại phản ánh này ở địa bàn.",
            "There is no such category here.",
        )
    })?;
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

    let mut tx = state.pool.begin().await?;
    // Concurrent retries with one key wait here for the first to commit, then replay it.
    let claimed = sqlx::query!(
        r#"INSERT INTO idempotency_keys (account_id, key, request_hash, report_id, response)
           VALUES ($1, $2, $3, $4, '{}') ON CONFLICT DO NOTHING"#,
        filer.account_id,
        key,
        request_hash.as_slice(),
        report_id
    )
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() == 0 {
        tx.rollback().await?;
        return replay(state, filer.account_id, key, &request_hash)
            .await?
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("idempotency key vanished")));
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
    .record(
        &mut tx,
        Some(platform::events::types::REPORT_CREATED),
        json!({
            "report_id": report_id,
            "jurisdiction": jurisdiction,
            "category": request.category,
            "category_name_vi": category.name_vi,
            "category_name_en": category.name_en,
            "ward": ward,
            "department": department,
            "reporter_id": filer.account_id,
            "status": Status::Submitted.as_str(),
            "priority": category.priority,
            "urgent": category.urgent,
            "public": public,
            "h3_res9": cell(latitude, longitude, Resolution::Nine)?,
            "sla_due_at": sla_due_at,
        }),
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
    sqlx::query!(
        r#"UPDATE idempotency_keys SET response = $3 WHERE account_id = $1 AND key = $2"#,
        filer.account_id,
        key,
        response
    )
    .execute(&mut *tx)
    .await?;
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

/// Detaches the photos of `media_ids` the report does not list (all of them when it was never
/// written): a failed write, or a concurrent retry with another body, leaves no photo attached
/// to a report that does not show it. Best effort: a failure is logged.
pub async fn undo_attach(state: &ReportsState, report_id: Uuid, media_ids: &[Uuid]) {
    let listed: Vec<Uuid> =
        sqlx::query_scalar!("SELECT media_ids FROM reports WHERE id = $1", report_id)
            .fetch_optional(&state.pool)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
    let strays: Vec<Uuid> = media_ids
        .iter()
        .filter(|id| !listed.contains(id))
        .copied()
        .collect();
    if strays.is_empty() {
        return;
    }
    let undone = state
        .media
        .call(
            http::Method::POST,
            &format!("/internal/v1/media/attachments/report:{report_id}/detach"),
            Some(&json!({ "media_ids": strays })),
        )
        .await;
    if !undone.as_ref().is_ok_and(|a| a.status.is_success()) {
        tracing::warn!(%report_id, "photos of a report that was not written stay attached");
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
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_reports",
        "Bạn đã gửi quá nhiều phản ánh trong một giờ. Vui lòng thử lại sau.",
        "You have filed too many reports in the last hour. Please try again later.",
    )
    .with_retry_after(std::time::Duration::from_secs(wait.as_secs() + 1)))
}

fn created(report_id: Uuid, body: Value, replayed: bool) -> Response {
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/reports/{report_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// The first answer to this key, if there was one. Keys do not expire: a key names one report
/// (its id is derived from it), so a retry days later still finds it.
async fn replay(
    state: &ReportsState,
    account: Uuid,
    key: &str,
    request_hash: &[u8],
) -> Result<Option<Filing>, ApiError> {
    let Some(stored) = sqlx::query!(
        r#"SELECT request_hash, report_id, response FROM idempotency_keys
           WHERE account_id = $1 AND key = $2"#,
        account,
        key
    )
    .fetch_optional(&state.pool)
    .await?
    else {
        return Ok(None);
    };
    if stored.request_hash != request_hash {
        return Err(invalid(
            "idempotency_key_reused",
            "Idempotency-Key này đã được dùng cho một phản ánh khác.",
            "This Idempotency-Key was used for a different report.",
        ));
    }
    Ok(Some(Filing {
        report_id: stored.report_id,
        body: stored.response,
        replayed: true,
    }))
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
        .ok_or_else(|| {
            invalid(
                "outside_jurisdiction",
                "Vị trí này nằm ngoài địa bàn tiếp nhận phản ánh.",
                "This position is outside the area the city handles reports for.",
            )
        })
}

/// Attaches the reporter's photos to the report through media, with the report's
/// jurisdiction, ward and department (media lets only their staff read the photos); a photo
/// that is not theirs is a 422, a photo attached elsewhere a 409.
pub async fn attach_photos(
    state: &ReportsState,
    owner: Uuid,
    report_id: Uuid,
    media_ids: &[Uuid],
    public: bool,
    (latitude, longitude): (f64, f64),
    (jurisdiction, ward, department): (&str, &str, &str),
) -> Result<(), ApiError> {
    let answer = state
        .media
        .call(
            http::Method::POST,
            "/internal/v1/media/attachments",
            Some(&json!({
                "owner_id": owner,
                "attached_to": format!("report:{report_id}"),
                "media_ids": media_ids,
                "public": public,
                "latitude": latitude,
                "longitude": longitude,
                "scope": { "jurisdiction": jurisdiction, "ward": ward, "department": department },
            })),
        )
        .await?;
    match answer.status.as_u16() {
        200..=299 => Ok(()),
        404 => Err(invalid(
            "media_not_owned",
            "Có ảnh không tồn tại hoặc không phải của bạn.",
            "A photo does not exist or is not yours.",
        )),
        409 => Err(ApiError::new(
            StatusCode::CONFLICT,
            "media_already_attached",
            "Có ảnh đã được đính kèm vào nội dung khác.",
            "A photo is already attached to something else.",
        )),
        422 => Err(invalid(
            "media_failed",
            "Không xử lý được một ảnh; vui lòng tải lại ảnh đó.",
            "A photo could not be processed; please upload it again.",
        )),
        other => Err(ApiError::internal(anyhow::anyhow!(
            "media answered {other} to an attachment: {}",
            answer.body
        ))),
    }
}

fn check_answers(questions: &[Question], answers: &Map<String, Value>) -> Result<(), ApiError> {
    let wrong = |code: &str, vi: &str, en: &str| {
        invalid(
            "invalid_answers",
            format!("Câu trả lời `{code}`: {vi}"),
            format!("Answer `{code}`: {en}"),
        )
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    category: String,
    lat: f64,
    lng: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Duplicates {
    pub reports: Vec<Report>,
}

/// Open reports of a category within about 50 m from the last 30 days, asked before filing so
/// the resident can follow one instead.
#[utoipa::path(get, path = "/v1/reports/duplicates", tag = "reports", params(DuplicateQuery),
    responses((status = 200, body = Duplicates)),
    security(("bearer" = [])))]
pub async fn duplicates(
    State(state): State<ReportsState>,
    _principal: Principal,
    QueryParams(query): QueryParams<DuplicateQuery>,
) -> Result<Json<Duplicates>, ApiError> {
    check_position(query.lat, query.lng)?;
    let mut conn = state.pool.acquire().await?;
    let reports = nearby_open(&mut conn, &query.category, query.lat, query.lng, None).await?;
    Ok(Json(Duplicates { reports }))
}

/// Open public reports of `category` within `DUPLICATE_RADIUS_M`, nearest first, as the public
/// sees them. Reports whose position the public only sees coarsened (anonymous, sensitive) are
/// never offered: being offered within 50 m of a point would give their place away.
async fn nearby_open(
    conn: &mut sqlx::PgConnection,
    category: &str,
    latitude: f64,
    longitude: f64,
    except: Option<Uuid>,
) -> Result<Vec<Report>, ApiError> {
    let Some(cells) = crate::public::cells_within(latitude, longitude, DUPLICATE_RADIUS_M) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query_as::<_, (Uuid, f64)>(
        r#"SELECT id, distance_m FROM (
               SELECT id, distance_m(latitude, longitude, $3, $4) AS distance_m
               FROM reports
               WHERE category_code = $1 AND h3_res9 = ANY($2) AND public
                 AND (public_latitude, public_longitude) = (latitude, longitude)
                 AND status NOT IN ('resolved', 'closed', 'rejected')
                 AND created_at > now() - make_interval(days => $6)
                 AND id IS DISTINCT FROM $7
           ) near WHERE distance_m <= $5 ORDER BY distance_m LIMIT 10"#,
    )
    .bind(category)
    .bind(&cells)
    .bind(latitude)
    .bind(longitude)
    .bind(DUPLICATE_RADIUS_M)
    .bind(DUPLICATE_WINDOW_DAYS)
    .bind(except)
    .fetch_all(&mut *conn)
    .await?;
    let mut reports = Vec::with_capacity(rows.len());
    let ids: Vec<Uuid> = rows.iter().map(|(id, _)| *id).collect();
    let details =
        sqlx::query_as::<_, views::ReportRow>("SELECT * FROM report_details WHERE id = ANY($1)")
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?;
    for (id, distance) in rows {
        if let Some(row) = details.iter().find(|r| r.id == id) {
            let mut report = row.clone().view(Audience::Public);
            report.distance_m = Some(distance.round());
            reports.push(report);
        }
    }
    Ok(reports)
}
