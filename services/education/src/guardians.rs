//! Which children a parent sees: a pupil is linked to an account when the parent confirms a
//! code sent to the phone the school records for the pupil's parent (OneRoster `agents` with
//! the `parent` or `guardian` role). Knowing a student code is not enough: the code goes to
//! the school's phone, never to one the caller names.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::JsonBody;
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::oneroster::{User, filter_value, valid_id};
use crate::{EducationError, EducationState, unavailable};

/// How long a link code may be used, and how many wrong tries it takes.
const CODE_TTL_SECS: i64 = 600;
const MAX_ATTEMPTS: i32 = 5;
/// Children one account may link.
const MAX_CHILDREN: i64 = 20;
/// The roles of a pupil's agents whose phone may confirm a link.
const GUARDIAN_ROLES: &[&str] = &["parent", "guardian"];

#[derive(Debug, Serialize, ToSchema)]
pub struct Child {
    /// The pupil's id at the school system (`/v1/education/children/{id}/grades`).
    id: String,
    name: String,
    student_code: String,
    linked_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Children {
    children: Vec<Child>,
}

/// The children I have linked.
#[utoipa::path(get, path = "/v1/education/children", operation_id = "list_linked_children", tag = "education", security(("bearer" = [])),
    responses((status = 200, body = Children)))]
pub async fn list(
    State(state): State<EducationState>,
    principal: Principal,
) -> Result<Json<Children>, ApiError> {
    let children = sqlx::query_as!(
        Child,
        r#"SELECT student_id AS id, student_name AS name, student_code, linked_at
           FROM guardianships WHERE account_id = $1 ORDER BY linked_at"#,
        principal.account_id
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Children { children }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The ministry's student code (mã học sinh) the school gave.
    student_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkCodeSent {
    /// To confirm with the code (`/v1/education/children/link/confirm`).
    challenge_id: Uuid,
    /// The phone the school records, masked: `+8490****222`.
    sent_to: String,
    expires_in: i64,
}

/// Asks for a code, sent by SMS to the phone the school records for the pupil's parent.
#[utoipa::path(post, path = "/v1/education/children/link", operation_id = "start_child_link", tag = "education", security(("bearer" = [])),
    request_body = LinkRequest,
    responses((status = 202, body = LinkCodeSent),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`student_not_found`, `no_school_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`no_guardian_phone`, `invalid_student_code`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_link_codes`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn start_link(
    State(state): State<EducationState>,
    principal: Principal,
    JsonBody(request): JsonBody<LinkRequest>,
) -> Result<(StatusCode, Json<LinkCodeSent>), ApiError> {
    let code = request.student_code.trim();
    if code.is_empty() || code.len() > 32 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(EducationError::InvalidStudentCode.into());
    }
    let (jurisdiction, system) = state.system_of(&principal).await?;
    // Counted before the school system is asked: the limit also stops guessing codes.
    if let Err(wait) = state
        .limits
        .link_codes
        .check(&principal.account_id.to_string())
        .await
    {
        return Err(ApiError::from(EducationError::TooManyLinkCodes).with_retry_after(wait));
    }
    let code = filter_value(code).ok_or(EducationError::StudentNotFound)?;
    let students: Vec<User> = system
        .collection(
            "rostering/v1p2/students",
            "users",
            &[("filter", &format!("identifier='{code}'"))],
        )
        .await
        .map_err(unavailable)?;
    let mut students = students
        .into_iter()
        .filter(|s| s.active() && s.identifier.as_deref() == Some(code));
    let student = match (students.next(), students.next()) {
        (Some(student), None) => student,
        (None, _) => return Err(EducationError::StudentNotFound.into()),
        (Some(_), Some(_)) => {
            // Two pupils under one code is the school's to fix; either could be a stranger.
            tracing::warn!("two active pupils share one student code");
            return Err(EducationError::StudentNotFound.into());
        }
    };
    let phone = guardian_phone(&system, &student).await?;

    let challenge_id = Uuid::now_v7();
    let secret: u32 = rand::rng().random_range(0..1_000_000);
    let secret = format!("{secret:06}");
    let mut tx = state.pool.begin().await?;
    // Expired codes go, with the pupils' names they held.
    sqlx::query!("DELETE FROM link_challenges WHERE expires_at < now()")
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        r#"INSERT INTO link_challenges (id, account_id, jurisdiction, student_id, student_code,
                                        student_name, code_hash, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))"#,
        challenge_id,
        principal.account_id,
        jurisdiction,
        student.sourced_id,
        code,
        student.full_name(),
        &code_hash(challenge_id, &secret),
        CODE_TTL_SECS as f64,
    )
    .execute(&mut *tx)
    .await?;
    // Unaccented, as SMS in Việt Nam are sent; the code first, where phones offer to copy it.
    let text = format!(
        "{secret} la ma xac nhan lien ket phu huynh voi hoc sinh {code} tren Citizen, het han \
         sau 10 phut. Khong chia se ma nay. / Parent link code."
    );
    let answer = state
        .identity
        .call(
            http::Method::POST,
            "/internal/v1/sms",
            Some(&serde_json::json!({ "to": phone, "text": text })),
        )
        .await?;
    if !answer.status.is_success() {
        tracing::warn!(status = %answer.status, "the link code SMS was not sent");
        return Err(
            ApiError::from(platform::error::SharedError::UpstreamUnavailable)
                .with_retry_after(std::time::Duration::from_secs(60)),
        );
    }
    // Kept only once the SMS left: a code nobody received is no code.
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(LinkCodeSent {
            challenge_id,
            sent_to: masked(&phone),
            expires_in: CODE_TTL_SECS,
        }),
    ))
}

