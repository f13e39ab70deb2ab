//! The records the OneRoster sandbox starts with, made in code: Huế's department of education
//! and fifteen of its schools; three pupils, their parents and some of their teachers; the
//! sessions of two school years; the pupils' form and subject classes with their enrollments;
//! and the gradebook: categories, line items and the results below, written as tables a
//! reader can check by hand.
//!
//! Everything is fixed but the `dateLastModified` of the results of the semester in progress
//! ([`IN_PROGRESS`]): those are spread over the four weeks before the sandbox started, in the
//! order their line items fell due, so a client polling for new results finds them recent
//! and a result written now newer than all of them. Their `scoreDate` is the line item's due
//! date (or the publication's, were that earlier); a finished semester's results are dated
//! on the due date and published two days later.

use std::collections::HashSet;

use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use super::*;

/// The semester whose results are still coming in; no later semester has line items.
const IN_PROGRESS: &str = "2026-2027-hk1";
/// How far back the results in progress reach.
const IN_PROGRESS_SPAN_DAYS: i64 = 28;

/// Huế's wards, by Citizen's ids.
pub const WARDS: [&str; 15] = [
    "phu-xuan",
    "thuan-hoa",
    "vy-da",
    "kim-long",
    "huong-an",
    "huong-tra",
    "hoa-chau",
    "thuan-an",
    "duong-no",
    "my-thuong",
    "thuy-xuan",
    "an-cuu",
    "huong-thuy",
    "thanh-thuy",
    "phu-bai",
];

// --- Orgs ---

struct School {
    id: &'static str,
    name: &'static str,
    /// The ministry's school code (sandbox values in its shape: 46 is Huế).
    code: &'static str,
    levels: &'static [&'static str],
    private: bool,
    address: &'static str,
    phone: &'static str,
    latitude: f64,
    longitude: f64,
    ward: &'static str,
    /// The wards whose children it takes; `None`: the whole city (by entrance exam or
    /// selection, not by where one lives).
    enrols: Option<&'static [&'static str]>,
}

const PRESCHOOL: &[&str] = &["preschool"];
const PRIMARY: &[&str] = &["primary"];
const LOWER: &[&str] = &["lower_secondary"];
const UPPER: &[&str] = &["upper_secondary"];
const SECONDARY: &[&str] = &["lower_secondary", "upper_secondary"];

/// Addresses and coordinates are approximate.
const SCHOOLS: &[School] = &[
    School {
        id: "mn-hoa-sen",
        name: "Trường Mầm non Hoa Sen",
        code: "46001101",
        levels: PRESCHOOL,
        private: false,
        address: "Nguyễn Trường Tộ, phường Thuận Hóa, thành phố Huế",
        phone: "+842343822140",
        latitude: 16.4598,
        longitude: 107.5957,
        ward: "thuan-hoa",
        enrols: Some(&["thuan-hoa", "an-cuu"]),
    },
    School {
        id: "mn-sao-mai",
        name: "Trường Mầm non tư thục Sao Mai",
        code: "46001102",
        levels: PRESCHOOL,
        private: true,
        address: "Nguyễn Sinh Cung, phường Vỹ Dạ, thành phố Huế",
        phone: "+842343898123",
        latitude: 16.4736,
        longitude: 107.6012,
        ward: "vy-da",
        enrols: Some(&[]),
    },
    School {
        id: "th-le-loi",
        name: "Trường Tiểu học Lê Lợi",
        code: "46002101",
        levels: PRIMARY,
        private: false,
        address: "Trương Định, phường Thuận Hóa, thành phố Huế",
        phone: "+842343822561",
        latitude: 16.4633,
        longitude: 107.5924,
        ward: "thuan-hoa",
        enrols: Some(&["thuan-hoa"]),
    },
    School {
        id: "th-vinh-ninh",
        name: "Trường Tiểu học Vĩnh Ninh",
        code: "46002102",
        levels: PRIMARY,
        private: false,
        address: "Ngô Quyền, phường Thuận Hóa, thành phố Huế",
        phone: "+842343823310",
        latitude: 16.4583,
        longitude: 107.5868,
        ward: "thuan-hoa",
        enrols: Some(&["thuan-hoa", "thuy-xuan"]),
    },
    School {
        id: "th-kim-long",
        name: "Trường Tiểu học Kim Long",
        code: "46002103",
        levels: PRIMARY,
        private: false,
        address: "Kim Long, phường Kim Long, thành phố Huế",
        phone: "+842343525118",
        latitude: 16.4619,
        longitude: 107.5587,
        ward: "kim-long",
        enrols: Some(&["kim-long", "huong-an"]),
    },
    School {
        id: "thcs-nguyen-tri-phuong",
        name: "Trường THCS Nguyễn Tri Phương",
        code: "46003101",
        levels: LOWER,
        private: false,
        address: "26 Lê Lợi, phường Thuận Hóa, thành phố Huế",
        phone: "+842343822409",
        latitude: 16.4612,
        longitude: 107.5903,
        ward: "thuan-hoa",
        enrols: Some(&["thuan-hoa", "vy-da", "an-cuu"]),
    },
    School {
        id: "thcs-nguyen-chi-dieu",
        name: "Trường THCS Nguyễn Chí Diểu",
        code: "46003102",
        levels: LOWER,
        private: false,
        address: "Lê Huân, phường Phú Xuân, thành phố Huế",
        phone: "+842343522654",
        latitude: 16.4734,
        longitude: 107.5772,
        ward: "phu-xuan",
        enrols: Some(&["phu-xuan", "kim-long"]),
    },
    School {
        id: "pt-dtnt-hue",
        name: "Trường Phổ thông Dân tộc nội trú thành phố Huế (THCS và THPT)",
        code: "46004001",
        levels: SECONDARY,
        private: false,
        address: "Lê Ngô Cát, phường Thủy Xuân, thành phố Huế",
        phone: "+842343887345",
        latitude: 16.4437,
        longitude: 107.5702,
        ward: "thuy-xuan",
        enrols: None,
    },
    School {
        id: "thpt-chuyen-quoc-hoc",
        name: "Trường THPT chuyên Quốc Học Huế",
        code: "46004101",
        levels: UPPER,
        private: false,
        address: "12 Lê Lợi, phường Thuận Hóa, thành phố Huế",
        phone: "+842343823234",
        latitude: 16.4617,
        longitude: 107.5878,
        ward: "thuan-hoa",
        enrols: None,
    },
    School {
        id: "thpt-hai-ba-trung",
        name: "Trường THPT Hai Bà Trưng",
        code: "46004102",
        levels: UPPER,
        private: false,
        address: "14 Lê Lợi, phường Thuận Hóa, thành phố Huế",
        phone: "+842343822364",
        latitude: 16.4627,
        longitude: 107.5866,
        ward: "thuan-hoa",
        enrols: Some(&["thuan-hoa", "vy-da", "an-cuu", "thuy-xuan"]),
    },
    School {
        id: "thpt-nguyen-hue",
        name: "Trường THPT Nguyễn Huệ",
        code: "46004103",
        levels: UPPER,
        private: false,
        address: "83 Đinh Tiên Hoàng, phường Phú Xuân, thành phố Huế",
        phone: "+842343522415",
        latitude: 16.4721,
        longitude: 107.5822,
        ward: "phu-xuan",
        enrols: Some(&["phu-xuan", "kim-long", "huong-an"]),
    },
    School {
        id: "thpt-gia-hoi",
        name: "Trường THPT Gia Hội",
        code: "46004104",
        levels: UPPER,
        private: false,
        address: "Nguyễn Chí Thanh, phường Phú Xuân, thành phố Huế",
        phone: "+842343524339",
        latitude: 16.4747,
        longitude: 107.5934,
        ward: "phu-xuan",
        enrols: Some(&["phu-xuan", "vy-da", "duong-no"]),
    },
    School {
        id: "thpt-thuan-an",
        name: "Trường THPT Thuận An",
        code: "46004105",
        levels: UPPER,
        private: false,
        address: "Thuận An, phường Thuận An, thành phố Huế",
        phone: "+842343866212",
        latitude: 16.5562,
        longitude: 107.6415,
        ward: "thuan-an",
        enrols: Some(&["thuan-an", "duong-no", "my-thuong", "hoa-chau"]),
    },
    School {
        id: "thpt-huong-tra",
        name: "Trường THPT Hương Trà",
        code: "46004106",
        levels: UPPER,
        private: false,
        address: "Tứ Hạ, phường Hương Trà, thành phố Huế",
        phone: "+842343557224",
        latitude: 16.5312,
        longitude: 107.4718,
        ward: "huong-tra",
        enrols: Some(&["huong-tra", "huong-an"]),
    },
    School {
        id: "thpt-phu-bai",
        name: "Trường THPT Phú Bài",
        code: "46004107",
        levels: UPPER,
        private: false,
        address: "Nguyễn Tất Thành, phường Phú Bài, thành phố Huế",
        phone: "+842343861170",
        latitude: 16.4104,
        longitude: 107.6983,
        ward: "phu-bai",
        enrols: Some(&["phu-bai", "huong-thuy", "thanh-thuy"]),
    },
];

