//! The health insurance card (thẻ BHYT) from the health system's `Coverage`: its number (since
//! 2025 the 10-digit social insurance number; older cards' 15-character code holds the
//! beneficiary group, the benefit level and the province), what it pays, its validity, the
//! registered primary clinic and the date five consecutive years were reached (from which a
//! patient pays nothing more once their co-payments in a year pass six months' base salary).

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::QueryParams;
use serde::Serialize;
use utoipa::ToSchema;

use crate::people::{Person, PersonQuery, household_of};
use crate::resources::{self, Coverage, Organization};
use crate::{HealthError, HealthState, Text};

/// `Coverage.extension` with the date five consecutive years were reached.
pub const FIVE_YEARS_EXTENSION: &str = "urn:citizen:fhir:bhyt-five-years-continuous";
/// `Coverage.extension` referencing the card's registered primary care facility; without it,
/// the patient's `generalPractitioner` is taken.
pub const PRIMARY_FACILITY_EXTENSION: &str = "urn:citizen:fhir:bhyt-primary-facility";
/// A card within this many days of its end is `expiring`.
const EXPIRING_WITHIN_DAYS: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct InsuranceCardAnswer {
    /// Whose card this is.
    person: Person,
    card: InsuranceCard,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InsuranceCard {
    /// As printed: the 10-digit social insurance number, or an older card's 15-character code.
    number: String,
    /// The social insurance number (the whole number, or the last ten of an older code).
    social_insurance_number: String,
    /// An older code's beneficiary group (`DN`, `TE`, `HT`, ...) and what it means.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Group>,
    /// An older code's province (`46` is Huế).
    #[serde(skip_serializing_if = "Option::is_none")]
    province_code: Option<String>,
    /// 1 to 5, when known.
    benefit_level: Option<u8>,
    /// What the fund pays of covered costs, in percent.
    pays_percent: Option<u8>,
    /// What the benefit level means.
    pays: Option<Text>,
    valid_from: Option<NaiveDate>,
    valid_to: Option<NaiveDate>,
    state: CardState,
    /// Days until the card ends (negative once it has).
    days_left: Option<i64>,
    /// Where the holder is registered for primary care.
    primary_clinic: Option<Clinic>,
    /// When five consecutive years of insurance were reached.
    five_years_continuous_from: Option<NaiveDate>,
    /// Who pays (the social insurance office).
    payor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Group {
    code: String,
    name: Option<Text>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Clinic {
    id: String,
    name: String,
    address: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    Valid,
    /// Ends within 30 days: time to renew.
    Expiring,
    Expired,
    NotYetValid,
    /// The health system gave no period.
    Unknown,
}

/// My (or my child's) health insurance card.
#[utoipa::path(get, path = "/v1/health/insurance-card", operation_id = "get_insurance_card", tag = "health", security(("bearer" = [])),
    params(PersonQuery),
    responses((status = 200, body = InsuranceCardAnswer),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`no_health_record`, `person_not_found`, `no_insurance_card`, `no_health_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: the health system did not answer", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<HealthState>,
    principal: Principal,
    QueryParams(query): QueryParams<PersonQuery>,
) -> Result<Json<InsuranceCardAnswer>, ApiError> {
    let household = household_of(&state, &principal).await?;
    let person = household.person(query.person())?.clone();
    let beneficiary = format!("Patient/{}", person.id);
    let found = household
        .fhir
        .search(
            "Coverage",
            &[
                ("beneficiary", &beneficiary),
                ("_include", "Coverage:payor"),
            ],
        )
        .await
        .map_err(crate::unavailable)?;
    let today = platform::vietnam_time::today();
    let coverage = current(resources::of_kind(&found, "Coverage"), today)
        .ok_or(HealthError::NoInsuranceCard)?;
    let payor = payor_name(&household.fhir, &coverage, &found).await?;
    let registered = coverage
        .extension
        .iter()
        .filter(|e| e.url == PRIMARY_FACILITY_EXTENSION)
        .find_map(|e| e.value_reference.as_ref()?.id_of("Organization"))
        .or(person.general_practitioner.as_deref());
    let primary_clinic = match registered {
        Some(id) => {
            let clinic: Organization = household
                .fhir
                .read_reference("Organization", id)
                .await
                .map_err(crate::unavailable)?;
            Some(Clinic {
                id: clinic.id,
                name: clinic.name.unwrap_or_default(),
                address: clinic.address.first().map(|a| a.label()),
            })
        }
        None => None,
    };
    let card =
        card_of(&coverage, today, payor, primary_clinic).ok_or(HealthError::NoInsuranceCard)?;
    Ok(Json(InsuranceCardAnswer { person, card }))
}

/// Who pays: the reference's display, else the `_include`d Organization, else the
/// Organization read (a server may ignore `_include`, as FHIR allows).
async fn payor_name(
    fhir: &crate::fhir::FhirClient,
    coverage: &Coverage,
    found: &[serde_json::Value],
) -> Result<Option<String>, ApiError> {
    let Some(reference) = coverage.payor.first() else {
        return Ok(None);
    };
    if let Some(display) = &reference.display {
        return Ok(Some(display.clone()));
    }
    let Some(id) = reference.id_of("Organization") else {
        return Ok(None);
    };
    let included: Vec<Organization> = resources::of_kind(found, "Organization");
    if let Some(payor) = included.into_iter().find(|o| o.id == id) {
        return Ok(payor.name);
    }
    match fhir
        .read_reference::<Organization>("Organization", id)
        .await
    {
        Ok(payor) => Ok(payor.name),
        Err(crate::fhir::FhirError::NotFound) => Ok(None),
        Err(error) => Err(crate::unavailable(error)),
    }
}

/// The coverage in force today, else the one that ended last: an expired card is still worth
/// showing, with its state.
fn current(coverages: Vec<Coverage>, today: NaiveDate) -> Option<Coverage> {
    let period = |c: &Coverage| {
        let p = c.period.as_ref();
        (
            p.and_then(|p| p.start.as_deref())
                .and_then(resources::date_of),
            p.and_then(|p| p.end.as_deref())
                .and_then(resources::date_of),
        )
    };
    let usable = coverages.into_iter().filter(|c| {
        matches!(
            c.status.as_deref(),
            Some("active") | Some("cancelled") | None
        )
    });
    let mut coverages: Vec<Coverage> = usable.collect();
    coverages.sort_by_key(|c| {
        let (start, end) = period(c);
        let in_force = start.is_none_or(|s| s <= today) && end.is_none_or(|e| e >= today);
        (in_force, end.unwrap_or(NaiveDate::MAX))
    });
    coverages.pop()
}

fn card_of(
    coverage: &Coverage,
    today: NaiveDate,
    payor: Option<String>,
    primary_clinic: Option<Clinic>,
) -> Option<InsuranceCard> {
    let number = coverage
        .subscriber_id
        .clone()
        .or_else(|| coverage.identifier.iter().find_map(|i| i.value.clone()))?
        .trim()
        .to_ascii_uppercase();
    let code = CardNumber::parse(&number)?;
    let level = coverage
        .class
        .iter()
        .find(|class| class.kind.has_code("plan"))
        .and_then(|class| class.value.trim().parse::<u8>().ok())
        .filter(|level| (1..=5).contains(level))
        .or(code.benefit_level);
    let benefit = level.map(benefit);
    let period = coverage.period.as_ref();
    let valid_from = period
        .and_then(|p| p.start.as_deref())
        .and_then(resources::date_of);
    let valid_to = period
        .and_then(|p| p.end.as_deref())
        .and_then(resources::date_of);
    let days_left = valid_to.map(|end| (end - today).num_days());
    let state = match (valid_from, valid_to) {
        _ if coverage.status.as_deref() == Some("cancelled") => CardState::Expired,
        (Some(start), _) if today < start => CardState::NotYetValid,
        (_, Some(end)) if today > end => CardState::Expired,
        (_, Some(end)) if (end - today).num_days() <= EXPIRING_WITHIN_DAYS => CardState::Expiring,
        (_, Some(_)) => CardState::Valid,
        (_, None) => CardState::Unknown,
    };
    Some(InsuranceCard {
        social_insurance_number: code.social_insurance_number,
        group: code.group.map(|code| Group {
            name: group_name(&code),
            code,
        }),
        province_code: code.province_code,
        benefit_level: level,
        pays_percent: benefit.as_ref().map(|(percent, _)| *percent),
        pays: benefit.map(|(_, text)| text),
        valid_from,
        valid_to,
        state,
        days_left,
        primary_clinic,
        five_years_continuous_from: coverage
            .extension
            .iter()
            .find(|e| e.url == FIVE_YEARS_EXTENSION)
            .and_then(|e| e.value_date.as_deref())
            .and_then(resources::date_of),
        payor,
        number,
    })
}

/// A card's number, read.
#[derive(Debug, PartialEq)]
struct CardNumber {
    social_insurance_number: String,
    group: Option<String>,
    benefit_level: Option<u8>,
    province_code: Option<String>,
}

impl CardNumber {
    /// The 10-digit social insurance number, or an older card's code: two letters of group,
    /// one digit of benefit level (1-5), two of province, and the 10-digit number.
    fn parse(number: &str) -> Option<CardNumber> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if number.len() == 10 && digits(number) {
            return Some(CardNumber {
                social_insurance_number: number.to_owned(),
                group: None,
                benefit_level: None,
                province_code: None,
            });
        }
        if number.len() != 15 || !number.is_ascii() {
            return None;
        }
        let (group, rest) = number.split_at(2);
        let (level, rest) = rest.split_at(1);
        let (province, insured) = rest.split_at(2);
        let level = level.parse::<u8>().ok().filter(|l| (1..=5).contains(l))?;
        (group.bytes().all(|b| b.is_ascii_uppercase()) && digits(province) && digits(insured)).then(
            || CardNumber {
                social_insurance_number: insured.to_owned(),
                group: Some(group.to_owned()),
                benefit_level: Some(level),
                province_code: Some(province.to_owned()),
            },
        )
    }
}

/// What a benefit level pays of covered costs (Law on Health Insurance, art. 22).
fn benefit(level: u8) -> (u8, Text) {
    let (percent, vi, en) = match level {
        1 => (
            100,
            "Quỹ BHYT chi trả 100% chi phí khám chữa bệnh trong phạm vi được hưởng, không giới hạn dịch vụ kỹ thuật cao.",
            "The fund pays 100% of covered costs, high-tech services without a ceiling.",
        ),
        2 => (
            100,
            "Quỹ BHYT chi trả 100% chi phí khám chữa bệnh trong phạm vi được hưởng; dịch vụ kỹ thuật cao có giới hạn.",
            "The fund pays 100% of covered costs, high-tech services up to a ceiling.",
        ),
        3 => (
            95,
            "Quỹ BHYT chi trả 95% chi phí khám chữa bệnh trong phạm vi được hưởng.",
            "The fund pays 95% of covered costs.",
        ),
        4 => (
            80,
            "Quỹ BHYT chi trả 80% chi phí khám chữa bệnh trong phạm vi được hưởng.",
            "The fund pays 80% of covered costs.",
        ),
        _ => (
            100,
            "Quỹ BHYT chi trả 100% chi phí khám chữa bệnh trong phạm vi được hưởng, kể cả chi phí vận chuyển.",
            "The fund pays 100% of covered costs, transport included.",
        ),
    };
    (percent, Text::new(vi, en))
}

/// The beneficiary groups printed on older cards (Decision 1666/QĐ-BHXH lists them all).
fn group_name(code: &str) -> Option<Text> {
    let (vi, en) = match code {
        "DN" => (
            "Người lao động trong doanh nghiệp",
            "Employee of an enterprise",
        ),
        "HC" => ("Cán bộ, công chức, viên chức", "Civil servant"),
        "HT" => ("Người hưởng lương hưu", "Pensioner"),
        "TE" => ("Trẻ em dưới 6 tuổi", "Child under six"),
        "HS" => ("Học sinh", "Pupil"),
        "SV" => ("Sinh viên", "Student"),
        "GD" => ("Thành viên hộ gia đình", "Household member"),
        "HN" => ("Người thuộc hộ nghèo", "Member of a poor household"),
        "CN" => (
            "Người thuộc hộ cận nghèo",
            "Member of a near-poor household",
        ),
        "CC" => (
            "Người có công với cách mạng",
            "Person of meritorious service",
        ),
        "BT" => (
            "Người hưởng trợ cấp bảo trợ xã hội",
            "Social protection beneficiary",
        ),
        "DT" => (
            "Người dân tộc thiểu số vùng khó khăn",
            "Ethnic minority in a hardship area",
        ),
        "NN" => (
            "Hộ nông, lâm, ngư, diêm nghiệp",
            "Farming, forestry or fishing household",
        ),
        "QN" => ("Quân nhân", "Member of the armed forces"),
        "CA" => ("Công an nhân dân", "Member of the police"),
        _ => return None,
    };
    Some(Text::new(vi, en))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CodeableConcept, Coding, CoverageClass, Extension, Period};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn both_forms_of_the_card_number_are_read() {
        assert_eq!(
            CardNumber::parse("4601234567"),
            Some(CardNumber {
                social_insurance_number: "4601234567".to_owned(),
                group: None,
                benefit_level: None,
                province_code: None,
            })
        );
        assert_eq!(
            CardNumber::parse("DN4790123456789"),
            Some(CardNumber {
                social_insurance_number: "0123456789".to_owned(),
                group: Some("DN".to_owned()),
                benefit_level: Some(4),
                province_code: Some("79".to_owned()),
            })
        );
        assert_eq!(
            CardNumber::parse("DN6790123456789"),
            None,
            "levels are 1 to 5"
        );
        assert_eq!(CardNumber::parse("D14790123456789"), None);
        assert_eq!(CardNumber::parse("460123456"), None);
        assert_eq!(CardNumber::parse("ĐN479012345678"), None);
    }

    fn coverage(number: &str, start: &str, end: &str) -> Coverage {
        Coverage {
            subscriber_id: Some(number.to_owned()),
            status: Some("active".to_owned()),
            period: Some(Period {
                start: Some(start.to_owned()),
                end: Some(end.to_owned()),
            }),
            ..Coverage::default()
        }
    }

    #[test]
    fn the_state_follows_the_period() {
        let today = day(2026, 12, 7);
        let state = |end: &str| {
            card_of(
                &coverage("4601234567", "2026-01-01", end),
                today,
                None,
                None,
            )
            .map(|card| (card.state, card.days_left))
        };
        assert_eq!(state("2027-06-30"), Some((CardState::Valid, Some(205))));
        assert_eq!(state("2027-01-06"), Some((CardState::Expiring, Some(30))));
        assert_eq!(state("2026-12-07"), Some((CardState::Expiring, Some(0))));
        assert_eq!(state("2026-12-06"), Some((CardState::Expired, Some(-1))));
        let later = card_of(
            &coverage("4601234567", "2027-01-01", "2027-12-31"),
            today,
            None,
            None,
        );
        assert_eq!(later.map(|c| c.state), Some(CardState::NotYetValid));
    }

    #[test]
    fn the_level_comes_from_the_plan_class_or_the_older_code() {
        let today = day(2026, 12, 7);
        let old = card_of(
            &coverage("TE1460123456789", "2025-01-01", "2031-01-01"),
            today,
            None,
            None,
        )
        .unwrap_or_else(|| panic!("an older code is a card"));
        assert_eq!((old.benefit_level, old.pays_percent), (Some(1), Some(100)));
        assert_eq!(old.province_code.as_deref(), Some("46"));
        assert!(
            old.group
                .is_some_and(|g| g.code == "TE" && g.name.is_some())
        );

        let mut new = coverage("4601234567", "2026-01-01", "2026-12-31");
        new.class.push(CoverageClass {
            kind: CodeableConcept {
                coding: vec![Coding {
                    system: Some("http://terminology.hl7.org/CodeSystem/coverage-class".to_owned()),
                    code: Some("plan".to_owned()),
                    display: None,
                }],
                text: None,
            },
            value: "3".to_owned(),
            name: None,
        });
        new.extension.push(Extension {
            url: FIVE_YEARS_EXTENSION.to_owned(),
            value_date: Some("2021-01-01".to_owned()),
            ..Extension::default()
        });
        let card = card_of(&new, today, None, None).unwrap_or_else(|| panic!("a card"));
        assert_eq!((card.benefit_level, card.pays_percent), (Some(3), Some(95)));
        assert_eq!(card.five_years_continuous_from, Some(day(2021, 1, 1)));
        assert!(card.group.is_none());
    }

    #[test]
    fn the_card_in_force_is_preferred_to_a_later_ending_one_not_yet_valid() {
        let today = day(2026, 12, 7);
        let chosen = current(
            vec![
                coverage("4601234567", "2025-01-01", "2025-12-31"),
                coverage("4601234568", "2026-01-01", "2026-12-31"),
                coverage("4601234569", "2027-01-01", "2027-12-31"),
            ],
            today,
        );
        assert_eq!(
            chosen.and_then(|c| c.subscriber_id).as_deref(),
            Some("4601234568")
        );
        let none_in_force = current(
            vec![
                coverage("4601234567", "2024-01-01", "2024-12-31"),
                coverage("4601234568", "2025-01-01", "2025-12-31"),
            ],
            today,
        );
        assert_eq!(
            none_in_force.and_then(|c| c.subscriber_id).as_deref(),
            Some("4601234568")
        );
    }
}
