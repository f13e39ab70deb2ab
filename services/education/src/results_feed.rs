//! Newly published results, told to the parents who linked the pupil: each school system is
//! asked on a schedule for the results modified since it was last asked (OneRoster's
//! `dateLastModified` filter), and each result of a linked pupil becomes an
//! `education.score_published` event per parent, once per version of the result.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use platform::events::types::ScorePublished;
use platform::jobs::{Jobs, lead};

use crate::EducationState;
use crate::oneroster::{Class, GradeResult, LineItem, OneRoster, RosterError, valid_id};
use crate::subjects;

/// Read again on every round, for results the school system saved with a clock behind ours or
/// committed late; what was told already is not told twice.
const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// How long a told result is remembered: well beyond the overlap.
const REMEMBER_TOLD: chrono::Duration = chrono::Duration::days(2);

pub fn start(state: EducationState, jobs: &Jobs) {
    let every = Duration::from_millis(state.config.results_poll_ms.max(100));
    jobs.repeat("education.results_feed", every, None, move || {
        let state = state.clone();
        async move {
            for (jurisdiction, system) in state.systems.iter() {
                if let Err(error) = poll(&state, jurisdiction, system).await {
                    tracing::warn!(jurisdiction, error = %format!("{error:#}"), "new results not read; tried again next round");
                }
            }
            Ok(false)
        }
    });
}

/// One round for one school system, by one replica.
async fn poll(
    state: &EducationState,
    jurisdiction: &str,
    system: &OneRoster,
) -> anyhow::Result<()> {
    let mut tx = state.pool.begin().await?;
    if !lead(&mut tx, &format!("education.results.{jurisdiction}")).await? {
        return Ok(());
    }
    let started = Utc::now();
    let read_until = sqlx::query_scalar!(
        "SELECT read_until FROM results_read WHERE jurisdiction = $1",
        jurisdiction
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(read_until) = read_until else {
        // The first round starts the feed now: the past was never news.
        remember(&mut tx, jurisdiction, started).await?;
        tx.commit().await?;
        return Ok(());
    };
    let since = (read_until - OVERLAP).to_rfc3339_opts(SecondsFormat::Millis, true);
    let results: Vec<GradeResult> = system
        .collection(
            "gradebook/v1p2/results",
            "results",
            &[("filter", &format!("dateLastModified>'{since}'"))],
        )
        .await?;
    let students: Vec<String> = results
        .iter()
        .map(|r| r.student.sourced_id.clone())
        .collect();
    let guardians = sqlx::query!(
        r#"SELECT account_id, student_id, student_name FROM guardianships
           WHERE jurisdiction = $1 AND student_id = ANY($2)"#,
        jurisdiction,
        &students
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut parents: HashMap<&str, Vec<(uuid::Uuid, &str)>> = HashMap::new();
    for row in &guardians {
        parents
            .entry(row.student_id.as_str())
            .or_default()
            .push((row.account_id, row.student_name.as_str()));
    }

    let mut described = Described::default();
    for result in results.iter().filter(|r| r.active()) {
        let Some(told) = parents.get(result.student.sourced_id.as_str()) else {
            continue;
        };
        let first = sqlx::query!(
            r#"INSERT INTO results_told (jurisdiction, result_id, modified_at) VALUES ($1, $2, $3)
               ON CONFLICT DO NOTHING"#,
            jurisdiction,
            result.sourced_id,
            result.date_last_modified
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            continue;
        }
        let Some((subject, assessment)) = described.of(system, result).await? else {
            continue;
        };
        for (account_id, student_name) in told {
            let event = ScorePublished {
                account_id: *account_id,
                student_id: result.student.sourced_id.clone(),
                student_name: (*student_name).to_owned(),
                subject_vi: subject.vi.clone(),
                subject_en: subject.en.clone(),
                assessment: assessment.clone(),
                score: result.score,
                text_score: result.text_score.clone(),
            };
            platform::events::enqueue(&mut tx, *account_id, &event).await?;
        }
    }
    remember(&mut tx, jurisdiction, latest(&results, started)).await?;
    sqlx::query!(
        "DELETE FROM results_told WHERE told_at < $1",
        started - REMEMBER_TOLD
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Where the next round starts: now, or the newest result read when the school system's clock
/// runs ahead of ours (so none of its later results can fall before it), but never further
/// ahead than the overlap: one result stamped years ahead must not hide every later one.
fn latest(results: &[GradeResult], now: DateTime<Utc>) -> DateTime<Utc> {
    results
        .iter()
        .map(|r| r.date_last_modified)
        .max()
        .map_or(now, |newest| newest.clamp(now, now + OVERLAP))
}

async fn remember(
    tx: &mut sqlx::PgConnection,
    jurisdiction: &str,
    until: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"INSERT INTO results_read (jurisdiction, read_until) VALUES ($1, $2)
           ON CONFLICT (jurisdiction) DO UPDATE SET read_until = EXCLUDED.read_until"#,
        jurisdiction,
        until
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The line items and classes of one round, each read once.
#[derive(Default)]
struct Described {
    line_items: HashMap<String, Option<LineItem>>,
    classes: HashMap<String, Option<Class>>,
}

impl Described {
    /// The subject and the assessment's title of a result; `None` when the school system no
    /// longer has its line item or class.
    async fn of(
        &mut self,
        system: &OneRoster,
        result: &GradeResult,
    ) -> Result<Option<(platform::text::Text, String)>, RosterError> {
        let item_id = &result.line_item.sourced_id;
        if !self.line_items.contains_key(item_id) {
            let item = read(
                system,
                &format!("gradebook/v1p2/lineItems/{item_id}"),
                "lineItem",
                item_id,
            )
            .await?;
            self.line_items.insert(item_id.clone(), item);
        }
        let Some(item) = self.line_items.get(item_id).cloned().flatten() else {
            return Ok(None);
        };
        let class_id = &item.class.sourced_id;
        if !self.classes.contains_key(class_id) {
            let class = read(
                system,
                &format!("rostering/v1p2/classes/{class_id}"),
                "class",
                class_id,
            )
            .await?;
            self.classes.insert(class_id.clone(), class);
        }
        let Some(class) = self.classes.get(class_id).cloned().flatten() else {
            return Ok(None);
        };
        let subject = subjects::name(
            class.subject_codes.first().map(String::as_str),
            class.subjects.first().unwrap_or(&class.title),
        );
        Ok(Some((subject, item.title)))
    }
}

async fn read<T: serde::de::DeserializeOwned>(
    system: &OneRoster,
    path: &str,
    key: &str,
    id: &str,
) -> Result<Option<T>, RosterError> {
    if !valid_id(id) {
        return Ok(None);
    }
    match system.object(path, key).await {
        Ok(object) => Ok(Some(object)),
        Err(RosterError::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}