fn orgs() -> Vec<Value> {
    let modified = stamp(day(2025, 7, 1), 1);
    let mut orgs = vec![json!({
        "sourcedId": DEPARTMENT_ID,
        "status": "active",
        "dateLastModified": modified,
        "name": "Sở Giáo dục và Đào tạo thành phố Huế",
        // Since the 2025 reform there is no district office between the department and
        // the schools, so it is their local education agency: OneRoster's `district`.
        "type": "district",
        "identifier": "46",
        "children": SCHOOLS.iter().map(|s| org_ref(s.id)).collect::<Vec<_>>(),
    })];
    for school in SCHOOLS {
        let enrols: Vec<&str> = school.enrols.map_or(WARDS.to_vec(), <[&str]>::to_vec);
        orgs.push(json!({
            "sourcedId": school.id,
            "status": "active",
            "dateLastModified": modified,
            "name": school.name,
            "type": "school",
            "identifier": school.code,
            "parent": org_ref(DEPARTMENT_ID),
            "metadata": {
                "levels": school.levels,
                "ownership": if school.private { "private" } else { "public" },
                "address": school.address,
                "phone": school.phone,
                "latitude": school.latitude,
                "longitude": school.longitude,
                "ward": school.ward,
                "enrolmentWards": enrols,
            },
        }));
    }
    orgs
}

// --- Academic sessions ---

/// A school year: its id, `schoolYear`, first day, last day of semester I, last day.
struct Year {
    id: &'static str,
    school_year: &'static str,
    start: (i32, u32, u32),
    first_semester_end: (i32, u32, u32),
    end: (i32, u32, u32),
}

const YEARS: [Year; 2] = [
    Year {
        id: SCHOOL_YEAR_2026,
        school_year: "2026",
        start: (2025, 9, 5),
        first_semester_end: (2026, 1, 15),
        end: (2026, 5, 31),
    },
    Year {
        id: SCHOOL_YEAR_2027,
        school_year: "2027",
        start: (2026, 9, 5),
        first_semester_end: (2027, 1, 15),
        end: (2027, 5, 31),
    },
];

fn year(id: &str) -> &'static Year {
    YEARS.iter().find(|y| y.id == id).unwrap_or(&YEARS[0])
}

impl Year {
    fn start(&self) -> NaiveDate {
        day_of(self.start)
    }

    fn end(&self) -> NaiveDate {
        day_of(self.end)
    }

    /// Semester 1 or 2: its first and last days.
    fn semester(&self, semester: u8) -> (NaiveDate, NaiveDate) {
        let first_end = day_of(self.first_semester_end);
        if semester == 1 {
            (self.start(), first_end)
        } else {
            (plus(first_end, 1), self.end())
        }
    }

    fn semester_id(&self, semester: u8) -> String {
        format!("{}-hk{semester}", self.id)
    }
}

fn sessions() -> Vec<Value> {
    let mut sessions = Vec::new();
    for year in &YEARS {
        let modified = stamp(plus(year.start(), -30), 2);
        sessions.push(json!({
            "sourcedId": year.id,
            "status": "active",
            "dateLastModified": modified,
            "title": format!("Năm học {}", year.id),
            "type": "schoolYear",
            "startDate": date(year.start()),
            "endDate": date(year.end()),
            "schoolYear": year.school_year,
            "children": [session_ref(&year.semester_id(1)), session_ref(&year.semester_id(2))],
        }));
        for (semester, title) in [(1, "Học kì I"), (2, "Học kì II")] {
            let (start, end) = year.semester(semester);
            sessions.push(json!({
                "sourcedId": year.semester_id(semester),
                "status": "active",
                "dateLastModified": modified,
                "title": title,
                "type": "semester",
                "startDate": date(start),
                "endDate": date(end),
                "parent": session_ref(year.id),
                "schoolYear": year.school_year,
                "metadata": { "semester": semester },
            }));
        }
    }
    sessions
}

// --- Categories ---

/// (id, title, Citizen's kind, weight in Circular 22's average)
const CATEGORIES: [(&str, &str, &str, Option<u8>); 7] = [
    ("tx", "Đánh giá thường xuyên", "regular", Some(1)),
    ("gk", "Đánh giá giữa kì", "midterm", Some(2)),
    ("ck", "Đánh giá cuối kì", "final", Some(3)),
    ("muc-dat", "Mức đạt được của môn học", "subject_level", None),
    ("pham-chat", "Phẩm chất", "quality", None),
    ("nang-luc", "Năng lực", "competency", None),
    ("ren-luyen", "Kết quả rèn luyện", "conduct", None),
];

fn categories() -> Vec<Value> {
    CATEGORIES
        .iter()
        .map(|(id, title, kind, weight)| {
            let mut category = json!({
                "sourcedId": id,
                "status": "active",
                "dateLastModified": stamp(day(2025, 8, 1), 2),
                "title": title,
                "metadata": { "kind": kind },
            });
            if let Some(weight) = weight {
                category["weight"] = json!(weight);
            }
            category
        })
        .collect()
}

// --- Subjects and classes ---

#[derive(Clone, Copy, PartialEq, Eq)]
enum Assessment {
    /// Circular 22, marked 0-10.
    Scored,
    /// Circular 22, Đ / CĐ only.
    Comment,
    /// Circular 27 (primary): a level T / H / C, and for some subjects a test.
    Level { tested: bool },
}

#[derive(Clone, Copy)]
struct Subject {
    code: &'static str,
    name: &'static str,
    periods: u32,
    assessment: Assessment,
}

const fn scored(code: &'static str, name: &'static str, periods: u32) -> Subject {
    Subject {
        code,
        name,
        periods,
        assessment: Assessment::Scored,
    }
}

const fn commented(code: &'static str, name: &'static str, periods: u32) -> Subject {
    Subject {
        code,
        name,
        periods,
        assessment: Assessment::Comment,
    }
}

const fn levelled(code: &'static str, name: &'static str, periods: u32, tested: bool) -> Subject {
    Subject {
        code,
        name,
        periods,
        assessment: Assessment::Level { tested },
    }
}

/// Grades 6 and 7 of the 2018 programme, with periods a year.
const LOWER_SECONDARY_SUBJECTS: &[Subject] = &[
    scored("toan", "Toán", 140),
    scored("ngu_van", "Ngữ văn", 140),
    scored("tieng_anh", "Tiếng Anh", 105),
    scored("gdcd", "Giáo dục công dân", 35),
    scored("ls_dl", "Lịch sử và Địa lí", 105),
    scored("khtn", "Khoa học tự nhiên", 140),
    scored("cong_nghe", "Công nghệ", 35),
    scored("tin_hoc", "Tin học", 35),
    commented("gdtc", "Giáo dục thể chất", 70),
    commented("nghe_thuat", "Nghệ thuật", 70),
    commented("hdtn", "Hoạt động trải nghiệm, hướng nghiệp", 105),
    commented("gddp", "Nội dung giáo dục của địa phương", 35),
];

