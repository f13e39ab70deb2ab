//! A FHIR R4 server standing in for Huế's hospital and health information systems: patients
//! by CCCD, their parents, BHYT cards, vaccinations and due doses; hospitals, ward health
//! stations, pharmacies and blood donation drives with where they are and when they open;
//! departments, doctors, their schedules and 15-minute slots, and booking those slots. JSON
//! only (`application/fhir+json; charset=utf-8`), following the spec
//! (https://hl7.org/fhir/R4/http.html, search.html, bundle.html, operationoutcome.html):
//!
//! - Every request but `GET /metadata` needs `Authorization: Bearer` with [`BEARER_TOKEN`] or
//!   an access token from SMART Backend Services (`POST /auth/token`, discovered at
//!   `/.well-known/smart-configuration`; see [`smart`]), else `401` with
//!   `WWW-Authenticate: Bearer` and an OperationOutcome (`login`).
//! - `GET /metadata`: the CapabilityStatement (types, interactions, search parameters,
//!   `_include`s).
//! - `GET /{type}/{id}` (and `/_history/{n}`): the resource with `meta.versionId`,
//!   `meta.lastUpdated`, `ETag: W/"n"` (`304` for a matching `If-None-Match`); `404`
//!   OperationOutcome `not-found` for an unknown id, `not-supported` for an unknown type.
//! - `GET /{type}?...` and `POST /{type}/_search` (form body): a `searchset` Bundle with
//!   `total`, `self` and `next` links and `entry[].search.mode` `match` or `include` (includes
//!   are not counted). `_count` defaults to 20, at most 100, `0` (or `_summary=count`) for the
//!   total alone. The `next` link is absolute (from the `Host` header) and opaque:
//!   `http://host/sandbox/fhir?_getpages=<token>&_getpagesoffset=20&_count=20`; the token
//!   names a snapshot of the search's matches, kept 30 minutes, so pages stay consistent while
//!   slots are booked. A malformed token gets `400`, an unknown or expired one `410`. Unknown
//!   parameters are ignored (and left out of `self`) unless `Prefer: handling=strict`, then
//!   `400 not-supported`; an unsupported modifier is always `400 not-supported`; a malformed
//!   value (a bad date, a `near` that does not parse) `400 invalid`. The parameters are in
//!   `fhir/search.rs` and the CapabilityStatement; tokens take `system|code`, `code`, `|code` and `system|`; dates take the
//!   prefixes `eq ne gt lt ge le sa eb ap`; a `+` in a zone may arrive as a space (unencoded)
//!   and is read as `+`; `_sort` takes any parameter but `near`, `-` for descending; `near`
//!   results come nearest first, with the distance in the entry's `search.extension`
//!   (`location-distance`).
//! - `POST /Appointment` books a slot: `status` `booked` (the slot becomes `busy`),
//!   `proposed` or `pending` (`busy-tentative`); exactly one `slot`; a `participant` whose
//!   actor is a known `Patient/x`; `start`/`end`, if given, the slot's (FHIR's app-3 wants
//!   them on a booked appointment). Answers `201` with `Location: .../Appointment/{id}/_history/1`,
//!   `ETag` and the Appointment, its `identifier` holding the queue number of that schedule's
//!   day (system [`QUEUE_NUMBER_SYSTEM`], from 1). A malformed Appointment gets `400` with
//!   `structure`/`required`/`code-invalid`/`value`/`invariant` issues and their `expression`;
//!   a booking the rules refuse `422` (`business-rule`, or `processing` for an unknown patient
//!   or slot); a slot not free `409 conflict`. `If-None-Exist: identifier=urn:citizen:booking|<id>`
//!   makes it a conditional create: an Appointment already matching is answered `200` and
//!   nothing is booked (retries are safe); several match: `412`. At most
//!   100,000 appointments are kept; more get `507`.
//! - `PUT /Appointment/{id}` (the whole resource, same `id`) or `PATCH` with JSON Patch
//!   (`application/json-patch+json`), honouring `If-Match: W/"n"` (`412` otherwise): the way
//!   to cancel (`status` `cancelled` or `entered-in-error` frees the slot) or confirm a
//!   proposed one (`booked`). The slot and patient cannot change, and a cancelled, fulfilled
//!   or no-show appointment stays so (`422`). The queue number is the server's: kept whatever
//!   the client sends. No update-as-create: an unknown id gets `405` (`404` for `PATCH`).
//! - `POST /sandbox/fhir/faults` `{"mode": "down"|"slow"|"garbage"|null, "times": n,
//!   "delay_ms": n, "retry_after_secs": n, "method": "POST"}` (not FHIR, like the other
//!   sandboxes' switches; `method` limits it to requests of that method):
//!   `down` answers `503` with an OperationOutcome (`transient`) and `Retry-After` (30 s unless
//!   told), `slow` does the work at once and answers `delay_ms` later (10 s unless told; a
//!   client that gives up first leaves what was done done), `garbage`
//!   answers `200` with JSON cut off midway; `times` requests, or all until `null`.
//!
//! The records (`fhir/data.rs`) are Huế's, with dates counted from the day the sandbox started
//! (Huế time); their ids and identifiers are the constants below. Blood donation drives are
//! Locations (type `MOBL`, run by the transfusion centre) each with a Schedule whose
//! `planningHorizon` is the drive's morning and whose actors are the Location and the
//! `HealthcareService` [`BLOOD_DONATION_SERVICE_ID`]: `Schedule?actor=HealthcareService/...`
//! or `Schedule?service-type=urn:citizen:fhir:service-type|hien-mau&date=ge...` finds them.
//! Family ties are RelatedPerson resources (the parent's CCCD as identifier, the child as
//! `patient`, v3 RoleCode `MTH`/`FTH`); a parent who is a patient too has `Patient.link`
//! (`seealso`) to her RelatedPerson records, the same person in another role.
//!
//! Left out: XML, `_history` of a type or the system, `_revinclude`, chained and reverse
//! chained parameters, `_has`, `_elements`, `_summary` but `count`, `_text`/`_content`,
//! composite and quantity parameters, transactions and batches, `DELETE`, and creating or
//! updating any type but Appointment.

mod data;
mod patch;
mod search;
pub mod smart;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDate, Offset, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{self, Faults};
use crate::gateway;
use search::{Handling, Hit, Include, Snapshot, Snapshots};

/// The token every request but `GET /metadata` carries as `Authorization: Bearer`.
pub const BEARER_TOKEN: &str = "citizen-fhir-sandbox-token";

