//! Hospital appointments: the departments and doctors of the jurisdiction's hospitals
//! (`HealthcareService`, `PractitionerRole`), their free slots (`Schedule`, `Slot`), and booking
//! one for me or my child, which gives the hospital's queue number (số thứ tự). The hospital's
//! system is the record and decides who gets a slot; we keep what the app lists as "my
//! appointments", written only after the hospital booked. A booking is sent with our own
//! booking id as a conditional create (`If-None-Exist`), so a retry after a lost answer finds
//! the appointment the hospital made instead of booking twice.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Days, FixedOffset, NaiveDate, Utc};
use platform::ApiError;
use platform::auth::Principal;
use platform::extract::{IdempotencyKey, JsonBody, QueryParams};
use platform::idempotency;
use platform::vietnam_time::OFFSET as VIETNAM;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::fhir::{FhirClient, FhirError, valid_id};
use crate::people::household_of;
use crate::resources::{self, HumanName, Reference};
use crate::{HealthError, HealthState};

/// Our booking id on the hospital's Appointment, for conditional creates.
pub const BOOKING_SYSTEM: &str = "urn:citizen:booking";
/// Where the hospital puts the queue number it gives a booked appointment.
pub const QUEUE_NUMBER_SYSTEM: &str = "urn:vn:hospital:queue-number";
/// Booking ids are made from the account and its `Idempotency-Key` in this namespace.
const BOOKING_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_44a4_8f0e_4a53_9c1e_2b57_0a11_b00c);
/// How far ahead slots may be asked for.
const MAX_DAYS_AHEAD: u64 = 60;

