//! The national high-school graduation exam's results: the department publishes each year's
//! results file (CSV, one row per candidate of its councils), which a job imports whole when
//! it changes; a resident looks a result up anonymously with the candidate number and birth
//! date, as the ministry's own lookup asks. Lookups are limited per client address, and a
//! candidate number whose birth date is missed too often is locked for a while, so the
//! results cannot be scraped nor a birth date guessed.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use http::{Request, StatusCode, header};
use http_body_util::Full;
use platform::ApiError;
use platform::extract::{ClientInfo, JsonBody};
use platform::jobs::{Jobs, lead};
use platform::outbound::{Limits, OutboundClient};
use platform::ratelimit::address_key;
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::rules::{self, ExamSubject, ForeignLanguage, Hundredths, Tenths};
use crate::{EducationError, EducationState};

/// The largest results file read: a council's candidates fit in a few megabytes.
const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;
/// Rows written per statement.
const BATCH: usize = 5_000;
/// The subjects' columns of the file, by our codes (the foreign language's is `ngoai_ngu`,
/// with the language in `ma_ngoai_ngu`).
const SUBJECT_COLUMNS: &[&str] = &[
    "toan",
    "ngu_van",
    "vat_li",
    "hoa_hoc",
    "sinh_hoc",
    "lich_su",
    "dia_li",
    "gd_ktpl",
    "tin_hoc",
    "cn_cong_nghiep",
    "cn_nong_nghiep",
    "ngoai_ngu",
];

pub fn start_refresh(state: EducationState, jobs: &Jobs) {
    if state.config.exam_results.is_empty() {
        return;
    }
    let every = Duration::from_secs(state.config.exam_refresh_secs.max(10));
    let client = match OutboundClient::new(
        "exam results file",
        state.plain_http,
        Limits {
            timeout: Duration::from_secs(120),
            max_answer_bytes: MAX_FILE_BYTES,
            ..Limits::default()
        },
    ) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "no client for the exam results files");
            return;
        }
    };
    jobs.repeat("education.exam_results", every, None, move || {
        let (state, client) = (state.clone(), client.clone());
        async move {
            for (year, url) in state.config.exam_results.iter() {
                let Ok(year) = year.parse::<i32>() else {
                    tracing::error!(year, "education.exam_results: a key that is not a year");
                    continue;
                };
                if let Err(error) = import(&state, &client, year, url).await {
                    let error = format!("{error:#}");
                    tracing::warn!(
                        year,
                        error,
                        "exam results not imported; the last import stays"
                    );
                    record_refusal(&state, url, &error).await;
                }
            }
            Ok(false)
        }
    });
}

