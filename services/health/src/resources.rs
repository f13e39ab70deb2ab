//! The parts of FHIR R4 resources health reads (https://hl7.org/fhir/R4/resourcelist.html).
//! Unknown elements are ignored, as FHIR asks of readers.

use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reference {
    pub reference: Option<String>,
    pub display: Option<String>,
}

impl Reference {
    /// The id of a `Type/id` reference to `kind` (relative, or absolute on some server).
    pub fn id_of(&self, kind: &str) -> Option<&str> {
        let reference = self.reference.as_deref()?;
        let (before, id) = reference.rsplit_once('/')?;
        let named = before.rsplit('/').next()?;
        (named == kind && crate::fhir::valid_id(id)).then_some(id)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CodeableConcept {
    pub coding: Vec<Coding>,
    pub text: Option<String>,
}

impl CodeableConcept {
    /// The code of `system`, if any coding has one.
    pub fn code_in(&self, system: &str) -> Option<&str> {
        self.coding
            .iter()
            .find(|c| c.system.as_deref() == Some(system))
            .and_then(|c| c.code.as_deref())
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.coding.iter().any(|c| c.code.as_deref() == Some(code))
    }

    /// What to show: the text, else the first display.
    pub fn label(&self) -> Option<String> {
        self.text
            .clone()
            .or_else(|| self.coding.iter().find_map(|c| c.display.clone()))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Identifier {
    pub system: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Period {
    /// FHIR `dateTime`s: a date, or a date and time; health keeps the date.
    pub start: Option<String>,
    pub end: Option<String>,
}

/// The date of a FHIR `date` or `dateTime` (`2026`, `2026-12`, `2026-12-07`,
/// `2026-12-07T09:00:00+07:00`); a partial date is its first day.
pub fn date_of(text: &str) -> Option<NaiveDate> {
    let day = text.get(..10).unwrap_or(text);
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(&format!("{day}-01"), "%Y-%m-%d").ok())
        .or_else(|| NaiveDate::parse_from_str(&format!("{day}-01-01"), "%Y-%m-%d").ok())
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HumanName {
    pub text: Option<String>,
    pub family: Option<String>,
    pub given: Vec<String>,
}

/// A Vietnamese name reads family first: "Nguyễn Thị Hoa".
pub fn name_of(names: &[HumanName]) -> String {
    let Some(name) = names.first() else {
        return String::new();
    };
    if let Some(text) = &name.text {
        return text.clone();
    }
    name.family
        .iter()
        .chain(name.given.iter())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub text: Option<String>,
    pub line: Vec<String>,
    pub city: Option<String>,
}

impl Address {
    pub fn label(&self) -> String {
        self.text.clone().unwrap_or_else(|| {
            self.line
                .iter()
                .chain(self.city.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Extension {
    pub url: String,
    pub value_date: Option<String>,
    pub value_boolean: Option<bool>,
    pub value_string: Option<String>,
    pub value_reference: Option<Reference>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Patient {
    pub id: String,
    pub active: Option<bool>,
    pub name: Vec<HumanName>,
    pub birth_date: Option<String>,
    pub general_practitioner: Vec<Reference>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RelatedPerson {
    pub active: Option<bool>,
    pub patient: Reference,
    pub relationship: Vec<CodeableConcept>,
    pub period: Option<Period>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organization {
    pub id: String,
    pub name: Option<String>,
    pub address: Vec<Address>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Coverage {
    pub id: String,
    pub status: Option<String>,
    pub subscriber_id: Option<String>,
    pub identifier: Vec<Identifier>,
    pub period: Option<Period>,
    pub payor: Vec<Reference>,
    pub class: Vec<CoverageClass>,
    pub extension: Vec<Extension>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CoverageClass {
    #[serde(rename = "type")]
    pub kind: CodeableConcept,
    pub value: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Immunization {
    pub id: String,
    pub status: Option<String>,
    pub vaccine_code: CodeableConcept,
    pub occurrence_date_time: Option<String>,
    pub lot_number: Option<String>,
    pub location: Option<Reference>,
    pub performer: Vec<ImmunizationPerformer>,
    pub protocol_applied: Vec<ProtocolApplied>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImmunizationPerformer {
    pub actor: Reference,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProtocolApplied {
    pub dose_number_positive_int: Option<u32>,
    pub dose_number_string: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ImmunizationRecommendation {
    pub recommendation: Vec<Recommendation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Recommendation {
    pub vaccine_code: Vec<CodeableConcept>,
    pub forecast_status: CodeableConcept,
    pub date_criterion: Vec<DateCriterion>,
    pub dose_number_positive_int: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DateCriterion {
    pub code: CodeableConcept,
    pub value: Option<String>,
}

/// The resources of `kind` among a search's results (which may hold `_include`d others).
pub fn of_kind<T: serde::de::DeserializeOwned>(found: &[serde_json::Value], kind: &str) -> Vec<T> {
    found
        .iter()
        .filter(|resource| resource["resourceType"] == kind)
        .filter_map(|resource| T::deserialize(resource).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_their_kind_and_id() {
        let reference = |text: &str| Reference {
            reference: Some(text.to_owned()),
            display: None,
        };
        assert_eq!(reference("Patient/abc").id_of("Patient"), Some("abc"));
        assert_eq!(
            reference("https://fhir.example.vn/r4/Patient/abc").id_of("Patient"),
            Some("abc")
        );
        assert_eq!(reference("Organization/abc").id_of("Patient"), None);
        assert_eq!(reference("Patient/a?b").id_of("Patient"), None);
    }

    #[test]
    fn partial_dates_are_their_first_day() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(date_of("2026-12-07T09:00:00+07:00"), day(2026, 12, 7));
        assert_eq!(date_of("2026-12"), day(2026, 12, 1));
        assert_eq!(date_of("2026"), day(2026, 1, 1));
        assert_eq!(date_of("soon"), None);
    }
}