const GRADE_3_SUBJECTS: &[Subject] = &[
    levelled("tieng_viet", "Tiếng Việt", 245, true),
    levelled("toan", "Toán", 175, true),
    levelled("tieng_anh", "Tiếng Anh", 140, true),
    levelled("dao_duc", "Đạo đức", 35, false),
    levelled("tu_nhien_xa_hoi", "Tự nhiên và Xã hội", 70, false),
    levelled("tin_hoc_cong_nghe", "Tin học và Công nghệ", 70, true),
    levelled("gdtc", "Giáo dục thể chất", 70, false),
    levelled("am_nhac", "Âm nhạc", 35, false),
    levelled("mi_thuat", "Mĩ thuật", 35, false),
    levelled("hdtn", "Hoạt động trải nghiệm", 105, false),
];

const GRADE_4_SUBJECTS: &[Subject] = &[
    levelled("tieng_viet", "Tiếng Việt", 245, true),
    levelled("toan", "Toán", 175, true),
    levelled("tieng_anh", "Tiếng Anh", 140, true),
    levelled("dao_duc", "Đạo đức", 35, false),
    levelled("ls_dl", "Lịch sử và Địa lí", 70, true),
    levelled("khoa_hoc", "Khoa học", 70, true),
    levelled("tin_hoc_cong_nghe", "Tin học và Công nghệ", 70, true),
    levelled("gdtc", "Giáo dục thể chất", 70, false),
    levelled("am_nhac", "Âm nhạc", 35, false),
    levelled("mi_thuat", "Mĩ thuật", 35, false),
    levelled("hdtn", "Hoạt động trải nghiệm", 105, false),
];

/// Grades 10 and 11: the compulsory subjects and a specialised informatics form's four
/// electives.
const UPPER_SECONDARY_SUBJECTS: &[Subject] = &[
    scored("toan", "Toán", 105),
    scored("ngu_van", "Ngữ văn", 105),
    scored("tieng_anh", "Tiếng Anh", 105),
    scored("lich_su", "Lịch sử", 52),
    scored("vat_li", "Vật lí", 70),
    scored("hoa_hoc", "Hóa học", 70),
    scored("tin_hoc", "Tin học", 70),
    scored("dia_li", "Địa lí", 70),
    scored("gdqp", "Giáo dục quốc phòng và an ninh", 35),
    commented("gdtc", "Giáo dục thể chất", 70),
    commented("hdtn", "Hoạt động trải nghiệm, hướng nghiệp", 105),
    commented("gddp", "Nội dung giáo dục của địa phương", 35),
];

/// Circular 22's minimum of regular assessments a semester.
fn regular_count(periods: u32) -> usize {
    match periods {
        0..=35 => 2,
        36..=70 => 3,
        _ => 4,
    }
}

/// A form (lớp) in one school year: its homeroom class and one class per subject.
struct Form {
    id: &'static str,
    school: &'static str,
    year: &'static str,
    name: &'static str,
    grade: &'static str,
    subjects: &'static [Subject],
    students: &'static [&'static str],
    homeroom_teacher: &'static str,
    /// Subjects taught by one of [`TEACHERS`]: (subject, teacher).
    taught: &'static [(&'static str, &'static str)],
}

const FORMS: [Form; 6] = [
    Form {
        id: PUPIL1_HOMEROOM_2026,
        school: PUPIL1_SCHOOL_ID,
        year: SCHOOL_YEAR_2026,
        name: "6/2",
        grade: "06",
        subjects: LOWER_SECONDARY_SUBJECTS,
        students: &[PUPIL1_ID],
        homeroom_teacher: "tran-thi-mai",
        taught: &[("toan", "tran-thi-mai"), ("ngu_van", "ho-van-duc")],
    },
    Form {
        id: PUPIL1_HOMEROOM_2027,
        school: PUPIL1_SCHOOL_ID,
        year: SCHOOL_YEAR_2027,
        name: "7/2",
        grade: "07",
        subjects: LOWER_SECONDARY_SUBJECTS,
        students: &[PUPIL1_ID],
        homeroom_teacher: "ho-van-duc",
        taught: &[("toan", "tran-thi-mai"), ("ngu_van", "ho-van-duc")],
    },
    Form {
        id: PUPIL2_HOMEROOM_2026,
        school: PUPIL2_SCHOOL_ID,
        year: SCHOOL_YEAR_2026,
        name: "3/1",
        grade: "03",
        subjects: GRADE_3_SUBJECTS,
        students: &[PUPIL2_ID],
        homeroom_teacher: "nguyen-thi-thu-ha",
        taught: &[
            ("tieng_viet", "nguyen-thi-thu-ha"),
            ("toan", "nguyen-thi-thu-ha"),
            ("dao_duc", "nguyen-thi-thu-ha"),
            ("tu_nhien_xa_hoi", "nguyen-thi-thu-ha"),
            ("hdtn", "nguyen-thi-thu-ha"),
        ],
    },
    Form {
        id: PUPIL2_HOMEROOM_2027,
        school: PUPIL2_SCHOOL_ID,
        year: SCHOOL_YEAR_2027,
        name: "4/1",
        grade: "04",
        subjects: GRADE_4_SUBJECTS,
        students: &[PUPIL2_ID],
        homeroom_teacher: "le-thi-hong",
        taught: &[
            ("tieng_viet", "le-thi-hong"),
            ("toan", "le-thi-hong"),
            ("dao_duc", "le-thi-hong"),
            ("ls_dl", "le-thi-hong"),
            ("khoa_hoc", "le-thi-hong"),
            ("hdtn", "le-thi-hong"),
        ],
    },
    Form {
        id: PUPIL3_HOMEROOM_2026,
        school: PUPIL3_SCHOOL_ID,
        year: SCHOOL_YEAR_2026,
        name: "10 Tin",
        grade: "10",
        subjects: UPPER_SECONDARY_SUBJECTS,
        students: &[PUPIL3_ID],
        homeroom_teacher: "pham-quang-vinh",
        taught: &[("tin_hoc", "pham-quang-vinh")],
    },
    Form {
        id: PUPIL3_HOMEROOM_2027,
        school: PUPIL3_SCHOOL_ID,
        year: SCHOOL_YEAR_2027,
        name: "11 Tin",
        grade: "11",
        subjects: UPPER_SECONDARY_SUBJECTS,
        students: &[PUPIL3_ID],
        homeroom_teacher: "pham-quang-vinh",
        taught: &[("tin_hoc", "pham-quang-vinh")],
    },
];

fn form(id: &str) -> Option<&'static Form> {
    FORMS.iter().find(|f| f.id == id)
}

impl Form {
    /// The class of `subject`, or the homeroom class.
    fn class_id(&self, subject: Option<&Subject>) -> String {
        match subject {
            Some(subject) => format!("{}-{}", self.id, subject.code.replace('_', "-")),
            None => self.id.to_owned(),
        }
    }

    fn primary(&self) -> bool {
        self.grade.parse::<u8>().is_ok_and(|g| (1..=5).contains(&g))
    }

    fn course_id(&self, subject: Option<&Subject>) -> String {
        let grade = self.grade.trim_start_matches('0');
        let what = subject.map_or("chu-nhiem".to_owned(), |s| s.code.replace('_', "-"));
        format!("{}-{}-{grade}-{what}", self.school, self.year)
    }
}

