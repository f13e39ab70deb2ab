//! Vaccination reminders: once a day, each person an account follows (a child whose
//! vaccinations a parent opened) is checked against the national schedule and the hospital's
//! forecast, and the account is told, once per dose, of doses coming due within days or come
//! due lately (`health.vaccinations_due`, which notifications turns into a notice and a push).
//! A watch is claimed for the day before it is checked, so replicas share the work; a check
//! that fails is tried the next day, while the dose is still in the window.

use std::time::Duration;

use chrono::{Days, NaiveDate};
use platform::events::types::{DoseDue, VaccinationsDue};
use platform::jobs::Jobs;

use crate::HealthState;
use crate::fhir::FhirClient;
use crate::people::{Relationship, person};
use crate::resources::Patient;
use crate::schedule::DueStatus;
use crate::vaccinations::record;

/// Doses due within this many days are reminded of.
const AHEAD_DAYS: u64 = 3;
/// Doses come due up to this many days ago are reminded of too (a watch begun late).
const LATE_DAYS: u64 = 30;
/// Watches checked per round.
const BATCH: i64 = 20;

pub fn start(state: HealthState, jobs: &Jobs) {
    let every = Duration::from_millis(state.config.reminders_interval_ms.max(100));
    jobs.repeat("health.vaccination_reminders", every, None, move || {
        let state = state.clone();
        async move { round(&state).await }
    });
}

/// Checks the watches not checked today; `true` while more are waiting.
async fn round(state: &HealthState) -> anyhow::Result<bool> {
    let today = platform::vietnam_time::today();
    let claimed = sqlx::query!(
        r#"UPDATE vaccination_watches w SET checked_on = $1
           FROM (SELECT account_id, patient_id FROM vaccination_watches
                 WHERE checked_on IS NULL OR checked_on < $1
                 ORDER BY checked_on NULLS FIRST LIMIT $2
                 FOR UPDATE SKIP LOCKED) due
           WHERE w.account_id = due.account_id AND w.patient_id = due.patient_id
           RETURNING w.account_id, w.jurisdiction, w.patient_id, w.patient_name"#,
        today,
        BATCH
    )
    .fetch_all(&state.pool)
    .await?;
    for watch in &claimed {
        let Some(fhir) = state.systems.get(&watch.jurisdiction) else {
            continue;
        };
        let watched = Watched {
            account_id: watch.account_id,
            patient_id: &watch.patient_id,
            patient_name: &watch.patient_name,
        };
        if let Err(error) = remind(state, fhir, &watched, today).await {
            tracing::warn!(error = %format!("{error:#}"), "a vaccination check failed; tried again tomorrow");
        }
    }
    Ok(claimed.len() as i64 == BATCH)
}

struct Watched<'a> {
    account_id: uuid::Uuid,
    patient_id: &'a str,
    patient_name: &'a str,
}

async fn remind(
    state: &HealthState,
    fhir: &FhirClient,
    watched: &Watched<'_>,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let patient: Patient = fhir.read("Patient", watched.patient_id).await?;
    let subject = person(patient, Relationship::Child);
    let record = record(state, fhir, &subject).await?;
    let (Some(from), Some(to)) = (
        today.checked_sub_days(Days::new(LATE_DAYS)),
        today.checked_add_days(Days::new(AHEAD_DAYS)),
    ) else {
        return Ok(());
    };
    let window: Vec<_> = record
        .due
        .iter()
        .filter(|d| d.status != DueStatus::Missed && (from..=to).contains(&d.due_on))
        .filter_map(|d| Some((d.series.clone()?, d.dose?, d)))
        .collect();
    if window.is_empty() {
        return Ok(());
    }
    let mut tx = state.pool.begin().await?;
    let mut doses = Vec::new();
    for (series, dose, due) in window {
        let first = sqlx::query!(
            r#"INSERT INTO vaccination_reminders (account_id, patient_id, series, dose, due_on)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"#,
            watched.account_id,
            watched.patient_id,
            series,
            dose as i32,
            due.due_on
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if first {
            doses.push(DoseDue {
                series,
                dose,
                vaccine_vi: due.vaccine.vi.clone(),
                vaccine_en: due.vaccine.en.clone(),
                due_on: due.due_on,
            });
        }
    }
    if !doses.is_empty() {
        let due = VaccinationsDue {
            account_id: watched.account_id,
            patient_id: watched.patient_id.to_owned(),
            patient_name: watched.patient_name.to_owned(),
            doses,
        };
        platform::events::enqueue(&mut tx, watched.account_id, &due).await?;
    }
    tx.commit().await?;
    Ok(())
}
