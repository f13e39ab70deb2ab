//! Questions to the government. A resident asks a department of their jurisdiction; nobody
//! else sees the question until a moderator (the jurisdiction's admins or the department's
//! staff) publishes it, or rejects it for one of the stated reasons. The department's answer
//! is public, in Vietnamese and English; who asked never is.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::events::types::QuestionSettled;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::idempotency;
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::errors::CommunityError;
use crate::staff::{QuestionDepartment, is_staff, works_on};
use crate::{CommunityState, input};

/// Why a moderator turns a question down, as the asker reads it.
const REJECT_REASONS: [(&str, &str, &str); 5] = [
    (
        "off_topic",
        "Câu hỏi không thuộc thẩm quyền của cơ quan nhà nước.",
        "The question is not a matter for the government.",
    ),
    (
        "abusive",
        "Câu hỏi có lời lẽ xúc phạm.",
        "The question is abusive.",
    ),
    (
        "personal_data",
        "Câu hỏi chứa thông tin cá nhân; vui lòng hỏi lại mà không nêu thông tin đó.",
        "The question holds personal data; please ask again without it.",
    ),
    (
        "duplicate",
        "Câu hỏi này đã được hỏi và trả lời.",
        "This question was already asked and answered.",
    ),
    (
        "report_instead",
        "Đây là một sự cố: vui lòng gửi phản ánh hiện trường.",
        "This is a problem on the ground: please file a report instead.",
    ),
];

