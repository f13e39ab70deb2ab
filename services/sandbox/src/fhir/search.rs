//! FHIR search (https://hl7.org/fhir/R4/search.html) over the sandbox's records: the
//! parameters each resource type has, their values parsed as the spec reads them (tokens
//! `system|code`, prefixed dates, references, `near`), matching, `_sort`, `_include` and the
//! snapshots that `next` links page through.
//!
//! Each parameter is a path into the resource's JSON (`participant.actor`, arrays flattened on
//! the way), so one table drives matching, `_sort`, `_include` and the CapabilityStatement.
//! Repeated parameters are ANDed, comma-separated values ORed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use chrono::{FixedOffset, Months, NaiveDate, NaiveTime, Offset, TimeZone};
use serde_json::Value;

use super::{Failure, LOCAL_OFFSET_SECS};

/// Entries per page when `_count` is absent, and the most a page holds.
pub const DEFAULT_COUNT: usize = 20;
pub const MAX_COUNT: usize = 100;
/// `near` without a distance: the spec leaves it to the server; a walk or a short ride in Huế.
const DEFAULT_NEAR_METRES: f64 = 5_000.0;
/// How long a search's pages stay reachable, and how many searches are kept at once.
const SNAPSHOT_LIFETIME: Duration = Duration::from_secs(30 * 60);
const MAX_SNAPSHOTS: usize = 256;
/// Rounds of `_include:iterate`, so a cycle of references cannot keep a search busy.
const MAX_INCLUDE_ROUNDS: usize = 4;

/// Every resource type the sandbox serves.
pub const TYPES: &[&str] = &[
    "Appointment",
    "Coverage",
    "HealthcareService",
    "Immunization",
    "ImmunizationRecommendation",
    "Location",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
    "Schedule",
    "Slot",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Token,
    String,
    Date,
    /// The types it may point to.
    Reference(&'static [&'static str]),
    /// `Location.position`: `lat|lon|distance|unit`.
    Near,
}

impl Kind {
    /// The name the CapabilityStatement gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::String => "string",
            Self::Date => "date",
            Self::Reference(_) => "reference",
            Self::Near => "special",
        }
    }
}

#[derive(Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: Kind,
    /// Dot-separated element names from the resource, `|` between alternatives.
    path: &'static str,
    pub doc: &'static str,
}

const fn param(name: &'static str, kind: Kind, path: &'static str, doc: &'static str) -> Param {
    Param {
        name,
        kind,
        path,
        doc,
    }
}

const PATIENT: &[&str] = &["Patient"];
const ORGANIZATION: &[&str] = &["Organization"];
const LOCATION: &[&str] = &["Location"];
const PRACTITIONER: &[&str] = &["Practitioner"];
const SERVICE: &[&str] = &["HealthcareService"];
const SCHEDULE: &[&str] = &["Schedule"];
const SLOT: &[&str] = &["Slot"];
const PROVIDERS: &[&str] = &["Organization", "Practitioner", "PractitionerRole"];
const PAYORS: &[&str] = &["Organization", "Patient", "RelatedPerson"];
const SCHEDULE_ACTORS: &[&str] = &[
    "PractitionerRole",
    "HealthcareService",
    "Location",
    "Practitioner",
];
const APPOINTMENT_ACTORS: &[&str] = &[
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
    "Location",
    "HealthcareService",
];

use Kind::{Date, Near, Reference, String as Text, Token};

const COMMON: &[Param] = &[
    param(
        "_id",
        Token,
        "id",
        "Logical id; a comma-separated list is ORed",
    ),
    param(
        "_lastUpdated",
        Date,
        "meta.lastUpdated",
        "When the resource last changed",
    ),
];

const PATIENT_PARAMS: &[Param] = &[
    param(
        "identifier",
        Token,
        "identifier",
        "A patient identifier: CCCD (urn:vn:cccd|...)",
    ),
    param("birthdate", Date, "birthDate", "Date of birth"),
    param(
        "name",
        Text,
        "name",
        "Any part of the name, case- and diacritic-insensitive, from the start of a word",
    ),
    param("family", Text, "name.family", "Family name (họ)"),
    param("given", Text, "name.given", "Middle and given names"),
    param("gender", Token, "gender", "male | female | other | unknown"),
    param("address", Text, "address", "Any part of the address"),
    param(
        "general-practitioner",
        Reference(PROVIDERS),
        "generalPractitioner",
        "The registered primary care facility (nơi đăng ký KCB ban đầu)",
    ),
];

const RELATED_PERSON_PARAMS: &[Param] = &[
    param(
        "identifier",
        Token,
        "identifier",
        "The related person's identifier: their CCCD",
    ),
    param(
        "patient",
        Reference(PATIENT),
        "patient",
        "The patient this person is related to",
    ),
    param(
        "relationship",
        Token,
        "relationship",
        "v3 RoleCode: MTH (mother), FTH (father), ...",
    ),
    param("name", Text, "name", "Any part of the name"),
];

const COVERAGE_PARAMS: &[Param] = &[
    param(
        "beneficiary",
        Reference(PATIENT),
        "beneficiary",
        "The insured patient",
    ),
    param(
        "patient",
        Reference(PATIENT),
        "beneficiary",
        "The insured patient",
    ),
    param(
        "identifier",
        Token,
        "identifier",
        "The BHYT card number (urn:vn:bhyt|...)",
    ),
    param(
        "status",
        Token,
        "status",
        "active | cancelled | draft | entered-in-error",
    ),
    param(
        "payor",
        Reference(PAYORS),
        "payor",
        "Who pays: Bảo hiểm xã hội",
    ),
    param("type", Token, "type", "The kind of coverage"),
];