/// The identifier system of the CCCD, the 12-digit citizen identity number.
pub const CCCD_SYSTEM: &str = "urn:vn:cccd";
/// The identifier system of BHYT (health insurance) card numbers, in `Coverage.identifier`
/// (the number is also `Coverage.subscriberId`).
pub const BHYT_SYSTEM: &str = "urn:vn:bhyt";
/// The identifier system of the queue number (số thứ tự) a booked Appointment gets.
pub const QUEUE_NUMBER_SYSTEM: &str = "urn:vn:hospital:queue-number";
/// The identifier system of the client's own booking id on an Appointment, for
/// `If-None-Exist`.
pub const BOOKING_SYSTEM: &str = "urn:citizen:booking";
/// Location extension (`valueBoolean`): whether the BHYT card is taken there.
pub const ACCEPTS_BHYT_EXTENSION: &str = "urn:citizen:fhir:accepts-bhyt";
/// Coverage extension (`valueDate`): since when the holder has been insured five years
/// without a break (which raises the benefit).
pub const FIVE_YEARS_EXTENSION: &str = "urn:citizen:fhir:bhyt-five-years-continuous";
/// Coverage extension (`valueReference` to an Organization): the card's registered primary
/// care facility (nơi đăng ký khám chữa bệnh ban đầu).
pub const PRIMARY_FACILITY_EXTENSION: &str = "urn:citizen:fhir:bhyt-primary-facility";
/// Identifier system of health facility codes (mã cơ sở khám chữa bệnh).
pub const FACILITY_CODE_SYSTEM: &str = "urn:vn:moh:facility-code";
/// Identifier system of pharmacies' business licences.
pub const PHARMACY_LICENCE_SYSTEM: &str = "urn:vn:moh:pharmacy-licence";
/// Identifier system of Social Security agencies.
pub const SOCIAL_SECURITY_AGENCY_SYSTEM: &str = "urn:vn:vss:agency-code";
/// Identifier system of practitioners' practising certificates (chứng chỉ hành nghề).
pub const PRACTICE_CERTIFICATE_SYSTEM: &str = "urn:vn:moh:practice-certificate";
/// Organization types besides HL7's: `hospital`, `health-centre`, `health-station`,
/// `pharmacy`, `blood-centre`, `social-insurance`.
pub const ORGANIZATION_TYPE_SYSTEM: &str = "urn:citizen:fhir:organization-type";
/// Service types of HealthcareService and Schedule: `kham-nhi`, `kham-tim-mach`, `kham-mat`,
/// `kham-theo-yeu-cau`, `hien-mau`.
pub const SERVICE_TYPE_SYSTEM: &str = "urn:citizen:fhir:service-type";
/// Service category of blood donation (`blood-donation`); departments use HL7's.
pub const SERVICE_CATEGORY_SYSTEM: &str = "urn:citizen:fhir:service-category";

/// Patient Nguyễn Thị Hoa, born 1990-05-17, registered at [`PHU_HOI_STATION_ID`]; mother of
/// [`INFANT_ID`] and [`DAUGHTER_ID`].
pub const MOTHER_ID: &str = "nguyen-thi-hoa";
pub const MOTHER_CCCD: &str = "046190001234";
/// Her card (new 10-digit number): active, level 4 (80%), expiring 25 days after the start,
/// five years continuous since 2021-01-01.
pub const MOTHER_BHYT: &str = "4601234567";
pub const MOTHER_COVERAGE_ID: &str = "bhyt-nguyen-thi-hoa";
/// RelatedPerson: the mother as [`INFANT_ID`]'s parent (`MTH`).
pub const MOTHER_OF_INFANT_ID: &str = "me-cua-tran-minh-an";
/// RelatedPerson: the mother as [`DAUGHTER_ID`]'s parent (`MTH`).
pub const MOTHER_OF_DAUGHTER_ID: &str = "me-cua-tran-thu-ha";
/// Patient Trần Minh An, the mother's son, 100 days old at the start (CCCD:
/// [`infant_cccd`]); four vaccinations, three doses due ([`INFANT_RECOMMENDATION_ID`]).
pub const INFANT_ID: &str = "tran-minh-an";
/// His card, in the old 15-character format: group TE, level 1, province 46; from birth for
/// six years.
pub const INFANT_BHYT: &str = "TE1460123456789";
pub const INFANT_COVERAGE_ID: &str = "bhyt-tran-minh-an";
/// Pentavalent and bOPV dose 2 due at 92 days (overdue), IPV dose 1 at 150 days.
pub const INFANT_RECOMMENDATION_ID: &str = "khtc-tran-minh-an";
/// Patient Trần Thu Hà, born 2009-03-02: over 16, so no proxy acts for her.
pub const DAUGHTER_ID: &str = "tran-thu-ha";
pub const DAUGHTER_CCCD: &str = "046309004321";
pub const DAUGHTER_BHYT: &str = "4609876543";
pub const DAUGHTER_COVERAGE_ID: &str = "bhyt-tran-thu-ha";
/// Patient Lê Văn Bình, father of [`TODDLER_ID`]; his card expired 10 days before the start
/// (status still `active`: the period says it is over).
pub const FATHER_ID: &str = "le-van-binh";
pub const FATHER_CCCD: &str = "046085009999";
pub const FATHER_BHYT: &str = "4605550123";
pub const FATHER_COVERAGE_ID: &str = "bhyt-le-van-binh";
/// RelatedPerson: the father as [`TODDLER_ID`]'s parent (`FTH`).
pub const FATHER_OF_TODDLER_ID: &str = "cha-cua-le-gia-huy";
/// Patient Lê Gia Huy, 400 days old at the start (CCCD: [`toddler_cccd`]); ten vaccinations,
/// three doses due ([`TODDLER_RECOMMENDATION_ID`]).
pub const TODDLER_ID: &str = "le-gia-huy";
pub const TODDLER_BHYT: &str = "TE1460987654321";
pub const TODDLER_COVERAGE_ID: &str = "bhyt-le-gia-huy";
pub const TODDLER_RECOMMENDATION_ID: &str = "khtc-le-gia-huy";
/// Patient Phạm Quang Tuấn: no Coverage, no general practitioner.
pub const UNINSURED_ID: &str = "pham-quang-tuan";
pub const UNINSURED_CCCD: &str = "046078004567";
/// A well-formed CCCD nobody has: searches find nothing.
pub const UNKNOWN_CCCD: &str = "046199000000";

/// Organization and Location (the same id) of Bệnh viện Trung ương Huế, 16 Lê Lợi.
pub const HUE_CENTRAL_HOSPITAL_ID: &str = "bv-trung-uong-hue";
/// Location only: its second campus in Phong Điền, ~27 km away.
pub const HUE_CENTRAL_HOSPITAL_SECOND_CAMPUS_ID: &str = "bv-trung-uong-hue-co-so-2";
/// Bệnh viện Trường Đại học Y - Dược Huế, 41 Nguyễn Huệ.
pub const UNIVERSITY_HOSPITAL_ID: &str = "bv-dai-hoc-y-duoc-hue";
/// Bệnh viện Quốc tế Trung ương Huế: the one hospital here that does not take BHYT.
pub const INTERNATIONAL_HOSPITAL_ID: &str = "bv-quoc-te-trung-uong-hue";
/// Trung tâm Y tế thành phố Huế, the city's general hospital.
pub const CITY_HEALTH_CENTRE_ID: &str = "ttyt-thanh-pho-hue";
pub const PHU_HOI_STATION_ID: &str = "tyt-phu-hoi";
pub const VY_DA_STATION_ID: &str = "tyt-vy-da";
pub const KIM_LONG_STATION_ID: &str = "tyt-kim-long";
pub const AN_CUU_STATION_ID: &str = "tyt-an-cuu";
/// Bảo hiểm xã hội thành phố Huế: every Coverage's payor.
pub const SOCIAL_SECURITY_ID: &str = "bhxh-hue";
/// Trung tâm Truyền máu, part of Huế Central Hospital.
pub const BLOOD_CENTRE_ID: &str = "trung-tam-truyen-mau-hue";
/// HealthcareService: voluntary blood donation, at the centre and the drives.
pub const BLOOD_DONATION_SERVICE_ID: &str = "hien-mau-tinh-nguyen";
/// Locations of the blood donation drives 3, 10 and 25 days after the start; each has a
/// Schedule `lich-{id}`.
pub const BLOOD_DRIVE_IDS: [&str; 3] = [
    "hien-mau-dh-khoa-hoc",
    "hien-mau-nha-van-hoa-trung-tam",
    "hien-mau-dh-su-pham",
];
/// Organization and Location of the pharmacies (the first two, hospitals'); none takes BHYT.
pub const PHARMACY_IDS: [&str; 7] = [
    "nha-thuoc-bv-trung-uong-hue",
    "nha-thuoc-bv-dai-hoc-y-duoc-hue",
    "nha-thuoc-hong-duc",
    "nha-thuoc-minh-chau",
    "nha-thuoc-thien-an",
    "nha-thuoc-phuoc-thien",
    "nha-thuoc-an-cuu",
];

