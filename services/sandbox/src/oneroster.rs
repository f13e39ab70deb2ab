//! A OneRoster 1.2 server standing in for Huế's school information system: the schools of the
//! city with where they are and whom they enrol, school years and semesters, classes, pupils,
//! parents and teachers (rostering), and the pupils' marks (gradebook), which a teacher's
//! system can publish. JSON only (`application/json`), following the REST bindings
//! (https://www.imsglobal.org/spec/oneroster/v1p2, rostering and gradebook):
//!
//! - `POST /token`: OAuth 2.0 client credentials (RFC 6749 §4.4), the client authenticated
//!   with HTTP Basic as [`CLIENT_ID`]:[`CLIENT_SECRET`], form `grant_type=client_credentials`
//!   and an optional `scope` (space separated, among [`SCOPE_ROSTER_CORE_READONLY`],
//!   [`SCOPE_ROSTER_READONLY`], [`SCOPE_GRADEBOOK_READONLY`], [`SCOPE_GRADEBOOK_CREATEPUT`];
//!   none asked: all four). Answers `{"access_token", "token_type": "bearer", "expires_in":
//!   3600, "scope"}`; errors are RFC 6749's: `400 invalid_request`, `unsupported_grant_type`,
//!   `invalid_scope`, `401 invalid_client` with `WWW-Authenticate: Basic`. Tokens are random,
//!   kept in memory with their scopes for an hour; at most 10,000 live ones (the expired are
//!   dropped first, then the oldest).
//! - Every other call needs `Authorization: Bearer <token>`: none, an unknown or an expired
//!   token gets `401 unauthorisedrequest` (with `WWW-Authenticate: Bearer`), a token without
//!   the scope the call needs `403 forbidden`. `roster-core.readonly` reads orgs, schools,
//!   sessions, terms, courses and classes; `roster.readonly` all of rostering (users,
//!   students, teachers, enrollments too); `gradebook.readonly` the gradebook's `GET`s;
//!   `gradebook.createput` its `PUT`.
//! - Rostering, under `/ims/oneroster/rostering/v1p2`: `GET /orgs`, `/orgs/{id}`, `/schools`,
//!   `/schools/{id}` (orgs of type `school`), `/schools/{id}/classes`, `/academicSessions`,
//!   `/academicSessions/{id}`, `/terms`, `/terms/{id}` (sessions of type `semester`),
//!   `/courses`, `/courses/{id}`, `/classes`, `/classes/{id}`, `/users`, `/users/{id}`,
//!   `/students`, `/students/{id}`, `/students/{id}/classes` (the classes of her active
//!   enrollments), `/teachers`, `/teachers/{id}`, `/enrollments`, `/enrollments/{id}`.
//! - Gradebook, under `/ims/oneroster/gradebook/v1p2`: `GET /categories`, `/categories/{id}`,
//!   `/lineItems`, `/lineItems/{id}`, `/classes/{classId}/lineItems`, `/results`,
//!   `/results/{id}`, `/classes/{classId}/students/{studentId}/results`, and `PUT
//!   /results/{id}` with `{"result": {...}}`: `201` when it creates, `200` when it replaces,
//!   answering the stored result. Its `lineItem` must be a known, active line item, its
//!   `student` a student enrolled in that line item's class (`class`, if given, must be it),
//!   `scoreStatus` one of OneRoster's; a `fully graded` or `partially graded` result needs a
//!   `score` within the line item's `resultValueMin..=resultValueMax` (whole for
//!   `metadata.wholeNumbers`) or, for a line item with `metadata.scale`, a `textScore` among
//!   those. Anything else is `400 invalid_data` naming the field (`result.score`). The server
//!   sets `dateLastModified` to now (and `scoreDate` to today, Huế time, if not given); a
//!   `sourcedId` in the body must be the one in the path. At most 10,000 results are created
//!   (`507 server_busy` after).
//! - Collections answer `{"<plural>": [...]}` (`orgs`, `academicSessions`, `courses`,
//!   `classes`, `users`, `enrollments`, `categories`, `lineItems`, `results`), single objects
//!   `{"<singular>": {...}}`; an unknown id is `404 unknownobject`, an unknown path too.
//!   Paging: `limit` (default 100, at most 1000: more is 1000; not a positive whole number:
//!   `400 invalid_data`) and `offset`; `X-Total-Count` is the number of matches, and `Link`
//!   (RFC 8288) has `first`, `last`, `prev` (past the first page) and `next` (only when more
//!   follow), absolute URLs from the `Host` header with the other parameters kept. `sort` a
//!   field and `orderBy` `asc` (default) or `desc`; `filter` as `<field><op>'<value>'` with
//!   `=`, `!=`, `>`, `>=`, `<`, `<=`, `~` (contains, ignoring case), at most two joined by
//!   ` AND ` or ` OR `; `fields=a,b` keeps only those fields. The fields are each object's
//!   top-level fields in OneRoster 1.2 (`query.rs`); a reference compares by its `sourcedId`
//!   (`filter=student='le-ngoc-han'`), an array matches when an element does (`grades='07'`),
//!   dates and `dateLastModified` compare as instants (RFC 3339, or a bare date as its
//!   midnight UTC), numbers as numbers. A malformed filter or an unknown field is `400
//!   invalid_filter_field`, an unknown sort field `400 invalid_sort_field`, an unknown
//!   selected field `400 invalid_selection_field`. Other parameters are ignored.
//! - Errors are OneRoster's `imsx_StatusInfo`: `{"imsx_codeMajor": "failure",
//!   "imsx_severity": "error", "imsx_description", "imsx_CodeMinor": {"imsx_codeMinorField":
//!   [{"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": ...}]}}`.
//!   The 1.2 vocabulary spells bad data `invaliddata` and has no sort code; this sandbox
//!   answers `invalid_data` and `invalid_sort_field` (1.1's), as Citizen's client expects.
//! - `POST /faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n, "delay_ms": n,
//!   "retry_after_secs": n, "method": "GET"}` (not OneRoster; the FHIR sandbox's switch):
//!   `down` answers `503 server_busy` with `Retry-After` (30 s unless told), `slow` does the
//!   work and answers `delay_ms` later (10 s unless told), `garbage` answers `200` with JSON
//!   cut off midway; `times` requests (all until `null`), only of `method` if given. The
//!   token endpoint is not spared.
//!
//! Citizen's profile for Vietnamese schools (the records are in `oneroster/data.rs`):
//!
//! - Orgs: [`DEPARTMENT_ID`], Sở Giáo dục và Đào tạo, is a `district` (since 2025 it runs the
//!   schools with no district office between) and the `parent` of every school. A school's
//!   `identifier` is its ministry school code; its `metadata` has `levels` (`preschool`,
//!   `primary`, `lower_secondary`, `upper_secondary`), `ownership` (`public`, `private`),
//!   `address`, `phone` (E.164), `latitude`, `longitude` (numbers), `ward` and
//!   `enrolmentWards`, ward ids (`phu-xuan`, `thuan-hoa`, `vy-da`, `kim-long`, `huong-an`,
//!   `huong-tra`, `hoa-chau`, `thuan-an`, `duong-no`, `my-thuong`, `thuy-xuan`, `an-cuu`,
//!   `huong-thuy`, `thanh-thuy`, `phu-bai`): where the school is and whose children it takes.
//!   A private school's list is empty; a school taking pupils from the whole city by exam or
//!   selection (Quốc Học, the ethnic boarding school) lists every ward.
//! - Sessions: school years `2025-2026` and `2026-2027` (`schoolYear` `2026`, `2027`), each
//!   with two `semester`s, `<year>-hk1` "Học kì I" (5 September to 15 January) and
//!   `<year>-hk2` "Học kì II" (to 31 May), whose `parent` is the year and `metadata.semester`
//!   1 or 2. A class's `terms` are its year's two semesters.
//! - Classes: `classType` `homeroom` for the form ("Lớp 7/2") and `scheduled` for a subject
//!   ("Toán 7/2"), with `grades` (CEDS `01`-`12`), `subjects` (Vietnamese names),
//!   `subjectCodes` (Citizen's codes: `toan`, `ngu_van`, `tieng_anh`, `gdcd`, `ls_dl`, `khtn`,
//!   `cong_nghe`, `tin_hoc`, `gdtc`, `nghe_thuat`, `hdtn`, `gddp`, `lich_su`, `vat_li`,
//!   `hoa_hoc`, `dia_li`, `gdqp`; primary `tieng_viet`, `dao_duc`, `tu_nhien_xa_hoi`,
//!   `khoa_hoc`, `tin_hoc_cong_nghe`, `am_nhac`, `mi_thuat`), `course` (one per school year,
//!   grade and subject) and `metadata`: `assessment` (`scored` or `comment` under Circular
//!   22, `level` for primary under Circular 27), `periodsPerYear` (which sets how many regular
//!   assessments a semester needs: 2 up to 35, 3 up to 70, else 4) and, for primary,
//!   `tested` (the subject has periodic tests). Homeroom classes have no `metadata`.
//! - Categories (`metadata.kind`): `tx` regular, `gk` midterm, `ck` final (with Circular 22's
//!   weights 1, 2, 3 as `weight`), `muc-dat` subject_level, `pham-chat` quality, `nang-luc`
//!   competency, `ren-luyen` conduct.
//! - Line items: a class's assessments in one semester, its `gradingPeriod` (also given as
//!   `academicSession`): "Thường xuyên n", "Giữa kì", "Cuối kì" in a subject class;
//!   "Rèn luyện" in a secondary homeroom; in primary, "Mức đạt được cuối học kì I" / "...
//!   cuối năm học" (`muc-dat`), "Kiểm tra cuối học kì I" / "... cuối năm học" (`ck`, the
//!   semester II one being the end-of-year test), "Kiểm tra giữa học kì I" (`gk`, grades 4
//!   and 5, Tiếng Việt and Toán) and, in the homeroom, one per quality and competency
//!   (`metadata.code`, such as `yeu_nuoc`, `giao_tiep_hop_tac`). Scored items have
//!   `resultValueMin` 0.0 (1.0 for primary tests, with `metadata.wholeNumbers`) and
//!   `resultValueMax` 10.0; items marked in words have no min or max but `metadata.scale`:
//!   `["Đ", "CĐ"]` (comment-only subjects), `["T", "H", "C"]` (primary levels), `["T", "Đ",
//!   "C"]` (qualities, competencies), `["Tốt", "Khá", "Đạt", "Chưa đạt"]` (conduct). Subject
//!   items have `metadata.subjectCode`.
//! - Results: `score` (a number) or `textScore`, `scoreStatus` `fully graded`, `scoreDate`,
//!   sometimes a teacher's `comment`, `class` and `student` references. One result (and its
//!   line item) is `tobedeleted`: a score entered twice by mistake, to be left out.
//! - Users: `givenName`, `middleName`, `familyName`, `roles` (`student`, `parent`, `teacher`
//!   with their school; a parent of pupils at two schools has a `primary` and a `secondary`
//!   role), `agents` (a pupil's parents, a parent's children); pupils have `identifier`
//!   (the 10-digit ministry code), `grades` and `metadata.birthDate`, parents `phone` and
//!   `sms` (E.164).
//!
//! The data are fixed but for the results of the semester in progress (2026-2027 semester
//! I), whose `dateLastModified` fall, distinct, in the four weeks before the sandbox started
//! (written results are newer than all); see [`PUPIL1_ID`] and the constants after it for the
//! pupils and the values the rules give.

