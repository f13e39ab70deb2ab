//! Grading rules of Vietnamese schools and of the national high-school
//! graduation exam, as pure functions.
//!
//! - Circular 22/2021/TT-BGDĐT: lower and upper secondary (grades 6–12).
//! - Circular 27/2020/TT-BGDĐT: primary (grades 1–5).
//! - National high-school graduation exam (thi tốt nghiệp THPT, from 2025).
//!
//! Scores are integers of tenths (school scores) or hundredths (exam scores).
//! The rules round "half up" at a decimal boundary, and binary floating point
//! cannot even represent 6.65, so every computation is done on integers and
//! `f64` appears only at the edges (`from_f64` / `as_f64`).
//!
//! Vietnamese terms are kept as variant names (`Tot`, `Kha`, ...) because the
//! official English renderings shift meaning (Khá is "Good", Tốt is "Very
//! good") and would be easy to mix up in code.

/// How far a float may sit from the nearest allowed decimal and still be
/// accepted; absorbs representation noise such as `8.1 * 10 = 81.000...01`.
const DECIMAL_TOLERANCE: f64 = 1e-6;

/// Converts `value` into an integer count of `1/scale` units, accepting it only
/// when it lies in `0..=max_scaled/scale` and has no finer decimals.
fn scaled_from_f64(value: f64, scale: u16, max_scaled: u16) -> Option<u16> {
    // NaN fails both comparisons, so test it explicitly.
    if value.is_nan() || value < 0.0 || value > f64::from(max_scaled) / f64::from(scale) {
        return None;
    }
    let scaled = (value * f64::from(scale)).round();
    if (value - scaled / f64::from(scale)).abs() > DECIMAL_TOLERANCE {
        return None;
    }
    // In range by the checks above, so the cast cannot truncate.
    Some(scaled as u16)
}

/// `numerator / denominator` rounded to the nearest integer, ties upwards.
/// Only non-negative values occur in these rules, so "half up" and "half away
/// from zero" coincide.
fn div_round_half_up(numerator: u64, denominator: u64) -> u64 {
    (2 * numerator + denominator) / (2 * denominator)
}

// ---------------------------------------------------------------------------
// 1. Circular 22/2021/TT-BGDĐT (grades 6–12)
// ---------------------------------------------------------------------------

/// A school score 0.0–10.0 held as tenths (0–100). Values built with
/// [`Tenths::new`] or [`Tenths::from_f64`] are always in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tenths(pub u16);

impl Tenths {
    /// A score from a count of tenths; `None` above 100 (10.0).
    pub fn new(tenths: u16) -> Option<Tenths> {
        (tenths <= 100).then_some(Tenths(tenths))
    }

    /// A score from a decimal such as `7.5`; `None` for NaN, values outside
    /// 0–10 and values with more than one decimal.
    pub fn from_f64(score: f64) -> Option<Tenths> {
        scaled_from_f64(score, 10, 100).map(Tenths)
    }

    /// The score as a decimal, for display and JSON only.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 10.0
    }
}

/// Minimum number of regular assessments (ĐĐGtx) per semester, which grows
/// with the subject's number of periods per school year.
pub fn required_regular_assessments(periods_per_year: u16) -> u8 {
    match periods_per_year {
        0..=35 => 2,
        36..=70 => 3,
        _ => 4,
    }
}

/// A subject's result for one semester: either computed, or a list of what is
/// still missing so the app can tell the teacher what to enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemesterResult<T> {
    /// Every required assessment is present.
    Complete(T),
    /// Some required assessments are absent.
    Incomplete {
        /// How many more regular assessments are needed.
        regular_missing: u8,
        /// The midterm periodic assessment (ĐĐGgk) is absent.
        midterm_missing: bool,
        /// The final periodic assessment (ĐĐGck) is absent.
        final_missing: bool,
    },
}

impl<T: Copy> SemesterResult<T> {
    /// The result when complete; feeds [`year_average`] and [`learning_level`].
    pub fn result(&self) -> Option<T> {
        match self {
            SemesterResult::Complete(value) => Some(*value),
            SemesterResult::Incomplete { .. } => None,
        }
    }
}

/// Semester average (ĐTBmhk) of a scored subject.
pub type SemesterAverage = SemesterResult<Tenths>;

/// Semester result of a comment-only subject.
pub type CommentSemester = SemesterResult<CommentGrade>;

/// Whether enough regular assessments were given for the subject's periods.
fn has_enough_regular(periods_per_year: u16, regular_count: usize) -> bool {
    regular_count >= usize::from(required_regular_assessments(periods_per_year))
}

/// What is still missing; shared by scored and comment-only subjects.
fn incomplete<T>(
    periods_per_year: u16,
    regular_count: usize,
    midterm_present: bool,
    final_present: bool,
) -> SemesterResult<T> {
    let required = usize::from(required_regular_assessments(periods_per_year));
    SemesterResult::Incomplete {
        // At most 4, so it fits in a u8.
        regular_missing: required.saturating_sub(regular_count) as u8,
        midterm_missing: !midterm_present,
        final_missing: !final_present,
    }
}

/// Semester average of a scored subject:
/// ĐTBmhk = (ΣĐĐGtx + 2·ĐĐGgk + 3·ĐĐGck) / (number of ĐĐGtx + 5), rounded
/// half up to one decimal. Regular scores beyond the minimum all count.
pub fn semester_average(
    periods_per_year: u16,
    regular: &[Tenths],
    midterm: Option<Tenths>,
    final_exam: Option<Tenths>,
) -> SemesterAverage {
    let (Some(midterm), Some(final_exam)) = (midterm, final_exam) else {
        return incomplete(
            periods_per_year,
            regular.len(),
            midterm.is_some(),
            final_exam.is_some(),
        );
    };
    if !has_enough_regular(periods_per_year, regular.len()) {
        return incomplete(periods_per_year, regular.len(), true, true);
    }
    let regular_sum: u64 = regular.iter().map(|s| u64::from(s.0)).sum();
    let weighted_sum = regular_sum + 2 * u64::from(midterm.0) + 3 * u64::from(final_exam.0);
    let weight = regular.len() as u64 + 5;
    // A weighted mean never exceeds its largest input, which is a u16.
    SemesterResult::Complete(Tenths(div_round_half_up(weighted_sum, weight) as u16))
}

/// Year average ĐTBmcn = (ĐTBmhk I + 2·ĐTBmhk II) / 3, rounded half up to one
/// decimal; `None` unless both semester averages exist.
pub fn year_average(
    first_semester: Option<Tenths>,
    second_semester: Option<Tenths>,
) -> Option<Tenths> {
    let (first, second) = (first_semester?, second_semester?);
    let weighted_sum = u64::from(first.0) + 2 * u64::from(second.0);
    Some(Tenths(div_round_half_up(weighted_sum, 3) as u16))
}

/// Đạt / Chưa đạt: a single assessment, a semester or a year of a
/// comment-only subject (physical education, arts, experiential and
/// career-guidance activities, local education content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommentGrade {
    /// Đạt.
    Dat,
    /// Chưa đạt.
    ChuaDat,
}

impl CommentGrade {
    /// Vietnamese label.
    pub fn vi(self) -> &'static str {
        match self {
            CommentGrade::Dat => "Đạt",
            CommentGrade::ChuaDat => "Chưa đạt",
        }
    }

    /// Official English label.
    pub fn en(self) -> &'static str {
        match self {
            CommentGrade::Dat => "Pass",
            CommentGrade::ChuaDat => "Not yet passed",
        }
    }

    /// Parses the marks gradebooks use: "Đ" / "CĐ" (also "D" / "CD") or the
    /// full words, case-insensitively. Expects precomposed (NFC) Vietnamese.
    pub fn parse(text: &str) -> Option<CommentGrade> {
        match text.trim().to_lowercase().as_str() {
            "đ" | "d" | "đạt" => Some(CommentGrade::Dat),
            "cđ" | "cd" | "chưa đạt" => Some(CommentGrade::ChuaDat),
            _ => None,
        }
    }
}