#[derive(Debug, Serialize, ToSchema)]
pub struct Departments {
    departments: Vec<HospitalDepartment>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HospitalDepartment {
    /// For `/v1/health/slots?department=`.
    id: String,
    name: String,
    hospital: Option<Hospital>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hospital {
    id: String,
    name: String,
    address: Option<String>,
}

/// The departments of the city's hospitals that take bookings.
#[utoipa::path(get, path = "/v1/health/departments", operation_id = "list_hospital_departments", tag = "health", security(("bearer" = [])),
    responses((status = 200, body = Departments),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn departments(
    State(state): State<HealthState>,
    principal: Principal,
) -> Result<Json<Departments>, ApiError> {
    let household = household_of(&state, &principal).await?;
    let fhir = &household.fhir;
    // Bookable departments are those with doctors' roles (and so schedules).
    let roles: Vec<PractitionerRole> = resources::of_kind(
        &fhir
            .search("PractitionerRole", &[])
            .await
            .map_err(crate::unavailable)?,
        "PractitionerRole",
    );
    let staffed: std::collections::HashSet<&str> = roles
        .iter()
        .filter(|role| role.active != Some(false))
        .flat_map(|role| {
            role.healthcare_service
                .iter()
                .filter_map(|s| s.id_of("HealthcareService"))
        })
        .collect();
    let found = fhir
        .search("HealthcareService", &[])
        .await
        .map_err(crate::unavailable)?;
    let services: Vec<HealthcareService> = resources::of_kind(&found, "HealthcareService");
    let mut hospitals: HashMap<String, Option<Hospital>> = HashMap::new();
    let mut departments = Vec::new();
    for service in services {
        if service.active == Some(false) || !staffed.contains(service.id.as_str()) {
            continue;
        }
        let hospital = match service
            .provided_by
            .as_ref()
            .and_then(|r| r.id_of("Organization"))
        {
            Some(id) => match hospitals.get(id) {
                Some(known) => known.clone(),
                None => {
                    let read = hospital(fhir, id).await?;
                    hospitals.insert(id.to_owned(), read.clone());
                    read
                }
            },
            None => None,
        };
        departments.push(HospitalDepartment {
            name: service.name.unwrap_or_default(),
            id: service.id,
            hospital,
        });
    }
    departments.sort_by(|a, b| {
        let hospital = |d: &HospitalDepartment| d.hospital.as_ref().map(|h| h.name.clone());
        (hospital(a), &a.name).cmp(&(hospital(b), &b.name))
    });
    Ok(Json(Departments { departments }))
}

async fn hospital(fhir: &FhirClient, id: &str) -> Result<Option<Hospital>, ApiError> {
    match fhir
        .read_reference::<resources::Organization>("Organization", id)
        .await
    {
        Ok(organization) => Ok(Some(Hospital {
            name: organization.name.unwrap_or_default(),
            address: organization.address.first().map(|a| a.label()),
            id: organization.id,
        })),
        Err(FhirError::NotFound) => Ok(None),
        Err(error) => Err(crate::unavailable(error)),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SlotQuery {
    /// A department's id from `/v1/health/departments`.
    department: String,
    /// The day, in Việt Nam's time (`2026-12-08`): today or within 60 days.
    date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FreeSlots {
    department: String,
    date: NaiveDate,
    /// Free slots, earliest first, each with its doctor.
    slots: Vec<FreeSlot>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FreeSlot {
    /// For booking.
    id: String,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    doctor: Option<String>,
}

/// The free slots of a department's doctors on a day.
#[utoipa::path(get, path = "/v1/health/slots", operation_id = "list_free_slots", tag = "health", security(("bearer" = [])),
    params(SlotQuery),
    responses((status = 200, body = FreeSlots),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`department_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_date`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn slots(
    State(state): State<HealthState>,
    principal: Principal,
    QueryParams(query): QueryParams<SlotQuery>,
) -> Result<Json<FreeSlots>, ApiError> {
    let today = platform::vietnam_time::today();
    let last = today.checked_add_days(Days::new(MAX_DAYS_AHEAD));
    if query.date < today || last.is_some_and(|last| query.date > last) {
        return Err(HealthError::InvalidDate.into());
    }
    if !valid_id(&query.department) {
        return Err(HealthError::DepartmentNotFound.into());
    }
    let household = household_of(&state, &principal).await?;
    let fhir = &household.fhir;
    let service = format!("HealthcareService/{}", query.department);
    let found = fhir
        .search(
            "PractitionerRole",
            &[
                ("service", &service),
                ("_include", "PractitionerRole:practitioner"),
            ],
        )
        .await
        .map_err(crate::unavailable)?;
    let mut roles: Vec<PractitionerRole> = resources::of_kind(&found, "PractitionerRole");
    roles.retain(|role| role.active != Some(false));
    if roles.is_empty() {
        return Err(HealthError::DepartmentNotFound.into());
    }
    let practitioners: Vec<Practitioner> = resources::of_kind(&found, "Practitioner");
    let doctor_of_role: HashMap<String, String> = roles
        .iter()
        .filter_map(|role| {
            let id = role.practitioner.as_ref()?.id_of("Practitioner")?;
            let doctor = practitioners.iter().find(|p| p.id == id)?;
            Some((role.id.clone(), doctor.display_name()))
        })
        .collect();
    let actors: Vec<String> = roles
        .iter()
        .map(|r| format!("PractitionerRole/{}", r.id))
        .collect();
    let schedules: Vec<Schedule> = resources::of_kind(
        &fhir
            .search(
                "Schedule",
                &[("actor", &actors.join(",")), ("active", "true")],
            )
            .await
            .map_err(crate::unavailable)?,
        "Schedule",
    );
    if schedules.is_empty() {
        return Ok(Json(FreeSlots {
            department: query.department,
            date: query.date,
            slots: Vec::new(),
        }));
    }
    let doctor_of_schedule: HashMap<&str, &str> = schedules
        .iter()
        .filter_map(|schedule| {
            let doctor = schedule
                .actor
                .iter()
                .find_map(|a| a.id_of("PractitionerRole"))
                .and_then(|role| doctor_of_role.get(role))?;
            Some((schedule.id.as_str(), doctor.as_str()))
        })
        .collect();
    let ids: Vec<String> = schedules
        .iter()
        .map(|s| format!("Schedule/{}", s.id))
        .collect();
    let (from, to) = day_bounds(query.date);
    let found = fhir
        .search(
            "Slot",
            &[
                ("schedule", &ids.join(",")),
                ("status", "free"),
                ("start", &format!("ge{from}")),
                ("start", &format!("lt{to}")),
                ("_sort", "start"),
            ],
        )
        .await
        .map_err(crate::unavailable)?;
    let now = Utc::now();
    let mut slots: Vec<FreeSlot> = resources::of_kind::<Slot>(&found, "Slot")
        .into_iter()
        .filter(|slot| slot.status == "free")
        .filter_map(|slot| {
            let start = DateTime::parse_from_rfc3339(&slot.start).ok()?;
            let end = DateTime::parse_from_rfc3339(&slot.end).ok()?;
            let doctor = slot
                .schedule
                .id_of("Schedule")
                .and_then(|s| doctor_of_schedule.get(s))
                .map(|d| (*d).to_owned());
            (start > now).then(|| FreeSlot {
                id: slot.id,
                start: start.with_timezone(&VIETNAM),
                end: end.with_timezone(&VIETNAM),
                doctor,
            })
        })
        .collect();
    slots.sort_by_key(|s| s.start);
    Ok(Json(FreeSlots {
        department: query.department,
        date: query.date,
        slots,
    }))
}

/// The day's start and the next day's, in Việt Nam's time, as FHIR dateTimes.
fn day_bounds(date: NaiveDate) -> (String, String) {
    let next = date.succ_opt().unwrap_or(date);
    (
        format!("{date}T00:00:00+07:00"),
        format!("{next}T00:00:00+07:00"),
    )
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    /// A free slot's id from `/v1/health/slots`.
    slot: String,
    /// Whose appointment: a child's id from `/v1/health/people`; mine when absent.
    #[serde(default)]
    person: Option<String>,
}

/// An appointment booked through the app.
#[derive(Debug, Serialize, ToSchema)]
pub struct Appointment {
    id: Uuid,
    /// Whose appointment.
    person: AppointmentPerson,
    /// The queue number the hospital gave (số thứ tự), to show at its desk.
    queue_number: String,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    hospital: Option<String>,
    department: Option<String>,
    doctor: Option<String>,
    /// `booked` or `cancelled`.
    status: String,
    booked_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentPerson {
    id: String,
    name: String,
}

/// Books a slot for me or my child. Needs an `Idempotency-Key`: a retry books once and gets
/// the first answer again.
#[utoipa::path(post, path = "/v1/health/appointments", operation_id = "book_appointment", tag = "health", security(("bearer" = [])),
    request_body = BookingRequest,
    params(("Idempotency-Key" = String, Header, description = "Your own key for this booking; retries send the same")),
    responses((status = 201, body = Appointment),
        (status = 400, description = "`idempotency_key_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`verification_required`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`person_not_found`, `slot_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slot_taken`, `idempotency_key_in_use`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: nothing was booked", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn book(
    State(state): State<HealthState>,
    principal: Principal,
    IdempotencyKey(key): IdempotencyKey,
    JsonBody(request): JsonBody<BookingRequest>,
) -> Result<Response, ApiError> {
    let fingerprint = idempotency::fingerprint("POST /v1/health/appointments", &request)?;
    // Long enough for the hospital's answer to one booking's calls.
    let lease = Duration::from_millis(state.config.timeout_ms.saturating_mul(6) + 5_000);
    let booking_id = Uuid::new_v5(
        &BOOKING_NAMESPACE,
        format!("{}:{key}", principal.account_id).as_bytes(),
    );
    let pool = state.pool.clone();
    idempotency::once(
        &pool,
        principal.account_id,
        &key,
        &fingerprint,
        lease,
        || async {
            let appointment = make(&state, &principal, booking_id, &request).await?;
            Ok((StatusCode::CREATED, appointment))
        },
    )
    .await
}

async fn make(
    state: &HealthState,
    principal: &Principal,
    booking_id: Uuid,
    request: &BookingRequest,
) -> Result<Appointment, ApiError> {
    let household = household_of(state, principal).await?;
    let person = household.person(request.person.as_deref())?.clone();
    let fhir = &household.fhir;
    if !valid_id(&request.slot) {
        return Err(HealthError::SlotNotFound.into());
    }
    let slot: Slot = match fhir.read("Slot", &request.slot).await {
        Ok(slot) => slot,
        Err(FhirError::NotFound) => return Err(HealthError::SlotNotFound.into()),
        Err(error) => return Err(crate::unavailable(error)),
    };
    let (Ok(start), Ok(end)) = (
        DateTime::parse_from_rfc3339(&slot.start),
        DateTime::parse_from_rfc3339(&slot.end),
    ) else {
        return Err(crate::unavailable(FhirError::Unavailable(format!(
            "Slot/{} has no usable start and end",
            slot.id
        ))));
    };
    if start <= Utc::now() {
        return Err(HealthError::SlotNotFound.into());
    }
    let place = place_of(fhir, &slot).await?;
    let appointment = json!({
        "resourceType": "Appointment",
        "status": "booked",
        "identifier": [{ "system": BOOKING_SYSTEM, "value": booking_id.to_string() }],
        "slot": [{ "reference": format!("Slot/{}", slot.id) }],
        "start": slot.start,
        "end": slot.end,
        "serviceType": place.service_type,
        "participant": std::iter::once(json!({
            "actor": { "reference": format!("Patient/{}", person.id), "display": person.name },
            "required": "required",
            "status": "accepted",
        }))
        .chain(place.role.iter().map(|role| json!({
            "actor": { "reference": format!("PractitionerRole/{role}") },
            "required": "required",
            "status": "accepted",
        })))
        .collect::<Vec<_>>(),
    });
    let condition = format!("identifier={BOOKING_SYSTEM}|{booking_id}");
    let booked: BookedAppointment = match fhir.create("Appointment", &appointment, &condition).await
    {
        Ok(booked) => booked,
        Err(FhirError::Refused { status, .. }) if status == StatusCode::CONFLICT => {
            return Err(HealthError::SlotTaken.into());
        }
        Err(FhirError::Refused { status, outcome })
            if status == StatusCode::UNPROCESSABLE_ENTITY =>
        {
            // The hospital's rules refused it (the slot is past or closed, ...).
            tracing::info!(outcome, "the hospital refused a booking");
            return Err(HealthError::SlotTaken.into());
        }
        Err(error) => return Err(crate::unavailable(error)),
    };
    let queue_number = booked
        .identifier
        .iter()
        .find(|i| i.system.as_deref() == Some(QUEUE_NUMBER_SYSTEM))
        .and_then(|i| i.value.clone())
        .unwrap_or_default();
    let row = sqlx::query_as!(
        AppointmentRow,
        r#"INSERT INTO appointments
               (id, account_id, jurisdiction, patient_id, patient_name, fhir_id, slot_id,
                hospital, department, doctor, starts_at, ends_at, queue_number)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (id) DO UPDATE SET queue_number = EXCLUDED.queue_number
           RETURNING id, patient_id, patient_name, queue_number, starts_at, ends_at, hospital,
                     department, doctor, status, created_at, cancelled_at"#,
        booking_id,
        principal.account_id,
        household.jurisdiction,
        person.id,
        person.name,
        booked.id,
        slot.id,
        place.hospital,
        place.department,
        place.doctor,
        start.with_timezone(&Utc),
        end.with_timezone(&Utc),
        queue_number,
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(row.into())
}

/// What a slot is of: its schedule's doctor, department and hospital.
struct Place {
    role: Option<String>,
    doctor: Option<String>,
    department: Option<String>,
    hospital: Option<String>,
    service_type: serde_json::Value,
}

async fn place_of(fhir: &FhirClient, slot: &Slot) -> Result<Place, ApiError> {
    let mut place = Place {
        role: None,
        doctor: None,
        department: None,
        hospital: None,
        service_type: slot.service_type.clone(),
    };
    let Some(schedule) = slot.schedule.id_of("Schedule") else {
        return Ok(place);
    };
    let schedule: Schedule = fhir
        .read_reference("Schedule", schedule)
        .await
        .map_err(crate::unavailable)?;
    let Some(role_id) = schedule
        .actor
        .iter()
        .find_map(|a| a.id_of("PractitionerRole"))
    else {
        return Ok(place);
    };
    let role: PractitionerRole = fhir
        .read_reference("PractitionerRole", role_id)
        .await
        .map_err(crate::unavailable)?;
    place.role = Some(role.id.clone());
    if let Some(id) = role
        .practitioner
        .as_ref()
        .and_then(|p| p.id_of("Practitioner"))
    {
        let doctor: Practitioner = fhir
            .read_reference("Practitioner", id)
            .await
            .map_err(crate::unavailable)?;
        place.doctor = Some(doctor.display_name());
    }
    if let Some(id) = role
        .healthcare_service
        .iter()
        .find_map(|s| s.id_of("HealthcareService"))
    {
        let service: HealthcareService = fhir
            .read_reference("HealthcareService", id)
            .await
            .map_err(crate::unavailable)?;
        place.department = service.name;
    }
    if let Some(id) = role
        .organization
        .as_ref()
        .and_then(|o| o.id_of("Organization"))
    {
        place.hospital = hospital(fhir, id).await?.map(|h| h.name);
    }
    Ok(place)
}

/// My appointments and my children's booked through the app, latest first.
#[utoipa::path(get, path = "/v1/health/appointments", operation_id = "list_appointments", tag = "health", security(("bearer" = [])),
    responses((status = 200, body = Appointments)))]
pub async fn list(
    State(state): State<HealthState>,
    principal: Principal,
) -> Result<Json<Appointments>, ApiError> {
    let rows = sqlx::query_as!(
        AppointmentRow,
        r#"SELECT id, patient_id, patient_name, queue_number, starts_at, ends_at, hospital,
                  department, doctor, status, created_at, cancelled_at
           FROM appointments WHERE account_id = $1
           ORDER BY starts_at DESC LIMIT 100"#,
        principal.account_id
    )
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Appointments {
        appointments: rows.into_iter().map(Appointment::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Appointments {
    appointments: Vec<Appointment>,
}

/// Cancels an appointment of mine (or my child's) at the hospital, which frees its slot.
/// Cancelling one already cancelled answers it as it is.
#[utoipa::path(delete, path = "/v1/health/appointments/{id}", operation_id = "cancel_appointment", tag = "health", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Appointment),
        (status = 404, description = "`appointment_not_found`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`appointment_past`", body = platform::error::Problem, content_type = "application/problem+json"),
        (status = 503, description = "`upstream_unavailable`: nothing was cancelled", body = platform::error::Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    State(state): State<HealthState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> Result<Json<Appointment>, ApiError> {
    let row = sqlx::query!(
        r#"SELECT jurisdiction, fhir_id, status, starts_at FROM appointments
           WHERE id = $1 AND account_id = $2"#,
        id,
        principal.account_id
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or(HealthError::AppointmentNotFound)?;
    if row.status == "booked" {
        if row.starts_at <= Utc::now() {
            return Err(HealthError::AppointmentPast.into());
        }
        let fhir = state
            .systems
            .get(&row.jurisdiction)
            .ok_or(HealthError::NoHealthSystem)?;
        let patch = json!([{ "op": "replace", "path": "/status", "value": "cancelled" }]);
        match fhir.patch("Appointment", &row.fhir_id, &patch).await {
            // Gone at the hospital: nothing is held there any more.
            Ok(()) | Err(FhirError::NotFound) => {}
            Err(FhirError::Refused { outcome, .. }) => {
                // Already cancelled there, or attended: the hospital's word stands.
                tracing::info!(outcome, "the hospital refused a cancellation");
                return Err(HealthError::AppointmentPast.into());
            }
            Err(error) => return Err(crate::unavailable(error)),
        }
        sqlx::query!(
            "UPDATE appointments SET status = 'cancelled', cancelled_at = now()
             WHERE id = $1 AND status = 'booked'",
            id
        )
        .execute(&state.pool)
        .await?;
    }
    let row = sqlx::query_as!(
        AppointmentRow,
        r#"SELECT id, patient_id, patient_name, queue_number, starts_at, ends_at, hospital,
                  department, doctor, status, created_at, cancelled_at
           FROM appointments WHERE id = $1"#,
        id
    )
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(row.into()))
}

struct AppointmentRow {
    id: Uuid,
    patient_id: String,
    patient_name: String,
    queue_number: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    hospital: Option<String>,
    department: Option<String>,
    doctor: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    cancelled_at: Option<DateTime<Utc>>,
}

impl From<AppointmentRow> for Appointment {
    fn from(row: AppointmentRow) -> Self {
        Appointment {
            id: row.id,
            person: AppointmentPerson {
                id: row.patient_id,
                name: row.patient_name,
            },
            queue_number: row.queue_number,
            start: row.starts_at.with_timezone(&VIETNAM),
            end: row.ends_at.with_timezone(&VIETNAM),
            hospital: row.hospital,
            department: row.department,
            doctor: row.doctor,
            status: row.status,
            booked_at: row.created_at,
            cancelled_at: row.cancelled_at,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct HealthcareService {
    id: String,
    active: Option<bool>,
    name: Option<String>,
    provided_by: Option<Reference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PractitionerRole {
    id: String,
    active: Option<bool>,
    practitioner: Option<Reference>,
    organization: Option<Reference>,
    healthcare_service: Vec<Reference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Practitioner {
    id: String,
    name: Vec<HumanName>,
}

impl Practitioner {
    /// "BS. Trần Thị Minh Tâm": the name's prefix (title) and the name.
    fn display_name(&self) -> String {
        resources::name_of(&self.name)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Schedule {
    id: String,
    actor: Vec<Reference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Slot {
    id: String,
    schedule: Reference,
    status: String,
    start: String,
    end: String,
    /// Passed on to the appointment as it is.
    service_type: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BookedAppointment {
    id: String,
    identifier: Vec<resources::Identifier>,
}