mod data;
mod query;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
#[cfg(test)]
use base64::{Engine as _, engine::general_purpose::STANDARD};
use chrono::{DateTime, FixedOffset, NaiveDate, Offset as _, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{self, Faults};
use crate::gateway;
use crate::oauth;
use query::Query;

/// The client registered for client credentials: Citizen's education service. A published
/// sandbox credential, for development and tests only.
pub const CLIENT_ID: &str = "citizen-education";
pub const CLIENT_SECRET: &str = "citizen-oneroster-sandbox-secret";

/// Reading orgs, schools, sessions, courses and classes.
pub const SCOPE_ROSTER_CORE_READONLY: &str =
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly";
/// Reading all of rostering, people and enrollments included.
pub const SCOPE_ROSTER_READONLY: &str =
    "https://purl.imsglobal.org/spec/or/v1p2/scope/roster.readonly";
/// Reading the gradebook.
pub const SCOPE_GRADEBOOK_READONLY: &str =
    "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.readonly";
/// Writing results (`PUT /results/{id}`).
pub const SCOPE_GRADEBOOK_CREATEPUT: &str =
    "https://purl.imsglobal.org/spec/or/v1p2/scope/gradebook.createput";

/// Sở Giáo dục và Đào tạo thành phố Huế, the `district` every school belongs to.
pub const DEPARTMENT_ID: &str = "so-gddt-hue";
/// The school year 2025-2026 (`schoolYear` "2026"); its semesters are `2025-2026-hk1` and
/// `2025-2026-hk2`.
pub const SCHOOL_YEAR_2026: &str = "2025-2026";
/// The school year 2026-2027 (`schoolYear` "2027"), semester I under way.
pub const SCHOOL_YEAR_2027: &str = "2026-2027";

/// Lê Ngọc Hân, a lower-secondary pupil: 6/2 in 2025-2026 and 7/2 in 2026-2027 at
/// [`PUPIL1_SCHOOL_ID`]; daughter of [`PARENT_ID`].
pub const PUPIL1_ID: &str = "le-ngoc-han";
/// Her ministry student code.
pub const PUPIL1_CODE: &str = "4601203417";
/// Trường THCS Nguyễn Tri Phương (26 Lê Lợi, thuan-hoa).
pub const PUPIL1_SCHOOL_ID: &str = "thcs-nguyen-tri-phuong";
/// Her homeroom classes; a subject class is the homeroom's id and the subject code with `-`
/// for `_` (`ntp-2025-2026-6-2-toan`, `ntp-2025-2026-6-2-ngu-van`).
pub const PUPIL1_HOMEROOM_2026: &str = "ntp-2025-2026-6-2";
pub const PUPIL1_HOMEROOM_2027: &str = "ntp-2026-2027-7-2";
/// Her Toán class of 2025-2026.
pub const PUPIL1_MATH_CLASS_2026: &str = "ntp-2025-2026-6-2-toan";
/// Lê Minh Khôi, her younger brother: 3/1 in 2025-2026 and 4/1 in 2026-2027 at
/// [`PUPIL2_SCHOOL_ID`]; son of [`PARENT_ID`].
pub const PUPIL2_ID: &str = "le-minh-khoi";
/// His ministry student code.
pub const PUPIL2_CODE: &str = "4601706254";
/// Trường Tiểu học Lê Lợi.
pub const PUPIL2_SCHOOL_ID: &str = "th-le-loi";
/// His homeroom classes (3/1, then 4/1).
pub const PUPIL2_HOMEROOM_2026: &str = "leloi-2025-2026-3-1";
pub const PUPIL2_HOMEROOM_2027: &str = "leloi-2026-2027-4-1";
/// Nguyễn Hoàng Phúc, an upper-secondary pupil: 10 Tin in 2025-2026 and 11 Tin in 2026-2027
/// at [`PUPIL3_SCHOOL_ID`] (a few semester I results of 2026-2027, nothing older); son of
/// [`OTHER_PARENT_ID`].
pub const PUPIL3_ID: &str = "nguyen-hoang-phuc";
/// His ministry student code.
pub const PUPIL3_CODE: &str = "4601010983";
/// Trường THPT chuyên Quốc Học Huế (12 Lê Lợi, thuan-hoa).
pub const PUPIL3_SCHOOL_ID: &str = "thpt-chuyen-quoc-hoc";
/// His homeroom classes (10 Tin, then 11 Tin).
pub const PUPIL3_HOMEROOM_2026: &str = "qh-2025-2026-10-tin";
pub const PUPIL3_HOMEROOM_2027: &str = "qh-2026-2027-11-tin";
/// Phan Thị Thu Hằng, mother of [`PUPIL1_ID`] and [`PUPIL2_ID`] (their `agents`).
pub const PARENT_ID: &str = "phan-thi-thu-hang";
/// Her phone, in `phone` and `sms`.
pub const PARENT_PHONE: &str = "+84905111222";
/// Nguyễn Văn Tâm, father of [`PUPIL3_ID`].
pub const OTHER_PARENT_ID: &str = "nguyen-van-tam";
/// His phone.
pub const OTHER_PARENT_PHONE: &str = "+84905333444";

/// Hân's Toán, semester I of 2025-2026 (Circular 22: (Σ regular + 2 × midterm + 3 × final) /
/// (regular count + 5), one decimal, half up): five regular scores, one more than the
/// minimum, so (8.0 + 7.5 + 9.0 + 7.0 + 8.0 + 2 × 6.5 + 3 × 8.0) / 10 = 76.5 / 10 = 7.65,
/// which rounds up to 7.7. (In binary floating point 7.65 is 7.6499...: compute in tenths.)
pub const PUPIL1_2026_MATH_S1: &str = "7.7";
/// Semester II: (8.5 + 9.0 + 8.0 + 9.5 + 2 × 8.5 + 3 × 8.8) / 9 = 78.4 / 9 = 8.71 → 8.7. The
/// `tobedeleted` duplicate regular score (5.0) is not counted.
pub const PUPIL1_2026_MATH_S2: &str = "8.7";
/// The year: (S1 + 2 × S2) / 3 = (7.7 + 17.4) / 3 = 8.37 → 8.4.
pub const PUPIL1_2026_MATH_YEAR: &str = "8.4";
/// Her learning level, semester I: averages Toán 7.7, Ngữ văn 7.2, Tiếng Anh 8.3, GDCD 8.5,
/// LS&ĐL 7.0, KHTN 6.8, Công nghệ 8.0, Tin học 8.5 and every comment-only subject Đạt
/// (Hoạt động trải nghiệm with 4 of 6 assessments Đạt, the final among them): all at least
/// 6.5 but only four at least 8.0, so not Tốt; all at least 5.0 and six at least 6.5: Khá.
pub const PUPIL1_2026_S1_LEVEL: &str = "Khá";
/// Semester II: 8.7, 8.4, 8.6, 8.8, 8.0, 7.4, 8.3, 8.9, every comment-only subject Đạt: Tốt.
pub const PUPIL1_2026_S2_LEVEL: &str = "Tốt";
/// The year: averages Toán 8.4, Ngữ văn (7.2 + 16.8) / 3 = 8.0, Tiếng Anh 8.5, GDCD 8.7,
/// LS&ĐL 7.7, KHTN 7.2, Công nghệ 8.2, Tin học 8.8 (six at least 8.0, all at least 6.5) and
/// every comment-only subject Đạt in semester II: Tốt.
pub const PUPIL1_2026_YEAR_LEVEL: &str = "Tốt";
/// Her conduct (rèn luyện) in semesters I and II of 2025-2026.
pub const PUPIL1_2026_CONDUCT: [&str; 2] = ["Khá", "Tốt"];
/// Khôi's 2025-2026 (Circular 27): every subject T at the end of the year (Tiếng Anh was H in
/// semester I), every quality and competency T (giao tiếp và hợp tác was Đ in semester I),
/// end-of-year tests Tiếng Việt 9, Toán 10, Tiếng Anh 8, Tin học và Công nghệ 9: all at
/// least 7 but one below 9, so not Hoàn thành xuất sắc.
pub const PUPIL2_2026_YEAR_RESULT: &str = "Hoàn thành tốt";

const ROSTERING_PATH: &str = "/sandbox/oneroster/ims/oneroster/rostering/v1p2";
const GRADEBOOK_PATH: &str = "/sandbox/oneroster/ims/oneroster/gradebook/v1p2";
/// Huế's offset from UTC, all year.
const LOCAL_OFFSET_SECS: i32 = 7 * 3600;
const MAX_CREATED_RESULTS: usize = 10_000;
const DEFAULT_SLOW_MS: u64 = 10_000;
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;
const REALM: &str = "citizen-oneroster-sandbox";
const SCORE_STATUSES: [&str; 5] = [
    "exempt",
    "fully graded",
    "not submitted",
    "partially graded",
    "submitted",
];

fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// `at` as OneRoster dates records: RFC 3339 UTC with milliseconds.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

// --- Errors ---

/// A refusal, answered as an `imsx_StatusInfo`.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    code_minor: &'static str,
    description: String,
    headers: Vec<(HeaderName, String)>,
}

