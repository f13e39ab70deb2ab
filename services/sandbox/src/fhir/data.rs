//! The records the FHIR sandbox starts with, made in code: Huế's hospitals, ward health
//! stations, pharmacies, the social insurance agency and the blood transfusion centre with
//! their locations; two families and two other residents with their BHYT cards and
//! vaccinations; departments, doctors and their schedules with 15-minute slots.
//!
//! Dates that must not go stale are counted from the day the sandbox starts (Huế time): a
//! baby stays 100 days old, a card stays 25 days from expiry, drives stay ahead. Slots cover
//! the next 14 days and are added day by day as the sandbox keeps running.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use serde_json::{Value, json};

use super::*;

const CVX: &str = "http://hl7.org/fhir/sid/cvx";
const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const ROLE_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
const HL7_ORGANIZATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/organization-type";
const COVERAGE_CLASS: &str = "http://terminology.hl7.org/CodeSystem/coverage-class";
const ROUTE: &str = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration";
const SERVICE_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/service-category";
/// Where the slots' times are: Huế, +07:00 all year.
const ZONE: &str = "+07:00";

/// Slot starts in a working day: 07:00-11:00 and 13:30-16:30, every 15 minutes.
fn slot_times() -> impl Iterator<Item = (u32, u32)> {
    let morning = (7 * 60..11 * 60).step_by(15);
    let afternoon = (13 * 60 + 30..16 * 60 + 30).step_by(15);
    morning.chain(afternoon).map(|m| (m / 60, m % 60))
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn concept(system: &str, code: &str, display: &str, text: &str) -> Value {
    json!({ "coding": [coding(system, code, display)], "text": text })
}

fn reference(kind: &str, id: &str, display: &str) -> Value {
    json!({ "reference": format!("{kind}/{id}"), "display": display })
}

fn date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> String {
    format!("{}T{hour:02}:{minute:02}:00{ZONE}", date(day))
}

fn plus(day: NaiveDate, days: i64) -> NaiveDate {
    if days >= 0 {
        day.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        day.checked_sub_days(Days::new(days.unsigned_abs()))
    }
    .unwrap_or(day)
}

fn years_later(day: NaiveDate, years: u32) -> NaiveDate {
    day.checked_add_months(Months::new(12 * years))
        .unwrap_or(day)
}

fn address(street: &str, ward: &str) -> Value {
    json!({
        "use": "work",
        "type": "physical",
        "text": format!("{street}, phường {ward}, thành phố Huế"),
        "line": [street, format!("Phường {ward}")],
        "city": "Huế",
        "country": "VN",
    })
}

fn home(street: &str, ward: &str) -> Value {
    let mut address = address(street, ward);
    address["use"] = json!("home");
    address
}

fn phone(number: &str, usage: &str) -> Value {
    json!({ "system": "phone", "value": number, "use": usage })
}

const EVERY_DAY: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri"];
const MONDAY_TO_SATURDAY: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat"];

fn hours(days: &[&str], open: &str, close: &str) -> Value {
    json!({ "daysOfWeek": days, "allDay": false, "openingTime": open, "closingTime": close })
}

fn all_day(days: &[&str]) -> Value {
    json!({ "daysOfWeek": days, "allDay": true })
}

fn accepts_bhyt(accepts: bool) -> Value {
    json!({ "url": ACCEPTS_BHYT_EXTENSION, "valueBoolean": accepts })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Facility {
    Hospital,
    HealthCentre,
    Station,
    Pharmacy,
    BloodCentre,
    Insurer,
}

#[derive(Clone, Copy)]
enum Hours {
    /// Emergencies around the clock.
    AllDay,
    Station,
    Shop,
    BloodCentre,
    Office,
}

struct Site {
    id: &'static str,
    name: &'static str,
    english: &'static str,
    facility: Facility,
    /// `(system, value)`: the facility code (mã cơ sở KCB), a pharmacy's licence, ...
    identifier: (&'static str, &'static str),
    street: &'static str,
    ward: &'static str,
    phone: &'static str,
    /// Latitude, longitude.
    position: (f64, f64),
    bhyt: bool,
    hours: Hours,
    part_of: Option<&'static str>,
}

const SITES: &[Site] = &[
    Site {
        id: HUE_CENTRAL_HOSPITAL_ID,
        name: "Bệnh viện Trung ương Huế",
        english: "Hue Central Hospital",
        facility: Facility::Hospital,
        identifier: (FACILITY_CODE_SYSTEM, "46001"),
        street: "16 Lê Lợi",
        ward: "Thuận Hóa",
        phone: "02343822325",
        position: (16.4627, 107.5887),
        bhyt: true,
        hours: Hours::AllDay,
        part_of: None,
    },
    Site {
        id: UNIVERSITY_HOSPITAL_ID,
        name: "Bệnh viện Trường Đại học Y - Dược Huế",
        english: "Hue University of Medicine and Pharmacy Hospital",
        facility: Facility::Hospital,
        identifier: (FACILITY_CODE_SYSTEM, "46024"),
        street: "41 Nguyễn Huệ",
        ward: "Thuận Hóa",
        phone: "02343890888",
        position: (16.4601, 107.5858),
        bhyt: true,
        hours: Hours::AllDay,
        part_of: None,
    },
    Site {
        id: INTERNATIONAL_HOSPITAL_ID,
        name: "Bệnh viện Quốc tế Trung ương Huế",
        english: "Hue Central International Hospital",
        facility: Facility::Hospital,
        identifier: (FACILITY_CODE_SYSTEM, "46167"),
        street: "3 Ngô Quyền",
        ward: "Thuận Hóa",
        phone: "02343890999",
        position: (16.4641, 107.5899),
        // The sandbox's one self-pay hospital: a provider that does not take the card.
        bhyt: false,
        hours: Hours::AllDay,
        part_of: Some(HUE_CENTRAL_HOSPITAL_ID),
    },
    Site {
        id: CITY_HEALTH_CENTRE_ID,
        name: "Trung tâm Y tế thành phố Huế",
        english: "Hue City Health Centre",
        facility: Facility::HealthCentre,
        identifier: (FACILITY_CODE_SYSTEM, "46017"),
        street: "38 Trần Quốc Toản",
        ward: "Phú Xuân",
        phone: "02343523345",
        position: (16.4731, 107.5765),
        bhyt: true,
        hours: Hours::AllDay,
        part_of: None,
    },
    Site {
        id: PHU_HOI_STATION_ID,
        name: "Trạm Y tế phường Phú Hội",
        english: "Phu Hoi Ward Health Station",
        facility: Facility::Station,
        identifier: (FACILITY_CODE_SYSTEM, "46101"),
        street: "2 Lê Quý Đôn",
        ward: "Phú Hội",
        phone: "02343826512",
        position: (16.4658, 107.5962),
        bhyt: true,
        hours: Hours::Station,
        part_of: None,
    },
    Site {
        id: VY_DA_STATION_ID,
        name: "Trạm Y tế phường Vỹ Dạ",
        english: "Vy Da Ward Health Station",
        facility: Facility::Station,
        identifier: (FACILITY_CODE_SYSTEM, "46102"),
        street: "20 Nguyễn Sinh Cung",
        ward: "Vỹ Dạ",
        phone: "02343821467",
        position: (16.4742, 107.6051),
        bhyt: true,
        hours: Hours::Station,
        part_of: None,
    },
    Site {
        id: KIM_LONG_STATION_ID,
        name: "Trạm Y tế phường Kim Long",
        english: "Kim Long Ward Health Station",
        facility: Facility::Station,
        identifier: (FACILITY_CODE_SYSTEM, "46103"),
        street: "186 Kim Long",
        ward: "Kim Long",
        phone: "02343525718",
        position: (16.4641, 107.5562),
        bhyt: true,
        hours: Hours::Station,
        part_of: None,
    },
    Site {
        id: AN_CUU_STATION_ID,
        name: "Trạm Y tế phường An Cựu",
        english: "An Cuu Ward Health Station",
        facility: Facility::Station,
        identifier: (FACILITY_CODE_SYSTEM, "46104"),
        street: "8 Hoàng Quốc Việt",
        ward: "An Cựu",
        phone: "02343812093",
        position: (16.4531, 107.6003),
        bhyt: true,
        hours: Hours::Station,
        part_of: None,
    },
    Site {
        id: SOCIAL_SECURITY_ID,
        name: "Bảo hiểm xã hội thành phố Huế",
        english: "Vietnam Social Security, Hue City",
        facility: Facility::Insurer,
        identifier: (SOCIAL_SECURITY_AGENCY_SYSTEM, "46"),
        street: "9 Tôn Đức Thắng",
        ward: "Phú Hội",
        phone: "02343822158",
        position: (16.4662, 107.5921),
        bhyt: false,
        hours: Hours::Office,
        part_of: None,
    },
    Site {
        id: BLOOD_CENTRE_ID,
        name: "Trung tâm Truyền máu - Bệnh viện Trung ương Huế",
        english: "Blood Transfusion Centre, Hue Central Hospital",
        facility: Facility::BloodCentre,
        identifier: (FACILITY_CODE_SYSTEM, "46001-TTTM"),
        street: "16 Lê Lợi",
        ward: "Thuận Hóa",
        phone: "02343831455",
        position: (16.4631, 107.5881),
        bhyt: false,
        hours: Hours::BloodCentre,
        part_of: Some(HUE_CENTRAL_HOSPITAL_ID),
    },
    Site {
        id: PHARMACY_IDS[0],
        name: "Nhà thuốc Bệnh viện Trung ương Huế",
        english: "Hue Central Hospital Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0012/ĐKKDD"),
        street: "16 Lê Lợi",
        ward: "Thuận Hóa",
        phone: "02343822900",
        position: (16.4624, 107.5893),
        bhyt: false,
        hours: Hours::AllDay,
        part_of: Some(HUE_CENTRAL_HOSPITAL_ID),
    },
    Site {
        id: PHARMACY_IDS[1],
        name: "Nhà thuốc Bệnh viện Trường Đại học Y - Dược Huế",
        english: "Hue University Hospital Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0031/ĐKKDD"),
        street: "41 Nguyễn Huệ",
        ward: "Thuận Hóa",
        phone: "02343890777",
        position: (16.4598, 107.5861),
        bhyt: false,
        hours: Hours::Shop,
        part_of: Some(UNIVERSITY_HOSPITAL_ID),
    },
    Site {
        id: PHARMACY_IDS[2],
        name: "Nhà thuốc Hồng Đức",
        english: "Hong Duc Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0158/ĐKKDD"),
        street: "120 Hùng Vương",
        ward: "Phú Hội",
        phone: "0905311420",
        position: (16.4629, 107.5968),
        bhyt: false,
        hours: Hours::Shop,
        part_of: None,
    },
    Site {
        id: PHARMACY_IDS[3],
        name: "Nhà thuốc Minh Châu",
        english: "Minh Chau Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0203/ĐKKDD"),
        street: "45 Trần Hưng Đạo",
        ward: "Phú Xuân",
        phone: "0914225637",
        position: (16.4712, 107.5868),
        bhyt: false,
        hours: Hours::Shop,
        part_of: None,
    },
    Site {
        id: PHARMACY_IDS[4],
        name: "Nhà thuốc Thiên Ân",
        english: "Thien An Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0247/ĐKKDD"),
        street: "88 Nguyễn Sinh Cung",
        ward: "Vỹ Dạ",
        phone: "0935118402",
        position: (16.4735, 107.6022),
        bhyt: false,
        hours: Hours::Shop,
        part_of: None,
    },
    Site {
        id: PHARMACY_IDS[5],
        name: "Nhà thuốc Phước Thiện",
        english: "Phuoc Thien Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0266/ĐKKDD"),
        street: "201 Kim Long",
        ward: "Kim Long",
        phone: "0796402155",
        position: (16.4638, 107.5549),
        bhyt: false,
        hours: Hours::Shop,
        part_of: None,
    },
    Site {
        id: PHARMACY_IDS[6],
        name: "Nhà thuốc An Cựu",
        english: "An Cuu Pharmacy",
        facility: Facility::Pharmacy,
        identifier: (PHARMACY_LICENCE_SYSTEM, "46-0291/ĐKKDD"),
        street: "62 Hoàng Quốc Việt",
        ward: "An Cựu",
        phone: "0903577810",
        position: (16.4522, 107.6016),
        bhyt: false,
        hours: Hours::Shop,
        part_of: None,
    },
];