/// HealthcareService: Khoa Nhi (paediatrics) of Huế Central Hospital.
pub const PAEDIATRICS_SERVICE_ID: &str = "bvtw-khoa-nhi";
/// HealthcareService: Khoa Nội tim mạch (cardiology) of Huế Central Hospital.
pub const CARDIOLOGY_SERVICE_ID: &str = "bvtw-noi-tim-mach";
/// Practitioner BSCKII. Trần Thị Minh Tâm, paediatrician at [`PAEDIATRICS_SERVICE_ID`]; her
/// PractitionerRole and Schedule (with slots). Every doctor `bs-{x}` has `vt-{x}` and
/// `lich-{x}` the same way.
pub const PAEDIATRICIAN_ID: &str = "bs-tran-thi-minh-tam";
pub const PAEDIATRICIAN_ROLE_ID: &str = "vt-tran-thi-minh-tam";
pub const PAEDIATRICIAN_SCHEDULE_ID: &str = "lich-tran-thi-minh-tam";
/// Practitioner TS.BS. Lê Quang Hưng, cardiologist at [`CARDIOLOGY_SERVICE_ID`].
pub const CARDIOLOGIST_ID: &str = "bs-le-quang-hung";
pub const CARDIOLOGIST_ROLE_ID: &str = "vt-le-quang-hung";
pub const CARDIOLOGIST_SCHEDULE_ID: &str = "lich-le-quang-hung";

/// The infant's CCCD. Its year digits are his birth year's (100 days before today), so it is
/// a function: the records made when the sandbox started today have the same.
pub fn infant_cccd() -> String {
    data::cccd(
        data::infant_birth(today()).year(),
        false,
        data::INFANT_SERIAL,
    )
}

/// The toddler's CCCD, like [`infant_cccd`].
pub fn toddler_cccd() -> String {
    data::cccd(
        data::toddler_birth(today()).year(),
        false,
        data::TODDLER_SERIAL,
    )
}

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
/// Huế's offset from UTC, all year.
const LOCAL_OFFSET_SECS: i32 = 7 * 3600;
/// Days ahead that have slots.
const SLOT_DAYS: u64 = 14;
const MAX_APPOINTMENTS: usize = 100_000;
const DEFAULT_SLOW_MS: u64 = 10_000;
const DEFAULT_RETRY_AFTER_SECS: u64 = 30;

const APPOINTMENT_STATUSES: &[&str] = &[
    "proposed",
    "pending",
    "booked",
    "arrived",
    "fulfilled",
    "cancelled",
    "noshow",
    "entered-in-error",
    "checked-in",
    "waitlist",
];
const PARTICIPATION_STATUSES: &[&str] = &["accepted", "declined", "tentative", "needs-action"];
/// What a booking may start as.
const BOOKABLE_STATUSES: &[&str] = &["proposed", "pending", "booked"];
/// What an appointment cannot leave.
const FINAL_STATUSES: &[&str] = &["cancelled", "entered-in-error", "fulfilled", "noshow"];
/// What gives the slot back.
const RELEASING_STATUSES: &[&str] = &["cancelled", "entered-in-error"];
/// Appointment's elements in R4: anything else is not FHIR.
const APPOINTMENT_ELEMENTS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "implicitRules",
    "language",
    "text",
    "contained",
    "extension",
    "modifierExtension",
    "identifier",
    "status",
    "cancelationReason",
    "serviceCategory",
    "serviceType",
    "specialty",
    "appointmentType",
    "reasonCode",
    "reasonReference",
    "priority",
    "description",
    "supportingInformation",
    "start",
    "end",
    "minutesDuration",
    "slot",
    "created",
    "comment",
    "patientInstruction",
    "basedOn",
    "participant",
    "requestedPeriod",
];
const PARTICIPANT_ELEMENTS: &[&str] = &[
    "id",
    "extension",
    "modifierExtension",
    "type",
    "actor",
    "required",
    "status",
    "period",
];

fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// Today in Huế.
fn today() -> NaiveDate {
    Utc::now().with_timezone(&local_offset()).date_naive()
}

/// Now as a FHIR instant.
fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

// --- OperationOutcome ---

#[derive(Debug)]
struct Issue {
    code: &'static str,
    vi: String,
    en: String,
    expression: Option<String>,
}

/// A refusal, answered as an OperationOutcome.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    issues: Vec<Issue>,
    headers: Vec<(HeaderName, String)>,
}

impl Failure {
    fn new(
        status: StatusCode,
        code: &'static str,
        vi: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        Self {
            status,
            issues: vec![Issue {
                code,
                vi: vi.into(),
                en: en.into(),
                expression: None,
            }],
            headers: Vec::new(),
        }
    }

    fn bad_request(code: &'static str, vi: impl Into<String>, en: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, vi, en)
    }

    fn unprocessable(code: &'static str, vi: impl Into<String>, en: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, vi, en)
    }

    /// Where the (last) issue is, as a FHIRPath expression.
    fn at(mut self, expression: impl Into<String>) -> Self {
        if let Some(issue) = self.issues.last_mut() {
            issue.expression = Some(expression.into());
        }
        self
    }

    fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn outcome(&self) -> Value {
        let issues: Vec<Value> = self
            .issues
            .iter()
            .map(|issue| {
                let mut entry = json!({
                    "severity": "error",
                    "code": issue.code,
                    "details": { "text": issue.vi },
                    "diagnostics": issue.en,
                });
                if let Some(expression) = &issue.expression {
                    entry["expression"] = json!([expression]);
                }
                entry
            })
            .collect();
        json!({ "resourceType": "OperationOutcome", "issue": issues })
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = fhir_json(self.status, &self.outcome());
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// Issues found in a resource, answered together.
#[derive(Default)]
struct Issues(Vec<Issue>);

impl Issues {
    fn push(&mut self, code: &'static str, expression: String, vi: &str, en: String) {
        self.0.push(Issue {
            code,
            vi: vi.to_owned(),
            en,
            expression: Some(expression),
        });
    }

    fn into_result(self, status: StatusCode) -> Result<(), Failure> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Failure {
                status,
                issues: self.0,
                headers: Vec::new(),
            })
        }
    }
}

fn fhir_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

// --- The store ---

struct Store {
    /// Every version of every resource, by type and id, oldest first.
    resources: HashMap<String, BTreeMap<String, Vec<Value>>>,
    /// The last queue number given, by schedule and day.
    queue_numbers: HashMap<(String, NaiveDate), u32>,
    appointments: usize,
    /// The last day with slots.
    slots_through: NaiveDate,
    searches: Snapshots,
}

impl Store {
    fn new(today: NaiveDate, now: &str) -> Self {
        let mut store = Self {
            resources: HashMap::new(),
            queue_numbers: HashMap::new(),
            appointments: 0,
            slots_through: today,
            searches: Snapshots::default(),
        };
        for resource in data::resources(today) {
            store.put(resource, now);
        }
        store.extend_slots(today, now);
        store
    }

