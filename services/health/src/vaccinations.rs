//! Vaccinations: what a person had (`Immunization`), and what is due next: the hospital's
//! recommendations (`ImmunizationRecommendation`) checked against the national schedule, so
//! that a parent sees a dose the schedule asks for even when the hospital has not forecast it.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::NaiveDate;
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::QueryParams;
use serde::Serialize;
use utoipa::ToSchema;

use crate::fhir::FhirClient;
use crate::fhir::FhirError;
use crate::people::{Person, PersonQuery, Relationship, household_of};
use crate::resources::{self, Immunization, ImmunizationRecommendation, Reference};
use crate::schedule::{DueStatus, SCHEDULE_AGE_LIMIT};
use crate::{HealthState, Text};

/// CVX, the vaccine code system FHIR names (https://hl7.org/fhir/R4/valueset-vaccine-code.html).
const CVX: &str = "http://hl7.org/fhir/sid/cvx";
/// LOINC's "Date vaccine due", the date criterion a recommendation is due by.
const DATE_DUE: &str = "30980-7";

#[derive(Debug, Serialize, ToSchema)]
pub struct Vaccinations {
    /// Whose record this is.
    person: Person,
    /// Doses given, newest first.
    given: Vec<GivenDose>,
    /// The next dose of each series, soonest first.
    due: Vec<DueDose>,
    /// What `due` was checked against.
    schedule: Text,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GivenDose {
    vaccine: String,
    /// The CVX code, when the hospital recorded one.
    cvx: Option<String>,
    /// The national schedule's series it counts for.
    series: Option<String>,
    dose: Option<u32>,
    date: Option<NaiveDate>,
    /// Where it was given.
    place: Option<String>,
    lot: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DueDose {
    /// The national schedule's series; absent for a vaccine only the hospital recommends.
    pub(crate) series: Option<String>,
    pub(crate) vaccine: Text,
    pub(crate) disease: Option<Text>,
    /// Which dose of the series (1 for the first).
    pub(crate) dose: Option<u32>,
    pub(crate) due_on: NaiveDate,
    pub(crate) status: DueStatus,
    /// The hospital's own date for it, when it recommended it.
    pub(crate) hospital_due_on: Option<NaiveDate>,
    /// False when the hospital's forecast disagrees with the national schedule (another dose,
    /// or sooner than the schedule allows): worth asking the clinic about.
    pub(crate) agrees_with_schedule: bool,
}

/// My (or my child's) vaccinations and the doses due next.
#[utoipa::path(get, path = "/v1/health/vaccinations", operation_id = "list_vaccinations", tag = "health", security(("bearer" = [])),
    params(PersonQuery),
    responses((status = 200, body = Vaccinations),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`no_health_record`, `person_not_found`, `no_health_system`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: the health system did not answer", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<HealthState>,
    principal: Principal,
    QueryParams(query): QueryParams<PersonQuery>,
) -> Result<Json<Vaccinations>, ApiError> {
    let household = household_of(&state, &principal).await?;
    let person = household.person(query.person())?.clone();
    let fhir = &household.fhir;
    let Record { immunizations, due } = record(&state, fhir, &person)
        .await
        .map_err(crate::unavailable)?;
    if person.relationship == Relationship::Child || !due.is_empty() {
        watch(&state, &principal, &household.jurisdiction, &person).await?;
    }
    let schedule = &state.schedule;
    let places = places(fhir, &immunizations).await;
    let given = immunizations
        .iter()
        .map(|i| {
            let cvx = i.vaccine_code.code_in(CVX);
            GivenDose {
                vaccine: i.vaccine_code.label().unwrap_or_default(),
                series: cvx
                    .and_then(|c| schedule.series_of(c))
                    .map(|s| s.id.clone()),
                cvx: cvx.map(str::to_owned),
                dose: i.protocol_applied.first().and_then(|p| {
                    p.dose_number_positive_int
                        .or_else(|| p.dose_number_string.as_deref()?.parse().ok())
                }),
                date: when(i),
                place: place_reference(i).and_then(|r| {
                    r.display
                        .clone()
                        .or_else(|| places.get(r.reference.as_deref()?).cloned())
                }),
                lot: i.lot_number.clone(),
            }
        })
        .collect();
    Ok(Json(Vaccinations {
        person,
        given,
        due,
        schedule: Text::new(
            "Lịch tiêm chủng mở rộng quốc gia (Thông tư 10/2024/TT-BYT)",
            "The national expanded immunisation schedule (Circular 10/2024/TT-BYT)",
        ),
    }))
}

/// A person's doses given, newest first, and the next due.
pub struct Record {
    pub immunizations: Vec<Immunization>,
    pub due: Vec<DueDose>,
}

/// Reads a person's vaccinations and works out what is due: the hospital's recommendations
/// checked against the national schedule.
pub async fn record(
    state: &HealthState,
    fhir: &FhirClient,
    person: &Person,
) -> Result<Record, FhirError> {
    let patient = format!("Patient/{}", person.id);
    let given_query = [("patient", patient.as_str()), ("_sort", "-date")];
    let due_query = [("patient", patient.as_str())];
    let (immunizations, recommendations) = tokio::try_join!(
        fhir.search("Immunization", &given_query),
        fhir.search("ImmunizationRecommendation", &due_query),
    )?;
    let mut immunizations: Vec<Immunization> = resources::of_kind(&immunizations, "Immunization");
    // Not given, or recorded in error: not a dose.
    immunizations.retain(|i| matches!(i.status.as_deref(), Some("completed") | None));
    immunizations.sort_by_key(|i| std::cmp::Reverse(when(i)));
    let recommendations: Vec<ImmunizationRecommendation> =
        resources::of_kind(&recommendations, "ImmunizationRecommendation");

    let today = platform::vietnam_time::today();
    let schedule = &state.schedule;
    let given_codes: Vec<(&str, NaiveDate)> = immunizations
        .iter()
        .filter_map(|i| Some((i.vaccine_code.code_in(CVX)?, when(i)?)))
        .collect();
    let child = person.birth_date.filter(|born| {
        today
            .years_since(*born)
            .is_some_and(|age| age < SCHEDULE_AGE_LIMIT)
    });
    let mut due: Vec<DueDose> = match child {
        Some(born) => schedule
            .next_doses(born, &given_codes, today)
            .into_iter()
            .map(|next| DueDose {
                series: Some(next.series.id.clone()),
                vaccine: Text::new(&next.series.vaccine_vi, &next.series.vaccine_en),
                disease: Some(Text::new(&next.series.disease_vi, &next.series.disease_en)),
                dose: Some(next.dose),
                due_on: next.due_on,
                status: next.status,
                hospital_due_on: None,
                agrees_with_schedule: true,
            })
            .collect(),
        None => Vec::new(),
    };
    for recommendation in recommendations.iter().flat_map(|r| &r.recommendation) {
        // Done or advised against: nothing is due.
        if ["complete", "contraindicated", "immune"]
            .iter()
            .any(|done| recommendation.forecast_status.has_code(done))
        {
            continue;
        }
        let Some(date) = recommendation
            .date_criterion
            .iter()
            .find(|c| c.code.has_code(DATE_DUE))
            .or(recommendation.date_criterion.first())
            .and_then(|c| c.value.as_deref())
            .and_then(resources::date_of)
        else {
            continue;
        };
        let code = recommendation
            .vaccine_code
            .iter()
            .find_map(|concept| concept.code_in(CVX));
        let series = code.and_then(|code| schedule.series_of(code));
        let ours = series.and_then(|s| due.iter_mut().find(|d| d.series.as_deref() == Some(&s.id)));
        match ours {
            Some(ours) => {
                ours.hospital_due_on = Some(date);
                ours.agrees_with_schedule = recommendation
                    .dose_number_positive_int
                    .is_none_or(|dose| Some(dose) == ours.dose)
                    && date >= ours.due_on;
            }
            None => {
                let label = recommendation
                    .vaccine_code
                    .iter()
                    .find_map(|concept| concept.label())
                    .unwrap_or_default();
                due.push(DueDose {
                    series: series.map(|s| s.id.clone()),
                    vaccine: Text::new(&label, &label),
                    disease: None,
                    dose: recommendation.dose_number_positive_int,
                    due_on: date,
                    status: status_of(date, today),
                    hospital_due_on: Some(date),
                    // A dose of a series the schedule thinks finished, or not the schedule's.
                    agrees_with_schedule: series.is_none() || child.is_none(),
                });
            }
        }
    }
    due.sort_by_key(|d| d.due_on);

    Ok(Record { immunizations, due })
}

/// Remembers that the caller follows this person's vaccinations, for the reminders.
async fn watch(
    state: &HealthState,
    principal: &Principal,
    jurisdiction: &str,
    person: &Person,
) -> Result<(), ApiError> {
    sqlx::query!(
        r#"INSERT INTO vaccination_watches (account_id, jurisdiction, patient_id, patient_name)
           VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, patient_id) DO NOTHING"#,
        principal.account_id,
        jurisdiction,
        person.id,
        person.name
    )
    .execute(&state.pool)
    .await?;
    Ok(())
}

fn when(immunization: &Immunization) -> Option<NaiveDate> {
    immunization
        .occurrence_date_time
        .as_deref()
        .and_then(resources::date_of)
}

fn status_of(due_on: NaiveDate, today: NaiveDate) -> DueStatus {
    let days = (due_on - today).num_days();
    match days {
        ..-28 => DueStatus::Overdue,
        -28..=0 => DueStatus::Due,
        1..=30 => DueStatus::Upcoming,
        _ => DueStatus::Scheduled,
    }
}

/// A location or an organization, by its name.
#[derive(serde::Deserialize)]
struct Named {
    name: Option<String>,
}

/// Where a dose was given: its location, else who gave it.
fn place_reference(immunization: &Immunization) -> Option<&Reference> {
    immunization
        .location
        .as_ref()
        .or(immunization.performer.first().map(|p| &p.actor))
}

/// The names of the places doses were given at that the records only reference, each read
/// once (and kept, as reference data).
async fn places(fhir: &FhirClient, immunizations: &[Immunization]) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for reference in immunizations.iter().filter_map(place_reference) {
        let Some(text) = reference.reference.as_deref() else {
            continue;
        };
        if reference.display.is_some() || names.contains_key(text) {
            continue;
        }
        let (kind, id) = match (reference.id_of("Location"), reference.id_of("Organization")) {
            (Some(id), _) => ("Location", id),
            (_, Some(id)) => ("Organization", id),
            _ => continue,
        };
        // A place that cannot be read is shown without its name, not as a failed lookup.
        if let Ok(place) = fhir.read_reference::<Named>(kind, id).await
            && let Some(name) = place.name
        {
            names.insert(text.to_owned(), name);
        }
    }
    names
}