fn organization(site: &Site) -> Value {
    let (hl7, local, local_display) = match site.facility {
        Facility::Hospital => (("prov", "Healthcare Provider"), "hospital", "Bệnh viện"),
        Facility::HealthCentre => (
            ("prov", "Healthcare Provider"),
            "health-centre",
            "Trung tâm y tế",
        ),
        Facility::Station => (
            ("prov", "Healthcare Provider"),
            "health-station",
            "Trạm y tế phường",
        ),
        Facility::Pharmacy => (("prov", "Healthcare Provider"), "pharmacy", "Nhà thuốc"),
        Facility::BloodCentre => (
            ("prov", "Healthcare Provider"),
            "blood-centre",
            "Trung tâm truyền máu",
        ),
        Facility::Insurer => (("pay", "Payer"), "social-insurance", "Bảo hiểm xã hội"),
    };
    let mut organization = json!({
        "resourceType": "Organization",
        "id": site.id,
        "active": true,
        "identifier": [{ "system": site.identifier.0, "value": site.identifier.1 }],
        "type": [
            { "coding": [coding(HL7_ORGANIZATION_TYPE, hl7.0, hl7.1)] },
            concept(ORGANIZATION_TYPE_SYSTEM, local, local_display, local_display),
        ],
        "name": site.name,
        "alias": [site.english],
        "telecom": [phone(site.phone, "work")],
        "address": [address(site.street, site.ward)],
    });
    if let Some(parent) = site.part_of {
        organization["partOf"] = json!({ "reference": format!("Organization/{parent}") });
    }
    organization
}

fn location_type(facility: Facility) -> Value {
    match facility {
        Facility::Hospital | Facility::HealthCentre => {
            concept(ROLE_CODE, "HOSP", "Hospital", "Bệnh viện")
        }
        Facility::Station => concept(ROLE_CODE, "PC", "Primary care clinic", "Trạm y tế"),
        Facility::Pharmacy => concept(ROLE_CODE, "PHARM", "Pharmacy", "Nhà thuốc"),
        Facility::BloodCentre => concept(ROLE_CODE, "HU", "Hospital unit", "Trung tâm truyền máu"),
        Facility::Insurer => json!({ "text": "Trụ sở bảo hiểm xã hội" }),
    }
}