const IMMUNIZATION_PARAMS: &[Param] = &[
    param(
        "patient",
        Reference(PATIENT),
        "patient",
        "The vaccinated patient",
    ),
    param(
        "date",
        Date,
        "occurrenceDateTime",
        "When the vaccine was given",
    ),
    param(
        "status",
        Token,
        "status",
        "completed | entered-in-error | not-done",
    ),
    param(
        "vaccine-code",
        Token,
        "vaccineCode",
        "The vaccine (CVX: http://hl7.org/fhir/sid/cvx)",
    ),
    param(
        "target-disease",
        Token,
        "protocolApplied.targetDisease",
        "The disease it protects against (SNOMED CT)",
    ),
    param(
        "location",
        Reference(LOCATION),
        "location",
        "Where it was given",
    ),
    param(
        "performer",
        Reference(PROVIDERS),
        "performer.actor",
        "Who gave it",
    ),
    param("lot-number", Text, "lotNumber", "The vaccine lot"),
];

const RECOMMENDATION_PARAMS: &[Param] = &[
    param(
        "patient",
        Reference(PATIENT),
        "patient",
        "The patient the recommendations are for",
    ),
    param(
        "vaccine-type",
        Token,
        "recommendation.vaccineCode",
        "A recommended vaccine",
    ),
    param(
        "status",
        Token,
        "recommendation.forecastStatus",
        "due | overdue | ...",
    ),
    param("date", Date, "date", "When the recommendations were made"),
];

const ORGANIZATION_PARAMS: &[Param] = &[
    param(
        "identifier",
        Token,
        "identifier",
        "The facility code (mã cơ sở KCB) or licence",
    ),
    param(
        "type",
        Token,
        "type",
        "HL7 organization-type (prov, pay, ...) or urn:citizen:fhir:organization-type",
    ),
    param(
        "name",
        Text,
        "name|alias",
        "Name or alias, from the start of a word",
    ),
    param("address", Text, "address", "Any part of the address"),
    param(
        "partof",
        Reference(ORGANIZATION),
        "partOf",
        "The organization this one is part of",
    ),
    param("active", Token, "active", "true | false"),
];

const LOCATION_PARAMS: &[Param] = &[
    param(
        "near",
        Near,
        "position",
        "lat|lon|distance|unit (km or m; 5 km when no distance): within the distance, nearest first",
    ),
    param(
        "type",
        Token,
        "type",
        "v3 RoleCode: HOSP, PC, PHARM, HU, MOBL",
    ),
    param(
        "organization",
        Reference(ORGANIZATION),
        "managingOrganization",
        "The organization that runs it",
    ),
    param("name", Text, "name|alias", "Name or alias"),
    param("address", Text, "address", "Any part of the address"),
    param("status", Token, "status", "active | suspended | inactive"),
    param(
        "partof",
        Reference(LOCATION),
        "partOf",
        "The location this one is part of",
    ),
];

const SERVICE_PARAMS: &[Param] = &[
    param(
        "organization",
        Reference(ORGANIZATION),
        "providedBy",
        "The organization providing the service",
    ),
    param("specialty", Token, "specialty", "The specialty (SNOMED CT)"),
    param(
        "location",
        Reference(LOCATION),
        "location",
        "Where it is provided",
    ),
    param("service-category", Token, "category", "The broad category"),
    param(
        "service-type",
        Token,
        "type",
        "The service (urn:citizen:fhir:service-type)",
    ),
    param("name", Text, "name", "The name"),
    param("active", Token, "active", "true | false"),
];

const ROLE_PARAMS: &[Param] = &[
    param(
        "organization",
        Reference(ORGANIZATION),
        "organization",
        "Where the practitioner works",
    ),
    param("specialty", Token, "specialty", "The specialty (SNOMED CT)"),
    param(
        "service",
        Reference(SERVICE),
        "healthcareService",
        "The department (HealthcareService)",
    ),
    param(
        "practitioner",
        Reference(PRACTITIONER),
        "practitioner",
        "The practitioner",
    ),
    param(
        "location",
        Reference(LOCATION),
        "location",
        "Where the practitioner works",
    ),
    param("role", Token, "code", "The role"),
    param("active", Token, "active", "true | false"),
];

const PRACTITIONER_PARAMS: &[Param] = &[
    param(
        "identifier",
        Token,
        "identifier",
        "The practising certificate number",
    ),
    param("name", Text, "name", "Any part of the name"),
    param("active", Token, "active", "true | false"),
];

const SCHEDULE_PARAMS: &[Param] = &[
    param(
        "actor",
        Reference(SCHEDULE_ACTORS),
        "actor",
        "Whose schedule: PractitionerRole/x, HealthcareService/x or Location/x",
    ),
    param("active", Token, "active", "true | false"),
    param(
        "service-type",
        Token,
        "serviceType",
        "The service (urn:citizen:fhir:service-type)",
    ),
    param(
        "service-category",
        Token,
        "serviceCategory",
        "The broad category",
    ),
    param("specialty", Token, "specialty", "The specialty (SNOMED CT)"),
    param(
        "date",
        Date,
        "planningHorizon",
        "The period the schedule covers (blood donation drives have one)",
    ),
];

const SLOT_PARAMS: &[Param] = &[
    param(
        "schedule",
        Reference(SCHEDULE),
        "schedule",
        "The schedule the slot belongs to",
    ),
    param(
        "status",
        Token,
        "status",
        "free | busy | busy-tentative | busy-unavailable",
    ),
    param(
        "start",
        Date,
        "start",
        "When the slot starts; repeat with ge/lt for a range",
    ),
];

const APPOINTMENT_PARAMS: &[Param] = &[
    param(
        "patient",
        Reference(PATIENT),
        "participant.actor",
        "The patient taking part",
    ),
    param(
        "actor",
        Reference(APPOINTMENT_ACTORS),
        "participant.actor",
        "Anyone or anything taking part",
    ),
    param(
        "practitioner",
        Reference(PRACTITIONER),
        "participant.actor",
        "The practitioner taking part",
    ),
    param(
        "location",
        Reference(LOCATION),
        "participant.actor",
        "The location taking part",
    ),
    param("slot", Reference(SLOT), "slot", "The booked slot"),
    param(
        "status",
        Token,
        "status",
        "proposed | pending | booked | arrived | fulfilled | cancelled | noshow | ...",
    ),
    param(
        "identifier",
        Token,
        "identifier",
        "The client's booking id (urn:citizen:booking|...) or the queue number",
    ),
    param("date", Date, "start", "When the appointment starts"),
];

