//! Whose records a resident may see: their own, found at their jurisdiction's health system by
//! the personal ID number VNeID gave identity, and their children's under the proxy age, found
//! through the `RelatedPerson` resources that name the resident as a parent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use platform::ApiError;
use platform::auth::{Acr, Principal};
use platform::error::SharedError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::fhir::FhirClient;
use crate::resources::{self, Patient, RelatedPerson};
use crate::{HealthError, HealthState};

/// How long a resolved household is reused: a new child appears within this.
const HOUSEHOLD_TTL: Duration = Duration::from_secs(300);
/// Households kept in memory, per process.
const MAX_HOUSEHOLDS: usize = 50_000;
/// The v3 RoleCode relationships of a parent or guardian
/// (https://terminology.hl7.org/ValueSet-v3-PersonalRelationshipRoleType.html).
const PARENT_ROLES: &[&str] = &[
    "PRN", "MTH", "FTH", "NPRN", "NMTH", "NFTH", "STPPRN", "GUARD",
];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PersonQuery {
    /// Whose record: a child's id from `/v1/health/people`; mine when absent.
    person: Option<String>,
}

impl PersonQuery {
    pub fn person(&self) -> Option<&str> {
        self.person.as_deref()
    }
}

/// One person whose records the caller may see.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    /// The person's id at the health system (`?person=`).
    pub id: String,
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    /// `self`, or `child` for a child the caller acts for.
    pub relationship: Relationship,
    /// The registered primary clinic, as the health system references it.
    #[serde(skip)]
    pub general_practitioner: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Relationship {
    #[serde(rename = "self")]
    Myself,
    Child,
}

/// The caller and the children they act for, at one health system.
#[derive(Clone)]
pub struct Household {
    /// The jurisdiction whose health system holds the records.
    pub jurisdiction: String,
    pub fhir: Arc<FhirClient>,
    pub people: Vec<Person>,
}

impl Household {
    /// The person `id` names (the caller when `None`); 404 for anyone else, so another's child
    /// looks like no one.
    pub fn person(&self, id: Option<&str>) -> Result<&Person, ApiError> {
        match id {
            None => Ok(&self.people[0]),
            Some(id) => Ok(self
                .people
                .iter()
                .find(|person| person.id == id)
                .ok_or(HealthError::PersonNotFound)?),
        }
    }
}

/// Households resolved lately, by account.
#[derive(Default)]
pub struct Households(Mutex<HashMap<Uuid, (Instant, Household)>>);

impl Households {
    fn get(&self, account: Uuid) -> Option<Household> {
        let cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&account)
            .filter(|(at, _)| at.elapsed() < HOUSEHOLD_TTL)
            .map(|(_, household)| household.clone())
    }

    fn put(&self, account: Uuid, household: Household) {
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_HOUSEHOLDS {
            cache.retain(|_, (at, _)| at.elapsed() < HOUSEHOLD_TTL);
            if cache.len() >= MAX_HOUSEHOLDS {
                cache.clear();
            }
        }
        cache.insert(account, (Instant::now(), household));
    }
}

/// The caller's household: 403 `verification_required` for an account not verified with
/// VNeID, 404 `no_health_record` when the health system does not know them.
pub async fn household_of(
    state: &HealthState,
    principal: &Principal,
) -> Result<Household, ApiError> {
    if principal.acr < Acr::Verified {
        return Err(SharedError::VerificationRequired.into());
    }
    if let Some(household) = state.households.get(principal.account_id) {
        return Ok(household);
    }
    let citizen = state.identity.verified_citizen(principal).await?;
    let jurisdiction = citizen
        .home_jurisdiction
        .unwrap_or_else(|| state.config.default_jurisdiction.clone());
    let fhir = state
        .systems
        .get(&jurisdiction)
        .cloned()
        .ok_or(HealthError::NoHealthSystem)?;

    let identifier = format!(
        "{}|{}",
        state.config.national_id_system, citizen.national_id
    );
    let patients: Vec<Patient> = resources::of_kind(
        &fhir
            .search("Patient", &[("identifier", &identifier)])
            .await
            .map_err(crate::unavailable)?,
        "Patient",
    );
    let mut patients = patients.into_iter().filter(|p| p.active != Some(false));
    let me = match (patients.next(), patients.next()) {
        (Some(me), None) => me,
        (None, _) => return Err(HealthError::NoHealthRecord.into()),
        (Some(_), Some(_)) => {
            // Two records under one number is the hospital's to merge; showing either could
            // show a stranger's.
            tracing::warn!("two active Patients share one personal ID number");
            return Err(HealthError::NoHealthRecord.into());
        }
    };
    let mut people = vec![person(me, Relationship::Myself)];
    people.extend(children(state, &fhir, &identifier).await?);
    let household = Household {
        jurisdiction,
        fhir,
        people,
    };
    state
        .households
        .put(principal.account_id, household.clone());
    Ok(household)
}

/// The children under the proxy age whose records name the caller as a parent.
async fn children(
    state: &HealthState,
    fhir: &FhirClient,
    parent_identifier: &str,
) -> Result<Vec<Person>, ApiError> {
    let today = platform::vietnam_time::today();
    let links: Vec<RelatedPerson> = resources::of_kind(
        &fhir
            .search("RelatedPerson", &[("identifier", parent_identifier)])
            .await
            .map_err(crate::unavailable)?,
        "RelatedPerson",
    );
    let mut ids: Vec<&str> = links
        .iter()
        .filter(|link| link.active != Some(false))
        .filter(|link| {
            link.relationship
                .iter()
                .any(|role| PARENT_ROLES.iter().any(|code| role.has_code(code)))
        })
        .filter(|link| {
            let ended = link.period.as_ref().and_then(|p| p.end.as_deref());
            ended
                .and_then(resources::date_of)
                .is_none_or(|end| end >= today)
        })
        .filter_map(|link| link.patient.id_of("Patient"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: Vec<Patient> = resources::of_kind(
        &fhir
            .search("Patient", &[("_id", &ids.join(","))])
            .await
            .map_err(crate::unavailable)?,
        "Patient",
    );
    let limit = state.config.proxy_age_limit;
    Ok(found
        .into_iter()
        .filter(|child| child.active != Some(false))
        .map(|child| person(child, Relationship::Child))
        // A child of unknown age, or of the age limit, speaks for themselves.
        .filter(|child| {
            child
                .birth_date
                .and_then(|born| today.years_since(born))
                .is_some_and(|age| age < limit)
        })
        .collect())
}

pub(crate) fn person(patient: Patient, relationship: Relationship) -> Person {
    Person {
        name: resources::name_of(&patient.name),
        birth_date: patient.birth_date.as_deref().and_then(resources::date_of),
        general_practitioner: patient
            .general_practitioner
            .iter()
            .find_map(|r| r.id_of("Organization"))
            .map(str::to_owned),
        id: patient.id,
        relationship,
    }
}