    /// Adds the slots of the days that came within reach since the last time.
    fn extend_slots(&mut self, today: NaiveDate, now: &str) {
        let last = today
            .checked_add_days(chrono::Days::new(SLOT_DAYS))
            .unwrap_or(today);
        while self.slots_through < last {
            let Some(day) = self.slots_through.succ_opt() else {
                return;
            };
            for schedule in data::slot_schedules() {
                for slot in data::slots(&schedule, day) {
                    self.put(slot, now);
                }
            }
            self.slots_through = day;
        }
    }

    fn current(&self, kind: &str, id: &str) -> Option<&Value> {
        self.resources.get(kind)?.get(id)?.last()
    }

    fn version(&self, kind: &str, id: &str, version: usize) -> Option<&Value> {
        self.resources
            .get(kind)?
            .get(id)?
            .get(version.checked_sub(1)?)
    }

    fn all<'a>(&'a self, kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
        self.resources
            .get(kind)
            .into_iter()
            .flat_map(|by_id| by_id.values())
            .filter_map(|versions| versions.last())
    }

    /// Stores `resource` as its next version, stamping `meta`; the version stored.
    fn put(&mut self, mut resource: Value, now: &str) -> Value {
        let kind = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let versions = self
            .resources
            .entry(kind)
            .or_default()
            .entry(id)
            .or_default();
        let version = versions.len() + 1;
        if let Some(object) = resource.as_object_mut() {
            let meta = object.entry("meta").or_insert_with(|| json!({}));
            if !meta.is_object() {
                *meta = json!({});
            }
            meta["versionId"] = json!(version.to_string());
            meta["lastUpdated"] = json!(now);
        }
        versions.push(resource.clone());
        resource
    }

    fn set_slot_status(&mut self, slot_id: &str, status: &str, now: &str) {
        if let Some(mut slot) = self.current("Slot", slot_id).cloned()
            && slot.get("status").and_then(Value::as_str) != Some(status)
        {
            slot["status"] = json!(status);
            self.put(slot, now);
        }
    }

    /// The organization running `schedule`, through its HealthcareService or role.
    fn organization_of_schedule(&self, schedule: &str) -> Option<Value> {
        let schedule = self.current("Schedule", schedule)?;
        search::values(schedule, "actor")
            .into_iter()
            .filter_map(search::reference_of)
            .find_map(|(kind, id)| {
                let actor = self.current(kind, id)?;
                actor
                    .get("providedBy")
                    .or_else(|| actor.get("organization"))
                    .cloned()
            })
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
    store: Arc<Mutex<Store>>,
    faults: Arc<Faults<Fault>>,
    /// Access tokens issued to SMART backend-services clients.
    tokens: Arc<smart::Tokens>,
}

impl Server {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn router() -> Router {
    let server = Server {
        store: Arc::new(Mutex::new(Store::new(today(), &now()))),
        faults: Arc::default(),
        tokens: Arc::default(),
    };
    Router::new()
        .route("/faults", post(set_fault))
        .route("/", any(handle))
        .route("/{*path}", any(handle))
        .with_state(server)
}

/// The service base: `http://<host>/sandbox/fhir`, wherever the sandbox is reached.
fn base_url(headers: &HeaderMap) -> String {
    format!("http://{}/sandbox/fhir", gateway::host(headers))
}

fn authorize(headers: &HeaderMap, tokens: &smart::Tokens) -> Result<(), Failure> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let realm = r#"Bearer realm="citizen-fhir-sandbox""#;
    match token {
        Some(BEARER_TOKEN) => Ok(()),
        Some(token) if tokens.valid(token) => Ok(()),
        Some(_) => Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "login",
            "Mã truy cập không hợp lệ",
            "The bearer token is not valid",
        )
        .header(
            header::WWW_AUTHENTICATE,
            format!(r#"{realm}, error="invalid_token""#),
        )),
        None => Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "login",
            "Cần đăng nhập: thiếu mã truy cập",
            "Authorization: Bearer <token> is required",
        )
        .header(header::WWW_AUTHENTICATE, realm)),
    }
}

/// A `Prefer` preference's value (`handling`, `return`).
fn preference<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .filter_map(|p| p.split_once('='))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().trim_matches('"'))
}

fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(server): State<Server>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A slow server does the work and answers late: a client that gives up first does not
    // undo what was done (a booking stays booked), as with a real hospital system.
    let mut late_by = None;
    if let Some((fault, retry_after)) = server.faults.take(method.as_str()) {
        match fault {
            Fault::Down => {
                let down = Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "transient",
                    "Hệ thống đang bảo trì, vui lòng thử lại sau",
                    "The server is down for maintenance; try again later",
                );
                return faults::retry_after(down.into_response(), retry_after);
            }
            Fault::Garbage => {
                // What a proxy cutting the connection midway leaves.
                let mut response = (
                    StatusCode::OK,
                    r#"{"resourceType":"Bundle","type":"searchset","total":3,"entry":[{"fullUrl":"http://"#,
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
                return response;
            }
            Fault::Slow(millis) => late_by = Some(Duration::from_millis(millis)),
        }
    }
    let path = uri.path().trim_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let metadata = method == Method::GET && segments == ["metadata"];
    if method == Method::GET && segments == [".well-known", "smart-configuration"] {
        return smart::configuration(&base_url(&headers));
    }
    if method == Method::POST && segments == ["auth", "token"] {
        return smart::token(&server.tokens, &base_url(&headers), &body);
    }
    if !metadata && let Err(refused) = authorize(&headers, &server.tokens) {
        return refused.into_response();
    }
    let request = Request {
        base: base_url(&headers),
        query: uri.query().unwrap_or_default(),
        headers: &headers,
        body: &body,
    };
    let response =
        route(&server, &method, &segments, &request).unwrap_or_else(IntoResponse::into_response);
    if let Some(delay) = late_by {
        tokio::time::sleep(delay).await;
    }
    response
}

struct Request<'a> {
    base: String,
    query: &'a str,
    headers: &'a HeaderMap,
    body: &'a Bytes,
}

fn route(
    server: &Server,
    method: &Method,
    segments: &[&str],
    request: &Request,
) -> Result<Response, Failure> {
    // An operation or history we do not have is a bad request; another method, not allowed.
    let not_allowed = || {
        let status = if method == Method::GET {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::METHOD_NOT_ALLOWED
        };
        Failure::new(
            status,
            "not-supported",
            "Thao tác không được hỗ trợ",
            format!("{method} /{} is not supported", segments.join("/")),
        )
    };
    match (method, segments) {
        (&Method::GET, []) => pages(server, request),
        (&Method::GET, ["metadata"]) => Ok(fhir_json(
            StatusCode::OK,
            &capability_statement(&request.base),
        )),
        (_, [] | ["metadata"]) => Err(not_allowed()),
        (_, [kind, ..]) if !search::TYPES.contains(kind) => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "not-supported",
            format!("Loại tài nguyên '{kind}' không được hỗ trợ"),
            format!("Unknown resource type '{kind}'"),
        )),
        (&Method::GET, [kind]) => search_type(server, kind, pairs(request.query), request),
        (&Method::POST, [kind, "_search"]) => {
            let form = request
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|t| t.starts_with("application/x-www-form-urlencoded"));
            if !form && !request.body.is_empty() {
                return Err(unsupported_media_type("application/x-www-form-urlencoded"));
            }
            let mut all = pairs(request.query);
            all.extend(form_urlencoded::parse(request.body).into_owned());
            search_type(server, kind, all, request)
        }
        (&Method::POST, ["Appointment"]) => create_appointment(server, request),
        (&Method::GET, [kind, id]) => read(server, kind, id, None, request),
        (&Method::GET, [kind, id, "_history", version]) => {
            read(server, kind, id, Some(version), request)
        }
        (&Method::PUT, ["Appointment", id]) => {
            let resource = parse_resource(request)?;
            update_appointment(server, id, request, Change::Replace(resource))
        }
        (&Method::PATCH, ["Appointment", id]) => {
            let patch_type = request
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !patch_type.starts_with("application/json-patch+json") {
                return Err(unsupported_media_type("application/json-patch+json"));
            }
            let operations: Value = serde_json::from_slice(request.body).map_err(|e| {
                Failure::bad_request(
                    "structure",
                    "Nội dung PATCH không phải JSON hợp lệ",
                    format!("The JSON Patch document does not parse: {e}"),
                )
            })?;
            update_appointment(server, id, request, Change::Patch(operations))
        }
        _ => Err(not_allowed()),
    }
}

