//! Real-time departures from a GTFS Realtime feed of TripUpdates (protocol buffers, as the
//! reference's `gtfs-realtime.proto` defines them; only the fields used are declared, the
//! others are skipped as protobuf allows). A job reads each jurisdiction's feed, works out each
//! call's delay by the reference's propagation rules, and replaces the jurisdiction's
//! predictions whole; departures show them while the feed is fresh.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use platform::jobs::Jobs;
use platform::outbound::{Limits, OutboundClient};
use platform::vietnam_time::OFFSET;
use prost::Message;
use sqlx::PgConnection;

use crate::MobilityState;
use crate::config::MobilityConfig;

/// A feed older than this shows nothing: its predictions are no longer news.
pub const FRESH_FOR: Duration = Duration::from_secs(5 * 60);

/// The largest feed read (a city's buses fit in a few hundred kilobytes; a hostile feed of
/// empty entities decodes to about a hundred times its size).
const MAX_FEED_BYTES: usize = 2 * 1024 * 1024;

/// A feed stamped further ahead than this has a clock gone wrong.
const AHEAD: TimeDelta = TimeDelta::seconds(60);

/// The largest delay believed (either way): past it, an update is a mistake, not a bus.
const MAX_DELAY_SECS: i64 = 3 * 3600;

#[derive(Clone, PartialEq, Message)]
pub struct FeedMessage {
    #[prost(message, required, tag = "1")]
    pub header: FeedHeader,
    #[prost(message, repeated, tag = "2")]
    pub entity: Vec<FeedEntity>,
}