/// The parameters `resource_type` has besides `_id` and `_lastUpdated`.
pub fn params(resource_type: &str) -> &'static [Param] {
    match resource_type {
        "Patient" => PATIENT_PARAMS,
        "RelatedPerson" => RELATED_PERSON_PARAMS,
        "Coverage" => COVERAGE_PARAMS,
        "Immunization" => IMMUNIZATION_PARAMS,
        "ImmunizationRecommendation" => RECOMMENDATION_PARAMS,
        "Organization" => ORGANIZATION_PARAMS,
        "Location" => LOCATION_PARAMS,
        "HealthcareService" => SERVICE_PARAMS,
        "PractitionerRole" => ROLE_PARAMS,
        "Practitioner" => PRACTITIONER_PARAMS,
        "Schedule" => SCHEDULE_PARAMS,
        "Slot" => SLOT_PARAMS,
        "Appointment" => APPOINTMENT_PARAMS,
        _ => &[],
    }
}

pub fn common_params() -> &'static [Param] {
    COMMON
}

fn find_param(resource_type: &str, name: &str) -> Option<&'static Param> {
    COMMON
        .iter()
        .chain(params(resource_type))
        .find(|p| p.name == name)
}

/// The `_include`s `resource_type` offers: one per reference parameter.
pub fn includes(resource_type: &str) -> impl Iterator<Item = String> + '_ {
    params(resource_type)
        .iter()
        .filter(|p| matches!(p.kind, Kind::Reference(_)))
        .map(move |p| format!("{resource_type}:{}", p.name))
}

/// The values at `path` in `resource`, arrays flattened.
pub fn values<'a>(resource: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut found = Vec::new();
    for alternative in path.split('|') {
        let mut current = vec![resource];
        for step in alternative.split('.') {
            current = current
                .into_iter()
                .filter_map(|v| v.get(step))
                .flat_map(|v| match v {
                    Value::Array(items) => items.iter().collect::<Vec<_>>(),
                    other => vec![other],
                })
                .collect();
        }
        found.extend(current);
    }
    found
}

/// `Type/id` of a reference (relative, absolute or versioned), or just the id.
pub fn split_reference(reference: &str) -> (Option<&str>, &str) {
    let reference = reference
        .split_once("/_history/")
        .map_or(reference, |(head, _)| head);
    let mut parts = reference.rsplit('/');
    let id = parts.next().unwrap_or_default();
    match parts.next() {
        Some(kind) if !kind.is_empty() => (Some(kind), id),
        _ => (None, id),
    }
}

/// The `(type, id)` a `Reference` element points to.
pub fn reference_of(node: &Value) -> Option<(&str, &str)> {
    let text = node.get("reference")?.as_str()?;
    match split_reference(text) {
        (Some(kind), id) if !id.is_empty() => Some((kind, id)),
        _ => None,
    }
}

// --- Dates ---

/// A span of time in milliseconds since the epoch, `lo` included, `hi` excluded: a date of
/// FHIR stands for the whole of its precision (`2026` is a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub lo: i64,
    pub hi: i64,
}

fn local() -> FixedOffset {
    FixedOffset::east_opt(LOCAL_OFFSET_SECS).unwrap_or_else(|| chrono::Utc.fix())
}

fn digits(text: &str, n: usize) -> Option<u32> {
    (text.len() == n && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// A FHIR date, dateTime or instant as the span it covers; without a zone, Huế's (+07:00).
pub fn parse_date(text: &str) -> Option<Span> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let year = i32::try_from(digits(parts.first()?, 4)?).ok()?;
    let month = parts.get(1).map(|m| digits(m, 2)).unwrap_or(Some(1))?;
    let day = parts.get(2).map(|d| digits(d, 2)).unwrap_or(Some(1))?;
    if parts.len() > 3 {
        return None;
    }
    let start = NaiveDate::from_ymd_opt(year, month, day)?;
    let Some(time) = time else {
        let end = match parts.len() {
            1 => start.checked_add_months(Months::new(12))?,
            2 => start.checked_add_months(Months::new(1))?,
            _ => start.succ_opt()?,
        };
        let at = |d: NaiveDate| {
            local()
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .single()
                .map(|t| t.timestamp_millis())
        };
        return Some(Span {
            lo: at(start)?,
            hi: at(end)?,
        });
    };
    if parts.len() != 3 {
        return None;
    }
    let (clock, offset) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, FixedOffset::east_opt(0)?)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone.get(1..)?.split_once(':')?;
        let seconds = i32::try_from(digits(hours, 2)? * 3600 + digits(minutes, 2)? * 60).ok()?;
        (clock, FixedOffset::east_opt(sign * seconds)?)
    } else {
        (time, local())
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let hour = digits(fields.first()?, 2)?;
    let minute = digits(fields.get(1)?, 2)?;
    let (second, millis, precision) = match fields.get(2) {
        None => (0, 0, 60_000),
        Some(seconds) => match seconds.split_once('.') {
            None => (digits(seconds, 2)?, 0, 1_000),
            Some((whole, fraction)) => {
                if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let millis = format!("{fraction:0<3}").get(..3)?.parse::<u32>().ok()?;
                (digits(whole, 2)?, millis, 1)
            }
        },
    };
    if fields.len() > 3 {
        return None;
    }
    let naive = start.and_hms_milli_opt(hour, minute, second, millis)?;
    let lo = offset
        .from_local_datetime(&naive)
        .single()?
        .timestamp_millis();
    Some(Span {
        lo,
        hi: lo + precision,
    })
}