fn unsupported_media_type(wanted: &str) -> Failure {
    Failure::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "not-supported",
        "Định dạng nội dung không được hỗ trợ",
        format!("Content-Type must be {wanted}"),
    )
}

fn not_found(kind: &str, id: &str) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("Không tìm thấy {kind}/{id}"),
        format!("Resource {kind}/{id} is not known"),
    )
}

fn version_of(resource: &Value) -> String {
    resource
        .pointer("/meta/versionId")
        .and_then(Value::as_str)
        .unwrap_or("1")
        .to_owned()
}

/// `W/"3"`, `"3"` or `3` as `3`.
fn etag_version(tag: &str) -> &str {
    let tag = tag.trim();
    tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"')
}

/// A resource with its `ETag` and `Last-Modified`.
fn resource_response(status: StatusCode, resource: &Value) -> Response {
    let mut response = fhir_json(status, resource);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", version_of(resource))) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(modified) = resource
        .pointer("/meta/lastUpdated")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        && let Ok(value) = HeaderValue::from_str(
            &modified
                .with_timezone(&Utc)
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        )
    {
        headers.insert(header::LAST_MODIFIED, value);
    }
    response
}

/// A written resource, as `Prefer: return=` asks: the resource (the default), nothing, or an
/// OperationOutcome.
fn written(request: &Request, status: StatusCode, resource: &Value, location: bool) -> Response {
    let mut response = match preference(request.headers, "return") {
        Some("minimal") => {
            let mut response = resource_response(status, resource);
            *response.body_mut() = axum::body::Body::empty();
            response.headers_mut().remove(header::CONTENT_TYPE);
            response
        }
        Some("OperationOutcome") => {
            let mut response = resource_response(status, resource);
            let outcome = json!({
                "resourceType": "OperationOutcome",
                "issue": [{ "severity": "information", "code": "informational", "details": { "text": "Đã lưu" }, "diagnostics": "Stored" }],
            });
            *response.body_mut() = axum::body::Body::from(outcome.to_string());
            response
        }
        _ => resource_response(status, resource),
    };
    if location {
        let id = resource
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let url = format!(
            "{}/Appointment/{id}/_history/{}",
            request.base,
            version_of(resource)
        );
        if let Ok(value) = HeaderValue::from_str(&url) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}

fn read(
    server: &Server,
    kind: &str,
    id: &str,
    version: Option<&str>,
    request: &Request,
) -> Result<Response, Failure> {
    let store = server.lock();
    let resource = match version {
        None => store.current(kind, id),
        Some(version) => version
            .parse::<usize>()
            .ok()
            .and_then(|v| store.version(kind, id, v)),
    };
    let Some(resource) = resource else {
        return Err(match (version, store.current(kind, id)) {
            (Some(version), Some(_)) => Failure::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("Không có phiên bản {version} của {kind}/{id}"),
                format!("{kind}/{id} has no version {version}"),
            ),
            _ => not_found(kind, id),
        });
    };
    let current = format!("W/\"{}\"", version_of(resource));
    let unchanged = version.is_none()
        && request
            .headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tag| etag_version(tag) == etag_version(&current));
    if unchanged {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(etag) = HeaderValue::from_str(&current) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        return Ok(response);
    }
    Ok(resource_response(StatusCode::OK, resource))
}

// --- Search ---

fn page_url(base: &str, token: &str, offset: usize, count: usize) -> String {
    format!("{base}?_getpages={token}&_getpagesoffset={offset}&_count={count}")
}

/// One page of a search as a Bundle: `hits` (already the page's), `total` matches in all.
fn bundle(
    store: &Store,
    base: &str,
    kind: &str,
    hits: &[Hit],
    total: usize,
    includes: &[Include],
    links: Vec<(&str, String)>,
) -> Value {
    let matches: Vec<(&Hit, &Value)> = hits
        .iter()
        .filter_map(|hit| store.current(kind, &hit.id).map(|r| (hit, r)))
        .collect();
    let resources: Vec<&Value> = matches.iter().map(|(_, r)| *r).collect();
    let included = search::resolve_includes(includes, &resources, |k, i| store.current(k, i));
    let full_url = |resource: &Value| {
        format!(
            "{base}/{}/{}",
            resource
                .get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            resource
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )
    };
    let mut entries: Vec<Value> = matches
        .iter()
        .map(|(hit, resource)| {
            let mut search = json!({ "mode": "match" });
            if let Some(metres) = hit.distance {
                search["extension"] = json!([{
                    "url": "http://hl7.org/fhir/StructureDefinition/location-distance",
                    "valueDistance": {
                        "value": (metres * 10.0).round() / 10.0,
                        "unit": "m",
                        "system": "http://unitsofmeasure.org",
                        "code": "m",
                    },
                }]);
            }
            json!({ "fullUrl": full_url(resource), "resource": resource, "search": search })
        })
        .collect();
    entries.extend(included.into_iter().map(|resource| {
        json!({ "fullUrl": full_url(resource), "resource": resource, "search": { "mode": "include" } })
    }));
    let links: Vec<Value> = links
        .into_iter()
        .map(|(relation, url)| json!({ "relation": relation, "url": url }))
        .collect();
    let mut bundle = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": { "lastUpdated": now() },
        "type": "searchset",
        "total": total,
        "link": links,
    });
    // FHIR JSON has no empty arrays.
    if !entries.is_empty() {
        bundle["entry"] = json!(entries);
    }
    bundle
}

fn search_type(
    server: &Server,
    kind: &str,
    pairs: Vec<(String, String)>,
    request: &Request,
) -> Result<Response, Failure> {
    let handling = match preference(request.headers, "handling") {
        Some("strict") => Handling::Strict,
        _ => Handling::Lenient,
    };
    let query = search::parse(kind, &pairs, handling)?;
    let mut store = server.lock();
    store.extend_slots(today(), &now());
    let hits = query.run(store.all(kind));
    let (total, count) = (hits.len(), query.count);
    let processed = query.processed_query();
    let base = &request.base;
    let self_url = if processed.is_empty() {
        format!("{base}/{kind}")
    } else {
        format!("{base}/{kind}?{processed}")
    };
    let mut links = vec![("self", self_url)];
    let first: Vec<Hit> = hits.iter().take(count).cloned().collect();
    if count > 0 && total > count {
        let token = store.searches.keep(Snapshot::new(&query, hits));
        links.push(("next", page_url(base, &token, count, count)));
    }
    let bundle = bundle(&store, base, kind, &first, total, &query.includes, links);
    Ok(fhir_json(StatusCode::OK, &bundle))
}