/// Reads the year's file unless unchanged (`ETag`), and replaces the year's results with it,
/// all rows or none.
async fn import(
    state: &EducationState,
    client: &OutboundClient,
    year: i32,
    url: &str,
) -> anyhow::Result<()> {
    let etag = current_etag(&state.pool, url).await?;
    let mut request = Request::get(url).header(header::ACCEPT, "text/csv");
    if let Some(etag) = &etag {
        request = request.header(header::IF_NONE_MATCH, etag);
    }
    let answer = client
        .send(request.body(Full::new(bytes::Bytes::new()))?)
        .await?;
    if answer.status == StatusCode::NOT_MODIFIED {
        return Ok(());
    }
    anyhow::ensure!(
        answer.status.is_success(),
        "{url} answered {}",
        answer.status
    );
    let new_etag = answer
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let rows = parse(year, &answer.body)?;

    let mut tx = state.pool.begin().await?;
    if !lead(&mut tx, &format!("education.exam_results.{year}")).await? {
        return Ok(());
    }
    // Another replica may have imported this very file since we asked.
    if new_etag.is_some() && current_etag(&mut *tx, url).await? == new_etag {
        return Ok(());
    }
    sqlx::query!("DELETE FROM exam_results WHERE year = $1", year)
        .execute(&mut *tx)
        .await?;
    for batch in rows.chunks(BATCH) {
        let column = |f: fn(&Candidate) -> Option<i32>| batch.iter().map(f).collect::<Vec<_>>();
        sqlx::query!(
            r#"INSERT INTO exam_results (year, candidate_number, birth_date, full_name, scores,
                                        foreign_language, grade10_tenths, grade11_tenths,
                                        grade12_tenths, priority_hundredths)
               SELECT $1::int, * FROM UNNEST($2::text[], $3::date[], $4::text[], $5::jsonb[],
                                             $6::text[], $7::int4[], $8::int4[], $9::int4[],
                                             $10::int4[])"#,
            year,
            &batch.iter().map(|c| c.number.clone()).collect::<Vec<_>>(),
            &batch.iter().map(|c| c.birth_date).collect::<Vec<_>>(),
            &batch.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            &batch.iter().map(|c| c.scores.clone()).collect::<Vec<_>>(),
            &batch.iter().map(|c| c.language.clone()).collect::<Vec<_>>() as &[Option<String>],
            &column(|c| c.grades[0]) as &[Option<i32>],
            &column(|c| c.grades[1]) as &[Option<i32>],
            &column(|c| c.grades[2]) as &[Option<i32>],
            &batch.iter().map(|c| c.priority).collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query!(
        r#"INSERT INTO exam_imports (source, year, etag, candidates, imported_at)
           VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (source) DO UPDATE SET year = EXCLUDED.year, etag = EXCLUDED.etag,
                                              candidates = EXCLUDED.candidates, imported_at = now()"#,
        url,
        year,
        new_etag,
        rows.len() as i32
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(year, candidates = rows.len(), "exam results imported");
    Ok(())
}

/// The `ETag` of the file last imported from `url`.
async fn current_etag(db: impl sqlx::PgExecutor<'_>, url: &str) -> sqlx::Result<Option<String>> {
    Ok(
        sqlx::query_scalar!("SELECT etag FROM exam_imports WHERE source = $1", url)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}

/// Keeps why a file was not imported where operators look, beside the last import.
async fn record_refusal(state: &EducationState, url: &str, error: &str) {
    let refusal: String = error.chars().take(500).collect();
    let recorded = sqlx::query!(
        r#"INSERT INTO exam_imports (source, refused_at, refusal) VALUES ($1, now(), $2)
           ON CONFLICT (source) DO UPDATE SET refused_at = now(), refusal = EXCLUDED.refusal"#,
        url,
        refusal
    )
    .execute(&state.pool)
    .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, "the exam results file's refusal was not recorded");
    }
}

/// One row of a results file.
#[derive(Debug)]
struct Candidate {
    number: String,
    birth_date: NaiveDate,
    name: String,
    /// Subject code -> hundredths.
    scores: serde_json::Value,
    language: Option<String>,
    /// Grades 10, 11 and 12's averages, in tenths.
    grades: [Option<i32>; 3],
    priority: i32,
}

/// Parses a results file: a header row naming the columns (`sbd`, `ho_ten`, `ngay_sinh`
/// dd/mm/yyyy, a column per subject, `ma_ngoai_ngu`, `tb_lop_10`..`tb_lop_12`,
/// `diem_uu_tien`), then a row per candidate. One bad row refuses the whole file, naming it:
/// a half-published file must not replace a whole one.
fn parse(year: i32, body: &[u8]) -> anyhow::Result<Vec<Candidate>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(body);
    let headers = reader.headers()?.clone();
    let at = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(number_at), Some(name_at), Some(birth_at)) =
        (at("sbd"), at("ho_ten"), at("ngay_sinh"))
    else {
        anyhow::bail!("the file has no sbd, ho_ten or ngay_sinh column");
    };
    let subjects: Vec<(&str, usize)> = SUBJECT_COLUMNS
        .iter()
        .filter_map(|code| Some((*code, at(code)?)))
        .collect();
    let (language_at, priority_at) = (at("ma_ngoai_ngu"), at("diem_uu_tien"));
    let grade_at = [at("tb_lop_10"), at("tb_lop_11"), at("tb_lop_12")];

    let mut candidates = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record?;
        let row = line + 2;
        let field = |i: usize| record.get(i).unwrap_or("").trim();
        let number = field(number_at);
        anyhow::ensure!(
            rules::parse_candidate_number(number).is_some(),
            "row {row}: candidate number {number:?} is not 8 digits"
        );
        let birth_date = NaiveDate::parse_from_str(field(birth_at), "%d/%m/%Y").map_err(|_| {
            anyhow::anyhow!(
                "row {row}: birth date {:?} is not dd/mm/yyyy",
                field(birth_at)
            )
        })?;
        let mut scores = serde_json::Map::new();
        for (code, i) in &subjects {
            let text = field(*i);
            if text.is_empty() {
                continue;
            }
            let score = text
                .parse::<f64>()
                .ok()
                .and_then(Hundredths::from_f64)
                .ok_or_else(|| anyhow::anyhow!("row {row}: {code} {text:?} is not a score"))?;
            scores.insert((*code).to_owned(), score.0.into());
        }
        let language = language_at.map(field).filter(|l| !l.is_empty());
        if let Some(language) = language {
            anyhow::ensure!(
                ForeignLanguage::from_code(language).is_some(),
                "row {row}: foreign language {language:?} is not N1 to N7"
            );
        }
        let mut grades = [None; 3];
        for (slot, at) in grades.iter_mut().zip(grade_at) {
            let text = at.map(field).unwrap_or("");
            if !text.is_empty() {
                let tenths = text
                    .parse::<f64>()
                    .ok()
                    .and_then(Tenths::from_f64)
                    .ok_or_else(|| {
                        anyhow::anyhow!("row {row}: a grade average {text:?} is not a score")
                    })?;
                *slot = Some(i32::from(tenths.0));
            }
        }
        let priority = match priority_at.map(field).unwrap_or("") {
            "" => 0,
            text => i32::from(
                text.parse::<f64>()
                    .ok()
                    .and_then(Hundredths::from_f64)
                    .ok_or_else(|| anyhow::anyhow!("row {row}: priority points {text:?}"))?
                    .0,
            ),
        };
        candidates.push(Candidate {
            number: number.to_owned(),
            birth_date,
            name: field(name_at).to_owned(),
            scores: serde_json::Value::Object(scores),
            language: language.map(str::to_owned),
            grades,
            priority,
        });
    }
    tracing::debug!(
        year,
        candidates = candidates.len(),
        "exam results file parsed"
    );
    Ok(candidates)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedExams {
    /// The years whose results can be looked up, latest first.
    years: Vec<PublishedYear>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedYear {
    year: i32,
    candidates: i64,
}

/// Which years' exam results can be looked up.
#[utoipa::path(get, path = "/v1/education/exam-results", operation_id = "list_published_exam_results", tag = "education",
    responses((status = 200, body = PublishedExams)))]