impl Failure {
    fn new(status: StatusCode, code_minor: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code_minor,
            description: description.into(),
            headers: Vec::new(),
        }
    }

    fn bad_request(code_minor: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code_minor, description)
    }

    fn invalid_data(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_data", description)
    }

    fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknownobject", description)
    }

    fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = json!({
            "imsx_codeMajor": "failure",
            "imsx_severity": "error",
            "imsx_description": self.description,
            "imsx_CodeMinor": {
                "imsx_codeMinorField": [{
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": self.code_minor,
                }],
            },
        });
        let mut response = (self.status, Json(body)).into_response();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

// --- Tokens ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    RosterCore,
    Roster,
    GradebookRead,
    GradebookWrite,
}

const SCOPES: [(Scope, &str); 4] = [
    (Scope::RosterCore, SCOPE_ROSTER_CORE_READONLY),
    (Scope::Roster, SCOPE_ROSTER_READONLY),
    (Scope::GradebookRead, SCOPE_GRADEBOOK_READONLY),
    (Scope::GradebookWrite, SCOPE_GRADEBOOK_CREATEPUT),
];

/// What rostering's non-personal reads take.
const ROSTER_CORE: &[Scope] = &[Scope::RosterCore, Scope::Roster];
/// What reads of people and enrollments take.
const ROSTER: &[Scope] = &[Scope::Roster];
const GRADEBOOK_READ: &[Scope] = &[Scope::GradebookRead];
const GRADEBOOK_WRITE: &[Scope] = &[Scope::GradebookWrite];