fn opening_hours(kind: Hours) -> (Vec<Value>, &'static str) {
    match kind {
        Hours::AllDay => (
            vec![all_day(EVERY_DAY)],
            "Cấp cứu 24/7. Khám ngoại trú thứ Hai - thứ Bảy, 07:00-11:00 và 13:30-16:30",
        ),
        Hours::Station => (
            vec![
                hours(WEEKDAYS, "07:00:00", "11:30:00"),
                hours(WEEKDAYS, "13:30:00", "17:00:00"),
                hours(&["sat"], "07:00:00", "11:00:00"),
            ],
            "Nghỉ Chủ nhật và ngày lễ; tiêm chủng mở rộng ngày 25 hằng tháng",
        ),
        Hours::Shop => (vec![hours(EVERY_DAY, "07:00:00", "22:00:00")], ""),
        Hours::BloodCentre => (
            vec![
                hours(MONDAY_TO_SATURDAY, "07:00:00", "17:00:00"),
                hours(&["sun"], "07:00:00", "11:30:00"),
            ],
            "Nhận hiến máu cả Chủ nhật (buổi sáng)",
        ),
        Hours::Office => (
            vec![
                hours(WEEKDAYS, "07:30:00", "11:30:00"),
                hours(WEEKDAYS, "13:30:00", "17:00:00"),
            ],
            "Nghỉ thứ Bảy, Chủ nhật và ngày lễ",
        ),
    }
}

fn location(
    id: &str,
    name: &str,
    site: &Site,
    street: &str,
    ward: &str,
    position: (f64, f64),
) -> Value {
    let (hours, exceptions) = opening_hours(site.hours);
    let mut location = json!({
        "resourceType": "Location",
        "id": id,
        "extension": [accepts_bhyt(site.bhyt)],
        "status": "active",
        "name": name,
        "alias": [site.english],
        "mode": "instance",
        "type": [location_type(site.facility)],
        "telecom": [phone(site.phone, "work")],
        "address": address(street, ward),
        "physicalType": concept(
            "http://terminology.hl7.org/CodeSystem/location-physical-type",
            "bu",
            "Building",
            "Tòa nhà",
        ),
        "position": { "latitude": position.0, "longitude": position.1 },
        "managingOrganization": reference("Organization", site.id, site.name),
        "hoursOfOperation": hours,
    });
    if !exceptions.is_empty() {
        location["availabilityExceptions"] = json!(exceptions);
    }
    location
}

fn sites(out: &mut Vec<Value>) {
    for site in SITES {
        out.push(organization(site));
        out.push(location(
            site.id,
            site.name,
            site,
            site.street,
            site.ward,
            site.position,
        ));
    }
    // Huế Central Hospital's second campus, 30 km north-west in Phong Điền.
    if let Some(central) = SITES.iter().find(|s| s.id == HUE_CENTRAL_HOSPITAL_ID) {
        out.push(location(
            HUE_CENTRAL_HOSPITAL_SECOND_CAMPUS_ID,
            "Bệnh viện Trung ương Huế - Cơ sở 2",
            central,
            "Quốc lộ 1A, tổ dân phố Trạch Tả",
            "Phong Điền",
            (16.5585, 107.3510),
        ));
    }
}

/// Blood donation drives, `days` from the start: where and when.
struct Drive {
    id: &'static str,
    days: i64,
    name: &'static str,
    street: &'static str,
    position: (f64, f64),
    host: &'static str,
}

const DRIVES: &[Drive] = &[
    Drive {
        id: BLOOD_DRIVE_IDS[0],
        days: 3,
        name: "Điểm hiến máu lưu động - Trường Đại học Khoa học Huế",
        street: "77 Nguyễn Huệ",
        position: (16.4594, 107.5876),
        host: "Trường Đại học Khoa học Huế",
    },
    Drive {
        id: BLOOD_DRIVE_IDS[1],
        days: 10,
        name: "Điểm hiến máu lưu động - Nhà Văn hóa Trung tâm",
        street: "1 Lê Lợi",
        position: (16.4679, 107.5842),
        host: "Thành đoàn Huế",
    },
    Drive {
        id: BLOOD_DRIVE_IDS[2],
        days: 25,
        name: "Điểm hiến máu lưu động - Trường Đại học Sư phạm Huế",
        street: "34 Lê Lợi",
        position: (16.4619, 107.5907),
        host: "Trường Đại học Sư phạm Huế",
    },
];