fn rostering(catalog: &mut Catalog) {
    let mut courses_seen = HashSet::new();
    for form in &FORMS {
        let year = year(form.year);
        let modified = stamp(plus(year.start(), -10), 2);
        let terms = json!([
            session_ref(&year.semester_id(1)),
            session_ref(&year.semester_id(2))
        ]);
        let grade_number = form.grade.trim_start_matches('0');
        let mut classes: Vec<(Option<&Subject>, Value)> = vec![(
            None,
            json!({
                "sourcedId": form.class_id(None),
                "status": "active",
                "dateLastModified": modified,
                "title": format!("Lớp {}", form.name),
                "classCode": form.name,
                "classType": "homeroom",
                "grades": [form.grade],
                "course": course_ref(&form.course_id(None)),
                "school": org_ref(form.school),
                "terms": terms,
            }),
        )];
        for subject in form.subjects {
            let mut metadata = json!({
                "assessment": match subject.assessment {
                    Assessment::Scored => "scored",
                    Assessment::Comment => "comment",
                    Assessment::Level { .. } => "level",
                },
                "periodsPerYear": subject.periods,
            });
            if let Assessment::Level { tested } = subject.assessment {
                metadata["tested"] = json!(tested);
            }
            classes.push((
                Some(subject),
                json!({
                    "sourcedId": form.class_id(Some(subject)),
                    "status": "active",
                    "dateLastModified": modified,
                    "title": format!("{} {}", subject.name, form.name),
                    "classCode": format!("{}-{}", form.name.replace(' ', ""), subject.code),
                    "classType": "scheduled",
                    "grades": [form.grade],
                    "subjects": [subject.name],
                    "subjectCodes": [subject.code],
                    "course": course_ref(&form.course_id(Some(subject))),
                    "school": org_ref(form.school),
                    "terms": terms,
                    "metadata": metadata,
                }),
            ));
        }
        for (subject, class) in classes {
            let course_id = form.course_id(subject);
            if courses_seen.insert(course_id.clone()) {
                let (title, code) = match subject {
                    Some(s) => (
                        format!("{} {grade_number}", s.name),
                        format!("{}-{grade_number}", s.code),
                    ),
                    None => (
                        format!("Chủ nhiệm lớp {grade_number}"),
                        format!("chu-nhiem-{grade_number}"),
                    ),
                };
                let mut course = json!({
                    "sourcedId": course_id,
                    "status": "active",
                    "dateLastModified": modified,
                    "title": title,
                    "schoolYear": session_ref(form.year),
                    "courseCode": code,
                    "grades": [form.grade],
                    "org": org_ref(form.school),
                });
                if let Some(s) = subject {
                    course["subjects"] = json!([s.name]);
                    course["subjectCodes"] = json!([s.code]);
                }
                catalog.courses.push(course);
            }
            let class_id = form.class_id(subject);
            let enrolment = |user: &str, role: &str| {
                let mut enrollment = json!({
                    "sourcedId": format!("{class_id}-{user}"),
                    "status": "active",
                    "dateLastModified": modified,
                    "user": user_ref(user),
                    "class": class_ref(&class_id),
                    "school": org_ref(form.school),
                    "role": role,
                    "beginDate": date(year.start()),
                    "endDate": date(year.end()),
                });
                if role == "teacher" {
                    enrollment["primary"] = json!(true);
                }
                enrollment
            };
            for student in form.students {
                catalog.enrollments.push(enrolment(student, "student"));
            }
            let teacher = match subject {
                None => Some(form.homeroom_teacher),
                Some(s) => form
                    .taught
                    .iter()
                    .find(|(code, _)| *code == s.code)
                    .map(|(_, t)| *t),
            };
            if let Some(teacher) = teacher {
                catalog.enrollments.push(enrolment(teacher, "teacher"));
            }
            catalog.classes.push(class);
        }
    }
}

// --- Users ---

struct Person {
    id: &'static str,
    family: &'static str,
    middle: &'static str,
    given: &'static str,
}

struct Pupil {
    person: Person,
    code: &'static str,
    school: &'static str,
    grade: &'static str,
    birth_date: &'static str,
    parents: &'static [&'static str],
}

const PUPILS: [Pupil; 3] = [
    Pupil {
        person: Person {
            id: PUPIL1_ID,
            family: "Lê",
            middle: "Ngọc",
            given: "Hân",
        },
        code: PUPIL1_CODE,
        school: PUPIL1_SCHOOL_ID,
        grade: "07",
        birth_date: "2014-03-12",
        parents: &[PARENT_ID],
    },
    Pupil {
        person: Person {
            id: PUPIL2_ID,
            family: "Lê",
            middle: "Minh",
            given: "Khôi",
        },
        code: PUPIL2_CODE,
        school: PUPIL2_SCHOOL_ID,
        grade: "04",
        birth_date: "2017-10-02",
        parents: &[PARENT_ID],
    },
    Pupil {
        person: Person {
            id: PUPIL3_ID,
            family: "Nguyễn",
            middle: "Hoàng",
            given: "Phúc",
        },
        code: PUPIL3_CODE,
        school: PUPIL3_SCHOOL_ID,
        grade: "11",
        birth_date: "2010-06-21",
        parents: &[OTHER_PARENT_ID],
    },
];

/// Parents: the person, their phone, their children (the first child's school is the
/// parent's primary org).
const PARENTS: [(Person, &str, &[&str]); 2] = [
    (
        Person {
            id: PARENT_ID,
            family: "Phan",
            middle: "Thị Thu",
            given: "Hằng",
        },
        PARENT_PHONE,
        &[PUPIL1_ID, PUPIL2_ID],
    ),
    (
        Person {
            id: OTHER_PARENT_ID,
            family: "Nguyễn",
            middle: "Văn",
            given: "Tâm",
        },
        OTHER_PARENT_PHONE,
        &[PUPIL3_ID],
    ),
];

/// Teachers and their school.
const TEACHERS: [(Person, &str); 5] = [
    (
        Person {
            id: "tran-thi-mai",
            family: "Trần",
            middle: "Thị",
            given: "Mai",
        },
        PUPIL1_SCHOOL_ID,
    ),
    (
        Person {
            id: "ho-van-duc",
            family: "Hồ",
            middle: "Văn",
            given: "Đức",
        },
        PUPIL1_SCHOOL_ID,
    ),
    (
        Person {
            id: "nguyen-thi-thu-ha",
            family: "Nguyễn",
            middle: "Thị Thu",
            given: "Hà",
        },
        PUPIL2_SCHOOL_ID,
    ),
    (
        Person {
            id: "le-thi-hong",
            family: "Lê",
            middle: "Thị",
            given: "Hồng",
        },
        PUPIL2_SCHOOL_ID,
    ),
    (
        Person {
            id: "pham-quang-vinh",
            family: "Phạm",
            middle: "Quang",
            given: "Vinh",
        },
        PUPIL3_SCHOOL_ID,
    ),
];

fn person(person: &Person, roles: Vec<Value>, primary_org: &str) -> Value {
    json!({
        "sourcedId": person.id,
        "status": "active",
        "dateLastModified": stamp(day(2026, 8, 20), 2),
        "enabledUser": true,
        "givenName": person.given,
        "familyName": person.family,
        "middleName": person.middle,
        "roles": roles,
        "primaryOrg": org_ref(primary_org),
    })
}

fn role(kind: &str, role: &str, org: &str) -> Value {
    json!({ "roleType": kind, "role": role, "org": org_ref(org) })
}

fn users() -> Vec<Value> {
    let mut users = Vec::new();
    for pupil in &PUPILS {
        let mut user = person(
            &pupil.person,
            vec![role("primary", "student", pupil.school)],
            pupil.school,
        );
        user["identifier"] = json!(pupil.code);
        user["username"] = json!(pupil.code);
        user["grades"] = json!([pupil.grade]);
        user["agents"] = json!(
            pupil
                .parents
                .iter()
                .map(|p| user_ref(p))
                .collect::<Vec<_>>()
        );
        user["metadata"] = json!({ "birthDate": pupil.birth_date });
        users.push(user);
    }
    for (parent, phone, children) in &PARENTS {
        let schools: Vec<&str> = children
            .iter()
            .filter_map(|c| PUPILS.iter().find(|p| p.person.id == *c))
            .map(|p| p.school)
            .collect();
        let roles = schools
            .iter()
            .enumerate()
            .map(|(i, school)| {
                role(
                    if i == 0 { "primary" } else { "secondary" },
                    "parent",
                    school,
                )
            })
            .collect();
        let mut user = person(
            parent,
            roles,
            schools.first().copied().unwrap_or(DEPARTMENT_ID),
        );
        user["phone"] = json!(phone);
        user["sms"] = json!(phone);
        user["agents"] = json!(children.iter().map(|c| user_ref(c)).collect::<Vec<_>>());
        users.push(user);
    }
    for (teacher, school) in &TEACHERS {
        users.push(person(
            teacher,
            vec![role("primary", "teacher", school)],
            school,
        ));
    }
    users
}