/// The scopes a bearer token carries.
struct Grant(Vec<Scope>);

impl Grant {
    fn require(&self, any_of: &[Scope]) -> Result<(), Failure> {
        if any_of.iter().any(|s| self.0.contains(s)) {
            return Ok(());
        }
        let wanted: Vec<&str> = SCOPES
            .iter()
            .filter(|(s, _)| any_of.contains(s))
            .map(|(_, uri)| *uri)
            .collect();
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("This call needs the scope {}", wanted.join(" or ")),
        )
        .header(
            header::WWW_AUTHENTICATE,
            format!(
                r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{}""#,
                wanted.join(" ")
            ),
        ))
    }
}

const OAUTH: oauth::Issuer = oauth::Issuer {
    realm: REALM,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
};

type Tokens = oauth::Tokens<Vec<Scope>>;

/// `POST /token`, granting the scopes asked (all four when none).
fn token(tokens: &Tokens, headers: &HeaderMap, body: &[u8]) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    OAUTH.token_granting(
        tokens,
        headers,
        form.get("grant_type").map(String::as_str),
        || {
            let asked: Vec<&str> = form
                .get("scope")
                .map(|s| s.split_whitespace().collect())
                .unwrap_or_default();
            let mut granted: Vec<Scope> = Vec::new();
            for uri in &asked {
                let Some((scope, _)) = SCOPES.iter().find(|(_, known)| known == uri) else {
                    return Err(oauth::Refusal::bad_request(
                        "invalid_scope",
                        format!("unknown scope {uri}"),
                    ));
                };
                if !granted.contains(scope) {
                    granted.push(*scope);
                }
            }
            if granted.is_empty() {
                granted = SCOPES.iter().map(|(s, _)| *s).collect();
            }
            let scope = SCOPES
                .iter()
                .filter(|(s, _)| granted.contains(s))
                .map(|(_, uri)| *uri)
                .collect::<Vec<_>>()
                .join(" ");
            Ok((granted, Some(scope)))
        },
    )
}