/// The span of a date element: a date/dateTime/instant string or a Period.
fn span_of(node: &Value) -> Option<Span> {
    match node {
        Value::String(text) => parse_date(text),
        Value::Object(period) => {
            let lo = match period.get("start").and_then(Value::as_str) {
                Some(start) => parse_date(start)?.lo,
                None => i64::MIN,
            };
            let hi = match period.get("end").and_then(Value::as_str) {
                Some(end) => parse_date(end)?.hi,
                None => i64::MAX,
            };
            Some(Span { lo, hi })
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

impl Prefix {
    /// Whether a resource's span `r` passes this comparison with the parameter's span `p`
    /// (search.html#prefix: ranges, not points).
    fn holds(self, p: Span, r: Span) -> bool {
        let within = p.lo <= r.lo && r.hi <= p.hi;
        match self {
            Self::Eq => within,
            Self::Ne => !within,
            Self::Gt => r.hi > p.hi,
            Self::Lt => r.lo < p.lo,
            Self::Ge => r.hi > p.hi || within,
            Self::Le => r.lo < p.lo || within,
            Self::Sa => r.lo >= p.hi,
            Self::Eb => r.hi <= p.lo,
            // Approximately: the spans overlap.
            Self::Ap => r.lo < p.hi && r.hi > p.lo,
        }
    }
}

// --- Values and criteria ---

#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// `system|code`; `Some("")` for `|code` (no system), `None` for a bare code; an empty
    /// code for `system|` (any code of the system).
    Token {
        system: Option<String>,
        code: String,
    },
    Text(String),
    Date(Prefix, Span),
    Reference {
        kind: Option<String>,
        id: String,
    },
    Near {
        lat: f64,
        lon: f64,
        metres: f64,
    },
    Missing(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Modifier {
    None,
    Exact,
    Contains,
    Not,
    Missing,
}

#[derive(Debug)]
struct Criterion {
    param: &'static Param,
    modifier: Modifier,
    /// Any of them will do.
    tests: Vec<Test>,
}

#[derive(Debug, Clone)]
pub struct Include {
    source: String,
    param: &'static Param,
    target: Option<String>,
    iterate: bool,
}

#[derive(Debug)]
struct SortKey {
    param: &'static Param,
    descending: bool,
}

/// A parsed search: what to match, how to order and page it, what to include.
#[derive(Debug)]
pub struct Query {
    pub resource_type: String,
    criteria: Vec<Criterion>,
    sort: Vec<SortKey>,
    pub includes: Vec<Include>,
    pub count: usize,
    /// The parameters as processed, for the `self` link (the ignored ones left out).
    processed: Vec<(String, String)>,
}

/// A match and its distance from a `near` point, in metres.
#[derive(Debug, Clone)]
pub struct Hit {
    pub id: String,
    pub distance: Option<f64>,
}

fn invalid(en: String, vi: String) -> Failure {
    Failure::bad_request("invalid", vi, en)
}

fn not_supported(en: String, vi: String) -> Failure {
    Failure::bad_request("not-supported", vi, en)
}

/// Splits at the first unescaped `|`, leaving escapes for [`unescape`].
fn split_first_pipe(text: &str) -> Option<(&str, &str)> {
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => return Some((&text[..at], &text[at + 1..])),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

fn parse_token(value: &str) -> Test {
    match split_first_pipe(value) {
        Some((system, code)) => Test::Token {
            system: Some(unescape(system)),
            code: unescape(code),
        },
        None => Test::Token {
            system: None,
            code: unescape(value),
        },
    }
}

fn parse_prefixed_date(name: &str, value: &str) -> Result<Test, Failure> {
    let prefixes = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    let (prefix, date) = prefixes
        .iter()
        .find_map(|(text, prefix)| value.strip_prefix(text).map(|rest| (*prefix, rest)))
        .unwrap_or((Prefix::Eq, value));
    // An unencoded `+` of a zone arrives as a space.
    let span = parse_date(&date.replace(' ', "+")).ok_or_else(|| {
        invalid(
            format!("'{value}' is not a valid date for parameter '{name}' (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][zone], with an optional eq/ne/gt/lt/ge/le/sa/eb/ap prefix)"),
            format!("Giá trị ngày '{value}' của tham số '{name}' không hợp lệ"),
        )
    })?;
    Ok(Test::Date(prefix, span))
}

fn parse_near(value: &str) -> Result<Test, Failure> {
    let bad = |why: &str| {
        invalid(
            format!(
                "'near={value}': {why}; expected latitude|longitude|distance|unit, unit km or m"
            ),
            format!("Tham số near '{value}' không hợp lệ"),
        )
    };
    let parts: Vec<&str> = value.split('|').collect();
    if !(2..=4).contains(&parts.len()) {
        return Err(bad("wrong number of parts"));
    }
    let number = |text: &str| text.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    let lat = parts
        .first()
        .and_then(|t| number(t))
        .filter(|l| (-90.0..=90.0).contains(l))
        .ok_or_else(|| bad("latitude must be a number between -90 and 90"))?;
    let lon = parts
        .get(1)
        .and_then(|t| number(t))
        .filter(|l| (-180.0..=180.0).contains(l))
        .ok_or_else(|| bad("longitude must be a number between -180 and 180"))?;
    let distance = match parts.get(2).map(|d| d.trim()) {
        None | Some("") => None,
        Some(text) => Some(
            number(text)
                .filter(|d| *d >= 0.0)
                .ok_or_else(|| bad("the distance must be a non-negative number"))?,
        ),
    };
    let unit = match parts.get(3).map(|u| u.trim()) {
        None | Some("") | Some("km") => 1_000.0,
        Some("m") => 1.0,
        Some(_) => return Err(bad("unsupported unit")),
    };
    Ok(Test::Near {
        lat,
        lon,
        metres: distance.map_or(DEFAULT_NEAR_METRES, |d| d * unit),
    })
}

fn parse_reference(param: &Param, type_modifier: Option<&str>, value: &str) -> Test {
    let value = unescape(value);
    let (kind, id) = split_reference(&value);
    Test::Reference {
        kind: kind.or(type_modifier).map(str::to_owned),
        id: id.to_owned(),
    }
    .restricted(param)
}

impl Test {
    /// A reference test naming a type the parameter cannot point to matches nothing.
    fn restricted(self, param: &Param) -> Self {
        match (&self, param.kind) {
            (
                Self::Reference {
                    kind: Some(kind), ..
                },
                Kind::Reference(targets),
            ) if !targets.contains(&kind.as_str()) => Self::Missing(false),
            _ => self,
        }
    }
}

/// What the `Prefer` header asked of a search: `handling=strict` refuses what would be ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handling {
    Lenient,
    Strict,
}

/// Parses the parameters of a search of `resource_type`.
pub fn parse(
    resource_type: &str,
    pairs: &[(String, String)],
    handling: Handling,
) -> Result<Query, Failure> {
    let mut query = Query {
        resource_type: resource_type.to_owned(),
        criteria: Vec::new(),
        sort: Vec::new(),
        includes: Vec::new(),
        count: DEFAULT_COUNT,
        processed: Vec::new(),
    };
    let ignore = |what: String, vi: String| -> Result<(), Failure> {
        match handling {
            Handling::Strict => Err(not_supported(what, vi)),
            Handling::Lenient => Ok(()),
        }
    };
    for (name, value) in pairs {
        let (base, modifier) = match name.split_once(':') {
            Some((base, modifier)) => (base, Some(modifier)),
            None => (name.as_str(), None),
        };
        let keep = match base {
            "_count" => {
                let count = value.parse::<usize>().map_err(|_| {
                    invalid(
                        format!("_count must be a non-negative integer, not '{value}'"),
                        format!("Giá trị _count '{value}' không hợp lệ"),
                    )
                })?;
                query.count = count.min(MAX_COUNT);
                true
            }
            "_summary" if value == "count" => {
                query.count = 0;
                true
            }
            "_summary" if value == "false" => true,
            "_summary" => {
                ignore(
                    format!("_summary={value} is not supported (count and false are)"),
                    format!("Không hỗ trợ _summary={value}"),
                )?;
                false
            }
            // Always accurate; pretty or not, JSON is JSON.
            "_total" | "_pretty" => true,
            "_format" => {
                if !value.contains("json") {
                    return Err(not_supported(
                        format!("_format={value}: only JSON is served"),
                        "Máy chủ chỉ trả về JSON".to_owned(),
                    ));
                }
                true
            }
            "_sort" => {
                for key in value.split(',').filter(|k| !k.is_empty()) {
                    let (descending, name) = match key.strip_prefix('-') {
                        Some(name) => (true, name),
                        None => (false, key),
                    };
                    match find_param(resource_type, name) {
                        Some(param) if param.kind != Kind::Near => {
                            query.sort.push(SortKey { param, descending });
                        }
                        _ => ignore(
                            format!("Cannot sort {resource_type} by '{name}'"),
                            format!("Không thể sắp xếp theo '{name}'"),
                        )?,
                    }
                }
                true
            }
            "_include" => {
                let iterate = match modifier {
                    None => false,
                    Some("iterate" | "recurse") => true,
                    Some(other) => {
                        return Err(not_supported(
                            format!("Unknown modifier _include:{other}"),
                            format!("Không hỗ trợ _include:{other}"),
                        ));
                    }
                };
                match parse_include(resource_type, value, iterate) {
                    Some(include) => {
                        query.includes.push(include);
                        true
                    }
                    None => {
                        ignore(
                            format!("Unsupported _include={value}"),
                            format!("Không hỗ trợ _include={value}"),
                        )?;
                        false
                    }
                }
            }
            _ => match find_param(resource_type, base) {
                None => {
                    ignore(
                        format!(
                            "Unknown search parameter '{name}' for resource type {resource_type}"
                        ),
                        format!("Tham số tìm kiếm '{name}' không được hỗ trợ cho {resource_type}"),
                    )?;
                    false
                }
                // An empty value is no criterion (search.html#params).
                Some(_) if value.is_empty() => false,
                Some(param) => {
                    query
                        .criteria
                        .push(parse_criterion(param, modifier, value)?);
                    true
                }
            },
        };
        if keep {
            query.processed.push((name.clone(), value.clone()));
        }
    }
    Ok(query)
}

fn parse_include(resource_type: &str, value: &str, iterate: bool) -> Option<Include> {
    let mut parts = value.split(':');
    let (source, name, target) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() || !TYPES.contains(&source) {
        return None;
    }
    // Without :iterate an include starts from the matches.
    if !iterate && source != resource_type {
        return None;
    }
    let param = params(source).iter().find(|p| p.name == name)?;
    let Kind::Reference(targets) = param.kind else {
        return None;
    };
    if let Some(target) = target
        && !targets.contains(&target)
    {
        return None;
    }
    Some(Include {
        source: source.to_owned(),
        param,
        target: target.map(str::to_owned),
        iterate,
    })
}

fn parse_criterion(
    param: &'static Param,
    modifier: Option<&str>,
    value: &str,
) -> Result<Criterion, Failure> {
    let unsupported = |modifier: &str| {
        not_supported(
            format!(
                "Modifier ':{modifier}' is not supported on parameter '{}'",
                param.name
            ),
            format!("Không hỗ trợ ':{modifier}' với tham số '{}'", param.name),
        )
    };
    let mut type_modifier = None;
    let modifier = match (modifier, param.kind) {
        (None, _) => Modifier::None,
        (Some("missing"), _) => Modifier::Missing,
        (Some("not"), Kind::Token) => Modifier::Not,
        (Some("exact"), Kind::String) => Modifier::Exact,
        (Some("contains"), Kind::String) => Modifier::Contains,
        (Some(kind), Kind::Reference(targets)) if targets.contains(&kind) => {
            type_modifier = Some(kind);
            Modifier::None
        }
        (Some(other), _) => return Err(unsupported(other)),
    };
    if modifier == Modifier::Missing {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => {
                return Err(invalid(
                    format!("{}:missing takes true or false, not '{value}'", param.name),
                    format!("{}:missing chỉ nhận true hoặc false", param.name),
                ));
            }
        };
        return Ok(Criterion {
            param,
            modifier,
            tests: vec![Test::Missing(missing)],
        });
    }
    let mut tests = Vec::new();
    // Values are split at unescaped commas; each part keeps its escapes for its own parsing.
    for part in split_keeping_escapes(value) {
        if part.is_empty() {
            continue;
        }
        tests.push(match param.kind {
            Kind::Token => parse_token(&part),
            Kind::String => Test::Text(unescape(&part)),
            Kind::Date => parse_prefixed_date(param.name, &part)?,
            Kind::Reference(_) => parse_reference(param, type_modifier, &part),
            Kind::Near => parse_near(&part)?,
        });
    }
    Ok(Criterion {
        param,
        modifier,
        tests,
    })
}

/// Splits at unescaped commas, leaving the other escapes in place.
fn split_keeping_escapes(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut escaped = false;
    for c in text.chars() {
        if c == ',' && !escaped {
            parts.push(String::new());
        } else if let Some(last) = parts.last_mut() {
            if c == '\\' && !escaped {
                escaped = true;
                // `\,` becomes `,`; other escapes stay for the value's own parsing.
                continue;
            }
            if escaped && c != ',' {
                last.push('\\');
            }
            last.push(c);
        }
        escaped = false;
    }
    parts
}

impl Query {
    /// The processed parameters, URL-encoded, for the `self` link.
    pub fn processed_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.processed)
            .finish()
    }

    pub fn matches(&self, resource: &Value) -> bool {
        self.criteria.iter().all(|c| c.matches(resource))
    }

    /// The distance to the nearest point of the first `near`, in metres.
    fn distance(&self, resource: &Value) -> Option<f64> {
        let criterion = self
            .criteria
            .iter()
            .find(|c| c.param.kind == Kind::Near && c.modifier == Modifier::None)?;
        let position = values(resource, criterion.param.path).into_iter().next()?;
        let (lat, lon) = coordinates(position)?;
        criterion
            .tests
            .iter()
            .filter_map(|t| match t {
                Test::Near { lat: a, lon: b, .. } => Some(haversine(*a, *b, lat, lon)),
                _ => None,
            })
            .reduce(f64::min)
    }

    /// The matches among `resources`, ordered: by `_sort`, else nearest first for `near`,
    /// else as given.
    pub fn run<'a>(&self, resources: impl Iterator<Item = &'a Value>) -> Vec<Hit> {
        let mut hits: Vec<(Hit, &Value)> = resources
            .filter(|r| self.matches(r))
            .filter_map(|r| {
                let id = r.get("id")?.as_str()?.to_owned();
                let distance = self.distance(r);
                Some((Hit { id, distance }, r))
            })
            .collect();
        if !self.sort.is_empty() {
            hits.sort_by(|(_, a), (_, b)| {
                self.sort
                    .iter()
                    .map(|key| compare_by(key, a, b))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        } else if hits.iter().any(|(h, _)| h.distance.is_some()) {
            hits.sort_by(|(a, _), (b, _)| {
                a.distance
                    .unwrap_or(f64::MAX)
                    .total_cmp(&b.distance.unwrap_or(f64::MAX))
            });
        }
        hits.into_iter().map(|(hit, _)| hit).collect()
    }
}

impl Criterion {
    fn matches(&self, resource: &Value) -> bool {
        let nodes = values(resource, self.param.path);
        match self.modifier {
            Modifier::Missing => self.tests.iter().any(|t| match t {
                Test::Missing(missing) => nodes.is_empty() == *missing,
                _ => false,
            }),
            // `:not` also finds resources without the element.
            Modifier::Not => !self.tests.iter().any(|t| {
                nodes
                    .iter()
                    .any(|n| test_node(t, Modifier::None, self.param, n))
            }),
            modifier => self
                .tests
                .iter()
                .any(|t| nodes.iter().any(|n| test_node(t, modifier, self.param, n))),
        }
    }
}

fn test_node(test: &Test, modifier: Modifier, param: &Param, node: &Value) -> bool {
    match test {
        Test::Token { system, code } => token_pairs(node)
            .iter()
            .any(|(s, c)| token_fits(system.as_deref(), code, *s, c)),
        Test::Text(text) => text_fits(text, modifier, node),
        Test::Date(prefix, span) => span_of(node).is_some_and(|r| prefix.holds(*span, r)),
        // A bare id matches only references of the parameter's target types
        // (`Appointment?patient=x` is not `Practitioner/x`).
        Test::Reference { kind, id } => reference_of(node).is_some_and(|(k, i)| {
            i == id
                && match kind {
                    Some(wanted) => wanted == k,
                    None => matches!(param.kind, Kind::Reference(targets) if targets.contains(&k)),
                }
        }),
        Test::Near { lat, lon, metres } => {
            coordinates(node).is_some_and(|(a, b)| haversine(*lat, *lon, a, b) <= *metres)
        }
        Test::Missing(_) => false,
    }
}

/// The `(system, code)` pairs a token element holds: a code, a boolean, an Identifier, a
/// Coding or a CodeableConcept.
fn token_pairs(node: &Value) -> Vec<(Option<&str>, String)> {
    match node {
        Value::String(code) => vec![(None, code.clone())],
        Value::Bool(b) => vec![(None, b.to_string())],
        Value::Object(object) => {
            if let Some(Value::Array(codings)) = object.get("coding") {
                codings
                    .iter()
                    .filter_map(|c| {
                        let code = c.get("code")?.as_str()?;
                        Some((c.get("system").and_then(Value::as_str), code.to_owned()))
                    })
                    .collect()
            } else if let Some(code) = object
                .get("code")
                .or_else(|| object.get("value"))
                .and_then(Value::as_str)
            {
                vec![(
                    object.get("system").and_then(Value::as_str),
                    code.to_owned(),
                )]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

fn token_fits(
    want_system: Option<&str>,
    want_code: &str,
    system: Option<&str>,
    code: &str,
) -> bool {
    match want_system {
        None => code == want_code,
        Some("") => system.is_none_or(str::is_empty) && code == want_code,
        Some(want) if want_code.is_empty() => system == Some(want),
        Some(want) => system == Some(want) && code == want_code,
    }
}

/// Lowercase, without Vietnamese diacritics (precomposed or combining), `đ` as `d`.
pub fn fold(text: &str) -> String {
    const FOLDS: &[(char, &str)] = &[
        ('a', "àáảãạăằắẳẵặâầấẩẫậ"),
        ('e', "èéẻẽẹêềếểễệ"),
        ('i', "ìíỉĩị"),
        ('o', "òóỏõọôồốổỗộơờớởỡợ"),
        ('u', "ùúủũụưừứửữự"),
        ('y', "ỳýỷỹỵ"),
        ('d', "đ"),
    ];
    text.chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !('\u{0300}'..='\u{036f}').contains(c))
        .map(|c| {
            FOLDS
                .iter()
                .find(|(_, accented)| accented.contains(c))
                .map_or(c, |(plain, _)| *plain)
        })
        .collect()
}

/// The strings a string parameter looks at: the element itself, or the parts of a HumanName
/// or Address, with the given names and the whole name joined too.
fn strings_of(node: &Value) -> Vec<String> {
    match node {
        Value::String(text) => vec![text.clone()],
        Value::Object(object) => {
            let mut found = Vec::new();
            for (key, value) in object {
                if matches!(key.as_str(), "use" | "period" | "extension" | "type") {
                    continue;
                }
                match value {
                    Value::String(text) => found.push(text.clone()),
                    Value::Array(items) => {
                        found.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ => {}
                }
            }
            let given: Vec<&str> = object
                .get("given")
                .and_then(Value::as_array)
                .map(|g| g.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if !given.is_empty() {
                found.push(given.join(" "));
                if let Some(family) = object.get("family").and_then(Value::as_str) {
                    found.push(format!("{family} {}", given.join(" ")));
                }
            }
            found
        }
        _ => Vec::new(),
    }
}

fn text_fits(wanted: &str, modifier: Modifier, node: &Value) -> bool {
    let candidates = strings_of(node);
    match modifier {
        Modifier::Exact => candidates.iter().any(|c| c == wanted),
        Modifier::Contains => {
            let wanted = fold(wanted);
            candidates.iter().any(|c| fold(c).contains(&wanted))
        }
        _ => {
            // From the start of the value, or of any word in it.
            let wanted = fold(wanted);
            candidates.iter().any(|c| {
                let c = fold(c);
                c.starts_with(&wanted)
                    || c.match_indices(&wanted).any(|(at, _)| {
                        c[..at]
                            .chars()
                            .next_back()
                            .is_some_and(|before| !before.is_alphanumeric())
                    })
            })
        }
    }
}

fn coordinates(position: &Value) -> Option<(f64, f64)> {
    Some((
        position.get("latitude")?.as_f64()?,
        position.get("longitude")?.as_f64()?,
    ))
}

/// Great-circle distance in metres.
pub fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().atan2((1.0 - a).sqrt())
}

/// Orders two resources by one `_sort` key; those without the element come last.
fn compare_by(key: &SortKey, a: &Value, b: &Value) -> std::cmp::Ordering {
    #[derive(PartialEq, PartialOrd)]
    enum Sortable {
        Number(i64),
        Text(String),
    }
    let value_of = |resource: &Value| -> Option<Sortable> {
        let node = values(resource, key.param.path).into_iter().next()?;
        match key.param.kind {
            Kind::Date => span_of(node).map(|s| Sortable::Number(s.lo)),
            Kind::String => strings_of(node).first().map(|s| Sortable::Text(fold(s))),
            Kind::Token => token_pairs(node)
                .into_iter()
                .next()
                .map(|(_, c)| Sortable::Text(c)),
            Kind::Reference(_) => {
                reference_of(node).map(|(k, i)| Sortable::Text(format!("{k}/{i}")))
            }
            Kind::Near => None,
        }
    };
    match (value_of(a), value_of(b)) {
        (Some(x), Some(y)) => {
            let order = x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
            if key.descending {
                order.reverse()
            } else {
                order
            }
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}

/// The resources `includes` bring in for `matches`, each once and none of the matches;
/// `lookup` reads one from the store.
pub fn resolve_includes<'a>(
    includes: &[Include],
    matches: &[&'a Value],
    lookup: impl Fn(&str, &str) -> Option<&'a Value>,
) -> Vec<&'a Value> {
    let key = |r: &Value| {
        format!(
            "{}/{}",
            r.get("resourceType")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            r.get("id").and_then(Value::as_str).unwrap_or_default()
        )
    };
    let mut seen: HashSet<String> = matches.iter().map(|r| key(r)).collect();
    let mut included: Vec<&Value> = Vec::new();
    let mut frontier: Vec<&Value> = matches.to_vec();
    for round in 0..MAX_INCLUDE_ROUNDS {
        let mut found = Vec::new();
        for include in includes.iter().filter(|i| round == 0 || i.iterate) {
            for source in &frontier {
                if source.get("resourceType").and_then(Value::as_str) != Some(&include.source) {
                    continue;
                }
                let Kind::Reference(targets) = include.param.kind else {
                    continue;
                };
                for node in values(source, include.param.path) {
                    let Some((kind, id)) = reference_of(node) else {
                        continue;
                    };
                    let wanted = include
                        .target
                        .as_deref()
                        .map_or(targets.contains(&kind), |t| t == kind);
                    if !wanted || !seen.insert(format!("{kind}/{id}")) {
                        continue;
                    }
                    if let Some(resource) = lookup(kind, id) {
                        found.push(resource);
                    }
                }
            }
        }
        if found.is_empty() {
            break;
        }
        included.extend(found.iter().copied());
        frontier = found;
    }
    included
}

// --- Snapshots for paging ---

/// A search's matches, kept for its `next` links to page through: pages of one search stay
/// consistent while bookings change slots.
pub struct Snapshot {
    pub resource_type: String,
    pub hits: Vec<Hit>,
    pub includes: Vec<Include>,
    pub count: usize,
    created: Instant,
}

impl Snapshot {
    pub fn new(query: &Query, hits: Vec<Hit>) -> Self {
        Self {
            resource_type: query.resource_type.clone(),
            hits,
            includes: query.includes.clone(),
            count: query.count,
            created: Instant::now(),
        }
    }
}

#[derive(Default)]
pub struct Snapshots {
    by_token: HashMap<String, Snapshot>,
    order: VecDeque<String>,
}

impl Snapshots {
    /// Keeps `snapshot` under a new opaque token, forgetting the expired searches and, past
    /// the bound, the oldest.
    pub fn keep(&mut self, snapshot: Snapshot) -> String {
        while let Some(oldest) = self.order.front() {
            let expired = self
                .by_token
                .get(oldest)
                .is_none_or(|s| s.created.elapsed() > SNAPSHOT_LIFETIME);
            if !expired && self.order.len() < MAX_SNAPSHOTS {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.by_token.remove(&oldest);
            }
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.order.push_back(token.clone());
        self.by_token.insert(token.clone(), snapshot);
        token
    }

    /// The snapshot behind `token`, unless it expired.
    pub fn get(&self, token: &str) -> Option<&Snapshot> {
        self.by_token
            .get(token)
            .filter(|s| s.created.elapsed() <= SNAPSHOT_LIFETIME)
    }
}

/// Whether `token` could be one [`Snapshots::keep`] made.
pub fn well_formed_token(token: &str) -> bool {
    token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn dates_cover_their_precision() {
        let day = parse_date("2026-03-02").unwrap();
        assert_eq!(day.hi - day.lo, 86_400_000);
        let month = parse_date("2026-02").unwrap();
        assert_eq!(month.hi - month.lo, 28 * 86_400_000);
        let instant = parse_date("2026-03-02T00:00:00+07:00").unwrap();
        assert_eq!(instant.lo, day.lo, "a day starts at Huế's midnight");
        assert_eq!(instant.hi - instant.lo, 1_000);
        assert_eq!(
            parse_date("2026-03-01T17:00:00Z").unwrap().lo,
            instant.lo,
            "the same instant in UTC"
        );
        assert_eq!(parse_date("2026-03-02T00:00").unwrap().lo, day.lo);
        assert!(parse_date("2026-13-01").is_none());
        assert!(parse_date("2026-03-02T25:00").is_none());
        assert!(parse_date("yesterday").is_none());
        assert!(parse_date("2026-3-2").is_none());
    }

    #[test]
    fn prefixes_compare_ranges() {
        let p = parse_date("2026-03-02").unwrap();
        let morning = parse_date("2026-03-02T08:00:00+07:00").unwrap();
        let before = parse_date("2026-03-01T23:59:59+07:00").unwrap();
        assert!(Prefix::Eq.holds(p, morning));
        assert!(Prefix::Ge.holds(p, morning));
        assert!(!Prefix::Ge.holds(p, before));
        assert!(Prefix::Lt.holds(p, before));
        assert!(Prefix::Le.holds(p, morning));
        assert!(!Prefix::Gt.holds(p, morning));
    }

    #[test]
    fn tokens_and_strings_match_as_the_spec_says() {
        let patient = json!({
            "resourceType": "Patient", "id": "a",
            "identifier": [{ "system": "urn:vn:cccd", "value": "046190001234" }],
            "name": [{ "family": "Nguyễn", "given": ["Thị", "Hoa"], "text": "Nguyễn Thị Hoa" }],
            "gender": "female",
        });
        let matches = |list: &[(&str, &str)]| {
            parse("Patient", &pairs(list), Handling::Strict)
                .unwrap()
                .matches(&patient)
        };
        assert!(matches(&[("identifier", "urn:vn:cccd|046190001234")]));
        assert!(matches(&[("identifier", "046190001234")]));
        assert!(matches(&[("identifier", "urn:vn:cccd|")]));
        assert!(!matches(&[("identifier", "|046190001234")]));
        assert!(!matches(&[("identifier", "urn:vn:bhyt|046190001234")]));
        assert!(matches(&[("name", "nguyen thi")]));
        assert!(matches(&[("name", "HOA")]));
        assert!(matches(&[("name", "thi hoa")]));
        assert!(!matches(&[("name", "oa")]));
        assert!(matches(&[("name:contains", "oa")]));
        assert!(matches(&[("name:exact", "Hoa")]));
        assert!(!matches(&[("name:exact", "hoa")]));
        assert!(matches(&[("_id", "x,a")]));
        assert!(matches(&[("gender:not", "male")]));
        assert!(matches(&[("birthdate:missing", "true")]));
        assert!(
            parse(
                "Patient",
                &pairs(&[("name:sounds", "x")]),
                Handling::Lenient
            )
            .is_err()
        );
    }

    #[test]
    fn escaped_separators_stay_in_the_value() {
        assert_eq!(split_keeping_escapes(r"a\,b,c"), vec!["a,b", "c"]);
        assert_eq!(
            parse_token(r"urn:x|a\|b"),
            Test::Token {
                system: Some("urn:x".into()),
                code: "a|b".into()
            }
        );
    }

    #[test]
    fn distances_are_in_metres() {
        // Huế Central Hospital to the Citadel's flag tower: about 1.3 km.
        let d = haversine(16.4627, 107.5887, 16.4668, 107.5771);
        assert!((1_100.0..1_500.0).contains(&d), "{d}");
        assert!(parse_near("16.46|107.59|2|km").is_ok());
        assert!(parse_near("16.46|107.59").is_ok());
        assert!(parse_near("north|107.59|2|km").is_err());
        assert!(parse_near("16.46|107.59|2|miles").is_err());
        assert!(parse_near("96.46|107.59|2|km").is_err());
    }

    #[test]
    fn diacritics_fold_precomposed_or_combining() {
        assert_eq!(fold("Nguyễn Thị Hoa"), "nguyen thi hoa");
        assert_eq!(fold("Đặng"), "dang");
        assert_eq!(fold("Nguye\u{302}\u{303}n"), "nguyen");
    }
}