fn weekday_code(day: NaiveDate) -> &'static str {
    match day.weekday() {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn blood_donation(today: NaiveDate, out: &mut Vec<Value>) {
    let blood_type = concept(
        SERVICE_TYPE_SYSTEM,
        "hien-mau",
        "Hiến máu tình nguyện",
        "Hiến máu tình nguyện",
    );
    let specialty = concept(
        SNOMED,
        "421661004",
        "Blood banking and transfusion medicine",
        "Truyền máu",
    );
    let mut locations = vec![reference(
        "Location",
        BLOOD_CENTRE_ID,
        "Trung tâm Truyền máu",
    )];
    locations.extend(DRIVES.iter().map(|d| reference("Location", d.id, d.name)));
    out.push(json!({
        "resourceType": "HealthcareService",
        "id": BLOOD_DONATION_SERVICE_ID,
        "active": true,
        "providedBy": reference("Organization", BLOOD_CENTRE_ID, "Trung tâm Truyền máu - Bệnh viện Trung ương Huế"),
        "category": [concept(SERVICE_CATEGORY_SYSTEM, "blood-donation", "Hiến máu", "Hiến máu")],
        "type": [blood_type],
        "specialty": [specialty],
        "location": locations,
        "name": "Hiến máu tình nguyện",
        "comment": "Người hiến máu từ 18 đến 60 tuổi, nặng từ 45 kg (nữ) hoặc 50 kg (nam), mang theo CCCD. Các đợt hiến máu lưu động là các Schedule có planningHorizon.",
        "telecom": [phone("02343831455", "work")],
        "availableTime": [
            { "daysOfWeek": MONDAY_TO_SATURDAY, "availableStartTime": "07:00:00", "availableEndTime": "17:00:00" },
            { "daysOfWeek": ["sun"], "availableStartTime": "07:00:00", "availableEndTime": "11:30:00" },
        ],
        "appointmentRequired": false,
    }));
    let centre = SITES.iter().find(|s| s.id == BLOOD_CENTRE_ID);
    for drive in DRIVES {
        let day = plus(today, drive.days);
        let when = format!("{}, 07:00 - 11:30", day.format("%d/%m/%Y"));
        if let Some(centre) = centre {
            let mut place = location(
                drive.id,
                drive.name,
                centre,
                drive.street,
                "Thuận Hóa",
                drive.position,
            );
            place["type"] = json!([concept(
                ROLE_CODE,
                "MOBL",
                "Mobile unit",
                "Điểm hiến máu lưu động"
            )]);
            place["description"] = json!(format!(
                "Ngày hội hiến máu tình nguyện do {} phối hợp tổ chức: {when}",
                drive.host
            ));
            place["hoursOfOperation"] =
                json!([hours(&[weekday_code(day)], "07:00:00", "11:30:00")]);
            place["alias"] = json!([format!("Blood donation drive, {}", date(day))]);
            if let Some(object) = place.as_object_mut() {
                object.remove("availabilityExceptions");
            }
            out.push(place);
        }
        out.push(json!({
            "resourceType": "Schedule",
            "id": format!("lich-{}", drive.id),
            "active": true,
            "serviceCategory": [concept(SERVICE_CATEGORY_SYSTEM, "blood-donation", "Hiến máu", "Hiến máu")],
            "serviceType": [concept(SERVICE_TYPE_SYSTEM, "hien-mau", "Hiến máu tình nguyện", "Hiến máu tình nguyện")],
            "specialty": [concept(SNOMED, "421661004", "Blood banking and transfusion medicine", "Truyền máu")],
            "actor": [
                reference("Location", drive.id, drive.name),
                reference("HealthcareService", BLOOD_DONATION_SERVICE_ID, "Hiến máu tình nguyện"),
            ],
            "planningHorizon": { "start": at(day, 7, 0), "end": at(day, 11, 30) },
            "comment": format!("{} - {when}", drive.name),
        }));
    }
}

// --- Departments, doctors, schedules and slots ---

struct Department {
    id: &'static str,
    organization: &'static str,
    organization_name: &'static str,
    name: &'static str,
    english: &'static str,
    /// SNOMED CT specialty.
    specialty: (&'static str, &'static str, &'static str),
    /// Our service type code and its Vietnamese name.
    service: (&'static str, &'static str),
    /// HL7 service category.
    category: (&'static str, &'static str),
    phone: &'static str,
}

const PAEDIATRICS: (&str, &str, &str) = ("394537008", "Paediatric specialty", "Nhi khoa");
const CARDIOLOGY: (&str, &str, &str) = ("394579002", "Cardiology", "Tim mạch");
const OPHTHALMOLOGY: (&str, &str, &str) = ("394594003", "Ophthalmology", "Nhãn khoa");
const GENERAL_MEDICINE: (&str, &str, &str) = ("394802001", "General medicine", "Nội khoa");
const SPECIALIST: (&str, &str) = ("27", "Specialist Medical");
const GENERAL_PRACTICE: (&str, &str) = ("17", "General Practice");

const DEPARTMENTS: &[Department] = &[
    Department {
        id: PAEDIATRICS_SERVICE_ID,
        organization: HUE_CENTRAL_HOSPITAL_ID,
        organization_name: "Bệnh viện Trung ương Huế",
        name: "Khoa Nhi",
        english: "Paediatrics",
        specialty: PAEDIATRICS,
        service: ("kham-nhi", "Khám Nhi"),
        category: SPECIALIST,
        phone: "02343822110",
    },
    Department {
        id: CARDIOLOGY_SERVICE_ID,
        organization: HUE_CENTRAL_HOSPITAL_ID,
        organization_name: "Bệnh viện Trung ương Huế",
        name: "Khoa Nội tim mạch",
        english: "Cardiology",
        specialty: CARDIOLOGY,
        service: ("kham-tim-mach", "Khám Tim mạch"),
        category: SPECIALIST,
        phone: "02343822120",
    },
    Department {
        id: "bvtw-mat",
        organization: HUE_CENTRAL_HOSPITAL_ID,
        organization_name: "Bệnh viện Trung ương Huế",
        name: "Khoa Mắt",
        english: "Ophthalmology",
        specialty: OPHTHALMOLOGY,
        service: ("kham-mat", "Khám Mắt"),
        category: SPECIALIST,
        phone: "02343822130",
    },
    Department {
        id: "bvtw-kham-theo-yeu-cau",
        organization: HUE_CENTRAL_HOSPITAL_ID,
        organization_name: "Bệnh viện Trung ương Huế",
        name: "Khoa Khám bệnh theo yêu cầu",
        english: "Private consultations",
        specialty: GENERAL_MEDICINE,
        service: ("kham-theo-yeu-cau", "Khám bệnh theo yêu cầu"),
        category: GENERAL_PRACTICE,
        phone: "02343822140",
    },
    Department {
        id: "dhyd-khoa-nhi",
        organization: UNIVERSITY_HOSPITAL_ID,
        organization_name: "Bệnh viện Trường Đại học Y - Dược Huế",
        name: "Khoa Nhi",
        english: "Paediatrics",
        specialty: PAEDIATRICS,
        service: ("kham-nhi", "Khám Nhi"),
        category: SPECIALIST,
        phone: "02343890810",
    },
    Department {
        id: "dhyd-mat",
        organization: UNIVERSITY_HOSPITAL_ID,
        organization_name: "Bệnh viện Trường Đại học Y - Dược Huế",
        name: "Khoa Mắt",
        english: "Ophthalmology",
        specialty: OPHTHALMOLOGY,
        service: ("kham-mat", "Khám Mắt"),
        category: SPECIALIST,
        phone: "02343890830",
    },
];

struct Doctor {
    /// The practitioner's slug: `bs-{slug}`, `vt-{slug}` (role), `lich-{slug}` (schedule).
    slug: &'static str,
    family: &'static str,
    given: &'static [&'static str],
    gender: &'static str,
    /// Academic title and degree, as printed before the name.
    prefix: &'static str,
    qualification: &'static str,
    certificate: &'static str,
    department: &'static str,
}

const DOCTORS: &[Doctor] = &[
    Doctor {
        slug: "tran-thi-minh-tam",
        family: "Trần",
        given: &["Thị", "Minh", "Tâm"],
        gender: "female",
        prefix: "BSCKII.",
        qualification: "Bác sĩ chuyên khoa II - Nhi khoa",
        certificate: "000125/TTH-CCHN",
        department: PAEDIATRICS_SERVICE_ID,
    },
    Doctor {
        slug: "le-quang-hung",
        family: "Lê",
        given: &["Quang", "Hưng"],
        gender: "male",
        prefix: "TS.BS.",
        qualification: "Tiến sĩ Y học - Nội tim mạch",
        certificate: "000231/TTH-CCHN",
        department: CARDIOLOGY_SERVICE_ID,
    },
    Doctor {
        slug: "hoang-thi-thu-huong",
        family: "Hoàng",
        given: &["Thị", "Thu", "Hương"],
        gender: "female",
        prefix: "ThS.BS.",
        qualification: "Thạc sĩ Y học - Nhãn khoa",
        certificate: "000318/TTH-CCHN",
        department: "bvtw-mat",
    },
    Doctor {
        slug: "nguyen-duc-thang",
        family: "Nguyễn",
        given: &["Đức", "Thắng"],
        gender: "male",
        prefix: "PGS.TS.BS.",
        qualification: "Phó Giáo sư, Tiến sĩ Y học - Nội khoa",
        certificate: "000047/TTH-CCHN",
        department: "bvtw-kham-theo-yeu-cau",
    },
    Doctor {
        slug: "vo-thi-ngoc-lan",
        family: "Võ",
        given: &["Thị", "Ngọc", "Lan"],
        gender: "female",
        prefix: "BSCKI.",
        qualification: "Bác sĩ chuyên khoa I - Nội khoa",
        certificate: "000562/TTH-CCHN",
        department: "bvtw-kham-theo-yeu-cau",
    },
    Doctor {
        slug: "phan-van-khoa",
        family: "Phan",
        given: &["Văn", "Khoa"],
        gender: "male",
        prefix: "ThS.BS.",
        qualification: "Thạc sĩ Y học - Nhi khoa",
        certificate: "001204/TTH-CCHN",
        department: "dhyd-khoa-nhi",
    },
    Doctor {
        slug: "ton-nu-dieu-hien",
        family: "Tôn Nữ",
        given: &["Diệu", "Hiền"],
        gender: "female",
        prefix: "BSCKI.",
        qualification: "Bác sĩ chuyên khoa I - Nhãn khoa",
        certificate: "001377/TTH-CCHN",
        department: "dhyd-mat",
    },
];

fn working_hours() -> Value {
    json!([
        { "daysOfWeek": MONDAY_TO_SATURDAY, "availableStartTime": "07:00:00", "availableEndTime": "11:00:00" },
        { "daysOfWeek": MONDAY_TO_SATURDAY, "availableStartTime": "13:30:00", "availableEndTime": "16:30:00" },
    ])
}

fn departments(out: &mut Vec<Value>) {
    for department in DEPARTMENTS {
        let (code, display, text) = department.specialty;
        out.push(json!({
            "resourceType": "HealthcareService",
            "id": department.id,
            "active": true,
            "providedBy": reference("Organization", department.organization, department.organization_name),
            "category": [concept(SERVICE_CATEGORY, department.category.0, department.category.1, department.category.1)],
            "type": [concept(SERVICE_TYPE_SYSTEM, department.service.0, department.service.1, department.service.1)],
            "specialty": [concept(SNOMED, code, display, text)],
            "location": [reference("Location", department.organization, department.organization_name)],
            "name": format!("{} - {}", department.name, department.organization_name),
            "comment": format!("{} ({})", department.name, department.english),
            "telecom": [phone(department.phone, "work")],
            "availableTime": working_hours(),
            "appointmentRequired": false,
        }));
    }
    for doctor in DOCTORS {
        let Some(department) = DEPARTMENTS.iter().find(|d| d.id == doctor.department) else {
            continue;
        };
        let full = format!("{} {}", doctor.family, doctor.given.join(" "));
        let display = format!("{} {full}", doctor.prefix);
        let (code, specialty, text) = department.specialty;
        out.push(json!({
            "resourceType": "Practitioner",
            "id": format!("bs-{}", doctor.slug),
            "active": true,
            "identifier": [{ "system": PRACTICE_CERTIFICATE_SYSTEM, "value": doctor.certificate }],
            "name": [{ "use": "official", "text": display, "family": doctor.family, "given": doctor.given, "prefix": [doctor.prefix] }],
            "gender": doctor.gender,
            "telecom": [phone(department.phone, "work")],
            "qualification": [{
                "code": {
                    "coding": [coding("http://terminology.hl7.org/CodeSystem/v2-0360|2.7", "MD", "Doctor of Medicine")],
                    "text": doctor.qualification,
                },
                "issuer": { "display": "Trường Đại học Y - Dược, Đại học Huế" },
            }],
            "communication": [concept("urn:ietf:bcp:47", "vi", "Vietnamese", "Tiếng Việt")],
        }));
        out.push(json!({
            "resourceType": "PractitionerRole",
            "id": format!("vt-{}", doctor.slug),
            "active": true,
            "practitioner": reference("Practitioner", &format!("bs-{}", doctor.slug), &display),
            "organization": reference("Organization", department.organization, department.organization_name),
            "code": [concept("http://terminology.hl7.org/CodeSystem/practitioner-role", "doctor", "Doctor", "Bác sĩ khám bệnh")],
            "specialty": [concept(SNOMED, code, specialty, text)],
            "location": [reference("Location", department.organization, department.organization_name)],
            "healthcareService": [reference("HealthcareService", department.id, department.name)],
            "telecom": [phone(department.phone, "work")],
            "availableTime": working_hours(),
        }));
        out.push(json!({
            "resourceType": "Schedule",
            "id": format!("lich-{}", doctor.slug),
            "active": true,
            "serviceCategory": [concept(SERVICE_CATEGORY, department.category.0, department.category.1, department.category.1)],
            "serviceType": [concept(SERVICE_TYPE_SYSTEM, department.service.0, department.service.1, department.service.1)],
            "specialty": [concept(SNOMED, code, specialty, text)],
            "actor": [
                reference("PractitionerRole", &format!("vt-{}", doctor.slug), &display),
                reference("HealthcareService", department.id, department.name),
            ],
            "comment": format!("Lịch khám của {display}, {} - {}: thứ Hai - thứ Bảy, 07:00-11:00 và 13:30-16:30, mỗi lượt 15 phút", department.name, department.organization_name),
        }));
    }
}

/// The schedules that have slots.
pub fn slot_schedules() -> impl Iterator<Item = String> {
    DOCTORS.iter().map(|d| format!("lich-{}", d.slug))
}

/// The id of the slot of `schedule` starting at `hour:minute` on `day`.
pub fn slot_id(schedule: &str, day: NaiveDate, hour: u32, minute: u32) -> String {
    format!("{schedule}-{}-{hour:02}{minute:02}", day.format("%Y%m%d"))
}

/// The 15-minute slots of `schedule` on `day`: none on Sundays; a few already busy (taken at
/// the hospital's desk), the same ones every time.
pub fn slots(schedule: &str, day: NaiveDate) -> Vec<Value> {
    if day.weekday() == Weekday::Sun {
        return Vec::new();
    }
    let seed = schedule.bytes().map(u32::from).sum::<u32>() + day.ordinal();
    slot_times()
        .enumerate()
        .map(|(index, (hour, minute))| {
            let index = u32::try_from(index).unwrap_or(0);
            let busy = (seed + index * 7).is_multiple_of(9);
            let (end_hour, end_minute) = if minute == 45 {
                (hour + 1, 0)
            } else {
                (hour, minute + 15)
            };
            json!({
                "resourceType": "Slot",
                "id": slot_id(schedule, day, hour, minute),
                "schedule": { "reference": format!("Schedule/{schedule}") },
                "status": if busy { "busy" } else { "free" },
                "start": at(day, hour, minute),
                "end": at(day, end_hour, end_minute),
            })
        })
        .collect()
}

// --- People ---

struct Person {
    id: &'static str,
    family: &'static str,
    given: &'static [&'static str],
    gender: &'static str,
    birth: NaiveDate,
    cccd: String,
    phone: Option<&'static str>,
    street: &'static str,
    ward: &'static str,
}

