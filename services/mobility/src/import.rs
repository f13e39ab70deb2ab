//! Imports a jurisdiction's GTFS Schedule feed whole (`citizen transit import feed.zip`): read
//! and checked by `gtfs`, then stored in one transaction that replaces the jurisdiction's
//! previous timetable, so riders see the old one or the new one, never half of each. A feed
//! with any problem is refused with every problem listed, and the old timetable stays.

use std::collections::BTreeSet;

use chrono::{Days, NaiveDate};
use h3o::Resolution;
use sqlx::PgPool;

use crate::gtfs::{self, Feed, LocationType, PickupDropOff};

/// Time zones a feed may give: its times are read in Vietnam's (UTC+7, no summer time).
const VIETNAM_TIME_ZONES: &[&str] = &["Asia/Ho_Chi_Minh", "Asia/Saigon"];
/// The days of service worked out, from the day before the import: three years. A feed runs
/// out sooner; a city imports a new one long before.
const MAX_SERVICE_DAYS: u64 = 3 * 366;
/// Rows per insert statement.
const CHUNK: usize = 10_000;

/// What an import did.
#[derive(Debug, PartialEq, Eq)]
pub enum Imported {
    /// The feed was stored, replacing the jurisdiction's previous one.
    Replaced {
        stops: usize,
        routes: usize,
        trips: usize,
        /// The last day of service worked out (the feed's last, or three years on).
        until: Option<NaiveDate>,
    },
    /// The jurisdiction already has exactly this feed.
    Unchanged,
}

/// Reads `feed` (a zip, or the files of one) and stores it as `jurisdiction`'s timetable.
pub async fn import(
    pool: &PgPool,
    jurisdiction: &str,
    feed: Source<'_>,
) -> anyhow::Result<Imported> {
    let limits = gtfs::Limits::default();
    let (read, digest) = match feed {
        Source::Zip(bytes) => (gtfs::read_zip(bytes, &limits), blake3::hash(bytes)),
        Source::Files(files) => {
            let mut hasher = blake3::Hasher::new();
            for (name, bytes) in files {
                hasher.update(name.as_bytes()).update(&[0]).update(bytes);
            }
            (gtfs::read_files(files, &limits), hasher.finalize())
        }
    };
    let feed = read.map_err(|problems| anyhow::anyhow!("the feed was refused:\n{problems}"))?;
    anyhow::ensure!(
        VIETNAM_TIME_ZONES.contains(&feed.timezone.as_str()),
        "the feed's times are in {}, not in Vietnam's (Asia/Ho_Chi_Minh)",
        feed.timezone
    );
    store(pool, jurisdiction, &feed, &digest.to_hex()).await
}