/// Semester result of a comment-only subject. Đạt needs the required number of
/// assessments, at least 2/3 of all of them (regular, midterm and final) Đạt,
/// and the final periodic assessment Đạt, because the final one is meant to
/// confirm what the pupil has reached by the end of the semester.
pub fn comment_semester(
    periods_per_year: u16,
    regular: &[CommentGrade],
    midterm: Option<CommentGrade>,
    final_assessment: Option<CommentGrade>,
) -> CommentSemester {
    let (Some(midterm), Some(final_assessment)) = (midterm, final_assessment) else {
        return incomplete(
            periods_per_year,
            regular.len(),
            midterm.is_some(),
            final_assessment.is_some(),
        );
    };
    if !has_enough_regular(periods_per_year, regular.len()) {
        return incomplete(periods_per_year, regular.len(), true, true);
    }
    let all = regular.iter().copied().chain([midterm, final_assessment]);
    let total = regular.len() + 2;
    let passed = all.filter(|g| *g == CommentGrade::Dat).count();
    // passed / total >= 2/3, compared without division.
    let grade = if final_assessment == CommentGrade::Dat && 3 * passed >= 2 * total {
        CommentGrade::Dat
    } else {
        CommentGrade::ChuaDat
    };
    SemesterResult::Complete(grade)
}

/// Year result of a comment-only subject: it is the semester II result, since
/// semester II shows where the pupil ended up; semester I does not matter.
pub fn comment_year(second_semester: Option<CommentGrade>) -> Option<CommentGrade> {
    second_semester
}

/// Learning result (kết quả học tập) of a semester or of the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LearningLevel {
    /// Tốt.
    Tot,
    /// Khá.
    Kha,
    /// Đạt.
    Dat,
    /// Chưa đạt.
    ChuaDat,
}

impl LearningLevel {
    /// Vietnamese label.
    pub fn vi(self) -> &'static str {
        match self {
            LearningLevel::Tot => "Tốt",
            LearningLevel::Kha => "Khá",
            LearningLevel::Dat => "Đạt",
            LearningLevel::ChuaDat => "Chưa đạt",
        }
    }

    /// Official English label.
    pub fn en(self) -> &'static str {
        match self {
            LearningLevel::Tot => "Very good",
            LearningLevel::Kha => "Good",
            LearningLevel::Dat => "Satisfactory",
            LearningLevel::ChuaDat => "Not yet satisfactory",
        }
    }
}

/// How many scored subjects must clear the "upper" threshold of each level.
const SUBJECTS_AT_UPPER_THRESHOLD: usize = 6;
/// Tốt: every scored subject at least 6.5, six at least 8.0 (in tenths).
const TOT_FLOOR: u16 = 65;
const TOT_UPPER: u16 = 80;
/// Khá: every scored subject at least 5.0, six at least 6.5.
const KHA_FLOOR: u16 = 50;
const KHA_UPPER: u16 = 65;
/// Đạt: no scored subject below 3.5, six at least 5.0.
const DAT_FLOOR: u16 = 35;
const DAT_UPPER: u16 = 50;

/// Learning level of a period from every subject's result of that period:
/// scored subjects' averages (ĐTBmhk or ĐTBmcn) and comment-only subjects'
/// grades. `None` marks an incomplete subject; any incomplete subject, or no
/// subject at all, leaves the level uncomputed (`None`).
pub fn learning_level(
    scored: &[Option<Tenths>],
    commented: &[Option<CommentGrade>],
) -> Option<LearningLevel> {
    if scored.is_empty() && commented.is_empty() {
        return None;
    }
    let scored: Vec<Tenths> = scored.iter().copied().collect::<Option<_>>()?;
    let commented: Vec<CommentGrade> = commented.iter().copied().collect::<Option<_>>()?;

    let comments_not_passed = commented
        .iter()
        .filter(|g| **g == CommentGrade::ChuaDat)
        .count();
    let all_at_least = |floor: u16| scored.iter().all(|s| s.0 >= floor);
    let enough_at_least =
        |upper: u16| scored.iter().filter(|s| s.0 >= upper).count() >= SUBJECTS_AT_UPPER_THRESHOLD;

    let level = if comments_not_passed == 0 && all_at_least(TOT_FLOOR) && enough_at_least(TOT_UPPER)
    {
        LearningLevel::Tot
    } else if comments_not_passed == 0 && all_at_least(KHA_FLOOR) && enough_at_least(KHA_UPPER) {
        LearningLevel::Kha
    } else if comments_not_passed <= 1 && all_at_least(DAT_FLOOR) && enough_at_least(DAT_UPPER) {
        LearningLevel::Dat
    } else {
        LearningLevel::ChuaDat
    };
    Some(level)
}

// ---------------------------------------------------------------------------
// 2. Circular 27/2020/TT-BGDĐT (grades 1–5)
// ---------------------------------------------------------------------------

/// A primary subject's level at a periodic point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrimarySubjectLevel {
    /// Hoàn thành tốt (T).
    HoanThanhTot,
    /// Hoàn thành (H).
    HoanThanh,
    /// Chưa hoàn thành (C).
    ChuaHoanThanh,
}

impl PrimarySubjectLevel {
    /// The one-letter mark used in gradebooks.
    pub fn letter(self) -> &'static str {
        match self {
            PrimarySubjectLevel::HoanThanhTot => "T",
            PrimarySubjectLevel::HoanThanh => "H",
            PrimarySubjectLevel::ChuaHoanThanh => "C",
        }
    }

    /// Vietnamese label.
    pub fn vi(self) -> &'static str {
        match self {
            PrimarySubjectLevel::HoanThanhTot => "Hoàn thành tốt",
            PrimarySubjectLevel::HoanThanh => "Hoàn thành",
            PrimarySubjectLevel::ChuaHoanThanh => "Chưa hoàn thành",
        }
    }

    /// Official English label.
    pub fn en(self) -> &'static str {
        match self {
            PrimarySubjectLevel::HoanThanhTot => "Completed well",
            PrimarySubjectLevel::HoanThanh => "Completed",
            PrimarySubjectLevel::ChuaHoanThanh => "Not yet completed",
        }
    }

    /// Parses "T" / "H" / "C" or the full Vietnamese words, case-insensitively.
    /// Expects precomposed (NFC) Vietnamese.
    pub fn parse(text: &str) -> Option<PrimarySubjectLevel> {
        match text.trim().to_lowercase().as_str() {
            "t" | "hoàn thành tốt" => Some(PrimarySubjectLevel::HoanThanhTot),
            "h" | "hoàn thành" => Some(PrimarySubjectLevel::HoanThanh),
            "c" | "chưa hoàn thành" => Some(PrimarySubjectLevel::ChuaHoanThanh),
            _ => None,
        }
    }
}

/// Level of a quality (phẩm chất) or a competency (năng lực).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QualityLevel {
    /// Tốt (T).
    Tot,
    /// Đạt (Đ).
    Dat,
    /// Cần cố gắng (C).
    CanCoGang,
}

impl QualityLevel {
    /// The one-letter mark used in gradebooks.
    pub fn letter(self) -> &'static str {
        match self {
            QualityLevel::Tot => "T",
            QualityLevel::Dat => "Đ",
            QualityLevel::CanCoGang => "C",
        }
    }

    /// Vietnamese label.
    pub fn vi(self) -> &'static str {
        match self {
            QualityLevel::Tot => "Tốt",
            QualityLevel::Dat => "Đạt",
            QualityLevel::CanCoGang => "Cần cố gắng",
        }
    }

    /// Official English label.
    pub fn en(self) -> &'static str {
        match self {
            QualityLevel::Tot => "Good",
            QualityLevel::Dat => "Satisfactory",
            QualityLevel::CanCoGang => "Needs more effort",
        }
    }

    /// Parses "T" / "Đ" / "C" (and "D", which keyboards without Vietnamese
    /// input produce for "Đ") or the full words, case-insensitively.
    pub fn parse(text: &str) -> Option<QualityLevel> {
        match text.trim().to_lowercase().as_str() {
            "t" | "tốt" => Some(QualityLevel::Tot),
            "đ" | "d" | "đạt" => Some(QualityLevel::Dat),
            "c" | "cần cố gắng" => Some(QualityLevel::CanCoGang),
            _ => None,
        }
    }
}