impl Person {
    fn full_name(&self) -> String {
        format!("{} {}", self.family, self.given.join(" "))
    }

    fn name(&self) -> Value {
        json!([{
            "use": "official",
            "text": self.full_name(),
            "family": self.family,
            "given": self.given,
        }])
    }

    fn patient(&self, practitioner: Option<(&str, &str)>, same_person: &[&str]) -> Value {
        let mut patient = json!({
            "resourceType": "Patient",
            "id": self.id,
            "identifier": [{
                "use": "official",
                "type": concept("http://terminology.hl7.org/CodeSystem/v2-0203", "NI", "National unique individual identifier", "Căn cước công dân"),
                "system": CCCD_SYSTEM,
                "value": self.cccd,
            }],
            "active": true,
            "name": self.name(),
            "gender": self.gender,
            "birthDate": date(self.birth),
            "address": [home(self.street, self.ward)],
            "communication": [{ "language": concept("urn:ietf:bcp:47", "vi", "Vietnamese", "Tiếng Việt"), "preferred": true }],
        });
        if let Some(phone) = self.phone {
            patient["telecom"] = json!([{ "system": "phone", "value": phone, "use": "mobile" }]);
        }
        if let Some((id, name)) = practitioner {
            patient["generalPractitioner"] = json!([reference("Organization", id, name)]);
        }
        if !same_person.is_empty() {
            // The same person in another role: her RelatedPerson records as a parent.
            patient["link"] = same_person
                .iter()
                .map(|id| json!({ "other": { "reference": format!("RelatedPerson/{id}") }, "type": "seealso" }))
                .collect();
        }
        patient
    }

    /// This person as `child`'s parent (`MTH` or `FTH`).
    fn parent_of(&self, id: &str, child: &Person, role: (&str, &str, &str)) -> Value {
        let mut related = json!({
            "resourceType": "RelatedPerson",
            "id": id,
            "active": true,
            "identifier": [{ "use": "official", "system": CCCD_SYSTEM, "value": self.cccd }],
            "patient": reference("Patient", child.id, &child.full_name()),
            "relationship": [concept(ROLE_CODE, role.0, role.1, role.2)],
            "name": self.name(),
            "gender": self.gender,
            "birthDate": date(self.birth),
            "address": [home(self.street, self.ward)],
        });
        if let Some(phone) = self.phone {
            related["telecom"] = json!([{ "system": "phone", "value": phone, "use": "mobile" }]);
        }
        related
    }
}