#[derive(Clone, PartialEq, Message)]
pub struct FeedHeader {
    #[prost(string, required, tag = "1")]
    pub gtfs_realtime_version: String,
    /// `FULL_DATASET` (0, the default) or `DIFFERENTIAL` (1).
    #[prost(int32, optional, tag = "2")]
    pub incrementality: Option<i32>,
    /// When the feed was made, in POSIX seconds.
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct FeedEntity {
    #[prost(string, required, tag = "1")]
    pub id: String,
    #[prost(bool, optional, tag = "2")]
    pub is_deleted: Option<bool>,
    #[prost(message, optional, tag = "3")]
    pub trip_update: Option<TripUpdate>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TripUpdate {
    #[prost(message, required, tag = "1")]
    pub trip: TripDescriptor,
    #[prost(message, repeated, tag = "2")]
    pub stop_time_update: Vec<StopTimeUpdate>,
    /// The whole trip's delay, where no call says otherwise.
    #[prost(int32, optional, tag = "5")]
    pub delay: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TripDescriptor {
    #[prost(string, optional, tag = "1")]
    pub trip_id: Option<String>,
    /// The service day, `YYYYMMDD`.
    #[prost(string, optional, tag = "3")]
    pub start_date: Option<String>,
    /// `SCHEDULED` (0), `ADDED` (1), `UNSCHEDULED` (2), `CANCELED` (3), `DELETED` (7), ...
    #[prost(int32, optional, tag = "4")]
    pub schedule_relationship: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StopTimeUpdate {
    #[prost(uint32, optional, tag = "1")]
    pub stop_sequence: Option<u32>,
    #[prost(message, optional, tag = "2")]
    pub arrival: Option<StopTimeEvent>,
    #[prost(message, optional, tag = "3")]
    pub departure: Option<StopTimeEvent>,
    #[prost(string, optional, tag = "4")]
    pub stop_id: Option<String>,
    /// `SCHEDULED` (0), `SKIPPED` (1), `NO_DATA` (2).
    #[prost(int32, optional, tag = "5")]
    pub schedule_relationship: Option<i32>,
}

#[derive(Clone, PartialEq, Message)]
pub struct StopTimeEvent {
    #[prost(int32, optional, tag = "1")]
    pub delay: Option<i32>,
    /// POSIX seconds.
    #[prost(int64, optional, tag = "2")]
    pub time: Option<i64>,
}

const TRIP_SCHEDULED: i32 = 0;
const TRIP_CANCELED: i32 = 3;
const TRIP_DELETED: i32 = 7;
const STOP_SKIPPED: i32 = 1;
const STOP_NO_DATA: i32 = 2;
const DIFFERENTIAL: i32 = 1;

/// A call of a trip, as the timetable has it.
#[derive(Debug, Clone)]
pub struct Call {
    pub stop_sequence: i32,
    pub stop_id: String,
    pub arrival_secs: Option<i32>,
    pub departure_secs: Option<i32>,
}

/// What the feed says of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prediction {
    /// Seconds later than the timetable (negative: earlier).
    Delay(i32),
    /// The bus will not call: its trip is cancelled, or it skips the stop. Riders see it so.
    Cancelled,
    /// The trip is deleted from the day's timetable: riders do not see it at all.
    Deleted,
}

/// Each call's prediction, by the reference's rules: a call's delay holds for the calls after
/// it until another update says otherwise; `NO_DATA` stops it; a skipped stop is skipped and
/// the delay goes on past it; a cancelled trip calls nowhere. Calls before the first update
/// have the trip's own delay, if it gives one. `midnight` is the service day's start, for
/// updates that give times rather than delays. Updates naming no call of the trip are
/// ignored. Only scheduled trips are predicted: a duplicated, added or replacement trip is
/// not the timetable's (its id would stand for another bus), so it says nothing here.
pub fn predict(
    update: &TripUpdate,
    calls: &[Call],
    midnight: DateTime<Utc>,
) -> Vec<(i32, Prediction)> {
    let whole_trip = match update.trip.schedule_relationship.unwrap_or(TRIP_SCHEDULED) {
        TRIP_SCHEDULED => None,
        TRIP_CANCELED => Some(Prediction::Cancelled),
        TRIP_DELETED => Some(Prediction::Deleted),
        _ => return Vec::new(),
    };
    if let Some(prediction) = whole_trip {
        return calls
            .iter()
            .map(|call| (call.stop_sequence, prediction))
            .collect();
    }
    // Each update's call: by its stop_sequence, else by its stop_id after the last one found.
    let mut updates: HashMap<usize, &StopTimeUpdate> = HashMap::new();
    let mut from = 0;
    for stop_update in &update.stop_time_update {
        let found = match (stop_update.stop_sequence, &stop_update.stop_id) {
            (Some(sequence), _) => calls
                .iter()
                .position(|c| i64::from(c.stop_sequence) == i64::from(sequence)),
            (None, Some(stop_id)) => calls[from..]
                .iter()
                .position(|c| &c.stop_id == stop_id)
                .map(|i| i + from),
            (None, None) => None,
        };
        if let Some(index) = found {
            updates.insert(index, stop_update);
            from = index + 1;
        }
    }
    let mut delay = update
        .delay
        .filter(|d| i64::from(*d).abs() <= MAX_DELAY_SECS);
    let mut predictions = Vec::new();
    for (index, call) in calls.iter().enumerate() {
        if let Some(stop_update) = updates.get(&index) {
            match stop_update.schedule_relationship.unwrap_or(0) {
                STOP_SKIPPED => {
                    predictions.push((call.stop_sequence, Prediction::Cancelled));
                    continue;
                }
                STOP_NO_DATA => delay = None,
                _ => {
                    let scheduled = |secs: Option<i32>| {
                        secs.map(|secs| midnight + TimeDelta::seconds(i64::from(secs)))
                    };
                    // The departure says when the bus leaves; an arrival alone stands for it.
                    let said = event_delay(
                        stop_update.departure.as_ref(),
                        scheduled(call.departure_secs),
                    )
                    .or_else(|| {
                        event_delay(stop_update.arrival.as_ref(), scheduled(call.arrival_secs))
                    });
                    if said.is_some() {
                        delay = said;
                    }
                }
            }
        }
        if let Some(delay) = delay {
            predictions.push((call.stop_sequence, Prediction::Delay(delay)));
        }
    }
    predictions
}

/// An event's delay: its time less the timetable's (the time wins where both are given), else
/// its delay; none past `MAX_DELAY_SECS`.
fn event_delay(event: Option<&StopTimeEvent>, scheduled: Option<DateTime<Utc>>) -> Option<i32> {
    let event = event?;
    let from_time = event
        .time
        .and_then(|time| DateTime::<Utc>::from_timestamp(time, 0))
        .zip(scheduled)
        .map(|(time, scheduled)| (time - scheduled).num_seconds());
    let delay = from_time.or(event.delay.map(i64::from))?;
    if delay.abs() > MAX_DELAY_SECS {
        return None;
    }
    i32::try_from(delay).ok()
}

/// The start of a service day in Vietnam (noon minus 12 h: midnight, with no summer time).
pub fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(OFFSET).single())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// Why a feed was not taken.
#[derive(Debug, thiserror::Error)]
pub enum FeedProblem {
    #[error("not a GTFS Realtime feed: {0}")]
    Undecodable(#[from] prost::DecodeError),
    #[error("GTFS Realtime version {0} is not 1.0 or 2.0")]
    Version(String),
    #[error("a DIFFERENTIAL feed: only FULL_DATASET feeds are read")]
    Differential,
    #[error("the feed was made at {0}, too long ago")]
    Stale(DateTime<Utc>),
    #[error("the feed says it was made at {0}, in the future")]
    Ahead(DateTime<Utc>),
    #[error("a version 2.0 feed without a timestamp")]
    NoTimestamp,
}

/// A feed, checked: its time and its trip updates.
pub fn read(
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Vec<TripUpdate>), FeedProblem> {
    let feed = FeedMessage::decode(bytes)?;
    let version = &feed.header.gtfs_realtime_version;
    if version != "1.0" && version != "2.0" {
        return Err(FeedProblem::Version(version.clone()));
    }
    if feed.header.incrementality == Some(DIFFERENTIAL) {
        return Err(FeedProblem::Differential);
    }
    // 2.0 requires the time; a 1.0 feed without one is taken as made now.
    let made = match feed.header.timestamp {
        Some(t) => i64::try_from(t)
            .ok()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .ok_or(FeedProblem::Ahead(DateTime::<Utc>::MAX_UTC))?,
        None if version == "2.0" => return Err(FeedProblem::NoTimestamp),
        None => now,
    };
    if made > now + AHEAD {
        return Err(FeedProblem::Ahead(made));
    }
    if now - made > TimeDelta::from_std(FRESH_FOR).unwrap_or_default() {
        return Err(FeedProblem::Stale(made));
    }
    let updates = feed
        .entity
        .into_iter()
        .filter(|entity| entity.is_deleted != Some(true))
        .filter_map(|entity| entity.trip_update)
        .collect();
    Ok((made, updates))
}

/// Reads each jurisdiction's feed every `realtime_poll_secs`, on one replica at a time: the
/// feeds at once, then each jurisdiction's predictions in a savepoint of its own, so that one
/// feed's trouble leaves the others'. A feed that answers with something unusable (stale,
/// ahead, not a feed) takes its jurisdiction's predictions away; one that does not answer
/// leaves them to age out.
pub fn start_polling(
    state: &MobilityState,
    config: &MobilityConfig,
    client: OutboundClient,
    jobs: &Jobs,
) {
    if config.trip_updates.is_empty() {
        return;
    }
    let feeds = config.trip_updates.clone();
    let every = Duration::from_secs(config.realtime_poll_secs.max(1));
    jobs.repeat_as_leader("mobility.trip_updates", every, state.pool.clone(), move |mut tx| {
        let (feeds, client) = (feeds.clone(), client.clone());
        async move {
            let client = &client;
            let fetches = feeds.iter().map(|(jurisdiction, url)| async move {
                (jurisdiction, fetch(client, url).await)
            });
            let fetched = futures::future::join_all(fetches).await;
            for (jurisdiction, answer) in fetched {
                let bytes = match answer {
                    Ok(bytes) => bytes,
                    Err(problem) => {
                        tracing::warn!(jurisdiction, %problem, "a real-time feed did not answer");
                        continue;
                    }
                };
                let read = read(&bytes, Utc::now());
                if let Err(problem) = &read {
                    tracing::warn!(jurisdiction, %problem, "a real-time feed not taken");
                }
                let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
                let stored = match &read {
                    Ok((made, updates)) => {
                        store(&mut savepoint, jurisdiction, *made, updates).await
                    }
                    Err(_) => forget(&mut savepoint, jurisdiction).await,
                };
                match stored {
                    Ok(()) => savepoint.commit().await?,
                    Err(error) => {
                        let error = format!("{error:#}");
                        tracing::error!(jurisdiction, error, "real-time predictions not stored");
                        savepoint.rollback().await?;
                    }
                }
            }
            Ok(tx)
        }
    });
}

/// Takes a jurisdiction's predictions away.
async fn forget(tx: &mut PgConnection, jurisdiction: &str) -> anyhow::Result<()> {
    sqlx::query!(
        "DELETE FROM realtime_feeds WHERE jurisdiction = $1",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The client real-time feeds are read with.
pub fn client(
    config: &MobilityConfig,
    plain_http: platform::outbound::PlainHttp,
) -> anyhow::Result<OutboundClient> {
    let client = OutboundClient::new(
        "GTFS Realtime feed",
        plain_http,
        Limits {
            timeout: Duration::from_millis(config.realtime_timeout_ms.max(1)),
            max_answer_bytes: MAX_FEED_BYTES,
            ..Limits::default()
        },
    )?;
    for (jurisdiction, url) in &config.trip_updates {
        client
            .check_url(url)
            .map_err(|e| anyhow::anyhow!("mobility.trip_updates.{jurisdiction}: {e}"))?;
    }
    Ok(client)
}

async fn fetch(client: &OutboundClient, url: &str) -> anyhow::Result<bytes::Bytes> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/x-protobuf")
        .body(http_body_util::Full::default())?;
    let answer = client.send(request).await?;
    if !answer.status.is_success() {
        anyhow::bail!("answered {}", answer.status);
    }
    Ok(answer.body)
}

/// Replaces the jurisdiction's predictions with those of `updates`. A trip is found by its
/// id; its service day is `start_date`, else the day (yesterday, today or tomorrow) on which it runs
/// nearest now. Trips the timetable does not have (added ones) are left out.
async fn store(
    tx: &mut PgConnection,
    jurisdiction: &str,
    made: DateTime<Utc>,
    updates: &[TripUpdate],
) -> anyhow::Result<()> {
    let trip_ids: Vec<String> = updates
        .iter()
        .filter_map(|u| u.trip.trip_id.clone())
        .collect();
    let rows = sqlx::query!(
        r#"SELECT t.trip_id, t.service_id, st.stop_sequence, st.stop_id, st.arrival_secs,
                  st.departure_secs
           FROM trips t
           JOIN stop_times st ON st.jurisdiction = t.jurisdiction AND st.trip_id = t.trip_id
           WHERE t.jurisdiction = $1 AND t.trip_id = ANY($2)
           ORDER BY t.trip_id, st.stop_sequence"#,
        jurisdiction,
        &trip_ids
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut trips: BTreeMap<String, (String, Vec<Call>)> = BTreeMap::new();
    for row in rows {
        trips
            .entry(row.trip_id)
            .or_insert_with(|| (row.service_id, Vec::new()))
            .1
            .push(Call {
                stop_sequence: row.stop_sequence,
                stop_id: row.stop_id,
                arrival_secs: row.arrival_secs,
                departure_secs: row.departure_secs,
            });
    }
    let now = Utc::now();
    let today = now.with_timezone(&OFFSET).date_naive();
    let running: Vec<(String, NaiveDate)> = sqlx::query!(
        r#"SELECT service_id, day FROM service_days
           WHERE jurisdiction = $1 AND day BETWEEN $2::date - 1 AND $2::date + 1"#,
        jurisdiction,
        today
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|row| (row.service_id, row.day))
    .collect();

    // Each call once: a trip the feed lists twice keeps its last entity.
    let mut predicted: BTreeMap<(String, NaiveDate, i32), Prediction> = BTreeMap::new();
    let mut unknown = 0;
    for update in updates {
        let Some((service_id, calls)) = update.trip.trip_id.as_ref().and_then(|id| trips.get(id))
        else {
            unknown += 1;
            continue;
        };
        let day = match update.trip.start_date.as_deref() {
            Some(date) => NaiveDate::parse_from_str(date, "%Y%m%d").ok(),
            None => service_day(service_id, calls, &running, now),
        };
        let Some(day) = day else {
            unknown += 1;
            continue;
        };
        let trip_id = update.trip.trip_id.clone().unwrap_or_default();
        for (sequence, prediction) in predict(update, calls, midnight(day)) {
            predicted.insert((trip_id.clone(), day, sequence), prediction);
        }
    }
    let (mut trip_col, mut day_col, mut sequence_col) = (Vec::new(), Vec::new(), Vec::new());
    let (mut delay_col, mut cancelled_col, mut deleted_col) = (Vec::new(), Vec::new(), Vec::new());
    for ((trip_id, day, sequence), prediction) in predicted {
        trip_col.push(trip_id);
        day_col.push(day);
        sequence_col.push(sequence);
        delay_col.push(match prediction {
            Prediction::Delay(delay) => Some(delay),
            Prediction::Cancelled | Prediction::Deleted => None,
        });
        cancelled_col.push(prediction == Prediction::Cancelled);
        deleted_col.push(prediction == Prediction::Deleted);
    }
    sqlx::query!(
        r#"INSERT INTO realtime_feeds (jurisdiction, feed_timestamp, fetched_at)
           VALUES ($1, $2, now())
           ON CONFLICT (jurisdiction) DO UPDATE
             SET feed_timestamp = EXCLUDED.feed_timestamp, fetched_at = now()"#,
        jurisdiction,
        made
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "DELETE FROM predictions WHERE jurisdiction = $1",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"INSERT INTO predictions (jurisdiction, trip_id, service_day, stop_sequence, delay_secs,
                                    cancelled, deleted)
           SELECT $1, trip_id, day, sequence, delay, cancelled, deleted
           FROM UNNEST($2::text[], $3::date[], $4::int[], $5::int[], $6::bool[], $7::bool[])
                AS u(trip_id, day, sequence, delay, cancelled, deleted)"#,
        jurisdiction,
        &trip_col,
        &day_col,
        &sequence_col,
        &delay_col as &[Option<i32>],
        &cancelled_col,
        &deleted_col
    )
    .execute(&mut *tx)
    .await?;
    if unknown > 0 {
        tracing::info!(
            jurisdiction,
            unknown,
            "real-time trips the timetable does not have"
        );
    }
    Ok(())
}

/// The day a trip named without `start_date` runs on: of yesterday, today and tomorrow, those its
/// service runs, the one whose trip is nearest now (yesterday's runs past midnight).
fn service_day(
    service_id: &str,
    calls: &[Call],
    running: &[(String, NaiveDate)],
    now: DateTime<Utc>,
) -> Option<NaiveDate> {
    let first = calls
        .iter()
        .find_map(|c| c.departure_secs.or(c.arrival_secs))?;
    let last = calls
        .iter()
        .rev()
        .find_map(|c| c.arrival_secs.or(c.departure_secs))?;
    running
        .iter()
        .filter(|(service, _)| service == service_id)
        .map(|(_, day)| *day)
        .min_by_key(|day| {
            let start = midnight(*day) + TimeDelta::seconds(i64::from(first));
            let end = midnight(*day) + TimeDelta::seconds(i64::from(last));
            if now < start {
                (start - now).num_seconds()
            } else if now > end {
                (now - end).num_seconds()
            } else {
                0
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls() -> Vec<Call> {
        (1..=5)
            .map(|i| Call {
                stop_sequence: i,
                stop_id: format!("S{i}"),
                arrival_secs: Some(8 * 3600 + i * 300),
                departure_secs: Some(8 * 3600 + i * 300 + 30),
            })
            .collect()
    }

    fn trip(relationship: Option<i32>, updates: Vec<StopTimeUpdate>) -> TripUpdate {
        TripUpdate {
            trip: TripDescriptor {
                trip_id: Some("T1".to_owned()),
                start_date: None,
                schedule_relationship: relationship,
            },
            stop_time_update: updates,
            delay: None,
        }
    }

    fn at_sequence(sequence: u32, delay: i32) -> StopTimeUpdate {
        StopTimeUpdate {
            stop_sequence: Some(sequence),
            departure: Some(StopTimeEvent {
                delay: Some(delay),
                time: None,
            }),
            ..StopTimeUpdate::default()
        }
    }

    fn day() -> DateTime<Utc> {
        midnight(NaiveDate::from_ymd_opt(2027, 3, 1).unwrap())
    }

    #[test]
    fn a_delay_holds_for_the_calls_after_it_until_another_says_otherwise() {
        let update = trip(None, vec![at_sequence(2, 120), at_sequence(4, 60)]);
        assert_eq!(
            predict(&update, &calls(), day()),
            [
                (2, Prediction::Delay(120)),
                (3, Prediction::Delay(120)),
                (4, Prediction::Delay(60)),
                (5, Prediction::Delay(60)),
            ],
            "nothing before the first update"
        );
    }

    #[test]
    fn no_data_stops_the_delay_and_a_skipped_stop_is_passed_by() {
        let no_data = StopTimeUpdate {
            stop_sequence: Some(3),
            schedule_relationship: Some(STOP_NO_DATA),
            ..StopTimeUpdate::default()
        };
        let skipped = StopTimeUpdate {
            stop_sequence: Some(2),
            schedule_relationship: Some(STOP_SKIPPED),
            ..StopTimeUpdate::default()
        };
        let update = trip(None, vec![at_sequence(1, 90), no_data]);
        assert_eq!(
            predict(&update, &calls(), day()),
            [(1, Prediction::Delay(90)), (2, Prediction::Delay(90))]
        );
        let update = trip(None, vec![at_sequence(1, 90), skipped]);
        assert_eq!(
            predict(&update, &calls(), day()),
            [
                (1, Prediction::Delay(90)),
                (2, Prediction::Cancelled),
                (3, Prediction::Delay(90)),
                (4, Prediction::Delay(90)),
                (5, Prediction::Delay(90)),
            ]
        );
    }

    #[test]
    fn a_time_is_a_delay_against_the_timetable_and_a_stop_id_finds_its_call() {
        // Stop S3 departs at 08:15:30 on the service day; the bus leaves at 08:18:30.
        let leaves = day() + TimeDelta::seconds(8 * 3600 + 18 * 60 + 30);
        let update = trip(
            None,
            vec![StopTimeUpdate {
                stop_id: Some("S3".to_owned()),
                arrival: Some(StopTimeEvent {
                    delay: None,
                    time: Some(leaves.timestamp() - 30),
                }),
                ..StopTimeUpdate::default()
            }],
        );
        assert_eq!(
            predict(&update, &calls(), day())[0],
            (3, Prediction::Delay(180)),
            "an arrival alone stands for the departure"
        );
    }

    #[test]
    fn a_cancelled_trip_calls_nowhere_and_a_trip_delay_fills_in() {
        let cancelled = trip(Some(TRIP_CANCELED), vec![at_sequence(2, 60)]);
        assert!(
            predict(&cancelled, &calls(), day())
                .iter()
                .all(|(_, p)| *p == Prediction::Cancelled)
        );
        let mut late = trip(None, vec![at_sequence(4, 30)]);
        late.delay = Some(300);
        let predicted = predict(&late, &calls(), day());
        assert_eq!(predicted[0], (1, Prediction::Delay(300)));
        assert_eq!(predicted[3], (4, Prediction::Delay(30)));
    }

    #[test]
    fn only_the_timetables_trips_are_predicted_and_deleted_ones_are_hidden() {
        let duplicated = trip(Some(6), vec![at_sequence(1, 60)]);
        assert_eq!(predict(&duplicated, &calls(), day()), []);
        let added = trip(Some(1), vec![at_sequence(1, 60)]);
        assert_eq!(predict(&added, &calls(), day()), []);
        let deleted = trip(Some(TRIP_DELETED), vec![]);
        assert!(
            predict(&deleted, &calls(), day())
                .iter()
                .all(|(_, p)| *p == Prediction::Deleted)
        );
    }

    #[test]
    fn a_time_wins_over_a_delay_and_a_delay_of_hours_is_a_mistake() {
        // S1 departs at 08:05:30; the update says 08:07:30 and, wrongly, a delay of 60.
        let leaves = day() + TimeDelta::seconds(8 * 3600 + 7 * 60 + 30);
        let both = StopTimeUpdate {
            stop_sequence: Some(1),
            departure: Some(StopTimeEvent {
                delay: Some(60),
                time: Some(leaves.timestamp()),
            }),
            ..StopTimeUpdate::default()
        };
        assert_eq!(
            predict(&trip(None, vec![both]), &calls(), day())[0],
            (1, Prediction::Delay(120))
        );
        let absurd = trip(None, vec![at_sequence(1, 4 * 3600)]);
        assert_eq!(predict(&absurd, &calls(), day()), []);
    }

    #[test]
    fn a_trip_without_a_start_date_runs_on_the_day_nearest_now() {
        let monday = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
        let sunday = monday.pred_opt().unwrap();
        let tuesday = monday.succ_opt().unwrap();
        let running = [
            ("WEEKDAY".to_owned(), monday),
            ("WEEKDAY".to_owned(), tuesday),
            ("WEEKEND".to_owned(), sunday),
        ];
        // The trip runs 08:05 to 08:25.
        let at = |day: NaiveDate, hours: i64| midnight(day) + TimeDelta::hours(hours);
        let during = at(monday, 8) + TimeDelta::minutes(10);
        assert_eq!(
            service_day("WEEKDAY", &calls(), &running, during),
            Some(monday)
        );
        // Late on Monday evening, Tuesday morning's run is nearer than Monday's.
        assert_eq!(
            service_day("WEEKDAY", &calls(), &running, at(monday, 23)),
            Some(tuesday)
        );
        assert_eq!(
            service_day("WEEKEND", &calls(), &running, during),
            Some(sunday)
        );
        assert_eq!(service_day("HOLIDAY", &calls(), &running, during), None);
    }

    #[test]
    fn only_fresh_full_feeds_are_read() {
        let now = Utc::now();
        let feed = |version: &str, incrementality, made: DateTime<Utc>| {
            FeedMessage {
                header: FeedHeader {
                    gtfs_realtime_version: version.to_owned(),
                    incrementality,
                    timestamp: Some(made.timestamp() as u64),
                },
                entity: vec![FeedEntity {
                    id: "1".to_owned(),
                    is_deleted: None,
                    trip_update: Some(trip(None, vec![at_sequence(1, 60)])),
                }],
            }
            .encode_to_vec()
        };
        let (made, updates) = read(&feed("2.0", None, now), now).unwrap();
        assert_eq!(made.timestamp(), now.timestamp());
        assert_eq!(updates.len(), 1);
        assert!(matches!(
            read(&feed("2.0", Some(DIFFERENTIAL), now), now),
            Err(FeedProblem::Differential)
        ));
        assert!(matches!(
            read(&feed("3.0", None, now), now),
            Err(FeedProblem::Version(_))
        ));
        let old = now - TimeDelta::minutes(10);
        assert!(matches!(
            read(&feed("2.0", None, old), now),
            Err(FeedProblem::Stale(_))
        ));
        assert!(matches!(
            read(&feed("2.0", None, now + TimeDelta::minutes(5)), now),
            Err(FeedProblem::Ahead(_))
        ));
        let mut unstamped = FeedMessage::decode(&feed("2.0", None, now)[..]).unwrap();
        unstamped.header.timestamp = None;
        assert!(matches!(
            read(&unstamped.encode_to_vec(), now),
            Err(FeedProblem::NoTimestamp)
        ));
        unstamped.header.gtfs_realtime_version = "1.0".to_owned();
        assert_eq!(read(&unstamped.encode_to_vec(), now).unwrap().0, now);
        assert!(matches!(
            read(b"<html>not a feed</html>", now),
            Err(FeedProblem::Undecodable(_))
        ));
    }
}
