//! A linked child's results for a school year, read from the school system (the classes the
//! pupil is enrolled in, their line items and the pupil's results) and computed by the rules
//! of the circular that governs the pupil's grade: Circular 22/2021 for grades 6 to 12 (scores,
//! semester and year averages, learning level), Circular 27/2020 for grades 1 to 5 (levels of
//! each subject, qualities and competencies, the year's result).

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use futures::stream::{self, StreamExt as _, TryStreamExt as _};
use platform::ApiError;
use platform::auth::Principal;
use platform::error::SharedError;
use platform::extract::QueryParams;
use platform::text::Text;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::guardians::linked_child;
use crate::oneroster::{
    AcademicSession, Category, Class, GradeResult, LineItem, OneRoster, valid_id,
};
use crate::rules::{
    self, CommentGrade, LearningLevel, PrimarySubjectLevel, PrimarySubjectResult, PrimaryTestScore,
    QualityLevel, SemesterResult, Tenths,
};
use crate::{EducationError, EducationState, subjects, unavailable};

/// Classes asked about at once.
const CONCURRENT_CLASSES: usize = 8;
/// Periods per year assumed when a class does not say: the rule then asks for the most
/// regular assessments (4), so nothing is shown complete too early.
const UNKNOWN_PERIODS: u16 = 140;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GradesQuery {
    /// A school year's id (from `school_years`); the latest the pupil has classes in when
    /// absent.
    school_year: Option<String>,
}

/// A label of a result: a stable code and its words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultLabel {
    /// `tot`, `kha`, `dat`, `chua_dat` (Circular 22); `T`, `H`, `C` or `T`, `Đ`, `C` (Circular
    /// 27 levels); `hoan_thanh_xuat_sac`, `hoan_thanh_tot`, `hoan_thanh`, `chua_hoan_thanh`.
    code: String,
    vi: String,
    en: String,
}

impl ResultLabel {
    fn new(code: &str, vi: &str, en: &str) -> Self {
        Self {
            code: code.to_owned(),
            vi: vi.to_owned(),
            en: en.to_owned(),
        }
    }

    fn level(level: LearningLevel) -> Self {
        let code = match level {
            LearningLevel::Tot => "tot",
            LearningLevel::Kha => "kha",
            LearningLevel::Dat => "dat",
            LearningLevel::ChuaDat => "chua_dat",
        };
        Self::new(code, level.vi(), level.en())
    }