fn authorize(headers: &HeaderMap, tokens: &Tokens) -> Result<Grant, Failure> {
    OAUTH.bearer(tokens, headers).map(Grant).map_err(|refused| {
        let description = if refused.token_given {
            "The access token is unknown or has expired"
        } else {
            "Authorization: Bearer <access token> is required"
        };
        Failure::new(StatusCode::UNAUTHORIZED, "unauthorisedrequest", description)
            .header(header::WWW_AUTHENTICATE, refused.challenge)
    })
}

// --- The server ---

/// The results, the sandbox's and those written since.
struct Results {
    all: Vec<Value>,
    /// Position in `all` by sourcedId.
    index: HashMap<String, usize>,
    created: usize,
}

impl Results {
    fn new(all: Vec<Value>) -> Self {
        let index = all
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((r.get("sourcedId")?.as_str()?.to_owned(), i)))
            .collect();
        Self {
            all,
            index,
            created: 0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Down,
    Slow(u64),
    Garbage,
}

#[derive(Clone)]
struct Server {
    catalog: Arc<data::Catalog>,
    results: Arc<Mutex<Results>>,
    tokens: Arc<Tokens>,
    faults: Arc<Faults<Fault>>,
}

impl Server {
    fn results(&self) -> MutexGuard<'_, Results> {
        self.results.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router() -> Router {
    let mut catalog = data::catalog(Utc::now());
    let results = Results::new(std::mem::take(&mut catalog.results));
    let server = Server {
        catalog: Arc::new(catalog),
        results: Arc::new(Mutex::new(results)),
        tokens: Arc::default(),
        faults: Arc::default(),
    };
    Router::new()
        .route("/faults", post(set_fault))
        .route("/", any(handle))
        .route("/{*path}", any(handle))
        .with_state(server)
}

/// A request as the routes need it.
struct Request<'a> {
    /// `http://<host>`, for absolute links.
    origin: String,
    /// The full path as asked, for `Link` and errors.
    path: &'a str,
    pairs: Vec<(String, String)>,
}

async fn handle(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    OriginalUri(original): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A slow server does the work and answers late: a result written stays written.
    let mut late_by = None;
    if let Some((fault, retry_after)) = server.faults.take(method.as_str()) {
        match fault {
            Fault::Down => {
                let down = Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_busy",
                    "The school information system is down for maintenance; try again later",
                );
                return faults::retry_after(down.into_response(), retry_after);
            }
            Fault::Garbage => {
                // What a proxy cutting the connection midway leaves.
                let mut response =
                    (StatusCode::OK, r#"{"results":[{"sourcedId":"ntp-2025"#).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return response;
            }
            Fault::Slow(millis) => late_by = Some(Duration::from_millis(millis)),
        }
    }
    let segments: Vec<&str> = uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let response = match segments.as_slice() {
        ["token"] if method == Method::POST => token(&server.tokens, &headers, &body),
        ["token"] => (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response(),
        [
            "ims",
            "oneroster",
            service @ ("rostering" | "gradebook"),
            "v1p2",
            rest @ ..,
        ] => {
            let request = Request {
                origin: format!("http://{}", gateway::host(&headers)),
                // As the client asked it, whatever the prefix it is nested under.
                path: original.path(),
                pairs: form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect(),
            };
            authorize(&headers, &server.tokens)
                .and_then(|grant| {
                    if *service == "rostering" {
                        rostering(&server, &grant, &method, rest, &request)
                    } else {
                        gradebook(&server, &grant, &method, rest, &request, &body)
                    }
                })
                .unwrap_or_else(IntoResponse::into_response)
        }
        _ => Failure::not_found(format!("There is no {}", uri.path())).into_response(),
    };
    if let Some(delay) = late_by {
        tokio::time::sleep(delay).await;
    }
    response
}

/// What one kind of object is called and which fields it has (OneRoster 1.2's).
#[derive(Clone, Copy)]
struct Kind {
    plural: &'static str,
    singular: &'static str,
    fields: &'static [&'static str],
}

const ORG: Kind = Kind {
    plural: "orgs",
    singular: "org",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "name",
        "type",
        "identifier",
        "parent",
        "children",
    ],
};
const SESSION: Kind = Kind {
    plural: "academicSessions",
    singular: "academicSession",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "title",
        "startDate",
        "endDate",
        "type",
        "parent",
        "children",
        "schoolYear",
    ],
};
const COURSE: Kind = Kind {
    plural: "courses",
    singular: "course",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "title",
        "schoolYear",
        "courseCode",
        "grades",
        "subjects",
        "org",
        "subjectCodes",
        "resources",
    ],
};
const CLASS: Kind = Kind {
    plural: "classes",
    singular: "class",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "title",
        "classCode",
        "classType",
        "location",
        "grades",
        "subjects",
        "course",
        "school",
        "terms",
        "subjectCodes",
        "periods",
        "resources",
    ],
};
const USER: Kind = Kind {
    plural: "users",
    singular: "user",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "userMasterIdentifier",
        "username",
        "userIds",
        "enabledUser",
        "givenName",
        "familyName",
        "middleName",
        "preferredFirstName",
        "preferredMiddleName",
        "preferredLastName",
        "pronouns",
        "roles",
        "userProfiles",
        "identifier",
        "email",
        "sms",
        "phone",
        "agents",
        "grades",
        "password",
        "primaryOrg",
        "resources",
    ],
};
const ENROLLMENT: Kind = Kind {
    plural: "enrollments",
    singular: "enrollment",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "user",
        "class",
        "school",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
};
const CATEGORY: Kind = Kind {
    plural: "categories",
    singular: "category",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "title",
        "weight",
    ],
};
const LINE_ITEM: Kind = Kind {
    plural: "lineItems",
    singular: "lineItem",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "title",
        "description",
        "assignDate",
        "dueDate",
        "class",
        "school",
        "category",
        "gradingPeriod",
        "academicSession",
        "scoreScale",
        "resultValueMin",
        "resultValueMax",
        "learningObjectiveSet",
    ],
};
const RESULT: Kind = Kind {
    plural: "results",
    singular: "result",
    fields: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "metadata",
        "lineItem",
        "student",
        "class",
        "scoreScale",
        "scoreStatus",
        "score",
        "textScore",
        "scoreDate",
        "comment",
        "learningObjectiveSet",
        "inProgress",
        "incomplete",
        "late",
        "missing",
    ],
};