// --- Gradebook tables ---

/// Lê Ngọc Hân, 6/2, 2025-2026, scored subjects: (subject, semester, regular scores,
/// midterm, final). Toán's semester I has five regular scores, one more than the minimum,
/// and averages 76.5 / 10 = 7.65, so 7.7.
const HAN_2026_SCORED: &[(&str, u8, &[f64], f64, f64)] = &[
    ("toan", 1, &[8.0, 7.5, 9.0, 7.0, 8.0], 6.5, 8.0),
    ("ngu_van", 1, &[7.0, 7.5, 8.0, 6.5], 7.0, 7.3),
    ("tieng_anh", 1, &[8.5, 9.0, 7.5, 8.0], 8.0, 8.5),
    ("gdcd", 1, &[9.0, 8.0], 8.5, 8.5),
    ("ls_dl", 1, &[7.5, 6.5, 7.0, 8.0], 6.5, 7.0),
    ("khtn", 1, &[7.0, 6.0, 7.5, 6.5], 6.5, 7.0),
    ("cong_nghe", 1, &[8.0, 8.5], 7.5, 8.2),
    ("tin_hoc", 1, &[9.0, 8.5], 8.0, 8.7),
    ("toan", 2, &[8.5, 9.0, 8.0, 9.5], 8.5, 8.8),
    ("ngu_van", 2, &[8.0, 8.5, 8.0, 9.0], 8.0, 8.7),
    ("tieng_anh", 2, &[9.0, 8.5, 8.0, 9.0], 8.5, 8.6),
    ("gdcd", 2, &[9.0, 9.0], 8.5, 8.9),
    ("ls_dl", 2, &[8.0, 7.5, 8.5, 8.0], 7.5, 8.3),
    ("khtn", 2, &[7.5, 7.0, 8.0, 7.0], 7.0, 7.7),
    ("cong_nghe", 2, &[8.5, 8.0], 8.0, 8.5),
    ("tin_hoc", 2, &[9.0, 9.5], 8.5, 9.0),
];

/// Her comment-only subjects: (subject, semester, regular, midterm, final). Hoạt động trải
/// nghiệm's semester I has 4 of 6 Đạt with the final Đạt: still Đạt.
const HAN_2026_COMMENTED: &[(&str, u8, &[&str], &str, &str)] = &[
    ("gdtc", 1, &["Đ", "Đ", "Đ"], "Đ", "Đ"),
    ("nghe_thuat", 1, &["Đ", "Đ", "Đ"], "Đ", "Đ"),
    ("hdtn", 1, &["Đ", "CĐ", "Đ", "Đ"], "CĐ", "Đ"),
    ("gddp", 1, &["Đ", "Đ"], "Đ", "Đ"),
    ("gdtc", 2, &["Đ", "Đ", "Đ"], "Đ", "Đ"),
    ("nghe_thuat", 2, &["Đ", "Đ", "Đ"], "Đ", "Đ"),
    ("hdtn", 2, &["Đ", "Đ", "Đ", "Đ"], "Đ", "Đ"),
    ("gddp", 2, &["Đ", "Đ"], "Đ", "Đ"),
];

/// Her conduct (rèn luyện) in semesters I and II.
const HAN_2026_CONDUCT: [&str; 2] = ["Khá", "Tốt"];

/// Her 7/2, 2026-2027, semester I so far: (subject, regular scores given, midterm if taken).
const HAN_2027_SCORED: &[(&str, &[f64], Option<f64>)] = &[
    ("toan", &[8.5, 9.0, 7.5], Some(8.0)),
    ("ngu_van", &[7.5, 8.0], Some(7.5)),
    ("tieng_anh", &[9.0, 8.5, 8.0], Some(8.5)),
    ("gdcd", &[8.5], Some(9.0)),
    ("ls_dl", &[7.5, 8.0], Some(7.0)),
    ("khtn", &[7.0, 7.5], Some(6.5)),
    ("cong_nghe", &[8.0], None),
    ("tin_hoc", &[9.0], Some(8.5)),
];

const HAN_2027_COMMENTED: &[(&str, &[&str], Option<&str>)] = &[
    ("gdtc", &["Đ", "Đ"], Some("Đ")),
    ("nghe_thuat", &["Đ"], Some("Đ")),
    ("hdtn", &["Đ", "Đ"], Some("Đ")),
    ("gddp", &["Đ"], None),
];

/// A primary subject's periodic test marks, at the end of semester I and of the year.
type Tests = Option<[u8; 2]>;

/// Lê Minh Khôi, 3/1, 2025-2026: (subject, level at the end of semester I and of the year,
/// the periodic tests of the same two points for tested subjects).
const KHOI_2026_SUBJECTS: &[(&str, [&str; 2], Tests)] = &[
    ("tieng_viet", ["T", "T"], Some([8, 9])),
    ("toan", ["T", "T"], Some([9, 10])),
    ("tieng_anh", ["H", "T"], Some([7, 8])),
    ("dao_duc", ["T", "T"], None),
    ("tu_nhien_xa_hoi", ["T", "T"], None),
    ("tin_hoc_cong_nghe", ["T", "T"], Some([9, 9])),
    ("gdtc", ["T", "T"], None),
    ("am_nhac", ["T", "T"], None),
    ("mi_thuat", ["T", "T"], None),
    ("hdtn", ["T", "T"], None),
];

/// Qualities (phẩm chất) and competencies (năng lực): (code, title).
const QUALITIES: [(&str, &str); 5] = [
    ("yeu_nuoc", "Yêu nước"),
    ("nhan_ai", "Nhân ái"),
    ("cham_chi", "Chăm chỉ"),
    ("trung_thuc", "Trung thực"),
    ("trach_nhiem", "Trách nhiệm"),
];

const COMPETENCIES: [(&str, &str); 10] = [
    ("tu_chu_tu_hoc", "Tự chủ và tự học"),
    ("giao_tiep_hop_tac", "Giao tiếp và hợp tác"),
    (
        "giai_quyet_van_de_sang_tao",
        "Giải quyết vấn đề và sáng tạo",
    ),
    ("ngon_ngu", "Ngôn ngữ"),
    ("tinh_toan", "Tính toán"),
    ("khoa_hoc", "Khoa học"),
    ("cong_nghe", "Công nghệ"),
    ("tin_hoc", "Tin học"),
    ("tham_mi", "Thẩm mĩ"),
    ("the_chat", "Thể chất"),
];

/// Khôi's qualities and competencies at the end of semester I and of the year: T but for
/// the one listed.
const KHOI_2026_TRAITS_BELOW_T: &[(&str, [&str; 2])] = &[("giao_tiep_hop_tac", ["Đ", "T"])];

/// Khôi's 4/1, 2026-2027, semester I so far: the midterm tests of grade 4.
const KHOI_2027_MIDTERMS: &[(&str, u8)] = &[("tieng_viet", 8), ("toan", 9)];

/// Nguyễn Hoàng Phúc, 11 Tin, 2026-2027, semester I so far.
const PHUC_2027_SCORED: &[(&str, &[f64], Option<f64>)] = &[
    ("toan", &[9.0, 8.5], Some(9.0)),
    ("tin_hoc", &[10.0], Some(9.5)),
    ("vat_li", &[8.0], None),
    ("ngu_van", &[7.5], None),
];