/// `GET [base]?_getpages=...`: a page of a search kept by [`search_type`].
fn pages(server: &Server, request: &Request) -> Result<Response, Failure> {
    let pairs = pairs(request.query);
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(token) = value("_getpages") else {
        return Err(Failure::bad_request(
            "not-supported",
            "Không hỗ trợ tìm kiếm trên mọi loại tài nguyên",
            "Searching across all resource types is not supported",
        ));
    };
    if !search::well_formed_token(token) {
        return Err(Failure::bad_request(
            "invalid",
            "Mã trang kết quả không hợp lệ",
            format!("'{token}' is not a page token"),
        ));
    }
    let number = |name: &str| -> Result<Option<usize>, Failure> {
        value(name)
            .map(|v| {
                v.parse::<usize>().map_err(|_| {
                    Failure::bad_request(
                        "invalid",
                        format!("Giá trị {name} không hợp lệ"),
                        format!("{name} must be a non-negative integer"),
                    )
                })
            })
            .transpose()
    };
    let offset = number("_getpagesoffset")?.unwrap_or(0);
    let requested = number("_count")?;
    let store = server.lock();
    let Some(snapshot) = store.searches.get(token) else {
        return Err(Failure::new(
            StatusCode::GONE,
            "not-found",
            "Kết quả tìm kiếm đã hết hạn, vui lòng tìm lại",
            format!("Search {token} does not exist or has expired"),
        ));
    };
    let count = requested
        .unwrap_or(snapshot.count)
        .clamp(1, search::MAX_COUNT);
    let total = snapshot.hits.len();
    let base = &request.base;
    let mut links = vec![("self", page_url(base, token, offset, count))];
    if offset + count < total {
        links.push(("next", page_url(base, token, offset + count, count)));
    }
    if offset > 0 {
        links.push((
            "previous",
            page_url(base, token, offset.saturating_sub(count), count),
        ));
    }
    let page: Vec<Hit> = snapshot
        .hits
        .iter()
        .skip(offset)
        .take(count)
        .cloned()
        .collect();
    let bundle = bundle(
        &store,
        base,
        &snapshot.resource_type,
        &page,
        total,
        &snapshot.includes,
        links,
    );
    Ok(fhir_json(StatusCode::OK, &bundle))
}

fn capability_statement(base: &str) -> Value {
    let resources: Vec<Value> = search::TYPES
        .iter()
        .map(|kind| {
            let mut interactions = vec!["read", "vread", "search-type"];
            if *kind == "Appointment" {
                interactions.extend(["create", "update", "patch"]);
            }
            let params: Vec<Value> = search::common_params()
                .iter()
                .chain(search::params(kind))
                .map(|p| json!({ "name": p.name, "type": p.kind.name(), "documentation": p.doc }))
                .collect();
            let mut resource = json!({
                "type": kind,
                "profile": format!("http://hl7.org/fhir/StructureDefinition/{kind}"),
                "interaction": interactions.iter().map(|code| json!({ "code": code })).collect::<Vec<_>>(),
                "versioning": "versioned",
                "readHistory": true,
                "updateCreate": false,
                "conditionalCreate": *kind == "Appointment",
                "conditionalRead": "not-supported",
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
                "searchParam": params,
            });
            let includes: Vec<String> = search::includes(kind).collect();
            if !includes.is_empty() {
                resource["searchInclude"] = json!(includes);
            }
            resource
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": today().format("%Y-%m-%d").to_string(),
        "publisher": "Citizen",
        "kind": "instance",
        "name": "CitizenHueHealthSandbox",
        "title": "Hệ thống thông tin y tế Huế (sandbox của Citizen)",
        "description": "Bản mô phỏng hệ thống thông tin bệnh viện và y tế của Huế, dùng cho phát triển và kiểm thử. A stand-in for Huế's hospital and health information systems, for development and tests.",
        "software": { "name": "Citizen FHIR sandbox", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Citizen FHIR sandbox", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "documentation": "_count (default 20, max 100), _sort, _include[:iterate], _summary=count, _total; Prefer: handling=strict refuses unknown parameters.",
            "security": {
                "cors": false,
                "description": "Authorization: Bearer <token> (RFC 6750) on every request but GET /metadata.",
            },
            "resource": resources,
        }],
    })
}

// --- Appointments ---

fn parse_resource(request: &Request) -> Result<Value, Failure> {
    let content_type = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type.is_some_and(|t| !t.contains("json")) {
        return Err(unsupported_media_type("application/fhir+json"));
    }
    serde_json::from_slice(request.body).map_err(|e| {
        Failure::bad_request(
            "structure",
            "Nội dung không phải JSON hợp lệ",
            format!("The body does not parse as JSON: {e}"),
        )
    })
}

/// Checks `resource` is a well-formed Appointment, as a validating server does: its elements,
/// their types, required ones, the status value sets and the invariants app-1..3.
fn check_appointment(resource: &Value) -> Result<(), Failure> {
    let Some(object) = resource.as_object() else {
        return Err(Failure::bad_request(
            "structure",
            "Nội dung phải là một tài nguyên FHIR",
            "The body is not a JSON object",
        ));
    };
    match object.get("resourceType").and_then(Value::as_str) {
        Some("Appointment") => {}
        other => {
            return Err(Failure::bad_request(
                "structure",
                "Loại tài nguyên phải là Appointment",
                format!(
                    "Expected resourceType Appointment, found {}",
                    other.unwrap_or("none")
                ),
            )
            .at("Appointment"));
        }
    }
    let mut issues = Issues::default();
    for key in object.keys() {
        if !APPOINTMENT_ELEMENTS.contains(&key.as_str()) && !key.starts_with('_') {
            issues.push(
                "structure",
                format!("Appointment.{key}"),
                "Phần tử không thuộc Appointment",
                format!("Unknown element '{key}'"),
            );
        }
    }
    match object.get("status") {
        None | Some(Value::Null) => issues.push(
            "required",
            "Appointment.status".into(),
            "Thiếu trạng thái lịch hẹn",
            "Appointment.status is required (1..1)".into(),
        ),
        Some(Value::String(status)) if APPOINTMENT_STATUSES.contains(&status.as_str()) => {}
        Some(Value::String(status)) => issues.push(
            "code-invalid",
            "Appointment.status".into(),
            "Trạng thái lịch hẹn không hợp lệ",
            format!("'{status}' is not in http://hl7.org/fhir/ValueSet/appointmentstatus"),
        ),
        Some(_) => issues.push(
            "structure",
            "Appointment.status".into(),
            "Trạng thái phải là chuỗi",
            "Appointment.status must be a code (string)".into(),
        ),
    }
    match object.get("participant") {
        None | Some(Value::Null) => issues.push(
            "required",
            "Appointment.participant".into(),
            "Lịch hẹn phải có người tham gia",
            "Appointment.participant is required (1..*)".into(),
        ),
        Some(Value::Array(items)) if items.is_empty() => issues.push(
            "required",
            "Appointment.participant".into(),
            "Lịch hẹn phải có người tham gia",
            "Appointment.participant is required (1..*)".into(),
        ),
        Some(Value::Array(items)) => {
            for (i, participant) in items.iter().enumerate() {
                check_participant(&mut issues, i, participant);
            }
        }
        Some(_) => issues.push(
            "structure",
            "Appointment.participant".into(),
            "participant phải là một mảng",
            "Appointment.participant must be an array".into(),
        ),
    }
    // Arrays of objects; of References (`true`) or not.
    for (list, references) in [
        ("slot", true),
        ("identifier", false),
        ("basedOn", true),
        ("reasonReference", true),
    ] {
        match object.get(list) {
            None => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => {
                for (i, item) in items.iter().enumerate() {
                    if references && !item.get("reference").is_none_or(Value::is_string) {
                        issues.push(
                            "structure",
                            format!("Appointment.{list}[{i}].reference"),
                            "Tham chiếu phải là chuỗi",
                            "Reference.reference must be a string".into(),
                        );
                    }
                }
            }
            Some(_) => issues.push(
                "structure",
                format!("Appointment.{list}"),
                "Phần tử phải là một mảng đối tượng",
                format!("Appointment.{list} must be an array of objects"),
            ),
        }
    }
    let mut instant = |name: &str| -> Option<()> {
        match object.get(name) {
            None => None,
            Some(Value::String(text)) if DateTime::parse_from_rfc3339(text).is_ok() => Some(()),
            Some(_) => {
                issues.push(
                    "value",
                    format!("Appointment.{name}"),
                    "Thời điểm không hợp lệ",
                    format!("Appointment.{name} must be an instant (YYYY-MM-DDThh:mm:ss+zz:zz)"),
                );
                None
            }
        }
    };
    let (start, end) = (instant("start").is_some(), instant("end").is_some());
    if start != end {
        issues.push(
            "invariant",
            "Appointment".into(),
            "Phải có cả thời điểm bắt đầu và kết thúc, hoặc không có cả hai",
            "app-2: either start and end are specified, or neither".into(),
        );
    }
    if let Some(status) = object.get("status").and_then(Value::as_str)
        && APPOINTMENT_STATUSES.contains(&status)
        && !["proposed", "cancelled", "waitlist"].contains(&status)
        && !(start && end)
    {
        issues.push(
            "invariant",
            "Appointment".into(),
            "Lịch hẹn đã đặt phải có thời điểm bắt đầu và kết thúc",
            "app-3: only proposed or cancelled appointments can be missing start/end dates".into(),
        );
    }
    issues.into_result(StatusCode::BAD_REQUEST)
}