/// A feed as given.
pub enum Source<'a> {
    Zip(&'a [u8]),
    /// `(file name, bytes)`, as in the zip.
    Files(&'a [(&'a str, &'a [u8])]),
}

async fn store(
    pool: &PgPool,
    jurisdiction: &str,
    feed: &Feed,
    digest: &str,
) -> anyhow::Result<Imported> {
    let mut tx = pool.begin().await?;
    // Two imports of one jurisdiction at once: the second waits, then finds the first's.
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtext('mobility.import:' || $1))",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    let current = sqlx::query_scalar!(
        "SELECT digest FROM feeds WHERE jurisdiction = $1",
        jurisdiction
    )
    .fetch_optional(&mut *tx)
    .await?;
    if current.as_deref() == Some(digest) {
        return Ok(Imported::Unchanged);
    }
    // Everything of the old feed goes with its row.
    sqlx::query!("DELETE FROM feeds WHERE jurisdiction = $1", jurisdiction)
        .execute(&mut *tx)
        .await?;
    let agency = feed
        .agencies
        .first()
        .ok_or_else(|| anyhow::anyhow!("a feed without an agency passed the checks"))?;
    sqlx::query!(
        "INSERT INTO feeds (jurisdiction, agency_name, agency_url, digest) VALUES ($1, $2, $3, $4)",
        jurisdiction,
        agency.agency_name,
        agency.agency_url,
        digest
    )
    .execute(&mut *tx)
    .await?;

    // Passengers board at stops; stations only group them.
    let stops: Vec<&gtfs::Stop> = feed
        .stops
        .iter()
        .filter(|s| s.location_type == LocationType::Stop)
        .collect();
    for chunk in stops.chunks(CHUNK) {
        let mut columns = StopColumns::default();
        for stop in chunk {
            let (Some(lat), Some(lng)) = (stop.stop_lat, stop.stop_lon) else {
                anyhow::bail!("stop {} has no position", stop.stop_id);
            };
            let cell = platform::geo::cell_at(lat, lng, Resolution::Nine)
                .ok_or_else(|| anyhow::anyhow!("stop {} is not on the earth", stop.stop_id))?;
            columns.ids.push(stop.stop_id.clone());
            columns.codes.push(stop.stop_code.clone());
            columns
                .names
                .push(stop.stop_name.clone().unwrap_or_default());
            columns.lats.push(lat);
            columns.lngs.push(lng);
            columns.cells.push(cell);
        }
        sqlx::query!(
            r#"INSERT INTO stops (jurisdiction, stop_id, code, name, lat, lng, cell)
               SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::int8[])"#,
            jurisdiction,
            &columns.ids,
            &columns.codes as &[Option<String>],
            &columns.names,
            &columns.lats,
            &columns.lngs,
            &columns.cells
        )
        .execute(&mut *tx)
        .await?;
    }

    let order: Vec<i32> = (0..feed.routes.len() as i32).collect();
    sqlx::query!(
        r#"INSERT INTO routes (jurisdiction, route_id, short_name, long_name, route_type, color, text_color, sort_order)
           SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::int4[], $6::text[], $7::text[], $8::int4[])"#,
        jurisdiction,
        &feed.routes.iter().map(|r| r.route_id.clone()).collect::<Vec<_>>(),
        &feed.routes.iter().map(|r| r.route_short_name.clone()).collect::<Vec<_>>() as &[Option<String>],
        &feed.routes.iter().map(|r| r.route_long_name.clone()).collect::<Vec<_>>() as &[Option<String>],
        &feed.routes.iter().map(|r| i32::from(r.route_type)).collect::<Vec<_>>(),
        &feed.routes.iter().map(|r| r.route_color.clone()).collect::<Vec<_>>() as &[Option<String>],
        &feed.routes.iter().map(|r| r.route_text_color.clone()).collect::<Vec<_>>() as &[Option<String>],
        &order
    )
    .execute(&mut *tx)
    .await?;

    for chunk in feed.trips.chunks(CHUNK) {
        sqlx::query!(
            r#"INSERT INTO trips (jurisdiction, trip_id, route_id, service_id, headsign, direction)
               SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::int2[])"#,
            jurisdiction,
            &chunk.iter().map(|t| t.trip_id.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|t| t.route_id.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|t| t.service_id.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|t| t.trip_headsign.clone()).collect::<Vec<_>>() as &[Option<String>],
            &chunk.iter().map(|t| t.direction_id.map(i16::from)).collect::<Vec<_>>() as &[Option<i16>]
        )
        .execute(&mut *tx)
        .await?;
    }

    let seconds = |time: Option<u32>| time.map(|t| t as i32);
    for chunk in feed.stop_times.chunks(CHUNK) {
        sqlx::query!(
            r#"INSERT INTO stop_times (jurisdiction, trip_id, stop_sequence, stop_id, arrival_secs, departure_secs, boarding)
               SELECT $1, * FROM UNNEST($2::text[], $3::int4[], $4::text[], $5::int4[], $6::int4[], $7::bool[])"#,
            jurisdiction,
            &chunk.iter().map(|s| s.trip_id.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.stop_sequence as i32).collect::<Vec<_>>(),
            &chunk.iter().map(|s| s.stop_id.clone()).collect::<Vec<_>>(),
            &chunk.iter().map(|s| seconds(s.arrival_time)).collect::<Vec<_>>() as &[Option<i32>],
            &chunk.iter().map(|s| seconds(s.departure_time)).collect::<Vec<_>>() as &[Option<i32>],
            &chunk.iter().map(|s| s.pickup_type != PickupDropOff::NotAvailable).collect::<Vec<_>>()
        )
        .execute(&mut *tx)
        .await?;
    }

    // Where a route boards: as the departures are listed, not where its trips end.
    sqlx::query!(
        "INSERT INTO stop_routes (jurisdiction, stop_id, route_id)
         SELECT DISTINCT st.jurisdiction, st.stop_id, t.route_id
         FROM stop_times st JOIN trips t USING (jurisdiction, trip_id)
         WHERE st.jurisdiction = $1 AND st.boarding
           AND EXISTS (SELECT 1 FROM stop_times later
                       WHERE later.jurisdiction = st.jurisdiction AND later.trip_id = st.trip_id
                         AND later.stop_sequence > st.stop_sequence)",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;
    // Each direction of a route stands as its longest trip, the first by id among equals.
    sqlx::query!(
        "INSERT INTO route_directions (jurisdiction, route_id, direction, trip_id)
         SELECT DISTINCT ON (t.route_id, coalesce(t.direction, -1))
                t.jurisdiction, t.route_id, coalesce(t.direction, -1), t.trip_id
         FROM trips t JOIN stop_times st USING (jurisdiction, trip_id)
         WHERE t.jurisdiction = $1
         GROUP BY t.jurisdiction, t.route_id, t.direction, t.trip_id
         ORDER BY t.route_id, coalesce(t.direction, -1), count(*) DESC, t.trip_id",
        jurisdiction
    )
    .execute(&mut *tx)
    .await?;

    let from = chrono::Utc::now()
        .with_timezone(&platform::vietnam_time::OFFSET)
        .date_naive()
        .pred_opt()
        .unwrap_or(NaiveDate::MIN);
    let (services, days) = service_days(feed, from);
    sqlx::query!(
        "INSERT INTO service_days (jurisdiction, service_id, day)
         SELECT $1, * FROM UNNEST($2::text[], $3::date[])",
        jurisdiction,
        &services,
        &days
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Imported::Replaced {
        stops: stops.len(),
        routes: feed.routes.len(),
        trips: feed.trips.len(),
        until: days.last().copied(),
    })
}

