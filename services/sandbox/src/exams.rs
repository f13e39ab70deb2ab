//! The department of education's published results of the national high-school graduation
//! exam, standing in for the file it publishes for Huế's council (33) each year:
//!
//! - `GET /sandbox/exams/{year}/results.csv` (2025 and 2026): `text/csv; charset=utf-8`, a
//!   header row then one row per candidate: `sbd` (8 digits), `ho_ten`, `ngay_sinh`
//!   (dd/mm/yyyy), one column per subject (`toan`, `ngu_van`, `ngoai_ngu`, `vat_li`,
//!   `hoa_hoc`, `sinh_hoc`, `lich_su`, `dia_li`, `gd_ktpl`, `tin_hoc`, `cn_cong_nghiep`,
//!   `cn_nong_nghiep`; empty when not taken; scores to two decimals), `ma_ngoai_ngu`
//!   (`N1`..`N7`), `tb_lop_10`, `tb_lop_11`, `tb_lop_12` (the school years' averages) and
//!   `diem_uu_tien` (priority points). An `ETag`, and `304` for a matching `If-None-Match`.
//!   Unknown years `404`.
//! - `POST /sandbox/exams/faults` as the other sandboxes (`down`, `slow`, `garbage`: a file
//!   cut off midway).
//! - `POST /sandbox/exams/{year}/corrections` `{"candidate_number", "subject", "score"}`: a
//!   re-marking (phúc khảo) changes a score, and with it the file and its `ETag`.
//!
//! Every candidate but the named ones below is generated from the candidate number, the same
//! on every start: about twelve thousand of them, as Huế has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::faults::{self, Faults};

/// Nguyễn Văn An, born 15/03/2008: Toán 8.25, Ngữ văn 7.50, English 9.00, Vật lí 6.75;
/// grade averages 7.8, 8.1, 8.6, so his graduation score is (31.5 / 4) × 0.5 + ((7.8 + 2 ×
/// 8.1 + 3 × 8.6) / 6) × 0.5 = 3.9375 + 4.15 = 8.0875, to two decimals 8.09; A01 (Toán, Vật
/// lí, English) 24.00, D01 (Ngữ văn, Toán, English) 24.75.
pub const CANDIDATE_NUMBER: &str = "33000123";
pub const CANDIDATE_BIRTH_DATE: &str = "2008-03-15";
pub const CANDIDATE_NAME: &str = "Nguyễn Văn An";
pub const GRADUATION_SCORE: f64 = 8.09;
/// Trần Thị Bích, born 02/11/2008: Lịch sử 1.00, an eliminating score, so she does not
/// graduate whatever her other scores.
pub const ELIMINATED_CANDIDATE_NUMBER: &str = "33000456";
pub const ELIMINATED_BIRTH_DATE: &str = "2008-11-02";
/// Candidates generated per year (numbers 33000001 up).
pub const GENERATED_CANDIDATES: u32 = 12_000;

const YEARS: &[i32] = &[2025, 2026];
const HEADER: &str = "sbd,ho_ten,ngay_sinh,toan,ngu_van,ngoai_ngu,ma_ngoai_ngu,vat_li,hoa_hoc,sinh_hoc,lich_su,dia_li,gd_ktpl,tin_hoc,cn_cong_nghiep,cn_nong_nghiep,tb_lop_10,tb_lop_11,tb_lop_12,diem_uu_tien";
/// The columns of the electives, after `ma_ngoai_ngu`.
const ELECTIVES: &[&str] = &[
    "vat_li",
    "hoa_hoc",
    "sinh_hoc",
    "lich_su",
    "dia_li",
    "gd_ktpl",
    "tin_hoc",
    "cn_cong_nghiep",
    "cn_nong_nghiep",
];

#[derive(Clone, Copy)]
enum Fault {
    Down,
    Slow(Duration),
    Garbage,
}

#[derive(Default)]
struct Exams {
    faults: Faults<Fault>,
    /// Re-marked scores, by (year, candidate, subject), in hundredths.
    corrections: Mutex<HashMap<(i32, String, String), u32>>,
}