/// The phone of the first of the pupil's parents or guardians the school records one for.
async fn guardian_phone(
    system: &crate::oneroster::OneRoster,
    student: &User,
) -> Result<String, ApiError> {
    for agent in &student.agents {
        if !valid_id(&agent.sourced_id) {
            continue;
        }
        let user: User = match system
            .object(
                &format!("rostering/v1p2/users/{}", agent.sourced_id),
                "user",
            )
            .await
        {
            Ok(user) => user,
            Err(crate::oneroster::RosterError::NotFound) => continue,
            Err(error) => return Err(unavailable(error)),
        };
        let guardian = GUARDIAN_ROLES.iter().any(|role| user.has_role(role));
        if let Some(phone) = user
            .phone
            .or(user.sms)
            .filter(|_| guardian && user.status.as_deref() != Some("tobedeleted"))
        {
            return Ok(phone);
        }
    }
    Err(EducationError::NoGuardianPhone.into())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmLink {
    challenge_id: Uuid,
    /// The six digits the SMS gave.
    code: String,
}

/// Links the pupil with the code the school's recorded phone received.
#[utoipa::path(post, path = "/v1/education/children/link/confirm", operation_id = "confirm_child_link", tag = "education", security(("bearer" = [])),
    request_body = ConfirmLink,
    responses((status = 201, body = Child),
        (status = 404, description = "`link_code_expired`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_children`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`wrong_link_code`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn confirm_link(
    State(state): State<EducationState>,
    principal: Principal,
    JsonBody(confirm): JsonBody<ConfirmLink>,
) -> Result<(StatusCode, Json<Child>), ApiError> {
    let mut tx = state.pool.begin().await?;
    // Locked: two confirmations at once count as two tries.
    let challenge = sqlx::query!(
        r#"SELECT jurisdiction, student_id, student_code, student_name, code_hash, attempts
           FROM link_challenges
           WHERE id = $1 AND account_id = $2 AND expires_at > now() AND attempts < $3
           FOR UPDATE"#,
        confirm.challenge_id,
        principal.account_id,
        MAX_ATTEMPTS
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(EducationError::ChallengeNotFound)?;
    if code_hash(confirm.challenge_id, confirm.code.trim()) != challenge.code_hash {
        sqlx::query!(
            "UPDATE link_challenges SET attempts = attempts + 1 WHERE id = $1",
            confirm.challenge_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Err(EducationError::WrongCode.into());
    }
    sqlx::query!(
        "DELETE FROM link_challenges WHERE id = $1",
        confirm.challenge_id
    )
    .execute(&mut *tx)
    .await?;
    let linked = sqlx::query_scalar!(
        "SELECT count(*) FROM guardianships WHERE account_id = $1",
        principal.account_id
    )
    .fetch_one(&mut *tx)
    .await?
    .unwrap_or(0);
    if linked >= MAX_CHILDREN {
        return Err(EducationError::TooManyChildren {
            max: MAX_CHILDREN as u32,
        }
        .into());
    }
    let child = sqlx::query_as!(
        Child,
        r#"INSERT INTO guardianships (account_id, jurisdiction, student_id, student_code, student_name)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_id, jurisdiction, student_id)
           DO UPDATE SET student_name = EXCLUDED.student_name
           RETURNING student_id AS id, student_name AS name, student_code, linked_at"#,
        principal.account_id,
        challenge.jurisdiction,
        challenge.student_id,
        challenge.student_code,
        challenge.student_name,
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(child)))
}

/// Unlinks a child: their results are no longer shown or pushed to me.
#[utoipa::path(delete, path = "/v1/education/children/{id}", operation_id = "unlink_child", tag = "education", security(("bearer" = [])),
    params(("id" = String, Path, description = "The child's id")),
    responses((status = 204, description = "Unlinked"),
        (status = 404, description = "`child_not_found`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn unlink(
    State(state): State<EducationState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let removed = sqlx::query!(
        "DELETE FROM guardianships WHERE account_id = $1 AND student_id = $2",
        principal.account_id,
        id
    )
    .execute(&state.pool)
    .await?;
    if removed.rows_affected() == 0 {
        return Err(EducationError::ChildNotFound.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The jurisdiction of a child the caller has linked; 404 `child_not_found` for any other.
pub async fn linked_child(
    state: &EducationState,
    principal: &Principal,
    id: &str,
) -> Result<(String, String), ApiError> {
    let row = sqlx::query!(
        "SELECT jurisdiction, student_name FROM guardianships WHERE account_id = $1 AND student_id = $2",
        principal.account_id,
        id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(EducationError::ChildNotFound)?;
    Ok((row.jurisdiction, row.student_name))
}

/// The code's hash, salted with its challenge so equal codes never hash alike.
fn code_hash(challenge: Uuid, code: &str) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(challenge.as_bytes());
    hash.update(code.as_bytes());
    hash.finalize().to_vec()
}

/// `+84905111222` as `+8490****222`: enough for a parent to recognise their number.
fn masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..chars.len() - 7].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_is_masked_but_recognisable() {
        assert_eq!(masked("+84905111222"), "+8490****222");
        assert_eq!(masked("123"), "****");
    }

    #[test]
    fn equal_codes_of_two_challenges_hash_apart() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_ne!(code_hash(a, "123456"), code_hash(b, "123456"));
        assert_eq!(code_hash(a, "123456"), code_hash(a, "123456"));
    }
}