const MOTHER_ROLE: (&str, &str, &str) = ("MTH", "mother", "Mẹ");
const FATHER_ROLE: (&str, &str, &str) = ("FTH", "father", "Cha");

/// A BHYT card.
struct Card<'a> {
    id: &'a str,
    holder: &'a Person,
    number: &'a str,
    start: NaiveDate,
    end: NaiveDate,
    /// Mã đối tượng: the beneficiary group (`GD` household, `TE` under-six, `HS` pupil, ...).
    group: (&'a str, &'a str),
    /// Mức hưởng: the benefit level and what it pays.
    level: (&'a str, &'a str),
    five_years_since: Option<&'a str>,
    primary: (&'a str, &'a str),
}

fn coverage(card: &Card) -> Value {
    let mut extension = vec![json!({
        "url": PRIMARY_FACILITY_EXTENSION,
        "valueReference": reference("Organization", card.primary.0, card.primary.1),
    })];
    if let Some(since) = card.five_years_since {
        extension.push(json!({ "url": FIVE_YEARS_EXTENSION, "valueDate": since }));
    }
    json!({
        "resourceType": "Coverage",
        "id": card.id,
        "extension": extension,
        "identifier": [{ "use": "official", "system": BHYT_SYSTEM, "value": card.number }],
        "status": "active",
        "type": concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "PUBLICPOL", "public healthcare", "Bảo hiểm y tế"),
        "subscriberId": card.number,
        "beneficiary": reference("Patient", card.holder.id, &card.holder.full_name()),
        "relationship": concept("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", "Self", "Chính chủ"),
        "period": { "start": date(card.start), "end": date(card.end) },
        "payor": [reference("Organization", SOCIAL_SECURITY_ID, "Bảo hiểm xã hội thành phố Huế")],
        "class": [
            {
                "type": { "coding": [coding(COVERAGE_CLASS, "plan", "Plan")] },
                "value": card.level.0,
                "name": card.level.1,
            },
            {
                "type": { "coding": [coding(COVERAGE_CLASS, "group", "Group")] },
                "value": card.group.0,
                "name": card.group.1,
            },
        ],
    })
}

/// A vaccine of the national programme: CVX code and name, Vietnamese name, route, maker,
/// diseases (SNOMED CT) and doses in the series.
struct Vaccine {
    cvx: &'static str,
    cvx_name: &'static str,
    name: &'static str,
    route: (&'static str, &'static str),
    manufacturer: &'static str,
    diseases: &'static [(&'static str, &'static str)],
    doses: u32,
}

const HEP_B: (&str, &str) = ("66071002", "Viral hepatitis type B");
const TUBERCULOSIS: (&str, &str) = ("56717001", "Tuberculosis");
const DIPHTHERIA: (&str, &str) = (
    "397430003",
    "Diphtheria caused by Corynebacterium diphtheriae",
);
const PERTUSSIS: (&str, &str) = ("27836007", "Pertussis");
const TETANUS: (&str, &str) = ("76902006", "Tetanus");
const HIB: (&str, &str) = ("709410003", "Haemophilus influenzae type b infection");
const POLIO: (&str, &str) = ("398102009", "Acute poliomyelitis");
const MEASLES: (&str, &str) = ("14189004", "Measles");
const RUBELLA: (&str, &str) = ("36653000", "Rubella");
const JAPANESE_ENCEPHALITIS: (&str, &str) = ("52947006", "Japanese encephalitis virus disease");
const HPV: (&str, &str) = ("240532009", "Human papilloma virus infection");

const INTRAMUSCULAR: (&str, &str) = ("IM", "Injection, intramuscular");
const INTRADERMAL: (&str, &str) = ("IDINJ", "Injection, intradermal");
const ORAL: (&str, &str) = ("PO", "Swallow, oral");
const SUBCUTANEOUS: (&str, &str) = ("SQ", "Injection, subcutaneous");

const HEP_B_BIRTH: Vaccine = Vaccine {
    cvx: "08",
    cvx_name: "Hep B, adolescent or pediatric",
    name: "Vắc xin viêm gan B liều sơ sinh (trong 24 giờ đầu)",
    route: INTRAMUSCULAR,
    manufacturer: "Vabiotech (Gene-HBvax)",
    diseases: &[HEP_B],
    doses: 1,
};
const BCG: Vaccine = Vaccine {
    cvx: "19",
    cvx_name: "BCG",
    name: "Vắc xin phòng lao (BCG)",
    route: INTRADERMAL,
    manufacturer: "IVAC",
    diseases: &[TUBERCULOSIS],
    doses: 1,
};
const PENTAVALENT: Vaccine = Vaccine {
    cvx: "198",
    cvx_name: "DTP-hepB-Hib Pentavalent Non-US",
    name: "Vắc xin 5 trong 1 (Bạch hầu - Ho gà - Uốn ván - Viêm gan B - Hib)",
    route: INTRAMUSCULAR,
    manufacturer: "Serum Institute of India",
    diseases: &[DIPHTHERIA, PERTUSSIS, TETANUS, HEP_B, HIB],
    doses: 3,
};
const BOPV: Vaccine = Vaccine {
    cvx: "178",
    cvx_name: "OPV bivalent",
    name: "Vắc xin bại liệt uống (bOPV)",
    route: ORAL,
    manufacturer: "Polyvac",
    diseases: &[POLIO],
    doses: 3,
};
const IPV: Vaccine = Vaccine {
    cvx: "10",
    cvx_name: "IPV",
    name: "Vắc xin bại liệt tiêm (IPV)",
    route: INTRAMUSCULAR,
    manufacturer: "Sanofi Pasteur",
    diseases: &[POLIO],
    doses: 2,
};
const MEASLES_VACCINE: Vaccine = Vaccine {
    cvx: "05",
    cvx_name: "measles",
    name: "Vắc xin sởi",
    route: SUBCUTANEOUS,
    manufacturer: "Polyvac (MVVAC)",
    diseases: &[MEASLES],
    doses: 1,
};
const MEASLES_RUBELLA: Vaccine = Vaccine {
    cvx: "04",
    cvx_name: "M/R",
    name: "Vắc xin sởi - rubella (MR)",
    route: SUBCUTANEOUS,
    manufacturer: "Polyvac (MRVAC)",
    diseases: &[MEASLES, RUBELLA],
    doses: 1,
};
const DTP_BOOSTER: Vaccine = Vaccine {
    cvx: "01",
    cvx_name: "DTP",
    name: "Vắc xin Bạch hầu - Ho gà - Uốn ván (DPT) mũi nhắc",
    route: INTRAMUSCULAR,
    manufacturer: "IVAC",
    diseases: &[DIPHTHERIA, PERTUSSIS, TETANUS],
    doses: 4,
};
const JAPANESE_ENCEPHALITIS_VACCINE: Vaccine = Vaccine {
    cvx: "39",
    cvx_name: "Japanese encephalitis SC",
    name: "Vắc xin viêm não Nhật Bản",
    route: SUBCUTANEOUS,
    manufacturer: "Vabiotech (Jevax)",
    diseases: &[JAPANESE_ENCEPHALITIS],
    doses: 3,
};
const HPV9: Vaccine = Vaccine {
    cvx: "165",
    cvx_name: "HPV9",
    name: "Vắc xin HPV (Gardasil 9)",
    route: INTRAMUSCULAR,
    manufacturer: "MSD",
    diseases: &[HPV],
    doses: 2,
};