pub fn router() -> Router {
    Router::new()
        .route("/{year}/results.csv", get(results))
        .route("/{year}/corrections", post(correct))
        .route("/faults", post(set_faults))
        .with_state(Arc::new(Exams::default()))
}

async fn results(
    State(exams): State<Arc<Exams>>,
    Path(year): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some((fault, retry_after)) = exams.faults.take("*") {
        match fault {
            Fault::Down => {
                return faults::retry_after(
                    (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response(),
                    Some(retry_after.unwrap_or(30)),
                );
            }
            Fault::Slow(delay) => tokio::time::sleep(delay).await,
            Fault::Garbage => {
                let file = file(YEARS[1], &exams);
                let cut = &file[..file.len() / 2];
                return (
                    [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                    cut.to_owned(),
                )
                    .into_response();
            }
        }
    }
    let Some(year) = year.parse::<i32>().ok().filter(|y| YEARS.contains(y)) else {
        return (StatusCode::NOT_FOUND, "no such results file").into_response();
    };
    let file = file(year, &exams);
    let etag = format!("\"{}\"", hex(&Sha256::digest(file.as_bytes())[..12]));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    if matches {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (header::ETAG, etag),
        ],
        file,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Correction {
    candidate_number: String,
    subject: String,
    score: f64,
}

async fn correct(
    State(exams): State<Arc<Exams>>,
    Path(year): Path<i32>,
    Json(correction): Json<Correction>,
) -> StatusCode {
    let subject_known = correction.subject == "toan"
        || correction.subject == "ngu_van"
        || correction.subject == "ngoai_ngu"
        || ELECTIVES.contains(&correction.subject.as_str());
    if !YEARS.contains(&year) || !subject_known || !(0.0..=10.0).contains(&correction.score) {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    let hundredths = (correction.score * 100.0).round() as u32;
    exams
        .corrections
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            (year, correction.candidate_number, correction.subject),
            hundredths,
        );
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct FaultRequest {
    mode: Option<String>,
    times: Option<u32>,
    delay_ms: Option<u64>,
    retry_after_secs: Option<u64>,
}

async fn set_faults(
    State(exams): State<Arc<Exams>>,
    Json(request): Json<FaultRequest>,
) -> StatusCode {
    let fault = match request.mode.as_deref() {
        None => None,
        Some("down") => Some(Fault::Down),
        Some("slow") => Some(Fault::Slow(Duration::from_millis(
            request.delay_ms.unwrap_or(10_000),
        ))),
        Some("garbage") => Some(Fault::Garbage),
        Some(_) => return StatusCode::UNPROCESSABLE_ENTITY,
    };
    exams.faults.set(
        "*".to_owned(),
        fault,
        request.times,
        request.retry_after_secs,
    );
    StatusCode::NO_CONTENT
}

/// One candidate's row.
struct Row {
    number: String,
    name: String,
    birth: String,
    /// (column, hundredths).
    scores: Vec<(&'static str, u32)>,
    language: Option<&'static str>,
    /// Tenths.
    grades: [u32; 3],
    priority: u32,
}

fn file(year: i32, exams: &Exams) -> String {
    let corrections = exams.corrections.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::with_capacity(GENERATED_CANDIDATES as usize * 110);
    out.push_str(HEADER);
    out.push('\n');
    for serial in 1..=GENERATED_CANDIDATES {
        let mut row = candidate(year, serial);
        for (column, score) in row.scores.iter_mut() {
            if let Some(fixed) = corrections.get(&(year, row.number.clone(), (*column).to_owned()))
            {
                *score = *fixed;
            }
        }
        write_row(&mut out, &row);
    }
    out
}

fn write_row(out: &mut String, row: &Row) {
    let score = |column: &str| {
        row.scores
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, s)| format!("{}.{:02}", s / 100, s % 100))
            .unwrap_or_default()
    };
    let mut cells = vec![
        row.number.clone(),
        row.name.clone(),
        row.birth.clone(),
        score("toan"),
        score("ngu_van"),
        score("ngoai_ngu"),
        row.language.unwrap_or("").to_owned(),
    ];
    cells.extend(ELECTIVES.iter().map(|c| score(c)));
    cells.extend(row.grades.iter().map(|g| format!("{}.{}", g / 10, g % 10)));
    cells.push(if row.priority == 0 {
        String::new()
    } else {
        format!("{}.{:02}", row.priority / 100, row.priority % 100)
    });
    out.push_str(&cells.join(","));
    out.push('\n');
}

/// The candidate with this serial number: a named one, or one generated from the number.
fn candidate(year: i32, serial: u32) -> Row {
    let number = format!("33{serial:06}");
    match number.as_str() {
        CANDIDATE_NUMBER => Row {
            number,
            name: CANDIDATE_NAME.to_owned(),
            birth: "15/03/2008".to_owned(),
            scores: vec![
                ("toan", 825),
                ("ngu_van", 750),
                ("ngoai_ngu", 900),
                ("vat_li", 675),
            ],
            language: Some("N1"),
            grades: [78, 81, 86],
            priority: 0,
        },
        ELIMINATED_CANDIDATE_NUMBER => Row {
            number,
            name: "Trần Thị Bích".to_owned(),
            birth: "02/11/2008".to_owned(),
            scores: vec![
                ("toan", 900),
                ("ngu_van", 850),
                ("lich_su", 100),
                ("dia_li", 875),
            ],
            language: None,
            grades: [85, 88, 90],
            priority: 50,
        },
        _ => generated(year, serial, number),
    }
}

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
];
const MIDDLE: &[&str] = &[
    "Văn", "Thị", "Minh", "Hữu", "Ngọc", "Quang", "Thanh", "Đức", "Bảo", "Khánh",
];
const GIVEN: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Huy", "Khoa", "Linh", "My", "Nam", "Phúc",
    "Quân", "Tâm", "Thảo", "Vy",
];

fn generated(year: i32, serial: u32, number: String) -> Row {
    // A small linear congruential sequence seeded by the year and number: the same file on
    // every start, and different years differ.
    let mut seed = (u64::from(serial) << 16) ^ (year as u64).wrapping_mul(0x9E37_79B9);
    let mut next = move |below: u32| -> u32 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % u64::from(below)) as u32
    };
    let name = format!(
        "{} {} {}",
        FAMILY[next(FAMILY.len() as u32) as usize],
        MIDDLE[next(MIDDLE.len() as u32) as usize],
        GIVEN[next(GIVEN.len() as u32) as usize]
    );
    let birth_year = year - 18;
    let birth = format!("{:02}/{:02}/{birth_year}", 1 + next(28), 1 + next(12));
    // Scores in steps of 0.25, mostly between 4 and 9.5.
    let mut score = || 400 + next(23) * 25;
    let mut scores = vec![("toan", score()), ("ngu_van", score())];
    let language = if next(10) < 7 { Some("N1") } else { None };
    let first = next(ELECTIVES.len() as u32) as usize;
    if language.is_some() {
        scores.push(("ngoai_ngu", 400 + next(23) * 25));
        scores.push((ELECTIVES[first], 400 + next(23) * 25));
    } else {
        let second = (first + 1 + next(ELECTIVES.len() as u32 - 1) as usize) % ELECTIVES.len();
        scores.push((ELECTIVES[first], 400 + next(23) * 25));
        scores.push((ELECTIVES[second], 400 + next(23) * 25));
    }
    let grades = [60 + next(35), 60 + next(35), 60 + next(35)];
    Row {
        number,
        name,
        birth,
        scores,
        language,
        grades,
        priority: if next(10) == 0 { 50 } else { 0 },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_candidates_are_in_the_file_and_it_is_the_same_every_time() {
        let exams = Exams::default();
        let file = file(2026, &exams);
        assert!(file.contains("33000123,Nguyễn Văn An,15/03/2008,8.25,7.50,9.00,N1,6.75,"));
        assert!(file.contains("33000456,Trần Thị Bích,02/11/2008,9.00,8.50,,,,,,1.00,8.75,"));
        assert_eq!(file.lines().count(), GENERATED_CANDIDATES as usize + 1);
        assert_eq!(file, super::file(2026, &exams));
        assert_ne!(file, super::file(2025, &exams));
    }
}