#[derive(Debug, sqlx::FromRow)]
struct Row {
    id: Uuid,
    jurisdiction: String,
    department: String,
    department_name_vi: String,
    department_name_en: String,
    title: String,
    body: String,
    asked_by: Option<Uuid>,
    status: String,
    reject_reason: Option<String>,
    answer_vi: Option<String>,
    answer_en: Option<String>,
    answered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, jurisdiction, department, department_name_vi, department_name_en, \
    title, body, asked_by, status, reject_reason, answer_vi, answer_en, answered_at, created_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    id: Uuid,
    jurisdiction: String,
    department: DepartmentView,
    title: String,
    body: String,
    /// `pending` (waiting for a moderator), `published`, `answered` or `rejected`.
    status: String,
    /// Why it was rejected (the asker and staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    rejection: Option<Rejection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Answer>,
    /// Whether the caller asked it.
    mine: bool,
    created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    id: String,
    name: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rejection {
    reason: String,
    text: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Answer {
    text: Text,
    answered_at: DateTime<Utc>,
}

impl Row {
    fn view(self, viewer: Option<&Principal>) -> QuestionView {
        let mine = viewer.is_some_and(|p| self.asked_by == Some(p.account_id));
        let rejection = self
            .reject_reason
            .filter(|_| mine || viewer.is_some_and(is_staff))
            .and_then(|reason| {
                REJECT_REASONS
                    .iter()
                    .find(|(code, ..)| *code == reason)
                    .map(|(code, vi, en)| Rejection {
                        reason: (*code).to_owned(),
                        text: Text::new(vi, en),
                    })
            });
        let answer = match (self.answer_vi, self.answer_en, self.answered_at) {
            (Some(vi), Some(en), Some(answered_at)) => Some(Answer {
                text: Text { vi, en },
                answered_at,
            }),
            _ => None,
        };
        QuestionView {
            id: self.id,
            jurisdiction: self.jurisdiction,
            department: DepartmentView {
                id: self.department,
                name: Text {
                    vi: self.department_name_vi,
                    en: self.department_name_en,
                },
            },
            title: self.title,
            body: self.body,
            status: self.status,
            rejection,
            answer,
            mine,
            created_at: self.created_at,
        }
    }

    /// Whether `principal` moderates and answers it: the jurisdiction's admins and the
    /// department's staff.
    fn handled_by(&self, principal: &Principal) -> bool {
        works_on(principal, &self.jurisdiction, None, Some(&self.department))
    }

    fn public(&self) -> bool {
        matches!(self.status.as_str(), "published" | "answered")
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    department: Option<String>,
    /// `true`: answered ones only; `false`: those still waiting for an answer.
    answered: Option<bool>,
    cursor: Option<String>,
    /// 1 to 100, default 30.
    limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionList {
    questions: Vec<QuestionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// The published questions and their answers, newest first.
#[utoipa::path(get, path = "/v1/questions/{jurisdiction}", operation_id = "list_questions", tag = "questions",
    params(("jurisdiction" = String, Path), ListQuery),
    responses(
        (status = 200, body = QuestionList),
        (status = 400, body = platform::error::Problem, description = "`invalid_query`, `invalid_cursor`"),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found`"),
    ))]
pub async fn list(
    State(state): State<CommunityState>,
    Path(jurisdiction): Path<String>,
    principal: Option<Principal>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<QuestionList>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let limit = input::limit(query.limit, 30, 100)?;
    let statuses: &[&str] = match query.answered {
        None => &["published", "answered"],
        Some(true) => &["answered"],
        Some(false) => &["published"],
    };
    let (after_at, after_id) = query
        .cursor
        .as_deref()
        .map(platform::cursor::decode)
        .transpose()?
        .unzip();
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM questions
         WHERE jurisdiction = $1 AND status IN ('published', 'answered') AND status = ANY($2)
           AND ($3::text IS NULL OR department = $3)
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
         ORDER BY created_at DESC, id DESC LIMIT $6"
    ))
    .bind(&jurisdiction)
    .bind(statuses)
    .bind(&query.department)
    .bind(after_at)
    .bind(after_id)
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(page(rows, limit, principal.as_ref())))
}

fn page(mut rows: Vec<Row>, limit: i64, viewer: Option<&Principal>) -> QuestionList {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = more
        .then(|| {
            rows.last()
                .map(|r| platform::cursor::encode(r.created_at, r.id))
        })
        .flatten();
    QuestionList {
        questions: rows.into_iter().map(|row| row.view(viewer)).collect(),
        next,
    }
}

/// The caller's own questions, whatever became of them, newest first (at most 100).
#[utoipa::path(get, path = "/v1/questions/mine", operation_id = "my_questions", tag = "questions",
    responses((status = 200, body = QuestionList)),
    security(("bearer" = [])))]
pub async fn mine(
    State(state): State<CommunityState>,
    principal: Principal,
) -> Result<Json<QuestionList>, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM questions WHERE asked_by = $1 ORDER BY created_at DESC LIMIT 100"
    ))
    .bind(principal.account_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(page(rows, 100, Some(&principal))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionDepartments {
    departments: Vec<QuestionDepartment>,
}

/// The departments a question may go to.
#[utoipa::path(get, path = "/v1/questions/{jurisdiction}/departments", operation_id = "question_departments", tag = "questions",
    params(("jurisdiction" = String, Path)),
    responses(
        (status = 200, body = QuestionDepartments),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found`"),
    ))]
pub async fn departments(
    State(state): State<CommunityState>,
    Path(jurisdiction): Path<String>,
) -> Result<Json<QuestionDepartments>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    Ok(Json(QuestionDepartments {
        departments: state.departments(&jurisdiction).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// `pending` (default: waiting for a moderator) or `published` (waiting for an answer).
    status: Option<String>,
}

/// What waits for the caller: questions of their departments (every department, for the
/// jurisdiction's admins), oldest first, at most 200.
#[utoipa::path(get, path = "/v1/questions/{jurisdiction}/queue", operation_id = "question_queue", tag = "questions",
    params(("jurisdiction" = String, Path), QueueQuery),
    responses(
        (status = 200, body = QuestionList),
        (status = 400, body = platform::error::Problem, description = "`invalid_query`"),
        (status = 404, body = platform::error::Problem, description = "Not staff of the jurisdiction"),
    ),
    security(("bearer" = [])))]
pub async fn queue(
    State(state): State<CommunityState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
    QueryParams(query): QueryParams<QueueQuery>,
) -> Result<Json<QuestionList>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let status = query.status.as_deref().unwrap_or("pending");
    if !matches!(status, "pending" | "published") {
        return Err(SharedError::InvalidQuery {
            reason: "status is pending or published".to_owned(),
        }
        .into());
    }
    let every_department = principal.administers(&jurisdiction);
    let own_jurisdiction = principal.scope.jurisdiction.as_deref() == Some(&jurisdiction);
    if !(every_department || own_jurisdiction && is_staff(&principal)) {
        return Err(ApiError::route_not_found());
    }
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM questions
         WHERE jurisdiction = $1 AND status = $2 AND ($3 OR department = ANY($4))
         ORDER BY created_at, id LIMIT 200"
    ))
    .bind(&jurisdiction)
    .bind(status)
    .bind(every_department)
    .bind(&principal.scope.departments)
    .fetch_all(&state.pool)
    .await?;
    // Staff other than the department's see none of it (a ward officer's list is empty).
    let rows = rows
        .into_iter()
        .filter(|row: &Row| row.handled_by(&principal))
        .collect();
    Ok(Json(page(rows, 200, Some(&principal))))
}