fn vaccine_code(vaccine: &Vaccine) -> Value {
    concept(CVX, vaccine.cvx, vaccine.cvx_name, vaccine.name)
}

struct Shot<'a> {
    vaccine: &'a Vaccine,
    when: String,
    dose: u32,
    lot: &'a str,
    /// Where: an organization with a location of the same id.
    place: (&'a str, &'a str),
}

fn immunization(id: String, patient: &Person, shot: &Shot) -> Value {
    let vaccine = shot.vaccine;
    let diseases: Vec<Value> = vaccine
        .diseases
        .iter()
        .map(|(code, display)| json!({ "coding": [coding(SNOMED, code, display)] }))
        .collect();
    json!({
        "resourceType": "Immunization",
        "id": id,
        "status": "completed",
        "vaccineCode": vaccine_code(vaccine),
        "patient": reference("Patient", patient.id, &patient.full_name()),
        "occurrenceDateTime": shot.when,
        "recorded": shot.when,
        "primarySource": true,
        "location": reference("Location", shot.place.0, shot.place.1),
        "manufacturer": { "display": vaccine.manufacturer },
        "lotNumber": shot.lot,
        "route": concept(ROUTE, vaccine.route.0, vaccine.route.1, vaccine.route.1),
        "performer": [{
            "function": concept("http://terminology.hl7.org/CodeSystem/v2-0443", "AP", "Administering Provider", "Cơ sở tiêm chủng"),
            "actor": reference("Organization", shot.place.0, shot.place.1),
        }],
        "protocolApplied": [{
            "series": "Tiêm chủng mở rộng",
            "authority": reference("Organization", CITY_HEALTH_CENTRE_ID, "Trung tâm Y tế thành phố Huế"),
            "targetDisease": diseases,
            "doseNumberPositiveInt": shot.dose,
            "seriesDosesPositiveInt": vaccine.doses,
        }],
    })
}

/// A dose due on `due`: overdue when that day has passed.
fn recommendation(vaccine: &Vaccine, dose: u32, due: NaiveDate, today: NaiveDate) -> Value {
    let (status, text) = if due < today {
        ("overdue", "Quá hạn")
    } else {
        ("due", "Đến hạn")
    };
    json!({
        "vaccineCode": [vaccine_code(vaccine)],
        "targetDisease": {
            "coding": vaccine.diseases.iter().map(|(code, display)| coding(SNOMED, code, display)).collect::<Vec<_>>(),
        },
        "forecastStatus": concept("http://terminology.hl7.org/CodeSystem/immunization-recommendation-status", status, status, text),
        "dateCriterion": [{
            "code": concept(LOINC, "30980-7", "Date vaccine due", "Ngày đến hạn tiêm"),
            "value": date(due),
        }],
        "description": format!("{} - mũi {dose}", vaccine.name),
        "series": "Tiêm chủng mở rộng",
        "doseNumberPositiveInt": dose,
        "seriesDosesPositiveInt": vaccine.doses,
    })
}

/// The CCCD of someone born in `year`, `female` or not: province 046 (Huế), then the century
/// and sex digit (0/1 for 1900s men/women, 2/3 for 2000s), the year's last two digits, six more.
pub fn cccd(year: i32, female: bool, serial: u32) -> String {
    let century = if year >= 2000 { 2 } else { 0 } + u32::from(female);
    format!("046{century}{:02}{serial:06}", year.rem_euclid(100))
}

pub fn infant_birth(today: NaiveDate) -> NaiveDate {
    plus(today, -100)
}

pub fn toddler_birth(today: NaiveDate) -> NaiveDate {
    plus(today, -400)
}

pub const INFANT_SERIAL: u32 = 1357;
pub const TODDLER_SERIAL: u32 = 2468;