pub async fn published(
    State(state): State<EducationState>,
) -> Result<Json<PublishedExams>, ApiError> {
    Ok(Json(PublishedExams {
        years: published_years(&state).await?,
    }))
}

/// The years imported, latest first, with their candidates.
async fn published_years(state: &EducationState) -> sqlx::Result<Vec<PublishedYear>> {
    sqlx::query_as!(
        PublishedYear,
        r#"SELECT year AS "year!", sum(candidates)::int8 AS "candidates!" FROM exam_imports
           WHERE imported_at IS NOT NULL AND year IS NOT NULL
           GROUP BY year ORDER BY year DESC"#
    )
    .fetch_all(&state.pool)
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExamLookup {
    /// Số báo danh: 8 digits.
    candidate_number: String,
    birth_date: NaiveDate,
    /// The exam's year; the latest published when absent.
    year: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamResult {
    year: i32,
    candidate_number: String,
    full_name: String,
    /// The exam council (33 is Huế).
    council: u8,
    subjects: Vec<ExamScore>,
    /// The usual admission combinations' totals, for those the candidate sat all three of.
    combinations: Vec<CombinationTotal>,
    /// Điểm xét tốt nghiệp, when the school averages are published with the results.
    graduation: Option<Graduation>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamScore {
    code: String,
    name: Text,
    score: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CombinationTotal {
    /// `A00`, `A01`, `B00`, `C00`, `D01`.
    code: String,
    total: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Graduation {
    /// (sum of the four exam scores / 4) × 50% + (grade 10 + 2 × grade 11 + 3 × grade 12) / 6
    /// × 50% + priority points, to two decimals.
    score: f64,
    graduates: bool,
    /// Why not, when not: below 5.00, or a subject at or below 1.00.
    reasons: Vec<Text>,
}

/// A national exam result, by candidate number and birth date (no account needed).
#[utoipa::path(post, path = "/v1/education/exam-results", operation_id = "look_up_exam_result", tag = "education",
    request_body = ExamLookup,
    responses((status = 200, body = ExamResult),
        (status = 404, description = "`exam_result_not_found`: no candidate with this number and birth date; `exam_year_not_published`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_candidate_number`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_exam_lookups`, `candidate_lookups_locked`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn lookup(
    State(state): State<EducationState>,
    client: ClientInfo,
    JsonBody(lookup): JsonBody<ExamLookup>,
) -> Result<Json<ExamResult>, ApiError> {
    let address = client.ip.map_or_else(|| "unknown".to_owned(), address_key);
    if let Err(wait) = state.limits.exam_lookups.check(&address).await {
        return Err(ApiError::from(EducationError::TooManyExamLookups).with_retry_after(wait));
    }
    let number = rules::parse_candidate_number(lookup.candidate_number.trim())
        .ok_or(EducationError::InvalidCandidateNumber)?;
    // A year not published yet is no guess at a birth date.
    if let Some(year) = lookup.year
        && !published_years(&state)
            .await?
            .iter()
            .any(|p| p.year == year)
    {
        return Err(EducationError::ExamYearNotPublished.into());
    }
    // Every lookup of the number counts, whoever asks, before it is answered: guesses of its
    // birth date sent at once from many addresses meet the same limit.
    if let Err(wait) = state.limits.candidate_lookups.check(number.as_str()).await {
        return Err(ApiError::from(EducationError::CandidateLocked).with_retry_after(wait));
    }
    let row = sqlx::query!(
        r#"SELECT year, full_name, birth_date, scores, foreign_language, grade10_tenths,
                  grade11_tenths, grade12_tenths, priority_hundredths
           FROM exam_results
           WHERE candidate_number = $1 AND ($2::int IS NULL OR year = $2)
           ORDER BY year DESC LIMIT 1"#,
        number.as_str(),
        lookup.year
    )
    .fetch_optional(&state.pool)
    .await?;
    let Some(row) = row.filter(|row| row.birth_date == lookup.birth_date) else {
        return Err(EducationError::ExamResultNotFound.into());
    };

    let language = row
        .foreign_language
        .as_deref()
        .and_then(ForeignLanguage::from_code);
    let scores: BTreeMap<String, u16> =
        serde_json::from_value(row.scores).map_err(ApiError::internal)?;
    let mut taken: Vec<(ExamSubject, Hundredths)> = Vec::new();
    for (code, hundredths) in &scores {
        let language = (code == "ngoai_ngu").then_some(language).flatten();
        if let Some(subject) = ExamSubject::from_code(code, language) {
            taken.push((subject, Hundredths(*hundredths)));
        }
    }
    // In the order of the ministry's results sheet.
    taken.sort_by_key(|(subject, _)| SUBJECT_COLUMNS.iter().position(|c| *c == subject.code()));
    let grade = |tenths: Option<i32>| {
        tenths
            .and_then(|t| u16::try_from(t).ok())
            .and_then(Tenths::new)
    };
    let graduation = match (
        grade(row.grade10_tenths),
        grade(row.grade11_tenths),
        grade(row.grade12_tenths),
    ) {
        (Some(g10), Some(g11), Some(g12)) => rules::graduation_score(
            &taken,
            g10,
            g11,
            g12,
            Hundredths(u16::try_from(row.priority_hundredths).unwrap_or(0)),
        )
        .map(|result| Graduation {
            score: result.score.as_f64(),
            graduates: result.graduates,
            reasons: result
                .reasons
                .iter()
                .map(|reason| match reason {
                    rules::NotGraduatedReason::ScoreBelowFive => Text::new(
                        "Điểm xét tốt nghiệp dưới 5,0",
                        "The graduation score is below 5.0",
                    ),
                    rules::NotGraduatedReason::EliminatingScore { subject, .. } => Text {
                        vi: format!("Môn {} có điểm liệt (từ 1,0 trở xuống)", subject.vi()),
                        en: format!("{} scored 1.0 or less, which eliminates", subject.en()),
                    },
                })
                .collect(),
        }),
        _ => None,
    };
    Ok(Json(ExamResult {
        year: row.year,
        candidate_number: number.as_str().to_owned(),
        full_name: row.full_name,
        council: number.council(),
        combinations: rules::combination_totals(&taken)
            .into_iter()
            .map(|(combination, total)| CombinationTotal {
                code: combination.code().to_owned(),
                total: f64::from(total) / 100.0,
            })
            .collect(),
        subjects: taken
            .iter()
            .map(|(subject, score)| ExamScore {
                code: subject.code().to_owned(),
                name: Text::new(subject.vi(), subject.en()),
                score: score.as_f64(),
            })
            .collect(),
        graduation,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "sbd,ho_ten,ngay_sinh,toan,ngu_van,ngoai_ngu,ma_ngoai_ngu,vat_li,hoa_hoc,sinh_hoc,lich_su,dia_li,gd_ktpl,tin_hoc,cn_cong_nghiep,cn_nong_nghiep,tb_lop_10,tb_lop_11,tb_lop_12,diem_uu_tien";

    #[test]
    fn a_results_file_is_read_by_its_header() {
        let file = format!(
            "{HEADER}\n33000123,Nguyễn Văn An,15/03/2008,8.25,7.5,9.0,N1,6.75,,,,,,,,,7.8,8.1,8.6,\n"
        );
        let rows = parse(2026, file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.number, "33000123");
        assert_eq!(
            row.birth_date,
            NaiveDate::from_ymd_opt(2008, 3, 15).unwrap()
        );
        assert_eq!(row.scores["toan"], 825);
        assert_eq!(row.scores["ngoai_ngu"], 900);
        assert!(
            row.scores.get("hoa_hoc").is_none(),
            "an empty cell is a subject not taken"
        );
        assert_eq!(row.language.as_deref(), Some("N1"));
        assert_eq!(row.grades, [Some(78), Some(81), Some(86)]);
    }

    #[test]
    fn one_bad_row_refuses_the_whole_file() {
        for bad in [
            "3300012,A,15/03/2008,8,,,,,,,,,,,,,,,,",
            "33000123,A,2008-03-15,8,,,,,,,,,,,,,,,,",
            "33000123,A,15/03/2008,11,,,,,,,,,,,,,,,,",
            "33000123,A,15/03/2008,8.333,,,,,,,,,,,,,,,,",
            "33000123,A,15/03/2008,8,,9,N9,,,,,,,,,,,,,",
        ] {
            let file = format!("{HEADER}\n33000001,B,01/01/2008,5,,,,,,,,,,,,,,,,\n{bad}\n");
            let error = parse(2026, file.as_bytes()).unwrap_err().to_string();
            assert!(error.starts_with("row 3"), "{bad}: {error}");
        }
    }
}