/// A primary periodic test score: a whole number 1–10 (tests are never given
/// 0 or decimals, so such a value signals an input error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrimaryTestScore(u8);

impl PrimaryTestScore {
    /// `None` outside 1–10.
    pub fn new(score: u8) -> Option<PrimaryTestScore> {
        (1..=10).contains(&score).then_some(PrimaryTestScore(score))
    }

    /// `None` for NaN, decimals, or values outside 1–10.
    pub fn from_f64(score: f64) -> Option<PrimaryTestScore> {
        let whole = scaled_from_f64(score, 1, 10)?;
        PrimaryTestScore::new(whole as u8)
    }

    /// The score, 1–10.
    pub fn value(self) -> u8 {
        self.0
    }
}

/// One subject's end-of-year assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PrimarySubjectResult {
    /// End-of-year level.
    pub level: PrimarySubjectLevel,
    /// End-of-year periodic test score, for subjects that have a test.
    pub end_of_year_test: Option<PrimaryTestScore>,
}

/// End-of-year overall result of a primary pupil (Điều 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrimaryYearResult {
    /// Hoàn thành xuất sắc.
    HoanThanhXuatSac,
    /// Hoàn thành tốt.
    HoanThanhTot,
    /// Hoàn thành.
    HoanThanh,
    /// Chưa hoàn thành.
    ChuaHoanThanh,
}

impl PrimaryYearResult {
    /// Vietnamese label.
    pub fn vi(self) -> &'static str {
        match self {
            PrimaryYearResult::HoanThanhXuatSac => "Hoàn thành xuất sắc",
            PrimaryYearResult::HoanThanhTot => "Hoàn thành tốt",
            PrimaryYearResult::HoanThanh => "Hoàn thành",
            PrimaryYearResult::ChuaHoanThanh => "Chưa hoàn thành",
        }
    }

    /// Official English label.
    pub fn en(self) -> &'static str {
        match self {
            PrimaryYearResult::HoanThanhXuatSac => "Completed with excellence",
            PrimaryYearResult::HoanThanhTot => "Completed well",
            PrimaryYearResult::HoanThanh => "Completed",
            PrimaryYearResult::ChuaHoanThanh => "Not yet completed",
        }
    }
}

/// End-of-year overall result from the subjects, the qualities and the
/// competencies. `None` when any of the three lists is empty, since a result
/// judged on part of the record would be misleading.
pub fn primary_year_result(
    subjects: &[PrimarySubjectResult],
    qualities: &[QualityLevel],
    competencies: &[QualityLevel],
) -> Option<PrimaryYearResult> {
    if subjects.is_empty() || qualities.is_empty() || competencies.is_empty() {
        return None;
    }
    let traits = || qualities.iter().chain(competencies);
    let all_subjects_well = subjects
        .iter()
        .all(|s| s.level == PrimarySubjectLevel::HoanThanhTot);
    let all_subjects_completed = subjects
        .iter()
        .all(|s| s.level != PrimarySubjectLevel::ChuaHoanThanh);
    let all_traits_good = traits().all(|q| *q == QualityLevel::Tot);
    let all_traits_satisfactory = traits().all(|q| *q != QualityLevel::CanCoGang);
    let tests_at_least = |minimum: u8| {
        subjects
            .iter()
            .filter_map(|s| s.end_of_year_test)
            .all(|score| score.value() >= minimum)
    };

    let result = if all_subjects_well && all_traits_good && tests_at_least(9) {
        PrimaryYearResult::HoanThanhXuatSac
    } else if all_subjects_well && all_traits_good && tests_at_least(7) {
        PrimaryYearResult::HoanThanhTot
    } else if all_subjects_completed && all_traits_satisfactory && tests_at_least(5) {
        PrimaryYearResult::HoanThanh
    } else {
        PrimaryYearResult::ChuaHoanThanh
    };
    Some(result)
}

// ---------------------------------------------------------------------------
// 3. National high-school graduation exam (from 2025)
// ---------------------------------------------------------------------------

/// An exam score 0.00–10.00 held as hundredths (0–1000). A graduation score
/// (see [`GraduationResult::score`]) may exceed 10.00 once priority points
/// are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hundredths(pub u16);

impl Hundredths {
    /// A score from a count of hundredths; `None` above 1000 (10.00).
    pub fn new(hundredths: u16) -> Option<Hundredths> {
        (hundredths <= 1000).then_some(Hundredths(hundredths))
    }

    /// A score from a decimal such as `8.25`; `None` for NaN, values outside
    /// 0–10 and values with more than two decimals.
    pub fn from_f64(score: f64) -> Option<Hundredths> {
        scaled_from_f64(score, 100, 1000).map(Hundredths)
    }

    /// The score as a decimal, for display and JSON only.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

/// Exam council code of Thừa Thiên Huế / Huế city.
pub const HUE_EXAM_COUNCIL: u8 = 33;

/// A candidate number (số báo danh): 8 ASCII digits, the first two naming the
/// exam council.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CandidateNumber {
    digits: String,
}

impl CandidateNumber {
    /// The exam council, from the first two digits (33 is Huế).
    pub fn council(&self) -> u8 {
        let bytes = self.digits.as_bytes();
        (bytes[0] - b'0') * 10 + (bytes[1] - b'0')
    }

    /// The number as written, leading zeros kept.
    pub fn as_str(&self) -> &str {
        &self.digits
    }
}

/// Accepts exactly 8 ASCII digits, with no surrounding whitespace; candidate
/// numbers start with zeros in some councils, so they stay text, not integers.
pub fn parse_candidate_number(text: &str) -> Option<CandidateNumber> {
    (text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit())).then(|| CandidateNumber {
        digits: text.to_owned(),
    })
}

/// Foreign language of the Ngoại ngữ exam, with its official code N1–N7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForeignLanguage {
    /// N1.
    English,
    /// N2.
    Russian,
    /// N3.
    French,
    /// N4.
    Chinese,
    /// N5.
    German,
    /// N6.
    Japanese,
    /// N7.
    Korean,
}

impl ForeignLanguage {
    /// Every language, in code order.
    pub const ALL: [ForeignLanguage; 7] = [
        ForeignLanguage::English,
        ForeignLanguage::Russian,
        ForeignLanguage::French,
        ForeignLanguage::Chinese,
        ForeignLanguage::German,
        ForeignLanguage::Japanese,
        ForeignLanguage::Korean,
    ];

    /// Official code "N1"–"N7".
    pub fn code(self) -> &'static str {
        match self {
            ForeignLanguage::English => "N1",
            ForeignLanguage::Russian => "N2",
            ForeignLanguage::French => "N3",
            ForeignLanguage::Chinese => "N4",
            ForeignLanguage::German => "N5",
            ForeignLanguage::Japanese => "N6",
            ForeignLanguage::Korean => "N7",
        }
    }

    /// Parses "N1"–"N7", case-insensitively.
    pub fn from_code(code: &str) -> Option<ForeignLanguage> {
        ForeignLanguage::ALL
            .into_iter()
            .find(|language| language.code().eq_ignore_ascii_case(code))
    }

    /// Vietnamese name as printed on exam papers.
    pub fn vi(self) -> &'static str {
        match self {
            ForeignLanguage::English => "Tiếng Anh",
            ForeignLanguage::Russian => "Tiếng Nga",
            ForeignLanguage::French => "Tiếng Pháp",
            ForeignLanguage::Chinese => "Tiếng Trung Quốc",
            ForeignLanguage::German => "Tiếng Đức",
            ForeignLanguage::Japanese => "Tiếng Nhật",
            ForeignLanguage::Korean => "Tiếng Hàn",
        }
    }

    /// English name.
    pub fn en(self) -> &'static str {
        match self {
            ForeignLanguage::English => "English",
            ForeignLanguage::Russian => "Russian",
            ForeignLanguage::French => "French",
            ForeignLanguage::Chinese => "Chinese",
            ForeignLanguage::German => "German",
            ForeignLanguage::Japanese => "Japanese",
            ForeignLanguage::Korean => "Korean",
        }
    }
}