/// A question: anyone reads a published one; the asker and its department's staff any.
#[utoipa::path(get, path = "/v1/questions/{jurisdiction}/{id}", operation_id = "get_question", tag = "questions",
    params(("jurisdiction" = String, Path), ("id" = Uuid, Path)),
    responses(
        (status = 200, body = QuestionView),
        (status = 404, body = platform::error::Problem, description = "`question_not_found`"),
    ))]
pub async fn get(
    State(state): State<CommunityState>,
    Path((jurisdiction, id)): Path<(String, Uuid)>,
    principal: Option<Principal>,
) -> Result<Json<QuestionView>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM questions WHERE id = $1 AND jurisdiction = $2"
    ))
    .bind(id)
    .bind(&jurisdiction)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(CommunityError::QuestionNotFound)?;
    let visible = row.public()
        || principal
            .as_ref()
            .is_some_and(|p| row.asked_by == Some(p.account_id) || row.handled_by(p));
    if !visible {
        return Err(CommunityError::QuestionNotFound.into());
    }
    Ok(Json(row.view(principal.as_ref())))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuestion {
    /// A department id of `/v1/questions/{jurisdiction}/departments`.
    department: String,
    /// 1 to 150 characters.
    title: String,
    /// 1 to 3,000 characters. It is public once published: no personal data.
    body: String,
}

/// The operation `Idempotency-Key`s of questions are fingerprinted with.
const ASK: &str = "ask_question";

/// Asks a department a question, once per `Idempotency-Key`; it waits for a moderator.
#[utoipa::path(post, path = "/v1/questions/{jurisdiction}", operation_id = "ask_question", tag = "questions",
    params(("jurisdiction" = String, Path), ("Idempotency-Key" = String, Header, description = "Unique per question; a retry reuses it")),
    request_body = NewQuestion,
    responses(
        (status = 201, body = QuestionView, description = "Asked, `pending` (or the first answer to this key, replayed with `Idempotent-Replayed: true`)"),
        (status = 400, body = platform::error::Problem, description = "`idempotency_key_required`, `invalid_body`"),
        (status = 404, body = platform::error::Problem, description = "`jurisdiction_not_found`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`, `unknown_department`, `idempotency_key_reused`"),
        (status = 429, body = platform::error::Problem, description = "`too_many_community_posts`"),
    ),
    security(("bearer" = [])))]
pub async fn ask(
    State(state): State<CommunityState>,
    principal: Principal,
    Path(jurisdiction): Path<String>,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<NewQuestion>,
) -> Result<Response, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let title = input::text("title", &request.title, 150)?;
    let body = input::text("body", &request.body, 3000)?;
    let department = state
        .departments(&jurisdiction)
        .await?
        .into_iter()
        .find(|d| d.id == request.department)
        .ok_or_else(|| CommunityError::UnknownDepartment {
            department: request.department.clone(),
        })?;
    let fingerprint = idempotency::fingerprint(ASK, &(&jurisdiction, &request))?;
    let (account, key) = (principal.account_id, key.as_str());
    let mut tx = state.pool.begin().await?;
    if let Some(answer) = idempotency::claim_in(&mut tx, account, key, &fingerprint).await? {
        return Ok(answer.replayed());
    }
    // Counted once the key is this request's: a retry replays without counting.
    state.count_post(account).await?;
    let row: Row = sqlx::query_as(&format!(
        "INSERT INTO questions (id, jurisdiction, department, department_name_vi,
                                department_name_en, title, body, asked_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(&jurisdiction)
    .bind(&department.id)
    .bind(&department.name_vi)
    .bind(&department.name_en)
    .bind(&title)
    .bind(&body)
    .bind(account)
    .fetch_one(&mut *tx)
    .await?;
    let view = row.view(Some(&principal));
    let answer = serde_json::to_value(&view).map_err(ApiError::internal)?;
    idempotency::answer_in(&mut tx, account, key, StatusCode::CREATED, &answer).await?;
    tx.commit().await?;
    tracing::info!(question = %view.id, jurisdiction, department = department.id, "question asked");
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Moderation {
    /// For `reject`: `off_topic`, `abusive`, `personal_data`, `duplicate` or `report_instead`.
    reason: Option<String>,
    /// For `answer`, 1 to 10,000 characters each.
    answer_vi: Option<String>,
    answer_en: Option<String>,
}

/// A moderator's or the department's step: `publish` a pending question, `reject` one not yet
/// answered (with a reason), `answer` one not rejected (which publishes it).
#[utoipa::path(post, path = "/v1/questions/{jurisdiction}/{id}/{action}", operation_id = "moderate_question", tag = "questions",
    params(("jurisdiction" = String, Path), ("id" = Uuid, Path),
        ("action" = String, Path, description = "`publish`, `reject` or `answer`")),
    request_body(content = Moderation, description = "`{}` for `publish`, `reason` for `reject`, `answer_vi` and `answer_en` for `answer`"),
    responses(
        (status = 200, body = QuestionView),
        (status = 404, body = platform::error::Problem, description = "`question_not_found`, also for a question the caller may not moderate"),
        (status = 409, body = platform::error::Problem, description = "`question_not_waiting`"),
        (status = 422, body = platform::error::Problem, description = "`invalid_field`"),
    ),
    security(("bearer" = [])))]