fn check_participant(issues: &mut Issues, i: usize, participant: &Value) {
    let at = |element: &str| format!("Appointment.participant[{i}]{element}");
    let Some(object) = participant.as_object() else {
        issues.push(
            "structure",
            at(""),
            "Người tham gia phải là một đối tượng",
            "A participant must be an object".into(),
        );
        return;
    };
    for key in object.keys() {
        if !PARTICIPANT_ELEMENTS.contains(&key.as_str()) && !key.starts_with('_') {
            issues.push(
                "structure",
                at(&format!(".{key}")),
                "Phần tử không thuộc Appointment.participant",
                format!("Unknown element '{key}'"),
            );
        }
    }
    match object.get("status") {
        None | Some(Value::Null) => issues.push(
            "required",
            at(".status"),
            "Thiếu trạng thái của người tham gia",
            "Appointment.participant.status is required (1..1)".into(),
        ),
        Some(Value::String(status)) if PARTICIPATION_STATUSES.contains(&status.as_str()) => {}
        Some(Value::String(status)) => issues.push(
            "code-invalid",
            at(".status"),
            "Trạng thái người tham gia không hợp lệ",
            format!("'{status}' is not in http://hl7.org/fhir/ValueSet/participationstatus"),
        ),
        Some(_) => issues.push(
            "structure",
            at(".status"),
            "Trạng thái phải là chuỗi",
            "Appointment.participant.status must be a code (string)".into(),
        ),
    }
    match object.get("actor") {
        None => {
            if object.get("type").is_none() {
                issues.push(
                    "invariant",
                    at(""),
                    "Người tham gia phải có actor hoặc type",
                    "app-1: either the type or actor on the participant SHALL be specified".into(),
                );
            }
        }
        Some(actor) if actor.get("reference").is_none_or(Value::is_string) && actor.is_object() => {
        }
        Some(_) => issues.push(
            "structure",
            at(".actor"),
            "actor phải là một tham chiếu",
            "Appointment.participant.actor must be a Reference".into(),
        ),
    }
}

/// The ids of the slots an appointment references (`Slot/x`), or why not.
fn slot_ids(appointment: &Value) -> Vec<Option<String>> {
    search::values(appointment, "slot")
        .into_iter()
        .map(|node| match search::reference_of(node) {
            Some(("Slot", id)) => Some(id.to_owned()),
            _ => None,
        })
        .collect()
}

/// `(index, id)` of each participant that is a Patient.
fn patients(appointment: &Value) -> Vec<(usize, String)> {
    search::values(appointment, "participant")
        .into_iter()
        .enumerate()
        .filter_map(
            |(i, p)| match p.get("actor").and_then(search::reference_of) {
                Some(("Patient", id)) => Some((i, id.to_owned())),
                _ => None,
            },
        )
        .collect()
}

fn queue_identifiers(appointment: &Value) -> Vec<Value> {
    search::values(appointment, "identifier")
        .into_iter()
        .filter(|i| i.get("system").and_then(Value::as_str) == Some(QUEUE_NUMBER_SYSTEM))
        .cloned()
        .collect()
}

/// `appointment`'s identifiers, its own queue numbers replaced by `queue`.
fn with_queue_identifiers(appointment: &mut Value, queue: Vec<Value>) {
    let mut identifiers: Vec<Value> = search::values(appointment, "identifier")
        .into_iter()
        .filter(|i| i.get("system").and_then(Value::as_str) != Some(QUEUE_NUMBER_SYSTEM))
        .cloned()
        .collect();
    identifiers.extend(queue);
    if identifiers.is_empty() {
        if let Some(object) = appointment.as_object_mut() {
            object.remove("identifier");
        }
    } else {
        appointment["identifier"] = json!(identifiers);
    }
}