#[derive(Default)]
struct StopColumns {
    ids: Vec<String>,
    codes: Vec<Option<String>>,
    names: Vec<String>,
    lats: Vec<f64>,
    lngs: Vec<f64>,
    cells: Vec<i64>,
}

/// Each day a service runs from `from` (or the feed's first day, if later) for at most
/// [`MAX_SERVICE_DAYS`], as (service ids, days) in day order.
fn service_days(feed: &Feed, from: NaiveDate) -> (Vec<String>, Vec<NaiveDate>) {
    let dates = feed
        .calendars
        .iter()
        .flat_map(|c| [c.start_date, c.end_date])
        .chain(feed.calendar_dates.iter().map(|d| d.date));
    let bounds: BTreeSet<NaiveDate> = dates.collect();
    let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
        return (Vec::new(), Vec::new());
    };
    let first = first.max(from);
    let last = last.min(first + Days::new(MAX_SERVICE_DAYS - 1));
    let (mut services, mut days) = (Vec::new(), Vec::new());
    for day in first.iter_days().take_while(|day| *day <= last) {
        let mut on_day: Vec<&str> = feed.services_on(day).into_iter().collect();
        on_day.sort_unstable();
        for service in on_day {
            services.push(service.to_owned());
            days.push(day);
        }
    }
    (services, days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tet_stops_the_weekday_buses_and_runs_the_weekend_timetable() {
        let feed = crate::demo_feed().unwrap();
        let (services, days) = service_days(&feed, "2026-12-06".parse().unwrap());
        let on = |date: &str| -> Vec<&str> {
            let date: NaiveDate = date.parse().unwrap();
            let mut on: Vec<&str> = services
                .iter()
                .zip(&days)
                .filter(|(_, d)| **d == date)
                .map(|(s, _)| s.as_str())
                .collect();
            on.sort_unstable();
            on
        };
        assert_eq!(on("2027-02-03"), ["DAILY", "WD"], "an ordinary Wednesday");
        assert_eq!(on("2027-02-06"), ["DAILY", "WE"], "a Saturday");
        assert_eq!(on("2027-02-08"), ["DAILY", "WE"], "Monday of Tết");
        assert_eq!(on("2027-09-02"), ["DAILY", "WE"], "National Day");
        assert!(on("2026-12-05").is_empty(), "before the import");
        assert_eq!(
            on("2026-12-06"),
            ["DAILY", "WE"],
            "the day before the import: a Sunday"
        );
    }

    #[test]
    fn a_long_feed_is_worked_out_from_the_import_on() {
        let feed = crate::demo_feed().unwrap();
        let from: NaiveDate = "2027-06-01".parse().unwrap();
        let (_, days) = service_days(&feed, from);
        assert_eq!(days.first(), Some(&from));
        let (_, days) = service_days(&feed, "2020-01-01".parse().unwrap());
        assert_eq!(
            days.first(),
            Some(&"2026-01-01".parse().unwrap()),
            "the feed's own first day when later"
        );
    }
}
