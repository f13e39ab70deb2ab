//! The subjects of the 2018 general education programme, by the codes of Citizen's OneRoster
//! profile (`subjectCodes`), with their names in Vietnamese and English.

use platform::text::Text;

const SUBJECTS: &[(&str, &str, &str)] = &[
    ("toan", "Toán", "Mathematics"),
    ("ngu_van", "Ngữ văn", "Literature"),
    ("tieng_viet", "Tiếng Việt", "Vietnamese"),
    ("tieng_anh", "Tiếng Anh", "English"),
    ("gdcd", "Giáo dục công dân", "Civic education"),
    (
        "gd_ktpl",
        "Giáo dục kinh tế và pháp luật",
        "Economic and legal education",
    ),
    ("ls_dl", "Lịch sử và Địa lí", "History and Geography"),
    ("lich_su", "Lịch sử", "History"),
    ("dia_li", "Địa lí", "Geography"),
    ("khtn", "Khoa học tự nhiên", "Natural sciences"),
    ("khoa_hoc", "Khoa học", "Science"),
    ("vat_li", "Vật lí", "Physics"),
    ("hoa_hoc", "Hóa học", "Chemistry"),
    ("sinh_hoc", "Sinh học", "Biology"),
    ("cong_nghe", "Công nghệ", "Technology"),
    ("tin_hoc", "Tin học", "Informatics"),
    (
        "tin_hoc_cong_nghe",
        "Tin học và Công nghệ",
        "Informatics and Technology",
    ),
    ("dao_duc", "Đạo đức", "Ethics"),
    (
        "tu_nhien_xa_hoi",
        "Tự nhiên và Xã hội",
        "Nature and Society",
    ),
    ("am_nhac", "Âm nhạc", "Music"),
    ("mi_thuat", "Mĩ thuật", "Fine arts"),
    ("nghe_thuat", "Nghệ thuật", "Arts"),
    ("gdtc", "Giáo dục thể chất", "Physical education"),
    (
        "gdqp",
        "Giáo dục quốc phòng và an ninh",
        "Defence and security education",
    ),
    (
        "hdtn",
        "Hoạt động trải nghiệm, hướng nghiệp",
        "Experiential and career guidance activities",
    ),
    (
        "gddp",
        "Nội dung giáo dục của địa phương",
        "Local education content",
    ),
];

/// A subject's name: ours for a known code, else the school's own (in both languages).
pub fn name(code: Option<&str>, school_name: &str) -> Text {
    code.and_then(|code| SUBJECTS.iter().find(|(c, _, _)| *c == code))
        .map(|(_, vi, en)| Text::new(vi, en))
        .unwrap_or_else(|| Text::new(school_name, school_name))
}