/// Teachers' comments: (class, semester and line item, comment).
const COMMENTS: &[(&str, &str, &str)] = &[
    (
        "ntp-2025-2026-6-2-toan",
        "hk1-gk",
        "Phần hình học còn nhầm lẫn; cần luyện thêm bài tập về góc.",
    ),
    (
        "ntp-2025-2026-6-2-toan",
        "hk1-ck",
        "Tiến bộ rõ so với giữa kì, trình bày cẩn thận hơn.",
    ),
    (
        "ntp-2025-2026-6-2-hdtn",
        "hk1-tx2",
        "Chưa hoàn thành sản phẩm nhóm đúng hạn.",
    ),
    (
        "ntp-2025-2026-6-2-hdtn",
        "hk1-gk",
        "Chưa chủ động tham gia hoạt động tập thể; cần cố gắng hơn.",
    ),
    (
        "ntp-2025-2026-6-2-hdtn",
        "hk1-ck",
        "Đã tích cực hơn, hoàn thành tốt dự án cuối kì.",
    ),
    (
        "ntp-2025-2026-6-2",
        "hk1-ren-luyen",
        "Ngoan, lễ phép; đôi lúc còn nói chuyện riêng trong giờ học.",
    ),
    (
        "ntp-2025-2026-6-2",
        "hk2-ren-luyen",
        "Chăm ngoan, tích cực tham gia phong trào của lớp.",
    ),
    (
        "ntp-2026-2027-7-2-toan",
        "hk1-gk",
        "Nắm vững số hữu tỉ; cần cẩn thận khi chuyển vế.",
    ),
    (
        "leloi-2025-2026-3-1-tieng-viet",
        "hk1-muc-dat",
        "Em đọc lưu loát, viết đúng chính tả; cần viết đoạn văn mạch lạc hơn.",
    ),
    (
        "leloi-2025-2026-3-1-tieng-anh",
        "hk1-muc-dat",
        "Em nghe hiểu tốt; cần mạnh dạn nói hơn.",
    ),
    (
        "leloi-2025-2026-3-1-toan",
        "hk2-muc-dat",
        "Em tính nhanh, giải toán có lời văn tốt.",
    ),
    (
        "leloi-2026-2027-4-1-toan",
        "hk1-gk",
        "Em làm bài cẩn thận; cần đọc kĩ đề bài toán có lời văn.",
    ),
    (
        "qh-2026-2027-11-tin-tin-hoc",
        "hk1-gk",
        "Tư duy thuật toán tốt, cài đặt chính xác.",
    ),
];

// --- Gradebook ---

#[derive(Clone, Copy)]
enum Mark {
    Score(f64),
    Text(&'static str),
}

/// What a line item assesses.
#[derive(Clone, Copy)]
enum Item {
    Regular(usize),
    Midterm,
    Final,
    /// A primary subject's level.
    Level,
    Quality(&'static str, &'static str),
    Competency(&'static str, &'static str),
    Conduct,
}

impl Item {
    fn slug(self) -> String {
        match self {
            Item::Regular(n) => format!("tx{n}"),
            Item::Midterm => "gk".to_owned(),
            Item::Final => "ck".to_owned(),
            Item::Level => "muc-dat".to_owned(),
            Item::Quality(code, _) => format!("pc-{}", code.replace('_', "-")),
            Item::Competency(code, _) => format!("nl-{}", code.replace('_', "-")),
            Item::Conduct => "ren-luyen".to_owned(),
        }
    }

    fn category(self) -> &'static str {
        match self {
            Item::Regular(_) => "tx",
            Item::Midterm => "gk",
            Item::Final => "ck",
            Item::Level => "muc-dat",
            Item::Quality(..) => "pham-chat",
            Item::Competency(..) => "nang-luc",
            Item::Conduct => "ren-luyen",
        }
    }

    fn title(self, primary: bool, semester: u8) -> String {
        let period = if semester == 1 {
            "học kì I"
        } else {
            "học kì II"
        };
        let end = if semester == 1 {
            "cuối học kì I"
        } else {
            "cuối năm học"
        };
        match (self, primary) {
            (Item::Regular(n), _) => format!("Thường xuyên {n}"),
            (Item::Midterm, false) => "Giữa kì".to_owned(),
            (Item::Final, false) => "Cuối kì".to_owned(),
            (Item::Midterm, true) => format!("Kiểm tra giữa {period}"),
            (Item::Final, true) => format!("Kiểm tra {end}"),
            (Item::Level, _) => format!("Mức đạt được {end}"),
            (Item::Quality(_, title) | Item::Competency(_, title), _) => title.to_owned(),
            (Item::Conduct, _) => "Rèn luyện".to_owned(),
        }
    }

    /// When it falls due in a semester of `year` with `regulars` regular assessments.
    fn due(self, year: &Year, semester: u8, regulars: usize) -> NaiveDate {
        let next = year.start.0 + 1;
        let (this, other) = (year.start.0, next);
        let at = |(y, m, d): (i32, u32, u32)| day(y, m, d);
        match (self, semester) {
            (Item::Regular(n), _) => {
                let (first, last) = if semester == 1 {
                    (at((this, 9, 22)), at((this, 12, 11)))
                } else {
                    (at((other, 1, 26)), at((other, 4, 24)))
                };
                let span = (last - first).num_days();
                let steps = i64::try_from(regulars.saturating_sub(1).max(1)).unwrap_or(1);
                let n = i64::try_from(n.saturating_sub(1)).unwrap_or(0);
                plus(first, span * n / steps)
            }
            (Item::Midterm, 1) => at((this, 10, 30)),
            (Item::Midterm, _) => at((other, 3, 12)),
            (Item::Final, 1) => at((this, 12, 24)),
            (Item::Final, _) => at((other, 5, 7)),
            (Item::Level | Item::Quality(..) | Item::Competency(..) | Item::Conduct, 1) => {
                at((other, 1, 12))
            }
            (Item::Level | Item::Quality(..) | Item::Competency(..) | Item::Conduct, _) => {
                at((other, 5, 22))
            }
        }
    }
}

/// What a line item's results hold.
#[derive(Clone, Copy)]
enum Scale {
    /// A `score` in `min..=max`, whole numbers only if `whole`.
    Score { min: f64, whole: bool },
    /// A `textScore` among these.
    Text(&'static [&'static str]),
}

const COMMENT_SCALE: &[&str] = &["Đ", "CĐ"];
const LEVEL_SCALE: &[&str] = &["T", "H", "C"];
const TRAIT_SCALE: &[&str] = &["T", "Đ", "C"];
const CONDUCT_SCALE: &[&str] = &["Tốt", "Khá", "Đạt", "Chưa đạt"];

fn scale(subject: Option<&Subject>, item: Item) -> Scale {
    match (subject.map(|s| s.assessment), item) {
        (_, Item::Quality(..) | Item::Competency(..)) => Scale::Text(TRAIT_SCALE),
        (_, Item::Conduct) => Scale::Text(CONDUCT_SCALE),
        (_, Item::Level) => Scale::Text(LEVEL_SCALE),
        // Circular 27: primary tests are whole marks from 1, never 0 or decimals.
        (Some(Assessment::Level { .. }), _) => Scale::Score {
            min: 1.0,
            whole: true,
        },
        (Some(Assessment::Comment), _) => Scale::Text(COMMENT_SCALE),
        _ => Scale::Score {
            min: 0.0,
            whole: false,
        },
    }
}

/// A result waiting for its dates.
struct Pending {
    due: NaiveDate,
    result: Value,
}

/// A page of the gradebook: one class of a form (a subject's, or the homeroom) in one
/// semester.
#[derive(Clone, Copy)]
struct Sheet<'a> {
    form: &'a Form,
    subject: Option<&'a Subject>,
    semester: u8,
}

impl<'a> Sheet<'a> {
    fn homeroom(form: &'a Form, semester: u8) -> Self {
        Self {
            form,
            subject: None,
            semester,
        }
    }