fn people(today: NaiveDate, out: &mut Vec<Value>) {
    let station = |id: &'static str| -> (&'static str, &'static str) {
        let name = SITES.iter().find(|s| s.id == id).map_or("", |s| s.name);
        (id, name)
    };
    let phu_hoi = station(PHU_HOI_STATION_ID);
    let vy_da = station(VY_DA_STATION_ID);
    let central = station(HUE_CENTRAL_HOSPITAL_ID);
    let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or(today);

    let mother = Person {
        id: MOTHER_ID,
        family: "Nguyễn",
        given: &["Thị", "Hoa"],
        gender: "female",
        birth: day("1990-05-17"),
        cccd: MOTHER_CCCD.to_owned(),
        phone: Some("0905123456"),
        street: "25 Phạm Ngũ Lão",
        ward: "Phú Hội",
    };
    let infant_birth = infant_birth(today);
    let infant = Person {
        id: INFANT_ID,
        family: "Trần",
        given: &["Minh", "An"],
        gender: "male",
        birth: infant_birth,
        cccd: cccd(infant_birth.year(), false, INFANT_SERIAL),
        phone: None,
        street: "25 Phạm Ngũ Lão",
        ward: "Phú Hội",
    };
    let daughter = Person {
        id: DAUGHTER_ID,
        family: "Trần",
        given: &["Thu", "Hà"],
        gender: "female",
        birth: day("2009-03-02"),
        cccd: DAUGHTER_CCCD.to_owned(),
        phone: Some("0776543210"),
        street: "25 Phạm Ngũ Lão",
        ward: "Phú Hội",
    };
    let father = Person {
        id: FATHER_ID,
        family: "Lê",
        given: &["Văn", "Bình"],
        gender: "male",
        birth: day("1985-11-08"),
        cccd: FATHER_CCCD.to_owned(),
        phone: Some("0914678901"),
        street: "112 Nguyễn Sinh Cung",
        ward: "Vỹ Dạ",
    };
    let toddler_birth = toddler_birth(today);
    let toddler = Person {
        id: TODDLER_ID,
        family: "Lê",
        given: &["Gia", "Huy"],
        gender: "male",
        birth: toddler_birth,
        cccd: cccd(toddler_birth.year(), false, TODDLER_SERIAL),
        phone: None,
        street: "112 Nguyễn Sinh Cung",
        ward: "Vỹ Dạ",
    };
    let uninsured = Person {
        id: UNINSURED_ID,
        family: "Phạm",
        given: &["Quang", "Tuấn"],
        gender: "male",
        birth: day("1978-07-21"),
        cccd: UNINSURED_CCCD.to_owned(),
        phone: Some("0935222333"),
        street: "48 Kim Long",
        ward: "Kim Long",
    };

    out.push(mother.patient(Some(phu_hoi), &[MOTHER_OF_INFANT_ID, MOTHER_OF_DAUGHTER_ID]));
    out.push(infant.patient(Some(phu_hoi), &[]));
    out.push(daughter.patient(Some(phu_hoi), &[]));
    out.push(father.patient(Some(vy_da), &[FATHER_OF_TODDLER_ID]));
    out.push(toddler.patient(Some(vy_da), &[]));
    out.push(uninsured.patient(None, &[]));

    out.push(mother.parent_of(MOTHER_OF_INFANT_ID, &infant, MOTHER_ROLE));
    out.push(mother.parent_of(MOTHER_OF_DAUGHTER_ID, &daughter, MOTHER_ROLE));
    out.push(father.parent_of(FATHER_OF_TODDLER_ID, &toddler, FATHER_ROLE));

    let household = ("GD", "Hộ gia đình");
    let under_six = ("TE", "Trẻ em dưới 6 tuổi");
    out.push(coverage(&Card {
        id: MOTHER_COVERAGE_ID,
        holder: &mother,
        number: MOTHER_BHYT,
        start: plus(today, -340),
        end: plus(today, 25),
        group: household,
        level: ("4", "Mức hưởng 4 - 80%"),
        five_years_since: Some("2021-01-01"),
        primary: phu_hoi,
    }));
    out.push(coverage(&Card {
        id: INFANT_COVERAGE_ID,
        holder: &infant,
        number: INFANT_BHYT,
        start: infant_birth,
        end: years_later(infant_birth, 6),
        group: under_six,
        level: ("1", "Mức hưởng 1 - 100%"),
        five_years_since: None,
        primary: phu_hoi,
    }));
    out.push(coverage(&Card {
        id: DAUGHTER_COVERAGE_ID,
        holder: &daughter,
        number: DAUGHTER_BHYT,
        start: plus(today, -100),
        end: plus(today, 265),
        group: ("HS", "Học sinh"),
        level: ("4", "Mức hưởng 4 - 80%"),
        five_years_since: None,
        primary: phu_hoi,
    }));
    out.push(coverage(&Card {
        id: FATHER_COVERAGE_ID,
        holder: &father,
        number: FATHER_BHYT,
        start: plus(today, -375),
        end: plus(today, -10),
        group: household,
        level: ("4", "Mức hưởng 4 - 80%"),
        five_years_since: None,
        primary: vy_da,
    }));
    out.push(coverage(&Card {
        id: TODDLER_COVERAGE_ID,
        holder: &toddler,
        number: TODDLER_BHYT,
        start: toddler_birth,
        end: years_later(toddler_birth, 6),
        group: under_six,
        level: ("1", "Mức hưởng 1 - 100%"),
        five_years_since: None,
        primary: vy_da,
    }));

    let on =
        |birth: NaiveDate, days: i64, hour: u32, minute: u32| at(plus(birth, days), hour, minute);
    let infant_shots = [
        Shot {
            vaccine: &HEP_B_BIRTH,
            when: on(infant_birth, 0, 8, 30),
            dose: 1,
            lot: "GH2406A",
            place: central,
        },
        Shot {
            vaccine: &BCG,
            when: on(infant_birth, 3, 9, 0),
            dose: 1,
            lot: "BCG0924",
            place: phu_hoi,
        },
        Shot {
            vaccine: &PENTAVALENT,
            when: on(infant_birth, 62, 8, 15),
            dose: 1,
            lot: "SII5V3321",
            place: phu_hoi,
        },
        Shot {
            vaccine: &BOPV,
            when: on(infant_birth, 62, 8, 20),
            dose: 1,
            lot: "BOPV2411",
            place: phu_hoi,
        },
    ];
    for (n, shot) in infant_shots.iter().enumerate() {
        out.push(immunization(
            format!("tc-{INFANT_ID}-{}", n + 1),
            &infant,
            shot,
        ));
    }
    out.push(json!({
        "resourceType": "ImmunizationRecommendation",
        "id": INFANT_RECOMMENDATION_ID,
        "patient": reference("Patient", infant.id, &infant.full_name()),
        "date": at(today, 7, 0),
        "authority": reference("Organization", phu_hoi.0, phu_hoi.1),
        "recommendation": [
            recommendation(&PENTAVALENT, 2, plus(infant_birth, 92), today),
            recommendation(&BOPV, 2, plus(infant_birth, 92), today),
            recommendation(&IPV, 1, plus(infant_birth, 150), today),
        ],
    }));

    let daughter_shots = [
        Shot {
            vaccine: &HEP_B_BIRTH,
            when: "2009-03-02T10:00:00+07:00".into(),
            dose: 1,
            lot: "HB0209",
            place: central,
        },
        Shot {
            vaccine: &BCG,
            when: "2009-03-04T08:30:00+07:00".into(),
            dose: 1,
            lot: "BCG0109",
            place: central,
        },
        Shot {
            vaccine: &MEASLES_VACCINE,
            when: "2009-12-02T08:00:00+07:00".into(),
            dose: 1,
            lot: "MV1109",
            place: phu_hoi,
        },
        Shot {
            vaccine: &HPV9,
            when: "2023-10-10T14:00:00+07:00".into(),
            dose: 1,
            lot: "X016842",
            place: station(INTERNATIONAL_HOSPITAL_ID),
        },
    ];
    for (n, shot) in daughter_shots.iter().enumerate() {
        out.push(immunization(
            format!("tc-{DAUGHTER_ID}-{}", n + 1),
            &daughter,
            shot,
        ));
    }

    let toddler_shots = [
        Shot {
            vaccine: &HEP_B_BIRTH,
            when: on(toddler_birth, 0, 9, 0),
            dose: 1,
            lot: "GH2311B",
            place: central,
        },
        Shot {
            vaccine: &BCG,
            when: on(toddler_birth, 2, 8, 0),
            dose: 1,
            lot: "BCG1123",
            place: vy_da,
        },
        Shot {
            vaccine: &PENTAVALENT,
            when: on(toddler_birth, 61, 8, 0),
            dose: 1,
            lot: "SII5V2210",
            place: vy_da,
        },
        Shot {
            vaccine: &BOPV,
            when: on(toddler_birth, 61, 8, 5),
            dose: 1,
            lot: "BOPV2312",
            place: vy_da,
        },
        Shot {
            vaccine: &PENTAVALENT,
            when: on(toddler_birth, 91, 8, 0),
            dose: 2,
            lot: "SII5V2210",
            place: vy_da,
        },
        Shot {
            vaccine: &BOPV,
            when: on(toddler_birth, 91, 8, 5),
            dose: 2,
            lot: "BOPV2312",
            place: vy_da,
        },
        Shot {
            vaccine: &PENTAVALENT,
            when: on(toddler_birth, 121, 8, 0),
            dose: 3,
            lot: "SII5V2402",
            place: vy_da,
        },
        Shot {
            vaccine: &BOPV,
            when: on(toddler_birth, 121, 8, 5),
            dose: 3,
            lot: "BOPV2402",
            place: vy_da,
        },
        Shot {
            vaccine: &IPV,
            when: on(toddler_birth, 152, 8, 30),
            dose: 1,
            lot: "IPV2403",
            place: vy_da,
        },
        Shot {
            vaccine: &MEASLES_VACCINE,
            when: on(toddler_birth, 274, 8, 0),
            dose: 1,
            lot: "MV2407",
            place: vy_da,
        },
    ];
    for (n, shot) in toddler_shots.iter().enumerate() {
        out.push(immunization(
            format!("tc-{TODDLER_ID}-{}", n + 1),
            &toddler,
            shot,
        ));
    }
    out.push(json!({
        "resourceType": "ImmunizationRecommendation",
        "id": TODDLER_RECOMMENDATION_ID,
        "patient": reference("Patient", toddler.id, &toddler.full_name()),
        "date": at(today, 7, 0),
        "authority": reference("Organization", vy_da.0, vy_da.1),
        "recommendation": [
            recommendation(&JAPANESE_ENCEPHALITIS_VACCINE, 1, plus(toddler_birth, 365), today),
            recommendation(&MEASLES_RUBELLA, 1, plus(toddler_birth, 548), today),
            recommendation(&DTP_BOOSTER, 4, plus(toddler_birth, 548), today),
        ],
    }));
}

/// Everything the sandbox starts with but the slots.
pub fn resources(today: NaiveDate) -> Vec<Value> {
    let mut out = Vec::new();
    sites(&mut out);
    blood_donation(today, &mut out);
    departments(&mut out);
    people(today, &mut out);
    out
}