fn text<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The `sourcedId` of the reference in `field`.
fn reference<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get(field)
        .and_then(|r| r.get("sourcedId"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn is_school(org: &&Value) -> bool {
    text(org, "type") == "school"
}

fn is_semester(session: &&Value) -> bool {
    text(session, "type") == "semester"
}

fn has_role(user: &Value, role: &str) -> bool {
    user.get("roles")
        .and_then(Value::as_array)
        .is_some_and(|roles| roles.iter().any(|r| text(r, "role") == role))
}

/// `value` with every `href` made absolute.
fn with_origin(mut value: Value, origin: &str) -> Value {
    fn walk(value: &mut Value, origin: &str) {
        match value {
            Value::Object(object) => {
                for (key, value) in object.iter_mut() {
                    match value {
                        Value::String(href) if key == "href" && href.starts_with('/') => {
                            *href = format!("{origin}{href}");
                        }
                        _ => walk(value, origin),
                    }
                }
            }
            Value::Array(values) => values.iter_mut().for_each(|v| walk(v, origin)),
            _ => {}
        }
    }
    walk(&mut value, origin);
    value
}

/// A page of `items` as the query asks.
fn list<'a>(
    kind: Kind,
    items: impl Iterator<Item = &'a Value>,
    request: &Request,
) -> Result<Response, Failure> {
    let query = Query::parse(&request.pairs, kind.fields)?;
    let mut matched: Vec<&Value> = items.filter(|item| query.matches(item)).collect();
    query.sort(&mut matched);
    let total = matched.len();
    let page: Vec<Value> = matched
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|item| with_origin(query.select(item), &request.origin))
        .collect();
    let mut response = Json(json!({ kind.plural: page })).into_response();
    let headers = response.headers_mut();
    headers.insert(HeaderName::from_static("x-total-count"), total.into());
    let url = format!("{}{}", request.origin, request.path);
    if let Ok(link) = HeaderValue::from_str(&query.links(&url, total)) {
        headers.insert(header::LINK, link);
    }
    Ok(response)
}

/// The object `id` among `items`, as the query's `fields` ask.
fn one<'a>(
    kind: Kind,
    mut items: impl Iterator<Item = &'a Value>,
    id: &str,
    request: &Request,
) -> Result<Response, Failure> {
    let query = Query::selection(&request.pairs, kind.fields)?;
    let Some(item) = items.find(|item| text(item, "sourcedId") == id) else {
        return Err(Failure::not_found(format!(
            "There is no {} '{id}'",
            kind.singular
        )));
    };
    let item = with_origin(query.select(item), &request.origin);
    Ok(Json(json!({ kind.singular: item })).into_response())
}

fn no_such_path(request: &Request) -> Failure {
    Failure::not_found(format!("There is no {}", request.path))
}

fn method_not_allowed(method: &Method, request: &Request) -> Failure {
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_data",
        format!("{method} is not allowed on {}", request.path),
    )
}