fn create_appointment(server: &Server, request: &Request) -> Result<Response, Failure> {
    let mut appointment = parse_resource(request)?;
    check_appointment(&appointment)?;
    let status = appointment
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if !BOOKABLE_STATUSES.contains(&status.as_str()) {
        return Err(Failure::unprocessable(
            "business-rule",
            "Lịch hẹn mới phải ở trạng thái booked, pending hoặc proposed",
            format!("A new appointment cannot be '{status}'"),
        )
        .at("Appointment.status"));
    }
    let slot_id = match slot_ids(&appointment).as_slice() {
        [Some(id)] => id.clone(),
        [None] => {
            return Err(Failure::unprocessable(
                "processing",
                "Tham chiếu khung giờ không hợp lệ",
                "Appointment.slot must reference Slot/{id}",
            )
            .at("Appointment.slot[0]"));
        }
        _ => {
            return Err(Failure::unprocessable(
                "business-rule",
                "Lịch hẹn phải đặt đúng một khung giờ",
                "An appointment books exactly one slot",
            )
            .at("Appointment.slot"));
        }
    };
    let patients = patients(&appointment);
    if patients.is_empty() {
        return Err(Failure::unprocessable(
            "business-rule",
            "Lịch hẹn phải có người bệnh",
            "A participant with a Patient actor is required",
        )
        .at("Appointment.participant"));
    }
    let condition = request
        .headers
        .get("if-none-exist")
        .and_then(|v| v.to_str().ok())
        .map(|criteria| {
            let criteria = criteria.split_once('?').map_or(criteria, |(_, q)| q);
            let query = search::parse("Appointment", &pairs(criteria), Handling::Strict)?;
            if query.processed_query().is_empty() {
                return Err(Failure::bad_request(
                    "invalid",
                    "Điều kiện If-None-Exist trống",
                    "If-None-Exist has no search parameters",
                ));
            }
            Ok(query)
        })
        .transpose()?;
    let (now, today) = (now(), today());
    let mut store = server.lock();
    store.extend_slots(today, &now);
    if let Some(condition) = condition {
        let found = condition.run(store.all("Appointment"));
        match found.as_slice() {
            [] => {}
            [existing] => {
                let existing = store
                    .current("Appointment", &existing.id)
                    .cloned()
                    .unwrap_or_default();
                return Ok(written(request, StatusCode::OK, &existing, true));
            }
            _ => {
                return Err(Failure::new(
                    StatusCode::PRECONDITION_FAILED,
                    "multiple-matches",
                    "Nhiều lịch hẹn khớp điều kiện If-None-Exist",
                    "More than one Appointment matches If-None-Exist",
                ));
            }
        }
    }
    if store.appointments >= MAX_APPOINTMENTS {
        return Err(Failure::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "no-store",
            "Hệ thống không nhận thêm lịch hẹn",
            format!("The sandbox keeps at most {MAX_APPOINTMENTS} appointments"),
        ));
    }
    for (i, patient) in &patients {
        if store.current("Patient", patient).is_none() {
            return Err(Failure::unprocessable(
                "processing",
                "Không tìm thấy người bệnh",
                format!("Patient/{patient} is not known"),
            )
            .at(format!("Appointment.participant[{i}].actor")));
        }
    }
    let Some(slot) = store.current("Slot", &slot_id).cloned() else {
        return Err(Failure::unprocessable(
            "processing",
            "Không tìm thấy khung giờ",
            format!("Slot/{slot_id} is not known"),
        )
        .at("Appointment.slot[0]"));
    };
    let slot_status = slot
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if slot_status != "free" {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "conflict",
            "Khung giờ này đã có người đặt, vui lòng chọn khung giờ khác",
            format!("Slot/{slot_id} is {slot_status}"),
        )
        .at("Appointment.slot[0]"));
    }
    let slot_start = slot
        .get("start")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let slot_end = slot.get("end").and_then(Value::as_str).unwrap_or_default();
    let instant = |text: &str| search::parse_date(text).map(|s| s.lo);
    if instant(slot_start).is_none_or(|start| start < Utc::now().timestamp_millis()) {
        return Err(Failure::unprocessable(
            "business-rule",
            "Khung giờ đã qua",
            format!("Slot/{slot_id} has already started"),
        )
        .at("Appointment.slot[0]"));
    }
    for (element, expected) in [("start", slot_start), ("end", slot_end)] {
        if let Some(given) = appointment.get(element).and_then(Value::as_str)
            && instant(given) != instant(expected)
        {
            return Err(Failure::unprocessable(
                "business-rule",
                "Thời gian lịch hẹn không khớp với khung giờ",
                format!("Appointment.{element} must be the slot's ({expected})"),
            )
            .at(format!("Appointment.{element}")));
        }
    }
    let schedule = slot
        .get("schedule")
        .and_then(search::reference_of)
        .map(|(_, id)| id.to_owned())
        .unwrap_or_default();
    let day = slot_start
        .get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let number = {
        let last = store
            .queue_numbers
            .entry((schedule.clone(), day))
            .or_insert(0);
        *last += 1;
        *last
    };
    let mut queue = json!({
        "use": "usual",
        "type": { "text": "Số thứ tự khám" },
        "system": QUEUE_NUMBER_SYSTEM,
        "value": number.to_string(),
    });
    if let Some(organization) = store.organization_of_schedule(&schedule) {
        queue["assigner"] = organization;
    }
    let held = if status == "booked" {
        "busy"
    } else {
        "busy-tentative"
    };
    store.set_slot_status(&slot_id, held, &now);
    with_queue_identifiers(&mut appointment, vec![queue]);
    appointment["id"] = json!(uuid::Uuid::new_v4().to_string());
    if appointment.get("created").is_none() {
        appointment["created"] = json!(
            Utc::now()
                .with_timezone(&local_offset())
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        );
    }
    if let Some(object) = appointment.as_object_mut() {
        object.remove("meta");
    }
    store.appointments += 1;
    let stored = store.put(appointment, &now);
    Ok(written(request, StatusCode::CREATED, &stored, true))
}

enum Change {
    Replace(Value),
    /// JSON Patch operations.
    Patch(Value),
}

fn update_appointment(
    server: &Server,
    id: &str,
    request: &Request,
    change: Change,
) -> Result<Response, Failure> {
    let now = now();
    let mut store = server.lock();
    let Some(current) = store.current("Appointment", id).cloned() else {
        return Err(match change {
            Change::Patch(_) => not_found("Appointment", id),
            Change::Replace(_) => Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "not-supported",
                "Không thể tạo lịch hẹn bằng PUT",
                format!("Appointment/{id} does not exist and update-as-create is not supported"),
            ),
        });
    };
    let version = version_of(&current);
    if let Some(tag) = request
        .headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        && etag_version(tag) != version
    {
        return Err(Failure::new(
            StatusCode::PRECONDITION_FAILED,
            "conflict",
            "Lịch hẹn đã được thay đổi bởi người khác, vui lòng tải lại",
            format!("If-Match {tag} does not match the current version W/\"{version}\""),
        ));
    }
    let mut updated = match change {
        Change::Replace(resource) => resource,
        Change::Patch(operations) => patch::apply(current.clone(), &operations).map_err(|why| {
            Failure::unprocessable(
                "processing",
                "Không áp dụng được bản vá",
                format!("The JSON Patch does not apply: {why}"),
            )
        })?,
    };
    check_appointment(&updated)?;
    if updated.get("id").and_then(Value::as_str) != Some(id) {
        return Err(Failure::bad_request(
            "invalid",
            "Mã lịch hẹn trong nội dung phải trùng với địa chỉ",
            format!("Appointment.id must be '{id}', the id in the URL"),
        )
        .at("Appointment.id"));
    }
    let status_of = |a: &Value| {
        a.get("status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (before, after) = (status_of(&current), status_of(&updated));
    if before != after && FINAL_STATUSES.contains(&before.as_str()) {
        return Err(Failure::unprocessable(
            "business-rule",
            "Lịch hẹn đã kết thúc hoặc đã hủy, không thể thay đổi trạng thái",
            format!("An appointment that is '{before}' cannot become '{after}'"),
        )
        .at("Appointment.status"));
    }
    if slot_ids(&updated) != slot_ids(&current) {
        return Err(Failure::unprocessable(
            "business-rule",
            "Không thể đổi khung giờ của lịch hẹn; hãy hủy và đặt lại",
            "The slot of an appointment cannot change; cancel it and book another",
        )
        .at("Appointment.slot"));
    }
    let patient_ids = |a: &Value| patients(a).into_iter().map(|(_, p)| p).collect::<Vec<_>>();
    if patient_ids(&updated) != patient_ids(&current) {
        return Err(Failure::unprocessable(
            "business-rule",
            "Không thể đổi người bệnh của lịch hẹn",
            "The patient of an appointment cannot change",
        )
        .at("Appointment.participant"));
    }
    with_queue_identifiers(&mut updated, queue_identifiers(&current));
    if let Some(created) = current.get("created") {
        updated["created"] = created.clone();
    }
    if let Some(object) = updated.as_object_mut() {
        object.remove("meta");
    }
    let slot = slot_ids(&current).into_iter().flatten().next();
    if let Some(slot) = slot
        && before != after
    {
        if RELEASING_STATUSES.contains(&after.as_str()) {
            store.set_slot_status(&slot, "free", &now);
        } else if after == "booked" {
            store.set_slot_status(&slot, "busy", &now);
        }
    }
    let stored = store.put(updated, &now);
    Ok(written(request, StatusCode::OK, &stored, false))
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
    /// Only requests of this method (`POST`, a booking) get it; every request when absent.
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