    fn comment(grade: CommentGrade) -> Self {
        let code = match grade {
            CommentGrade::Dat => "dat",
            CommentGrade::ChuaDat => "chua_dat",
        };
        Self::new(code, grade.vi(), grade.en())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GradeReport {
    student_id: String,
    student_name: String,
    /// The homeroom class (`7/2`), when the school names one.
    class: Option<String>,
    school_year: SchoolYear,
    /// Every school year the pupil has classes in, oldest first.
    school_years: Vec<SchoolYear>,
    /// The rules the results follow: `22/2021/TT-BGDĐT` (grades 6 to 12) or
    /// `27/2020/TT-BGDĐT` (grades 1 to 5).
    circular: String,
    semesters: Vec<GradeSemester>,
    year: GradeYear,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchoolYear {
    /// What `?school_year=` takes.
    id: String,
    title: String,
}

impl SchoolYear {
    fn of(session: &AcademicSession) -> Self {
        Self {
            id: session.sourced_id.clone(),
            title: session.title.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GradeSemester {
    /// 1 or 2.
    semester: u8,
    title: String,
    subjects: Vec<GradeSubject>,
    /// Circular 22: the learning level, once every subject's semester is complete.
    level: Option<ResultLabel>,
    /// Circular 22: the conduct result the form teacher gave (kết quả rèn luyện).
    conduct: Option<String>,
    /// Circular 27: qualities (phẩm chất) and competencies (năng lực) at the semester's end.
    qualities: Vec<QualityResult>,
    competencies: Vec<QualityResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GradeSubject {
    code: Option<String>,
    name: Text,
    /// `scored` or `comment` (Circular 22), `level` (Circular 27).
    assessment: String,
    /// Every assessment published, in the school's order.
    marks: Vec<Mark>,
    /// Circular 22, scored: the semester average (ĐTBmhk), once complete.
    average: Option<f64>,
    /// Circular 22, comment-only: Đạt / Chưa đạt once complete; Circular 27: the level.
    result: Option<ResultLabel>,
    /// Circular 27: the periodic test's score, for the subjects that have one.
    test_score: Option<u8>,
    /// Circular 22: what is still missing before the semester's result can be given.
    missing: Option<Missing>,
    #[serde(skip)]
    computed: Computed,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Mark {
    title: String,
    /// `regular`, `midterm`, `final`, `subject_level`, ...
    kind: String,
    score: Option<f64>,
    text: Option<String>,
    /// The teacher's comment.
    comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Missing {
    regular: u8,
    midterm: bool,
    #[serde(rename = "final")]
    final_assessment: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QualityResult {
    name: String,
    level: ResultLabel,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GradeYear {
    subjects: Vec<YearSubject>,
    /// Circular 22: the year's learning level, once both semesters are complete.
    level: Option<ResultLabel>,
    /// Circular 27: the year's result (Hoàn thành xuất sắc, ...), once the year's evaluation is in.
    result: Option<ResultLabel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct YearSubject {
    code: Option<String>,
    name: Text,
    /// Circular 22, scored: (ĐTBmhk I + 2 × ĐTBmhk II) / 3.
    average: Option<f64>,
    /// Circular 22, comment-only: semester II's result.
    result: Option<ResultLabel>,
}

/// A linked child's results for a school year, computed by the circular's rules.
#[utoipa::path(get, path = "/v1/education/children/{id}/grades", operation_id = "get_child_grades", tag = "education", security(("bearer" = [])),
    params(("id" = String, Path, description = "The child's id"), GradesQuery),
    responses((status = 200, body = GradeReport),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`child_not_found`, `school_year_not_found`, `no_school_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: the school system did not answer", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<EducationState>,
    principal: Principal,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<GradesQuery>,
) -> Result<Json<GradeReport>, ApiError> {
    if principal.acr < platform::auth::Acr::Verified {
        return Err(SharedError::VerificationRequired.into());
    }
    let (jurisdiction, student_name) = linked_child(&state, &principal, &id).await?;
    if !valid_id(&id) {
        return Err(EducationError::ChildNotFound.into());
    }
    let system = state
        .systems
        .get(&jurisdiction)
        .cloned()
        .ok_or(EducationError::NoSchoolSystem)?;
    let report = report(&system, &id, student_name, query.school_year.as_deref()).await?;
    Ok(Json(report))
}

/// What the school system holds of one class for the pupil.
struct ClassResults {
    class: Class,
    line_items: Vec<LineItem>,
    results: Vec<GradeResult>,
}

async fn report(
    system: &OneRoster,
    student: &str,
    student_name: String,
    school_year: Option<&str>,
) -> Result<GradeReport, ApiError> {
    let classes_path = format!("rostering/v1p2/students/{student}/classes");
    let (classes, sessions, categories) = tokio::try_join!(
        system.collection::<Class>(&classes_path, "classes", &[]),
        system.reference::<AcademicSession>("rostering/v1p2/academicSessions", "academicSessions"),
        system.reference::<Category>("gradebook/v1p2/categories", "categories"),
    )
    .map_err(unavailable)?;
    let sessions: HashMap<&str, &AcademicSession> = sessions
        .iter()
        .map(|s| (s.sourced_id.as_str(), s))
        .collect();
    let kinds: HashMap<&str, &str> = categories
        .iter()
        .filter_map(|c| Some((c.sourced_id.as_str(), c.metadata.kind.as_deref()?)))
        .collect();

    // A class belongs to the school year its terms are part of.
    let year_of = |class: &Class| -> Option<&AcademicSession> {
        class.terms.iter().find_map(|term| {
            let term = sessions.get(term.sourced_id.as_str())?;
            let parent = term.parent.as_ref()?;
            sessions.get(parent.sourced_id.as_str()).copied()
        })
    };
    let mut years: Vec<&AcademicSession> = classes.iter().filter_map(year_of).collect();
    years.sort_by(|a, b| a.title.cmp(&b.title));
    years.dedup_by(|a, b| a.sourced_id == b.sourced_id);
    let year = match school_year {
        Some(wanted) => years
            .iter()
            .find(|y| y.sourced_id == wanted)
            .copied()
            .ok_or(EducationError::SchoolYearNotFound)?,
        None => *years.last().ok_or(EducationError::SchoolYearNotFound)?,
    };
    let in_year: Vec<Class> = classes
        .iter()
        .filter(|c| c.status.as_deref() != Some("tobedeleted"))
        .filter(|c| year_of(c).is_some_and(|y| y.sourced_id == year.sourced_id))
        .cloned()
        .collect();

    let per_class: Vec<ClassResults> = stream::iter(in_year)
        .map(|class| async move {
            let line_items = system
                .reference::<LineItem>(
                    &format!("gradebook/v1p2/classes/{}/lineItems", class.sourced_id),
                    "lineItems",
                )
                .await?;
            let results = system
                .collection::<GradeResult>(
                    &format!(
                        "gradebook/v1p2/classes/{}/students/{student}/results",
                        class.sourced_id
                    ),
                    "results",
                    &[],
                )
                .await?;
            Ok(ClassResults {
                class,
                line_items,
                results,
            })
        })
        .buffered(CONCURRENT_CLASSES)
        .try_collect()
        .await
        .map_err(unavailable)?;

    let semester_of = |item: &LineItem| -> Option<(u8, &str)> {
        let session = sessions.get(item.grading_period.as_ref()?.sourced_id.as_str())?;
        Some((session.metadata.semester?, session.title.as_str()))
    };
    let primary = per_class
        .iter()
        .flat_map(|c| c.class.grades.iter())
        .filter_map(|g| g.trim().parse::<u8>().ok())
        .all(|grade| (1..=5).contains(&grade))
        && per_class.iter().any(|c| !c.class.grades.is_empty());
    let homeroom = per_class
        .iter()
        .find(|c| c.class.class_type.as_deref() == Some("homeroom"))
        .map(|c| c.class.title.clone());

    let mut semesters: BTreeMap<u8, Collected> = BTreeMap::new();
    for class in &per_class {
        let items: HashMap<&str, &LineItem> = class
            .line_items
            .iter()
            .filter(|i| i.status.as_deref() != Some("tobedeleted"))
            .map(|i| (i.sourced_id.as_str(), i))
            .collect();
        // Every semester of the year shows each subject, published results or not.
        for item in items.values() {
            if let Some((semester, title)) = semester_of(item) {
                semesters
                    .entry(semester)
                    .or_insert_with(|| Collected::new(title));
            }
        }
        let mut marks: BTreeMap<u8, Vec<(&LineItem, &str, &GradeResult)>> = BTreeMap::new();
        for result in class
            .results
            .iter()
            .filter(|r| r.active() && r.student.sourced_id == student)
        {
            let Some(item) = items.get(result.line_item.sourced_id.as_str()) else {
                continue;
            };
            let Some((semester, _)) = semester_of(item) else {
                continue;
            };
            let kind = kinds
                .get(item.category.sourced_id.as_str())
                .copied()
                .unwrap_or("");
            marks
                .entry(semester)
                .or_default()
                .push((item, kind, result));
        }
        let is_homeroom = class.class.class_type.as_deref() == Some("homeroom");
        for (semester, collected) in semesters.iter_mut() {
            let mut mine = marks.remove(semester).unwrap_or_default();
            mine.sort_by(|a, b| {
                (a.0.assign_date.as_deref(), a.0.title.as_str())
                    .cmp(&(b.0.assign_date.as_deref(), b.0.title.as_str()))
            });
            if is_homeroom {
                collected.homeroom(&mine);
            } else if class
                .line_items
                .iter()
                .any(|i| semester_of(i).is_some_and(|(s, _)| s == *semester))
            {
                collected
                    .subjects
                    .push(subject(&class.class, &mine, primary));
            }
        }
    }

    let semesters: Vec<GradeSemester> = semesters
        .into_iter()
        .map(|(semester, collected)| collected.finish(semester))
        .collect();
    let whole_year = if primary {
        primary_year(&semesters)
    } else {
        secondary_year(&semesters)
    };
    Ok(GradeReport {
        student_id: student.to_owned(),
        student_name,
        class: homeroom,
        school_year: SchoolYear::of(year),
        school_years: years.iter().map(|y| SchoolYear::of(y)).collect(),
        circular: if primary {
            "27/2020/TT-BGDĐT"
        } else {
            "22/2021/TT-BGDĐT"
        }
        .to_owned(),
        semesters,
        year: whole_year,
    })
}

/// One semester's results, as they are gathered class by class.
struct Collected {
    title: String,
    subjects: Vec<GradeSubject>,
    conduct: Option<String>,
    qualities: Vec<QualityResult>,
    competencies: Vec<QualityResult>,
}

impl Collected {
    fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            subjects: Vec::new(),
            conduct: None,
            qualities: Vec::new(),
            competencies: Vec::new(),
        }
    }

    /// The form class's results: conduct (Circular 22), qualities and competencies (27).
    fn homeroom(&mut self, marks: &[(&LineItem, &str, &GradeResult)]) {
        for (item, kind, result) in marks {
            let text = result.text_score.as_deref().map(str::trim);
            match *kind {
                "conduct" => self.conduct = text.map(str::to_owned),
                "quality" | "competency" => {
                    let Some(level) = text.and_then(QualityLevel::parse) else {
                        continue;
                    };
                    let quality = QualityResult {
                        name: item.title.clone(),
                        level: ResultLabel::new(level.letter(), level.vi(), level.en()),
                    };
                    if *kind == "quality" {
                        self.qualities.push(quality);
                    } else {
                        self.competencies.push(quality);
                    }
                }
                _ => {}
            }
        }
    }

    fn finish(self, semester: u8) -> GradeSemester {
        let level = self
            .subjects
            .iter()
            .any(|s| s.assessment != "level")
            .then(|| {
                let scored: Vec<Option<Tenths>> = self
                    .subjects
                    .iter()
                    .filter(|s| s.assessment == "scored")
                    .map(|s| s.computed.average)
                    .collect();
                let commented: Vec<Option<CommentGrade>> = self
                    .subjects
                    .iter()
                    .filter(|s| s.assessment == "comment")
                    .map(|s| s.computed.comment)
                    .collect();
                rules::learning_level(&scored, &commented)
            })
            .flatten()
            .map(ResultLabel::level);
        GradeSemester {
            semester,
            title: self.title,
            subjects: self.subjects,
            level,
            conduct: self.conduct,
            qualities: self.qualities,
            competencies: self.competencies,
        }
    }
}

/// What the rules computed of a subject's semester, for the semester's and the year's results.
#[derive(Debug, Default)]
struct Computed {
    class_id: String,
    average: Option<Tenths>,
    comment: Option<CommentGrade>,
    primary: Option<PrimarySubjectResult>,
}

/// One subject's semester from its marks.
fn subject(
    class: &Class,
    marks: &[(&LineItem, &str, &GradeResult)],
    primary: bool,
) -> GradeSubject {
    let code = class.subject_codes.first().cloned();
    let school_name = class.subjects.first().unwrap_or(&class.title);
    let assessment = class
        .metadata
        .assessment
        .clone()
        .unwrap_or_else(|| if primary { "level" } else { "scored" }.to_owned());
    let periods = class
        .metadata
        .periods_per_year
        .map_or(UNKNOWN_PERIODS, |p| u16::try_from(p).unwrap_or(u16::MAX));
    let of_kind = |wanted: &'static str| marks.iter().filter(move |(_, kind, _)| *kind == wanted);
    let score = |result: &GradeResult| result.score.and_then(Tenths::from_f64);
    let text = |result: &GradeResult| result.text_score.as_deref().and_then(CommentGrade::parse);

    let mut computed = Computed {
        class_id: class.sourced_id.clone(),
        ..Computed::default()
    };
    let (mut average, mut result, mut test_score, mut missing) = (None, None, None, None);
    let missing_of = |regular_missing, midterm_missing, final_missing| Missing {
        regular: regular_missing,
        midterm: midterm_missing,
        final_assessment: final_missing,
    };
    match assessment.as_str() {
        "scored" => {
            let regular: Vec<Tenths> = of_kind("regular")
                .filter_map(|(_, _, r)| score(r))
                .collect();
            let midterm = of_kind("midterm").find_map(|(_, _, r)| score(r));
            let final_score = of_kind("final").find_map(|(_, _, r)| score(r));
            match rules::semester_average(periods, &regular, midterm, final_score) {
                SemesterResult::Complete(value) => {
                    computed.average = Some(value);
                    average = Some(value.as_f64());
                }
                SemesterResult::Incomplete {
                    regular_missing,
                    midterm_missing,
                    final_missing,
                } => {
                    missing = Some(missing_of(regular_missing, midterm_missing, final_missing));
                }
            }
        }
        "comment" => {
            let regular: Vec<CommentGrade> =
                of_kind("regular").filter_map(|(_, _, r)| text(r)).collect();
            let midterm = of_kind("midterm").find_map(|(_, _, r)| text(r));
            let final_grade = of_kind("final").find_map(|(_, _, r)| text(r));
            match rules::comment_semester(periods, &regular, midterm, final_grade) {
                SemesterResult::Complete(grade) => {
                    computed.comment = Some(grade);
                    result = Some(ResultLabel::comment(grade));
                }
                SemesterResult::Incomplete {
                    regular_missing,
                    midterm_missing,
                    final_missing,
                } => {
                    missing = Some(missing_of(regular_missing, midterm_missing, final_missing));
                }
            }
        }
        _ => {
            let level = of_kind("subject_level")
                .find_map(|(_, _, r)| r.text_score.as_deref().and_then(PrimarySubjectLevel::parse));
            let test =
                of_kind("final").find_map(|(_, _, r)| r.score.and_then(PrimaryTestScore::from_f64));
            test_score = test.map(PrimaryTestScore::value);
            if let Some(level) = level {
                result = Some(ResultLabel::new(level.letter(), level.vi(), level.en()));
                computed.primary = Some(PrimarySubjectResult {
                    level,
                    end_of_year_test: test,
                });
            }
        }
    }
    GradeSubject {
        name: subjects::name(code.as_deref(), school_name),
        code,
        assessment,
        marks: marks
            .iter()
            .map(|(item, kind, result)| Mark {
                title: item.title.clone(),
                kind: (*kind).to_owned(),
                score: result.score,
                text: result.text_score.clone(),
                comment: result.comment.clone(),
            })
            .collect(),
        average,
        result,
        test_score,
        missing,
        computed,
    }
}

/// Circular 22's year: each subject's year average or result, and the year's level.
fn secondary_year(semesters: &[GradeSemester]) -> GradeYear {
    let of = |n: u8| semesters.iter().find(|s| s.semester == n);
    let (first, second) = (of(1), of(2));
    let Some(second) = second else {
        return GradeYear {
            subjects: Vec::new(),
            level: None,
            result: None,
        };
    };
    let mut subjects = Vec::new();
    let (mut scored, mut commented) = (Vec::new(), Vec::new());
    for subject in &second.subjects {
        let earlier = first.and_then(|f| {
            f.subjects
                .iter()
                .find(|s| s.computed.class_id == subject.computed.class_id)
        });
        let (mut average, mut result) = (None, None);
        match subject.assessment.as_str() {
            "scored" => {
                let value = rules::year_average(
                    earlier.and_then(|s| s.computed.average),
                    subject.computed.average,
                );
                scored.push(value);
                average = value.map(Tenths::as_f64);
            }
            "comment" => {
                let grade = rules::comment_year(subject.computed.comment);
                commented.push(grade);
                result = grade.map(ResultLabel::comment);
            }
            _ => continue,
        }
        subjects.push(YearSubject {
            code: subject.code.clone(),
            name: subject.name.clone(),
            average,
            result,
        });
    }
    GradeYear {
        subjects,
        level: rules::learning_level(&scored, &commented).map(ResultLabel::level),
        result: None,
    }
}

/// Circular 27's year: the result of the year's last evaluation (semester II), once every
/// subject, quality and competency has one.
fn primary_year(semesters: &[GradeSemester]) -> GradeYear {
    let result = semesters.iter().find(|s| s.semester == 2).and_then(|last| {
        let subjects: Option<Vec<PrimarySubjectResult>> =
            last.subjects.iter().map(|s| s.computed.primary).collect();
        let levels = |of: &[QualityResult]| -> Option<Vec<QualityLevel>> {
            of.iter()
                .map(|q| QualityLevel::parse(&q.level.code))
                .collect()
        };
        rules::primary_year_result(
            &subjects?,
            &levels(&last.qualities)?,
            &levels(&last.competencies)?,
        )
    });
    GradeYear {
        subjects: Vec::new(),
        level: None,
        result: result.map(|r| {
            let code = match r {
                rules::PrimaryYearResult::HoanThanhXuatSac => "hoan_thanh_xuat_sac",
                rules::PrimaryYearResult::HoanThanhTot => "hoan_thanh_tot",
                rules::PrimaryYearResult::HoanThanh => "hoan_thanh",
                rules::PrimaryYearResult::ChuaHoanThanh => "chua_hoan_thanh",
            };
            ResultLabel::new(code, r.vi(), r.en())
        }),
    }
}