    fn subject(form: &'a Form, code: &str, semester: u8) -> Option<Self> {
        let subject = form.subjects.iter().find(|s| s.code == code)?;
        Some(Self {
            form,
            subject: Some(subject),
            semester,
        })
    }

    fn class_id(self) -> String {
        self.form.class_id(self.subject)
    }
}

/// Line items and results as they are made.
#[derive(Default)]
struct Gradebook {
    line_items: Vec<Value>,
    seen: HashSet<String>,
    done: Vec<Value>,
    in_progress: Vec<Pending>,
}

impl Gradebook {
    /// The line item of `item` on `sheet` (among `regulars` regular ones), made the first
    /// time; its id and due date.
    fn line_item(&mut self, sheet: Sheet, item: Item, regulars: usize) -> (String, NaiveDate) {
        let Sheet {
            form,
            subject,
            semester,
        } = sheet;
        let year = year(form.year);
        let class_id = sheet.class_id();
        let id = format!("{class_id}-hk{semester}-{}", item.slug());
        let due = item.due(year, semester, regulars);
        if !self.seen.insert(id.clone()) {
            return (id, due);
        }
        let session = year.semester_id(semester);
        let (semester_start, _) = year.semester(semester);
        let mut line_item = json!({
            "sourcedId": id,
            "status": "active",
            // Teachers set a semester's gradebook up before it starts.
            "dateLastModified": stamp(plus(semester_start, -5), 2),
            "title": item.title(form.primary(), semester),
            "assignDate": stamp(plus(due, -7), 1),
            "dueDate": stamp(due, 10),
            "class": class_ref(&class_id),
            "school": org_ref(form.school),
            "category": category_ref(item.category()),
            "gradingPeriod": session_ref(&session),
            "academicSession": session_ref(&session),
        });
        let mut metadata = serde_json::Map::new();
        if let Some(subject) = subject {
            metadata.insert("subjectCode".into(), json!(subject.code));
        }
        if let Item::Quality(code, _) | Item::Competency(code, _) = item {
            metadata.insert("code".into(), json!(code));
        }
        match scale(subject, item) {
            Scale::Score { min, whole } => {
                line_item["resultValueMin"] = json!(min);
                line_item["resultValueMax"] = json!(10.0);
                if whole {
                    metadata.insert("wholeNumbers".into(), json!(true));
                }
            }
            Scale::Text(values) => {
                metadata.insert("scale".into(), json!(values));
            }
        }
        line_item["metadata"] = Value::Object(metadata);
        self.line_items.push(line_item);
        (id, due)
    }

    /// `student`'s `mark` on `item`, with its line item.
    fn result(&mut self, sheet: Sheet, item: Item, regulars: usize, student: &str, mark: Mark) {
        let (line_item, due) = self.line_item(sheet, item, regulars);
        let class_id = sheet.class_id();
        let mut result = json!({
            "sourcedId": format!("{line_item}-{student}"),
            "status": "active",
            "lineItem": line_item_ref(&line_item),
            "student": student_ref(student),
            "class": class_ref(&class_id),
            "scoreStatus": "fully graded",
        });
        match mark {
            Mark::Score(score) => result["score"] = json!(score),
            Mark::Text(text) => result["textScore"] = json!(text),
        }
        let key = format!("hk{}-{}", sheet.semester, item.slug());
        if let Some((_, _, comment)) = COMMENTS
            .iter()
            .find(|(class, at, _)| *class == class_id && *at == key)
        {
            result["comment"] = json!(comment);
        }
        if year(sheet.form.year).semester_id(sheet.semester) == IN_PROGRESS {
            self.in_progress.push(Pending { due, result });
        } else {
            result["scoreDate"] = json!(date(due));
            result["dateLastModified"] = json!(stamp(plus(due, 2), 3));
            self.done.push(result);
        }
    }

    /// A secondary subject's semester as given: regular assessments (at least the minimum
    /// of line items), midterm and final.
    fn secondary(
        &mut self,
        sheet: Option<Sheet>,
        regular: &[Mark],
        midterm: Option<Mark>,
        last: Option<Mark>,
        student: &str,
    ) {
        let Some(sheet) = sheet else {
            return;
        };
        let periods = sheet.subject.map_or(0, |s| s.periods);
        let count = regular.len().max(regular_count(periods));
        for (i, mark) in regular.iter().enumerate() {
            self.result(sheet, Item::Regular(i + 1), count, student, *mark);
        }
        for (item, mark) in [(Item::Midterm, midterm), (Item::Final, last)] {
            if let Some(mark) = mark {
                self.result(sheet, item, count, student, mark);
            }
        }
    }

    /// Every line item of `form`'s semester, results given or not: what a teacher has set
    /// up for a semester under way.
    fn plan(&mut self, form: &Form, semester: u8) {
        for subject in form.subjects {
            let sheet = Sheet {
                form,
                subject: Some(subject),
                semester,
            };
            match subject.assessment {
                Assessment::Scored | Assessment::Comment => {
                    let count = regular_count(subject.periods);
                    for n in 1..=count {
                        self.line_item(sheet, Item::Regular(n), count);
                    }
                    self.line_item(sheet, Item::Midterm, count);
                    self.line_item(sheet, Item::Final, count);
                }
                Assessment::Level { tested } => {
                    // Grades 4 and 5 also sit midterm tests in Tiếng Việt and Toán.
                    if form.grade >= "04" && matches!(subject.code, "tieng_viet" | "toan") {
                        self.line_item(sheet, Item::Midterm, 0);
                    }
                    if tested {
                        self.line_item(sheet, Item::Final, 0);
                    }
                    self.line_item(sheet, Item::Level, 0);
                }
            }
        }
        let homeroom = Sheet::homeroom(form, semester);
        if form.primary() {
            for (code, title) in QUALITIES {
                self.line_item(homeroom, Item::Quality(code, title), 0);
            }
            for (code, title) in COMPETENCIES {
                self.line_item(homeroom, Item::Competency(code, title), 0);
            }
        } else {
            self.line_item(homeroom, Item::Conduct, 0);
        }
    }

    /// Dates the results in progress: spread over the span before `now`, in the order their
    /// line items fall due, each distinct.
    fn finish(mut self, now: DateTime<Utc>) -> (Vec<Value>, Vec<Value>) {
        let pending = std::mem::take(&mut self.in_progress);
        let mut pending: Vec<(usize, Pending)> = pending.into_iter().enumerate().collect();
        pending.sort_by_key(|(i, p)| (p.due, *i));
        let span = Duration::days(IN_PROGRESS_SPAN_DAYS) - Duration::hours(1);
        let count = i32::try_from(pending.len()).unwrap_or(i32::MAX).max(1);
        let first = now - Duration::days(IN_PROGRESS_SPAN_DAYS);
        let hue = local_offset();
        for (i, (_, mut pending)) in pending.into_iter().enumerate() {
            let step = i32::try_from(i + 1).unwrap_or(count);
            let at = first + span * step / count;
            // Whole seconds: a client comparing instants at milliseconds sees what we store.
            let at = DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at);
            // Marked on the day it fell due, unless published before (the clock is early).
            let published = at.with_timezone(&hue).date_naive();
            pending.result["scoreDate"] = json!(date(pending.due.min(published)));
            pending.result["dateLastModified"] = json!(instant(at));
            self.done.push(pending.result);
        }
        (self.line_items, self.done)
    }
}

fn scores(values: &[f64]) -> Vec<Mark> {
    values.iter().map(|v| Mark::Score(*v)).collect()
}