/// A subject of the graduation exam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExamSubject {
    /// Toán.
    Toan,
    /// Ngữ văn.
    NguVan,
    /// Vật lí.
    VatLi,
    /// Hóa học.
    HoaHoc,
    /// Sinh học.
    SinhHoc,
    /// Lịch sử.
    LichSu,
    /// Địa lí.
    DiaLi,
    /// Giáo dục kinh tế và pháp luật.
    GdKtpl,
    /// Tin học.
    TinHoc,
    /// Công nghệ (công nghiệp).
    CnCongNghiep,
    /// Công nghệ (nông nghiệp).
    CnNongNghiep,
    /// Ngoại ngữ, in the given language.
    NgoaiNgu(ForeignLanguage),
}

impl ExamSubject {
    /// Stable snake_case code for storage and APIs. Every language shares
    /// "ngoai_ngu"; the language travels separately (see [`Self::language`]).
    pub fn code(self) -> &'static str {
        match self {
            ExamSubject::Toan => "toan",
            ExamSubject::NguVan => "ngu_van",
            ExamSubject::VatLi => "vat_li",
            ExamSubject::HoaHoc => "hoa_hoc",
            ExamSubject::SinhHoc => "sinh_hoc",
            ExamSubject::LichSu => "lich_su",
            ExamSubject::DiaLi => "dia_li",
            ExamSubject::GdKtpl => "gd_ktpl",
            ExamSubject::TinHoc => "tin_hoc",
            ExamSubject::CnCongNghiep => "cn_cong_nghiep",
            ExamSubject::CnNongNghiep => "cn_nong_nghiep",
            ExamSubject::NgoaiNgu(_) => "ngoai_ngu",
        }
    }

    /// The language of a Ngoại ngữ subject; `None` for other subjects.
    pub fn language(self) -> Option<ForeignLanguage> {
        match self {
            ExamSubject::NgoaiNgu(language) => Some(language),
            _ => None,
        }
    }

    /// Inverse of [`Self::code`] + [`Self::language`]: "ngoai_ngu" needs a
    /// language and every other code must come without one, so contradictory
    /// input is rejected rather than silently reinterpreted.
    pub fn from_code(code: &str, language: Option<ForeignLanguage>) -> Option<ExamSubject> {
        let subject = match code {
            "toan" => ExamSubject::Toan,
            "ngu_van" => ExamSubject::NguVan,
            "vat_li" => ExamSubject::VatLi,
            "hoa_hoc" => ExamSubject::HoaHoc,
            "sinh_hoc" => ExamSubject::SinhHoc,
            "lich_su" => ExamSubject::LichSu,
            "dia_li" => ExamSubject::DiaLi,
            "gd_ktpl" => ExamSubject::GdKtpl,
            "tin_hoc" => ExamSubject::TinHoc,
            "cn_cong_nghiep" => ExamSubject::CnCongNghiep,
            "cn_nong_nghiep" => ExamSubject::CnNongNghiep,
            "ngoai_ngu" => return language.map(ExamSubject::NgoaiNgu),
            _ => return None,
        };
        language.is_none().then_some(subject)
    }

    /// Vietnamese name; a foreign language is named by its language
    /// ("Tiếng Anh"), as on the score report.
    pub fn vi(self) -> &'static str {
        match self {
            ExamSubject::Toan => "Toán",
            ExamSubject::NguVan => "Ngữ văn",
            ExamSubject::VatLi => "Vật lí",
            ExamSubject::HoaHoc => "Hóa học",
            ExamSubject::SinhHoc => "Sinh học",
            ExamSubject::LichSu => "Lịch sử",
            ExamSubject::DiaLi => "Địa lí",
            ExamSubject::GdKtpl => "Giáo dục kinh tế và pháp luật",
            ExamSubject::TinHoc => "Tin học",
            ExamSubject::CnCongNghiep => "Công nghệ (công nghiệp)",
            ExamSubject::CnNongNghiep => "Công nghệ (nông nghiệp)",
            ExamSubject::NgoaiNgu(language) => language.vi(),
        }
    }

    /// English name; a foreign language is named by its language.
    pub fn en(self) -> &'static str {
        match self {
            ExamSubject::Toan => "Mathematics",
            ExamSubject::NguVan => "Literature",
            ExamSubject::VatLi => "Physics",
            ExamSubject::HoaHoc => "Chemistry",
            ExamSubject::SinhHoc => "Biology",
            ExamSubject::LichSu => "History",
            ExamSubject::DiaLi => "Geography",
            ExamSubject::GdKtpl => "Economic and Legal Education",
            ExamSubject::TinHoc => "Informatics",
            ExamSubject::CnCongNghiep => "Technology (Industrial)",
            ExamSubject::CnNongNghiep => "Technology (Agricultural)",
            ExamSubject::NgoaiNgu(language) => language.en(),
        }
    }
}

/// University admission subject combinations (tổ hợp xét tuyển) supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Combination {
    /// Toán, Vật lí, Hóa học.
    A00,
    /// Toán, Vật lí, Tiếng Anh.
    A01,
    /// Toán, Hóa học, Sinh học.
    B00,
    /// Ngữ văn, Lịch sử, Địa lí.
    C00,
    /// Ngữ văn, Toán, Tiếng Anh.
    D01,
}

impl Combination {
    /// Every supported combination.
    pub const ALL: [Combination; 5] = [
        Combination::A00,
        Combination::A01,
        Combination::B00,
        Combination::C00,
        Combination::D01,
    ];

    /// Code such as "A00".
    pub fn code(self) -> &'static str {
        match self {
            Combination::A00 => "A00",
            Combination::A01 => "A01",
            Combination::B00 => "B00",
            Combination::C00 => "C00",
            Combination::D01 => "D01",
        }
    }

    /// The three subjects whose scores are added.
    pub fn subjects(self) -> [ExamSubject; 3] {
        use ExamSubject::*;
        let english = NgoaiNgu(ForeignLanguage::English);
        match self {
            Combination::A00 => [Toan, VatLi, HoaHoc],
            Combination::A01 => [Toan, VatLi, english],
            Combination::B00 => [Toan, HoaHoc, SinhHoc],
            Combination::C00 => [NguVan, LichSu, DiaLi],
            Combination::D01 => [NguVan, Toan, english],
        }
    }
}

/// Totals, in hundredths (0–3000), of every combination for which the
/// candidate has all three scores, in [`Combination::ALL`] order. A01 and D01
/// need English specifically. If a subject is listed twice, the first counts.
pub fn combination_totals(scores: &[(ExamSubject, Hundredths)]) -> Vec<(Combination, u32)> {
    let score_of = |subject: ExamSubject| {
        scores
            .iter()
            .find(|(candidate_subject, _)| *candidate_subject == subject)
            .map(|(_, score)| u32::from(score.0))
    };
    Combination::ALL
        .into_iter()
        .filter_map(|combination| {
            let total = combination
                .subjects()
                .into_iter()
                .map(score_of)
                .sum::<Option<u32>>()?;
            Some((combination, total))
        })
        .collect()
}

/// Minimum graduation score, in hundredths.
const GRADUATION_PASS_MARK: u16 = 500;
/// An exam score at or below this (điểm liệt, in hundredths) fails the
/// candidate whatever the total.
const ELIMINATING_SCORE_MAX: u16 = 100;

/// Why a candidate does not graduate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotGraduatedReason {
    /// The graduation score is below 5.00.
    ScoreBelowFive,
    /// An exam subject scored 1.00 or less (điểm liệt).
    EliminatingScore {
        /// The subject.
        subject: ExamSubject,
        /// Its score.
        score: Hundredths,
    },
}