fn rostering(
    server: &Server,
    grant: &Grant,
    method: &Method,
    rest: &[&str],
    request: &Request,
) -> Result<Response, Failure> {
    let catalog = &server.catalog;
    let orgs = || catalog.orgs.iter();
    let schools = || catalog.orgs.iter().filter(is_school);
    let sessions = || catalog.sessions.iter();
    let terms = || catalog.sessions.iter().filter(is_semester);
    let users = || catalog.users.iter();
    let students = || catalog.users.iter().filter(|u| has_role(u, "student"));
    let teachers = || catalog.users.iter().filter(|u| has_role(u, "teacher"));
    let known = matches!(
        rest,
        ["orgs" | "schools" | "academicSessions" | "terms" | "courses" | "classes"]
            | [
                "orgs" | "schools" | "academicSessions" | "terms" | "courses" | "classes",
                _
            ]
            | ["schools", _, "classes"]
            | ["users" | "students" | "teachers" | "enrollments"]
            | ["users" | "students" | "teachers" | "enrollments", _]
            | ["students", _, "classes"]
    );
    if !known {
        return Err(no_such_path(request));
    }
    if method != Method::GET {
        return Err(method_not_allowed(method, request));
    }
    let personal = matches!(
        rest.first(),
        Some(&"users" | &"students" | &"teachers" | &"enrollments")
    );
    grant.require(if personal { ROSTER } else { ROSTER_CORE })?;
    match rest {
        ["orgs"] => list(ORG, orgs(), request),
        ["orgs", id] => one(ORG, orgs(), id, request),
        ["schools"] => list(ORG, schools(), request),
        ["schools", id] => one(ORG, schools(), id, request),
        ["schools", id, "classes"] => {
            if !schools().any(|s| text(s, "sourcedId") == *id) {
                return Err(Failure::not_found(format!("There is no school '{id}'")));
            }
            let classes = catalog
                .classes
                .iter()
                .filter(|c| reference(c, "school") == *id);
            list(CLASS, classes, request)
        }
        ["academicSessions"] => list(SESSION, sessions(), request),
        ["academicSessions", id] => one(SESSION, sessions(), id, request),
        ["terms"] => list(SESSION, terms(), request),
        ["terms", id] => one(SESSION, terms(), id, request),
        ["courses"] => list(COURSE, catalog.courses.iter(), request),
        ["courses", id] => one(COURSE, catalog.courses.iter(), id, request),
        ["classes"] => list(CLASS, catalog.classes.iter(), request),
        ["classes", id] => one(CLASS, catalog.classes.iter(), id, request),
        ["users"] => list(USER, users(), request),
        ["users", id] => one(USER, users(), id, request),
        ["students"] => list(USER, students(), request),
        ["students", id] => one(USER, students(), id, request),
        ["students", id, "classes"] => {
            if !students().any(|s| text(s, "sourcedId") == *id) {
                return Err(Failure::not_found(format!("There is no student '{id}'")));
            }
            let enrolled: Vec<&str> = catalog
                .enrollments
                .iter()
                .filter(|e| reference(e, "user") == *id && text(e, "status") == "active")
                .map(|e| reference(e, "class"))
                .collect();
            let classes = catalog
                .classes
                .iter()
                .filter(|c| enrolled.contains(&text(c, "sourcedId")));
            list(CLASS, classes, request)
        }
        ["teachers"] => list(USER, teachers(), request),
        ["teachers", id] => one(USER, teachers(), id, request),
        ["enrollments"] => list(ENROLLMENT, catalog.enrollments.iter(), request),
        ["enrollments", id] => one(ENROLLMENT, catalog.enrollments.iter(), id, request),
        _ => Err(no_such_path(request)),
    }
}

fn gradebook(
    server: &Server,
    grant: &Grant,
    method: &Method,
    rest: &[&str],
    request: &Request,
    body: &[u8],
) -> Result<Response, Failure> {
    let catalog = &server.catalog;
    let known = matches!(
        rest,
        ["categories" | "lineItems" | "results"]
            | ["categories" | "lineItems" | "results", _]
            | ["classes", _, "lineItems"]
            | ["classes", _, "students", _, "results"]
    );
    if !known {
        return Err(no_such_path(request));
    }
    let writes = matches!(rest, ["results", _]) && method == Method::PUT;
    if method != Method::GET && !writes {
        return Err(method_not_allowed(method, request));
    }
    grant.require(if writes {
        GRADEBOOK_WRITE
    } else {
        GRADEBOOK_READ
    })?;
    let class_exists = |id: &str| catalog.classes.iter().any(|c| text(c, "sourcedId") == id);
    match rest {
        ["results", id] if writes => put_result(server, id, body, request),
        ["categories"] => list(CATEGORY, catalog.categories.iter(), request),
        ["categories", id] => one(CATEGORY, catalog.categories.iter(), id, request),
        ["lineItems"] => list(LINE_ITEM, catalog.line_items.iter(), request),
        ["lineItems", id] => one(LINE_ITEM, catalog.line_items.iter(), id, request),
        ["classes", class, "lineItems"] => {
            if !class_exists(class) {
                return Err(Failure::not_found(format!("There is no class '{class}'")));
            }
            let items = catalog
                .line_items
                .iter()
                .filter(|i| reference(i, "class") == *class);
            list(LINE_ITEM, items, request)
        }
        ["results"] => list(RESULT, server.results().all.iter(), request),
        ["results", id] => one(RESULT, server.results().all.iter(), id, request),
        ["classes", class, "students", student, "results"] => {
            if !class_exists(class) {
                return Err(Failure::not_found(format!("There is no class '{class}'")));
            }
            let is_student = catalog
                .users
                .iter()
                .any(|u| text(u, "sourcedId") == *student && has_role(u, "student"));
            if !is_student {
                return Err(Failure::not_found(format!(
                    "There is no student '{student}'"
                )));
            }
            let results = server.results();
            let theirs = results
                .all
                .iter()
                .filter(|r| reference(r, "class") == *class && reference(r, "student") == *student);
            list(RESULT, theirs, request)
        }
        _ => Err(no_such_path(request)),
    }
}