fn texts(values: &[&'static str]) -> Vec<Mark> {
    values.iter().map(|v| Mark::Text(v)).collect()
}

fn gradebook(catalog: &mut Catalog, now: DateTime<Utc>) {
    let mut book = Gradebook::default();
    let (Some(han_2026), Some(han_2027), Some(khoi_2026), Some(khoi_2027), Some(phuc_2027)) = (
        form(PUPIL1_HOMEROOM_2026),
        form(PUPIL1_HOMEROOM_2027),
        form(PUPIL2_HOMEROOM_2026),
        form(PUPIL2_HOMEROOM_2027),
        form(PUPIL3_HOMEROOM_2027),
    ) else {
        return;
    };

    // Hân, 2025-2026: both semesters complete.
    for (code, semester, regular, midterm, last) in HAN_2026_SCORED {
        let sheet = Sheet::subject(han_2026, code, *semester);
        let (midterm, last) = (Mark::Score(*midterm), Mark::Score(*last));
        book.secondary(
            sheet,
            &scores(regular),
            Some(midterm),
            Some(last),
            PUPIL1_ID,
        );
    }
    for (code, semester, regular, midterm, last) in HAN_2026_COMMENTED {
        let sheet = Sheet::subject(han_2026, code, *semester);
        let (midterm, last) = (Mark::Text(midterm), Mark::Text(last));
        book.secondary(sheet, &texts(regular), Some(midterm), Some(last), PUPIL1_ID);
    }
    for (semester, conduct) in (1..=2).zip(HAN_2026_CONDUCT) {
        let sheet = Sheet::homeroom(han_2026, semester);
        book.result(sheet, Item::Conduct, 0, PUPIL1_ID, Mark::Text(conduct));
    }
    mistaken_entry(&mut book, han_2026);

    // Hân, 2026-2027: semester I under way.
    book.plan(han_2027, 1);
    for (code, regular, midterm) in HAN_2027_SCORED {
        let sheet = Sheet::subject(han_2027, code, 1);
        let midterm = midterm.map(Mark::Score);
        book.secondary(sheet, &scores(regular), midterm, None, PUPIL1_ID);
    }
    for (code, regular, midterm) in HAN_2027_COMMENTED {
        let sheet = Sheet::subject(han_2027, code, 1);
        let midterm = midterm.map(Mark::Text);
        book.secondary(sheet, &texts(regular), midterm, None, PUPIL1_ID);
    }

    // Khôi, 2025-2026: complete.
    for semester in 1..=2u8 {
        let at = usize::from(semester - 1);
        for (code, levels, tests) in KHOI_2026_SUBJECTS {
            let Some(sheet) = Sheet::subject(khoi_2026, code, semester) else {
                continue;
            };
            if let Some(tests) = tests {
                let mark = Mark::Score(f64::from(tests[at]));
                book.result(sheet, Item::Final, 0, PUPIL2_ID, mark);
            }
            book.result(sheet, Item::Level, 0, PUPIL2_ID, Mark::Text(levels[at]));
        }
        let level = |code: &str| {
            KHOI_2026_TRAITS_BELOW_T
                .iter()
                .find(|(c, _)| *c == code)
                .map_or("T", |(_, levels)| levels[at])
        };
        let homeroom = Sheet::homeroom(khoi_2026, semester);
        for (code, title) in QUALITIES {
            let mark = Mark::Text(level(code));
            book.result(homeroom, Item::Quality(code, title), 0, PUPIL2_ID, mark);
        }
        for (code, title) in COMPETENCIES {
            let mark = Mark::Text(level(code));
            book.result(homeroom, Item::Competency(code, title), 0, PUPIL2_ID, mark);
        }
    }

    // Khôi, 2026-2027: semester I under way.
    book.plan(khoi_2027, 1);
    for (code, score) in KHOI_2027_MIDTERMS {
        if let Some(sheet) = Sheet::subject(khoi_2027, code, 1) {
            let mark = Mark::Score(f64::from(*score));
            book.result(sheet, Item::Midterm, 0, PUPIL2_ID, mark);
        }
    }

    // Phúc, 2026-2027: semester I under way.
    book.plan(phuc_2027, 1);
    for (code, regular, midterm) in PHUC_2027_SCORED {
        let sheet = Sheet::subject(phuc_2027, code, 1);
        let midterm = midterm.map(Mark::Score);
        book.secondary(sheet, &scores(regular), midterm, None, PUPIL3_ID);
    }

    let (line_items, results) = book.finish(now);
    catalog.line_items = line_items;
    catalog.results = results;
}

/// A regular score Hân's Toán teacher entered twice in semester II (the second time
/// mistyped) and marked `tobedeleted`: clients must leave it out, as OneRoster says.
fn mistaken_entry(book: &mut Gradebook, form: &Form) {
    let Some(sheet) = Sheet::subject(form, "toan", 2) else {
        return;
    };
    let (original, due) = book.line_item(sheet, Item::Regular(2), 4);
    let id = format!("{original}-nhap-trung");
    let mut line_item = book
        .line_items
        .iter()
        .find(|i| i["sourcedId"] == original.as_str())
        .cloned()
        .unwrap_or_default();
    line_item["sourcedId"] = json!(id);
    line_item["status"] = json!("tobedeleted");
    line_item["title"] = json!("Thường xuyên 2 (nhập trùng)");
    line_item["dateLastModified"] = json!(stamp(plus(due, 3), 4));
    book.line_items.push(line_item);
    book.done.push(json!({
        "sourcedId": format!("{id}-{PUPIL1_ID}"),
        "status": "tobedeleted",
        "dateLastModified": stamp(plus(due, 3), 4),
        "lineItem": line_item_ref(&id),
        "student": student_ref(PUPIL1_ID),
        "class": class_ref(&sheet.class_id()),
        "scoreStatus": "fully graded",
        "score": 5.0,
        "scoreDate": date(due),
        "comment": "Nhập trùng, sai điểm; đã hủy.",
    }));
}

// --- The catalog ---

/// Every record, each kind in the order it is served.
#[derive(Default)]
pub struct Catalog {
    pub orgs: Vec<Value>,
    pub sessions: Vec<Value>,
    pub courses: Vec<Value>,
    pub classes: Vec<Value>,
    pub users: Vec<Value>,
    pub enrollments: Vec<Value>,
    pub categories: Vec<Value>,
    pub line_items: Vec<Value>,
    /// The results the sandbox starts with.
    pub results: Vec<Value>,
}

/// The records, the results in progress dated before `now`.
pub fn catalog(now: DateTime<Utc>) -> Catalog {
    let mut catalog = Catalog {
        orgs: orgs(),
        sessions: sessions(),
        users: users(),
        categories: categories(),
        ..Catalog::default()
    };
    rostering(&mut catalog);
    gradebook(&mut catalog, now);
    catalog
}

// --- Small things ---

fn reference(base: &str, collection: &str, kind: &str, id: &str) -> Value {
    json!({ "href": format!("{base}/{collection}/{id}"), "sourcedId": id, "type": kind })
}

fn org_ref(id: &str) -> Value {
    reference(ROSTERING_PATH, "orgs", "org", id)
}

fn session_ref(id: &str) -> Value {
    reference(ROSTERING_PATH, "academicSessions", "academicSession", id)
}

fn course_ref(id: &str) -> Value {
    reference(ROSTERING_PATH, "courses", "course", id)
}

pub(super) fn class_ref(id: &str) -> Value {
    reference(ROSTERING_PATH, "classes", "class", id)
}

fn user_ref(id: &str) -> Value {
    reference(ROSTERING_PATH, "users", "user", id)
}

pub(super) fn student_ref(id: &str) -> Value {
    reference(ROSTERING_PATH, "students", "student", id)
}

fn category_ref(id: &str) -> Value {
    reference(GRADEBOOK_PATH, "categories", "category", id)
}

pub(super) fn line_item_ref(id: &str) -> Value {
    reference(GRADEBOOK_PATH, "lineItems", "lineItem", id)
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

fn day_of((y, m, d): (i32, u32, u32)) -> NaiveDate {
    day(y, m, d)
}

fn plus(day: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        day.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        day.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(day)
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// `day` at `hour` o'clock UTC, as OneRoster dates its records.
fn stamp(day: NaiveDate, hour: u32) -> String {
    format!("{}T{hour:02}:00:00.000Z", date(day))
}