pub async fn act(
    State(state): State<CommunityState>,
    principal: Principal,
    Path((jurisdiction, id, action)): Path<(String, Uuid, String)>,
    JsonBody(step): JsonBody<Moderation>,
) -> Result<Json<QuestionView>, ApiError> {
    input::jurisdiction(&jurisdiction)?;
    let mut tx = state.pool.begin().await?;
    let row: Row = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM questions WHERE id = $1 AND jurisdiction = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(&jurisdiction)
    .fetch_optional(&mut *tx)
    .await?
    .filter(|row: &Row| row.handled_by(&principal))
    .ok_or(CommunityError::QuestionNotFound)?;
    let waiting = |statuses: &[&str]| {
        if statuses.contains(&row.status.as_str()) {
            Ok(())
        } else {
            Err(ApiError::from(CommunityError::QuestionNotWaiting))
        }
    };
    // What the step makes of it: its status, and a rejection's reason or the answer.
    let (status, reason, answer) = match action.as_str() {
        "publish" => {
            waiting(&["pending"])?;
            ("published", None, None)
        }
        "reject" => {
            waiting(&["pending", "published"])?;
            let reason = step.reason.unwrap_or_default();
            if !REJECT_REASONS.iter().any(|(code, ..)| *code == reason) {
                return Err(SharedError::InvalidField {
                    field: "reason",
                    rule_vi: "off_topic, abusive, personal_data, duplicate hoặc report_instead"
                        .to_owned(),
                    rule_en: "off_topic, abusive, personal_data, duplicate or report_instead"
                        .to_owned(),
                }
                .into());
            }
            ("rejected", Some(reason), None)
        }
        "answer" => {
            waiting(&["pending", "published"])?;
            let text = |field, value: Option<String>| {
                input::text(field, value.as_deref().unwrap_or_default(), 10_000)
            };
            let answer = (
                text("answer_vi", step.answer_vi)?,
                text("answer_en", step.answer_en)?,
            );
            ("answered", None, Some(answer))
        }
        _ => return Err(ApiError::route_not_found()),
    };
    let (answer_vi, answer_en) = answer.unzip();
    let row: Row = sqlx::query_as(&format!(
        "UPDATE questions
         SET status = $2, reject_reason = $3, answer_vi = $4, answer_en = $5,
             answered_by = CASE WHEN $4 IS NULL THEN NULL ELSE $6 END,
             answered_at = CASE WHEN $4 IS NULL THEN NULL ELSE now() END,
             moderated_by = COALESCE(moderated_by, $6), updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status)
    .bind(reason)
    .bind(answer_vi)
    .bind(answer_en)
    .bind(principal.account_id)
    .fetch_one(&mut *tx)
    .await?;
    // The asker hears of an answer or a refusal (not of a publication: nothing to do yet).
    if let (Some(asker), "answered" | "rejected") = (row.asked_by, status) {
        let settled = QuestionSettled {
            question_id: id,
            jurisdiction: row.jurisdiction.clone(),
            account_id: asker,
            title: row.title.clone(),
            department_name_vi: row.department_name_vi.clone(),
            department_name_en: row.department_name_en.clone(),
            status: status.to_owned(),
        };
        platform::events::enqueue(&mut tx, id, &settled).await?;
    }
    tx.commit().await?;
    tracing::info!(question = %id, status = row.status, "question moderated");
    Ok(Json(row.view(Some(&principal))))
}