/// `PUT /results/{id}`: a teacher's system publishing a mark.
fn put_result(
    server: &Server,
    id: &str,
    body: &[u8],
    request: &Request,
) -> Result<Response, Failure> {
    let catalog = &server.catalog;
    let document: Value = serde_json::from_slice(body)
        .map_err(|e| Failure::invalid_data(format!("The body is not JSON: {e}")))?;
    let Some(given) = document.get("result").filter(|r| r.is_object()) else {
        return Err(Failure::invalid_data(
            r#"result: the body must be {"result": {...}}"#,
        ));
    };
    if let Some(object) = given.as_object()
        && let Some(unknown) = object.keys().find(|k| !RESULT.fields.contains(&k.as_str()))
    {
        return Err(Failure::invalid_data(format!(
            "result.{unknown}: not a field of a result"
        )));
    }
    if let Some(sourced_id) = given.get("sourcedId")
        && sourced_id.as_str() != Some(id)
    {
        return Err(Failure::invalid_data(format!(
            "result.sourcedId: must be '{id}', the id in the path"
        )));
    }
    let referenced = |field: &str| -> Result<&str, Failure> {
        given
            .get(field)
            .and_then(|r| r.get("sourcedId"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Failure::invalid_data(format!(
                    "result.{field}: a reference with a sourcedId is required"
                ))
            })
    };
    let line_item_id = referenced("lineItem")?;
    let Some(line_item) = catalog
        .line_items
        .iter()
        .find(|i| text(i, "sourcedId") == line_item_id && text(i, "status") == "active")
    else {
        return Err(Failure::invalid_data(format!(
            "result.lineItem: there is no active lineItem '{line_item_id}'"
        )));
    };
    let class_id = reference(line_item, "class");
    if given.get("class").is_some() && referenced("class")? != class_id {
        return Err(Failure::invalid_data(format!(
            "result.class: must be the lineItem's class, '{class_id}'"
        )));
    }
    let student_id = referenced("student")?;
    let enrolled = catalog.enrollments.iter().any(|e| {
        reference(e, "user") == student_id
            && reference(e, "class") == class_id
            && text(e, "role") == "student"
            && text(e, "status") == "active"
    });
    if !enrolled {
        return Err(Failure::invalid_data(format!(
            "result.student: '{student_id}' is not a student enrolled in class '{class_id}'"
        )));
    }
    let score_status = text(given, "scoreStatus");
    if !SCORE_STATUSES.contains(&score_status) {
        return Err(Failure::invalid_data(format!(
            "result.scoreStatus: must be one of {}",
            SCORE_STATUSES.join(", ")
        )));
    }
    let status = given
        .get("status")
        .map_or(Some("active"), Value::as_str)
        .filter(|s| ["active", "tobedeleted"].contains(s))
        .ok_or_else(|| Failure::invalid_data("result.status: must be active or tobedeleted"))?;
    let graded = matches!(score_status, "fully graded" | "partially graded");
    let metadata = line_item.get("metadata");
    let scale: Option<Vec<&str>> = metadata
        .and_then(|m| m.get("scale"))
        .and_then(Value::as_array)
        .map(|values| values.iter().filter_map(Value::as_str).collect());
    // `null` is no mark, as absent (a result not submitted yet).
    let score = given.get("score").filter(|v| !v.is_null());
    let text_score = given.get("textScore").filter(|v| !v.is_null());
    match &scale {
        Some(scale) => {
            if score.is_some() {
                return Err(Failure::invalid_data(format!(
                    "result.score: lineItem '{line_item_id}' is marked with a textScore"
                )));
            }
            match text_score {
                None if !graded => {}
                Some(Value::String(mark)) if scale.contains(&mark.as_str()) => {}
                _ => {
                    return Err(Failure::invalid_data(format!(
                        "result.textScore: must be one of {}",
                        scale.join(", ")
                    )));
                }
            }
        }
        None => {
            let min = line_item
                .get("resultValueMin")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
            let max = line_item
                .get("resultValueMax")
                .and_then(Value::as_f64)
                .unwrap_or(10.0);
            let whole = metadata
                .and_then(|m| m.get("wholeNumbers"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match score.map(Value::as_f64) {
                None if !graded => {}
                Some(Some(score)) if (min..=max).contains(&score) => {
                    if whole && score.fract() != 0.0 {
                        return Err(Failure::invalid_data(
                            "result.score: this lineItem takes whole numbers",
                        ));
                    }
                }
                _ => {
                    return Err(Failure::invalid_data(format!(
                        "result.score: a number from {min} to {max} is required"
                    )));
                }
            }
            if text_score.is_some_and(|t| !t.is_string()) {
                return Err(Failure::invalid_data("result.textScore: must be a string"));
            }
        }
    }
    let today = Utc::now().with_timezone(&local_offset()).date_naive();
    let score_date = match given.get("scoreDate") {
        None => today.to_string(),
        Some(Value::String(day)) if NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok() => {
            day.clone()
        }
        Some(_) => {
            return Err(Failure::invalid_data(
                "result.scoreDate: must be a date, YYYY-MM-DD",
            ));
        }
    };
    if given.get("comment").is_some_and(|c| !c.is_string()) {
        return Err(Failure::invalid_data("result.comment: must be a string"));
    }
    if given.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(Failure::invalid_data("result.metadata: must be an object"));
    }

    // The references are the server's own; the rest as given, but what the server sets.
    let mut stored = given.clone();
    stored["sourcedId"] = json!(id);
    stored["status"] = json!(status);
    stored["dateLastModified"] = json!(instant(Utc::now()));
    stored["lineItem"] = data::line_item_ref(line_item_id);
    stored["student"] = data::student_ref(student_id);
    stored["class"] = data::class_ref(class_id);
    stored["scoreDate"] = json!(score_date);

    let mut results = server.results();
    let created = match results.index.get(id).copied() {
        Some(at) => {
            if let Some(slot) = results.all.get_mut(at) {
                *slot = stored.clone();
            }
            false
        }
        None => {
            if results.created >= MAX_CREATED_RESULTS {
                return Err(Failure::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "server_busy",
                    format!("The sandbox keeps at most {MAX_CREATED_RESULTS} new results"),
                ));
            }
            results.created += 1;
            let at = results.all.len();
            results.all.push(stored.clone());
            results.index.insert(id.to_owned(), at);
            true
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let stored = with_origin(stored, &request.origin);
    Ok((status, Json(json!({ "result": stored }))).into_response())
}

// --- Faults ---

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
    /// Only requests of this method (`PUT`, a teacher publishing) get it; all when absent.
    method: Option<String>,
}

async fn set_fault(State(server): State<Server>, Json(request): Json<FaultRequest>) -> StatusCode {
    let fault = request.mode.map(|mode| match mode {
        Mode::Down => Fault::Down,
        Mode::Slow => Fault::Slow(request.delay_ms.unwrap_or(DEFAULT_SLOW_MS)),
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
    server.faults.set(key, fault, request.times, retry_after);
    StatusCode::NO_CONTENT
}