/// Graduation score and verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraduationResult {
    /// ĐXTN, rounded half up to two decimals; may exceed 10.00 with priority
    /// points.
    pub score: Hundredths,
    /// Whether the candidate graduates, i.e. `reasons` is empty.
    pub graduates: bool,
    /// Every reason for not graduating: `ScoreBelowFive` first, then each
    /// eliminating score in exam order. Empty when the candidate graduates.
    pub reasons: Vec<NotGraduatedReason>,
}

/// Graduation score (điểm xét tốt nghiệp):
/// ĐXTN = (Σ 4 exam scores / 4) × 0.5 + ((G10 + 2·G11 + 3·G12) / 6) × 0.5 + priority,
/// rounded half up to two decimals. The candidate graduates when ĐXTN ≥ 5.00
/// and no exam score is ≤ 1.00.
///
/// `exam` must hold exactly four distinct subjects including Toán and Ngữ văn
/// (one foreign language at most); otherwise `None`. `None` also if the
/// result does not fit a `u16`, which only out-of-range inputs can cause.
pub fn graduation_score(
    exam: &[(ExamSubject, Hundredths)],
    grade10: Tenths,
    grade11: Tenths,
    grade12: Tenths,
    priority: Hundredths,
) -> Option<GraduationResult> {
    if exam.len() != 4 {
        return None;
    }
    let has = |subject: ExamSubject| exam.iter().any(|(s, _)| *s == subject);
    if !has(ExamSubject::Toan) || !has(ExamSubject::NguVan) {
        return None;
    }
    // Compare by code so two different languages also count as a duplicate.
    let distinct = exam
        .iter()
        .enumerate()
        .all(|(i, (a, _))| exam[i + 1..].iter().all(|(b, _)| a.code() != b.code()));
    if !distinct {
        return None;
    }

    // Everything in hundredths over the common denominator 24, so the only
    // division is the final rounding:
    //   exam part   = S/4 × 1/2            = 3·S / 24   (S: exam sum, hundredths)
    //   grades part = G/6 × 1/2 × 10       = 20·G / 24  (G: weighted grades, tenths)
    //   priority    = P                    = 24·P / 24
    let exam_sum: u64 = exam.iter().map(|(_, score)| u64::from(score.0)).sum();
    let weighted_grades =
        u64::from(grade10.0) + 2 * u64::from(grade11.0) + 3 * u64::from(grade12.0);
    let numerator = 3 * exam_sum + 20 * weighted_grades + 24 * u64::from(priority.0);
    let score = Hundredths(u16::try_from(div_round_half_up(numerator, 24)).ok()?);

    let mut reasons = Vec::new();
    if score.0 < GRADUATION_PASS_MARK {
        reasons.push(NotGraduatedReason::ScoreBelowFive);
    }
    reasons.extend(
        exam.iter()
            .filter(|(_, s)| s.0 <= ELIMINATING_SCORE_MAX)
            .map(|&(subject, score)| NotGraduatedReason::EliminatingScore { subject, score }),
    );
    Some(GraduationResult {
        score,
        graduates: reasons.is_empty(),
        reasons,
    })
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn t(score: f64) -> Tenths {
        Tenths::from_f64(score).expect("valid school score")
    }

    fn ts(scores: &[f64]) -> Vec<Tenths> {
        scores.iter().map(|s| t(*s)).collect()
    }

    fn h(score: f64) -> Hundredths {
        Hundredths::from_f64(score).expect("valid exam score")
    }

    // --- Tenths / Hundredths conversions ---

    #[test]
    fn tenths_from_f64_accepts_one_decimal_only() {
        assert_eq!(Tenths::from_f64(8.1), Some(Tenths(81)));
        assert_eq!(Tenths::from_f64(0.0), Some(Tenths(0)));
        assert_eq!(Tenths::from_f64(10.0), Some(Tenths(100)));
        assert_eq!(Tenths::from_f64(0.1 + 0.2), Some(Tenths(3)));
        assert_eq!(Tenths::from_f64(6.65), None);
        assert_eq!(Tenths::from_f64(10.1), None);
        assert_eq!(Tenths::from_f64(-0.1), None);
        assert_eq!(Tenths::from_f64(f64::NAN), None);
        assert_eq!(Tenths::from_f64(f64::INFINITY), None);
        assert_eq!(Tenths::new(100), Some(Tenths(100)));
        assert_eq!(Tenths::new(101), None);
        assert_eq!(Tenths(75).as_f64(), 7.5);
    }

    #[test]
    fn hundredths_from_f64_accepts_two_decimals_only() {
        assert_eq!(Hundredths::from_f64(8.25), Some(Hundredths(825)));
        assert_eq!(Hundredths::from_f64(10.0), Some(Hundredths(1000)));
        assert_eq!(Hundredths::from_f64(8.125), None);
        assert_eq!(Hundredths::from_f64(10.01), None);
        assert_eq!(Hundredths::from_f64(-0.25), None);
        assert_eq!(Hundredths::from_f64(f64::NAN), None);
        assert_eq!(Hundredths::new(1001), None);
        assert_eq!(Hundredths(675).as_f64(), 6.75);
    }

    // --- Semester average ---

    #[test]
    fn required_regular_assessments_by_periods() {
        assert_eq!(required_regular_assessments(35), 2);
        assert_eq!(required_regular_assessments(36), 3);
        assert_eq!(required_regular_assessments(70), 3);
        assert_eq!(required_regular_assessments(71), 4);
        assert_eq!(required_regular_assessments(105), 4);
    }

    #[test]
    fn semester_average_with_two_regular_scores() {
        // (8.0 + 7.0 + 2·6.5 + 3·7.5) / 7 = 50.5 / 7 = 7.214… → 7.2
        let avg = semester_average(35, &ts(&[8.0, 7.0]), Some(t(6.5)), Some(t(7.5)));
        assert_eq!(avg, SemesterResult::Complete(t(7.2)));
    }

    #[test]
    fn semester_average_with_three_regular_scores() {
        // (9.0 + 8.5 + 7.0 + 2·8.0 + 3·6.0) / 8 = 58.5 / 8 = 7.3125 → 7.3
        let avg = semester_average(70, &ts(&[9.0, 8.5, 7.0]), Some(t(8.0)), Some(t(6.0)));
        assert_eq!(avg, SemesterResult::Complete(t(7.3)));
    }

    #[test]
    fn semester_average_with_four_regular_scores() {
        // (6 + 7 + 8 + 9 + 2·5.0 + 3·10.0) / 9 = 70 / 9 = 7.777… → 7.8
        let avg = semester_average(105, &ts(&[6.0, 7.0, 8.0, 9.0]), Some(t(5.0)), Some(t(10.0)));
        assert_eq!(avg, SemesterResult::Complete(t(7.8)));
    }

    #[test]
    fn semester_average_rounds_half_up() {
        // (7.0 + 7.0 + 7.2 + 2·7.0 + 3·6.0) / 8 = 53.2 / 8 = 6.65 exactly → 6.7
        let avg = semester_average(70, &ts(&[7.0, 7.0, 7.2]), Some(t(7.0)), Some(t(6.0)));
        assert_eq!(avg, SemesterResult::Complete(t(6.7)));
        // (7.0 + 7.0 + 7.1 + 2·7.0 + 3·6.0) / 8 = 53.1 / 8 = 6.6375 → 6.6
        let avg = semester_average(70, &ts(&[7.0, 7.0, 7.1]), Some(t(7.0)), Some(t(6.0)));
        assert_eq!(avg, SemesterResult::Complete(t(6.6)));
    }

    #[test]
    fn semester_average_counts_extra_regular_scores() {
        // 35 periods need 2, but all 3 count: (10 + 10 + 4 + 2·7 + 3·7) / 8 = 59 / 8 = 7.375 → 7.4
        let avg = semester_average(35, &ts(&[10.0, 10.0, 4.0]), Some(t(7.0)), Some(t(7.0)));
        assert_eq!(avg, SemesterResult::Complete(t(7.4)));
        assert_eq!(avg.result(), Some(t(7.4)));
    }

    #[test]
    fn semester_average_reports_what_is_missing() {
        let avg = semester_average(105, &ts(&[8.0, 9.0]), None, Some(t(7.0)));
        assert_eq!(
            avg,
            SemesterResult::Incomplete {
                regular_missing: 2,
                midterm_missing: true,
                final_missing: false
            }
        );
        assert_eq!(avg.result(), None);

        let avg = semester_average(70, &ts(&[8.0, 9.0, 7.0]), Some(t(7.0)), None);
        assert_eq!(
            avg,
            SemesterResult::Incomplete {
                regular_missing: 0,
                midterm_missing: false,
                final_missing: true
            }
        );

        let avg = semester_average(35, &[], None, None);
        assert_eq!(
            avg,
            SemesterResult::Incomplete {
                regular_missing: 2,
                midterm_missing: true,
                final_missing: true
            }
        );
    }

    // --- Year average ---

    #[test]
    fn year_average_weights_second_semester_double() {
        // (6.5 + 2·7.0) / 3 = 20.5 / 3 = 6.833… → 6.8
        assert_eq!(year_average(Some(t(6.5)), Some(t(7.0))), Some(t(6.8)));
        // (6.6 + 2·7.0) / 3 = 20.6 / 3 = 6.866… → 6.9
        assert_eq!(year_average(Some(t(6.6)), Some(t(7.0))), Some(t(6.9)));
        // (8.0 + 2·5.0) / 3 = 6.0 exactly
        assert_eq!(year_average(Some(t(8.0)), Some(t(5.0))), Some(t(6.0)));
    }

    #[test]
    fn year_average_needs_both_semesters() {
        assert_eq!(year_average(None, Some(t(7.0))), None);
        assert_eq!(year_average(Some(t(7.0)), None), None);
    }

    // --- Comment-only subjects ---

    use CommentGrade::{ChuaDat as CD, Dat as D};

    #[test]
    fn comment_semester_exactly_two_thirds_passes() {
        // 4 regular + midterm + final = 6 assessments, 4 Đạt = exactly 2/3.
        let result = comment_semester(70, &[D, CD, D, CD], Some(D), Some(D));
        assert_eq!(result, SemesterResult::Complete(D));
    }

    #[test]
    fn comment_semester_below_two_thirds_fails() {
        // 6 assessments, 3 Đạt = 1/2.
        let result = comment_semester(70, &[D, CD, CD, CD], Some(D), Some(D));
        assert_eq!(result, SemesterResult::Complete(CD));
        // 4 assessments (35 periods), 2 Đạt: 2/4 < 2/3.
        let result = comment_semester(35, &[CD, CD], Some(D), Some(D));
        assert_eq!(result, SemesterResult::Complete(CD));
        // 4 assessments, 3 Đạt: 3/4 ≥ 2/3.
        let result = comment_semester(35, &[CD, D], Some(D), Some(D));
        assert_eq!(result, SemesterResult::Complete(D));
    }

    #[test]
    fn comment_semester_final_not_passed_fails_even_if_rest_passed() {
        let result = comment_semester(105, &[D, D, D, D, D], Some(D), Some(CD));
        assert_eq!(result, SemesterResult::Complete(CD));
    }

    #[test]
    fn comment_semester_incomplete() {
        let result = comment_semester(70, &[D, D], Some(D), None);
        assert_eq!(
            result,
            SemesterResult::Incomplete {
                regular_missing: 1,
                midterm_missing: false,
                final_missing: true
            }
        );
    }

    #[test]
    fn comment_year_follows_second_semester() {
        assert_eq!(comment_year(Some(D)), Some(D));
        assert_eq!(comment_year(Some(CD)), Some(CD));
        assert_eq!(comment_year(None), None);
    }

    #[test]
    fn comment_grade_labels_and_parsing() {
        assert_eq!((D.vi(), D.en()), ("Đạt", "Pass"));
        assert_eq!((CD.vi(), CD.en()), ("Chưa đạt", "Not yet passed"));
        assert_eq!(CommentGrade::parse("Đ"), Some(D));
        assert_eq!(CommentGrade::parse("d"), Some(D));
        assert_eq!(CommentGrade::parse("CĐ"), Some(CD));
        assert_eq!(CommentGrade::parse("Chưa đạt"), Some(CD));
        assert_eq!(CommentGrade::parse("x"), None);
    }

    // --- Learning level ---

    fn scored(scores: &[f64]) -> Vec<Option<Tenths>> {
        scores.iter().map(|s| Some(t(*s))).collect()
    }

    fn comments(passed: usize, not_passed: usize) -> Vec<Option<CommentGrade>> {
        let mut grades = vec![Some(D); passed];
        grades.extend(vec![Some(CD); not_passed]);
        grades
    }

    #[test]
    fn level_tot_with_exactly_six_subjects_at_eight() {
        let s = scored(&[8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 6.5, 6.5]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Tot)
        );
    }

    #[test]
    fn level_five_subjects_at_eight_is_only_kha() {
        let s = scored(&[8.0, 8.0, 8.0, 8.0, 8.0, 7.9, 6.5, 6.5]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Kha)
        );
    }

    #[test]
    fn level_one_subject_at_six_point_four_breaks_tot() {
        let s = scored(&[8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 9.0, 6.4]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Kha)
        );
    }

    #[test]
    fn level_kha_boundaries() {
        let s = scored(&[6.5, 6.5, 6.5, 6.5, 6.5, 6.5, 5.0, 5.0]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Kha)
        );
        // One subject at 4.9 drops to Đạt.
        let s = scored(&[6.5, 6.5, 6.5, 6.5, 6.5, 6.5, 5.0, 4.9]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Dat)
        );
        // Only five at 6.5 drops to Đạt.
        let s = scored(&[6.5, 6.5, 6.5, 6.5, 6.5, 6.4, 5.0, 5.0]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Dat)
        );
    }

    #[test]
    fn level_one_comment_subject_not_passed_caps_at_dat() {
        let s = scored(&[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]);
        assert_eq!(
            learning_level(&s, &comments(3, 1)),
            Some(LearningLevel::Dat)
        );
        assert_eq!(
            learning_level(&s, &comments(2, 2)),
            Some(LearningLevel::ChuaDat)
        );
    }

    #[test]
    fn level_subject_below_three_point_five_is_chua_dat() {
        let s = scored(&[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 3.4]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::ChuaDat)
        );
        let s = scored(&[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 3.5]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Dat)
        );
    }

    #[test]
    fn level_needs_six_subjects_at_five() {
        let s = scored(&[5.0, 5.0, 5.0, 5.0, 5.0, 4.9, 4.9, 4.9]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::ChuaDat)
        );
        let s = scored(&[5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 4.9, 4.9]);
        assert_eq!(
            learning_level(&s, &comments(4, 0)),
            Some(LearningLevel::Dat)
        );
    }

    #[test]
    fn level_not_computed_when_incomplete_or_empty() {
        let mut s = scored(&[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]);
        s.push(None);
        assert_eq!(learning_level(&s, &comments(4, 0)), None);
        let s = scored(&[9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0]);
        let mut c = comments(3, 0);
        c.push(None);
        assert_eq!(learning_level(&s, &c), None);
        assert_eq!(learning_level(&[], &[]), None);
    }

    #[test]
    fn level_labels() {
        let labels: Vec<_> = [
            LearningLevel::Tot,
            LearningLevel::Kha,
            LearningLevel::Dat,
            LearningLevel::ChuaDat,
        ]
        .into_iter()
        .map(|l| (l.vi(), l.en()))
        .collect();
        assert_eq!(
            labels,
            [
                ("Tốt", "Very good"),
                ("Khá", "Good"),
                ("Đạt", "Satisfactory"),
                ("Chưa đạt", "Not yet satisfactory")
            ]
        );
    }

    // --- Circular 27 (primary) ---

    use PrimarySubjectLevel::{ChuaHoanThanh as SC, HoanThanh as SH, HoanThanhTot as ST};
    use QualityLevel::{CanCoGang as QC, Dat as QD, Tot as QT};

    fn subject(level: PrimarySubjectLevel, test: Option<u8>) -> PrimarySubjectResult {
        PrimarySubjectResult {
            level,
            end_of_year_test: test
                .map(|score| PrimaryTestScore::new(score).expect("valid test score")),
        }
    }

    /// Five subjects, two of them tested with the given scores.
    fn subjects(levels: [PrimarySubjectLevel; 5], tests: [u8; 2]) -> Vec<PrimarySubjectResult> {
        levels
            .into_iter()
            .enumerate()
            .map(|(i, level)| subject(level, tests.get(i).copied()))
            .collect()
    }

    const ALL_GOOD: [QualityLevel; 5] = [QT; 5];

    #[test]
    fn primary_parse_levels() {
        assert_eq!(PrimarySubjectLevel::parse("T"), Some(ST));
        assert_eq!(PrimarySubjectLevel::parse("h"), Some(SH));
        assert_eq!(PrimarySubjectLevel::parse("C"), Some(SC));
        assert_eq!(PrimarySubjectLevel::parse("Hoàn thành tốt"), Some(ST));
        assert_eq!(PrimarySubjectLevel::parse("HOÀN THÀNH"), Some(SH));
        assert_eq!(PrimarySubjectLevel::parse("Chưa hoàn thành"), Some(SC));
        assert_eq!(PrimarySubjectLevel::parse("X"), None);
        assert_eq!(PrimarySubjectLevel::parse(""), None);
        assert_eq!(QualityLevel::parse("T"), Some(QT));
        assert_eq!(QualityLevel::parse("Đ"), Some(QD));
        assert_eq!(QualityLevel::parse("D"), Some(QD));
        assert_eq!(QualityLevel::parse("đạt"), Some(QD));
        assert_eq!(QualityLevel::parse("C"), Some(QC));
        assert_eq!(QualityLevel::parse("Cần cố gắng"), Some(QC));
        assert_eq!(QualityLevel::parse("H"), None);
        assert_eq!(
            (ST.letter(), ST.vi(), ST.en()),
            ("T", "Hoàn thành tốt", "Completed well")
        );
        assert_eq!(
            (QD.letter(), QD.vi(), QD.en()),
            ("Đ", "Đạt", "Satisfactory")
        );
        assert_eq!(QC.en(), "Needs more effort");
    }

    #[test]
    fn primary_test_score_is_whole_one_to_ten() {
        assert_eq!(PrimaryTestScore::new(0), None);
        assert_eq!(PrimaryTestScore::new(11), None);
        assert_eq!(
            PrimaryTestScore::new(1).map(PrimaryTestScore::value),
            Some(1)
        );
        assert_eq!(
            PrimaryTestScore::from_f64(7.0).map(PrimaryTestScore::value),
            Some(7)
        );
        assert_eq!(PrimaryTestScore::from_f64(7.5), None);
        assert_eq!(PrimaryTestScore::from_f64(0.0), None);
        assert_eq!(PrimaryTestScore::from_f64(f64::NAN), None);
    }

    #[test]
    fn primary_excellence_with_tests_of_exactly_nine() {
        let s = subjects([ST; 5], [9, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanhXuatSac)
        );
    }

    #[test]
    fn primary_completed_well_with_tests_of_exactly_seven() {
        let s = subjects([ST; 5], [8, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanhTot)
        );
        let s = subjects([ST; 5], [7, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanhTot)
        );
        let s = subjects([ST; 5], [6, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanh)
        );
    }

    #[test]
    fn primary_one_quality_or_competency_dat_drops_excellence() {
        let s = subjects([ST; 5], [10, 10]);
        let qualities = [QT, QT, QD, QT, QT];
        assert_eq!(
            primary_year_result(&s, &qualities, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanh)
        );
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &qualities),
            Some(PrimaryYearResult::HoanThanh)
        );
    }

    #[test]
    fn primary_completed_boundaries() {
        let s = subjects([ST, SH, ST, ST, ST], [10, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanh)
        );
        let s = subjects([ST; 5], [5, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::HoanThanh)
        );
        let s = subjects([ST; 5], [4, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::ChuaHoanThanh)
        );
    }

    #[test]
    fn primary_not_yet_completed() {
        let s = subjects([ST, SC, ST, ST, ST], [10, 10]);
        assert_eq!(
            primary_year_result(&s, &ALL_GOOD, &ALL_GOOD),
            Some(PrimaryYearResult::ChuaHoanThanh)
        );
        let s = subjects([ST; 5], [10, 10]);
        let qualities = [QT, QT, QT, QC, QT];
        assert_eq!(
            primary_year_result(&s, &qualities, &ALL_GOOD),
            Some(PrimaryYearResult::ChuaHoanThanh)
        );
    }

    #[test]
    fn primary_needs_subjects_qualities_and_competencies() {
        let s = subjects([ST; 5], [10, 10]);
        assert_eq!(primary_year_result(&[], &ALL_GOOD, &ALL_GOOD), None);
        assert_eq!(primary_year_result(&s, &[], &ALL_GOOD), None);
        assert_eq!(primary_year_result(&s, &ALL_GOOD, &[]), None);
    }

    #[test]
    fn primary_result_labels() {
        assert_eq!(
            PrimaryYearResult::HoanThanhXuatSac.en(),
            "Completed with excellence"
        );
        assert_eq!(
            PrimaryYearResult::HoanThanhXuatSac.vi(),
            "Hoàn thành xuất sắc"
        );
        assert_eq!(PrimaryYearResult::HoanThanhTot.en(), "Completed well");
        assert_eq!(PrimaryYearResult::HoanThanh.en(), "Completed");
        assert_eq!(PrimaryYearResult::ChuaHoanThanh.vi(), "Chưa hoàn thành");
        assert_eq!(PrimaryYearResult::ChuaHoanThanh.en(), "Not yet completed");
    }

    // --- Graduation exam ---

    #[test]
    fn candidate_numbers() {
        let number = parse_candidate_number("33012345").expect("valid");
        assert_eq!(number.council(), HUE_EXAM_COUNCIL);
        assert_eq!(number.as_str(), "33012345");
        assert_eq!(
            parse_candidate_number("01000001").map(|n| n.council()),
            Some(1)
        );
        assert_eq!(parse_candidate_number("3301234"), None);
        assert_eq!(parse_candidate_number("330123456"), None);
        assert_eq!(parse_candidate_number("33O12345"), None);
        assert_eq!(parse_candidate_number("3301234a"), None);
        assert_eq!(parse_candidate_number(" 3301234"), None);
        assert_eq!(parse_candidate_number("٣٣٠١٢٣٤٥"), None);
        assert_eq!(parse_candidate_number(""), None);
    }

    #[test]
    fn subject_codes_round_trip() {
        let mut all = vec![
            ExamSubject::Toan,
            ExamSubject::NguVan,
            ExamSubject::VatLi,
            ExamSubject::HoaHoc,
            ExamSubject::SinhHoc,
            ExamSubject::LichSu,
            ExamSubject::DiaLi,
            ExamSubject::GdKtpl,
            ExamSubject::TinHoc,
            ExamSubject::CnCongNghiep,
            ExamSubject::CnNongNghiep,
        ];
        all.extend(ForeignLanguage::ALL.map(ExamSubject::NgoaiNgu));
        for subject in all {
            assert_eq!(
                ExamSubject::from_code(subject.code(), subject.language()),
                Some(subject)
            );
            assert!(!subject.vi().is_empty() && !subject.en().is_empty());
        }
        assert_eq!(ExamSubject::from_code("ngoai_ngu", None), None);
        assert_eq!(
            ExamSubject::from_code("toan", Some(ForeignLanguage::English)),
            None
        );
        assert_eq!(ExamSubject::from_code("am_nhac", None), None);
        assert_eq!(
            ForeignLanguage::from_code("n7"),
            Some(ForeignLanguage::Korean)
        );
        assert_eq!(ForeignLanguage::from_code("N8"), None);
        assert_eq!(ExamSubject::GdKtpl.vi(), "Giáo dục kinh tế và pháp luật");
        assert_eq!(
            ExamSubject::NgoaiNgu(ForeignLanguage::Chinese).vi(),
            "Tiếng Trung Quốc"
        );
    }

    #[test]
    fn combinations_available_from_scores() {
        let scores = [
            (ExamSubject::Toan, h(8.25)),
            (ExamSubject::VatLi, h(7.5)),
            (ExamSubject::HoaHoc, h(6.75)),
            (ExamSubject::NgoaiNgu(ForeignLanguage::English), h(9.0)),
            (ExamSubject::NguVan, h(7.0)),
        ];
        // A00 = 8.25 + 7.50 + 6.75 = 22.50; A01 = 8.25 + 7.50 + 9.00 = 24.75;
        // D01 = 7.00 + 8.25 + 9.00 = 24.25; no Sinh học, Lịch sử, Địa lí.
        assert_eq!(
            combination_totals(&scores),
            vec![
                (Combination::A00, 2250),
                (Combination::A01, 2475),
                (Combination::D01, 2425)
            ]
        );
        let c00 = [
            (ExamSubject::NguVan, h(6.0)),
            (ExamSubject::LichSu, h(7.25)),
            (ExamSubject::DiaLi, h(8.0)),
        ];
        assert_eq!(combination_totals(&c00), vec![(Combination::C00, 2125)]);
        // French does not stand in for English in A01 / D01.
        let french = [
            (ExamSubject::Toan, h(8.0)),
            (ExamSubject::VatLi, h(8.0)),
            (ExamSubject::NguVan, h(8.0)),
            (ExamSubject::NgoaiNgu(ForeignLanguage::French), h(8.0)),
        ];
        assert_eq!(combination_totals(&french), vec![]);
        assert_eq!(Combination::B00.code(), "B00");
    }

    fn four(scores: [f64; 4]) -> Vec<(ExamSubject, Hundredths)> {
        let subjects = [
            ExamSubject::Toan,
            ExamSubject::NguVan,
            ExamSubject::VatLi,
            ExamSubject::NgoaiNgu(ForeignLanguage::English),
        ];
        subjects.into_iter().zip(scores.map(h)).collect()
    }

    #[test]
    fn graduation_score_worked_example() {
        // Exam: 8.25 + 7.50 + 6.75 + 9.00 = 31.50; / 4 = 7.875; × 0.5 = 3.9375
        // Grades: (7.8 + 2·8.1 + 3·8.6) / 6 = 49.8 / 6 = 8.3; × 0.5 = 4.15
        // ĐXTN = 3.9375 + 4.15 = 8.0875 → 8.09
        let result = graduation_score(
            &four([8.25, 7.5, 6.75, 9.0]),
            t(7.8),
            t(8.1),
            t(8.6),
            h(0.0),
        )
        .unwrap();
        assert_eq!(
            result,
            GraduationResult {
                score: h(8.09),
                graduates: true,
                reasons: vec![]
            }
        );
        // Same with 0.25 priority points: 8.3375 → 8.34
        let result = graduation_score(
            &four([8.25, 7.5, 6.75, 9.0]),
            t(7.8),
            t(8.1),
            t(8.6),
            h(0.25),
        )
        .unwrap();
        assert_eq!(result.score, h(8.34));
    }

    #[test]
    fn graduation_score_rounds_half_up() {
        // Exam 20.04 / 4 = 5.01 × 0.5 = 2.505; grades 6.0 × 0.5 = 3.0; 5.505 → 5.51
        let result =
            graduation_score(&four([5.0, 5.0, 5.0, 5.04]), t(6.0), t(6.0), t(6.0), h(0.0)).unwrap();
        assert_eq!(result.score, h(5.51));
    }

    #[test]
    fn graduation_at_rounded_five_passes_just_below_fails() {
        // 19.96 / 4 = 4.99 × 0.5 = 2.495; + 2.5 = 4.995 → 5.00: graduates.
        let result = graduation_score(
            &four([4.99, 5.0, 5.0, 4.97]),
            t(5.0),
            t(5.0),
            t(5.0),
            h(0.0),
        )
        .unwrap();
        assert_eq!(
            result,
            GraduationResult {
                score: h(5.0),
                graduates: true,
                reasons: vec![]
            }
        );
        // 19.95 / 4 = 4.9875 × 0.5 = 2.49375; + 2.5 = 4.99375 → 4.99: fails.
        let result = graduation_score(
            &four([4.99, 5.0, 5.0, 4.96]),
            t(5.0),
            t(5.0),
            t(5.0),
            h(0.0),
        )
        .unwrap();
        assert_eq!(
            result,
            GraduationResult {
                score: h(4.99),
                graduates: false,
                reasons: vec![NotGraduatedReason::ScoreBelowFive]
            }
        );
    }

    #[test]
    fn graduation_eliminating_score_at_one_fails_above_one_does_not() {
        // 28.00 / 4 = 7.0 × 0.5 = 3.5; + 9.0 × 0.5 = 4.5; = 8.00 but Toán is 1.00.
        let result =
            graduation_score(&four([1.0, 9.0, 9.0, 9.0]), t(9.0), t(9.0), t(9.0), h(0.0)).unwrap();
        assert_eq!(
            result,
            GraduationResult {
                score: h(8.0),
                graduates: false,
                reasons: vec![NotGraduatedReason::EliminatingScore {
                    subject: ExamSubject::Toan,
                    score: h(1.0)
                }],
            }
        );
        // 28.25 / 4 = 7.0625 × 0.5 = 3.53125; + 4.5 = 8.03125 → 8.03: graduates.
        let result =
            graduation_score(&four([1.25, 9.0, 9.0, 9.0]), t(9.0), t(9.0), t(9.0), h(0.0)).unwrap();
        assert_eq!(
            result,
            GraduationResult {
                score: h(8.03),
                graduates: true,
                reasons: vec![]
            }
        );
    }

    #[test]
    fn graduation_reports_every_reason() {
        // 6.75 / 4 = 1.6875 × 0.5 = 0.84375; + 2.5 = 3.34375 → 3.34
        let result =
            graduation_score(&four([2.0, 0.75, 2.0, 2.0]), t(5.0), t(5.0), t(5.0), h(0.0)).unwrap();
        assert_eq!(result.score, h(3.34));
        assert!(!result.graduates);
        assert_eq!(
            result.reasons,
            vec![
                NotGraduatedReason::ScoreBelowFive,
                NotGraduatedReason::EliminatingScore {
                    subject: ExamSubject::NguVan,
                    score: h(0.75)
                },
            ]
        );
    }

    #[test]
    fn graduation_needs_four_distinct_subjects_with_maths_and_literature() {
        let g = t(7.0);
        let mut three = four([7.0; 4]);
        three.pop();
        assert_eq!(graduation_score(&three, g, g, g, h(0.0)), None);
        let mut five = four([7.0; 4]);
        five.push((ExamSubject::HoaHoc, h(7.0)));
        assert_eq!(graduation_score(&five, g, g, g, h(0.0)), None);
        let no_maths = [
            (ExamSubject::HoaHoc, h(7.0)),
            (ExamSubject::NguVan, h(7.0)),
            (ExamSubject::VatLi, h(7.0)),
            (ExamSubject::SinhHoc, h(7.0)),
        ];
        assert_eq!(graduation_score(&no_maths, g, g, g, h(0.0)), None);
        let two_languages = [
            (ExamSubject::Toan, h(7.0)),
            (ExamSubject::NguVan, h(7.0)),
            (ExamSubject::NgoaiNgu(ForeignLanguage::English), h(7.0)),
            (ExamSubject::NgoaiNgu(ForeignLanguage::French), h(7.0)),
        ];
        assert_eq!(graduation_score(&two_languages, g, g, g, h(0.0)), None);
    }
}
