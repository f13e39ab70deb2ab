//! What the benchmarks share: a scratch database filled with reports spread over the demo
//! city's wards, over the past year, with histories (accepted, resolved, late, reopened, rated)
//! like a year of a city's reports.

use std::str::FromStr;
use std::time::Instant;

use anyhow::Context;
use h3o::Resolution;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reports::jurisdiction::{self, JurisdictionFile};
use reports::wards::WardIndex;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

/// The demo city's extent.
pub const SOUTH: f64 = 16.36;
pub const NORTH: f64 = 16.58;
pub const WEST: f64 = 107.48;
pub const EAST: f64 = 107.70;

/// A pool on `database` (created if missing) with the reports schema on its search path, and
/// whether it already holds `count` reports (a benchmark run again reuses them).
pub async fn scratch(
    admin_url: &str,
    database: &str,
    count: usize,
) -> anyhow::Result<(PgPool, bool)> {
    let admin = PgPool::connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&admin)
            .await?;
    if !exists {
        admin
            .execute(format!("CREATE DATABASE {database}").as_str())
            .await?;
    }
    let options = PgConnectOptions::from_str(admin_url)?
        .database(database)
        .options([("search_path", "reports")]);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    let filled: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    Ok((pool, filled == count as i64))
}

/// The demo city's wards, indexed.
pub fn demo_wards() -> anyhow::Result<(JurisdictionFile, WardIndex)> {
    let file: JurisdictionFile = serde_json::from_str(jurisdiction::DEMO_JURISDICTION)?;
    let wards = jurisdiction::parse_wards(jurisdiction::DEMO_WARDS)
        .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
    let index = WardIndex::build(
        file.id.clone(),
        1,
        wards.into_iter().map(|w| (w.id, w.boundary)).collect(),
    )?;
    Ok((file, index))
}

/// Migrates, imports the demo city, and writes `count` reports with COPY.
pub async fn fill(pool: &PgPool, count: usize) -> anyhow::Result<()> {
    pool.execute("DROP SCHEMA IF EXISTS reports CASCADE; CREATE SCHEMA reports")
        .await?;
    reports::MIGRATOR.run(pool).await?;
    reports::import(
        pool,
        jurisdiction::DEMO_JURISDICTION,
        Some(jurisdiction::DEMO_WARDS),
    )
    .await?;
    let (file, index) = demo_wards()?;
    let statuses = [
        "submitted",
        "accepted",
        "assigned",
        "in_progress",
        "reopened",
        "resolved",
        "resolved",
        "closed",
        "closed",
        "closed",
    ];
    let mut rng = StdRng::seed_from_u64(42);
    let started = Instant::now();
    let mut written = 0;
    while written < count {
        let batch = (count - written).min(50_000);
        let mut csv = String::with_capacity(batch * 450);
        let mut made = 0;
        while made < batch {
            let (lat, lng) = (rng.random_range(SOUTH..NORTH), rng.random_range(WEST..EAST));
            let Some(ward) = index.locate(lat, lng) else {
                continue;
            };
            let category = &file.categories[rng.random_range(0..file.categories.len())];
            let status = statuses[rng.random_range(0..statuses.len())];
            let anonymous = rng.random_bool(0.1);
            let (plat, plng) = if anonymous || category.sensitive {
                reports::coarsened(lat, lng).context("cell")?
            } else {
                (lat, lng)
            };
            let cell = |lat, lng, res| platform::geo::cell_at(lat, lng, res).context("cell");
            let days_ago = rng.random_range(0.0..365.0);
            // Hours to the first response and the first resolution, where they happened.
            let accepted = (status != "submitted").then(|| rng.random_range(0.5..48.0));
            let resolved = matches!(status, "resolved" | "closed" | "reopened")
                .then(|| accepted.unwrap_or(1.0) + rng.random_range(1.0..150.0));
            let rating = (status == "closed" && rng.random_bool(0.6))
                .then(|| rng.random_range(1..=5).to_string());
            let hours = |h: Option<f64>| h.map(|h| h.to_string()).unwrap_or_default();
            csv.push_str(&format!(
                "{},hue,{},{ward},{},{},{anonymous},{status},Bench report,{},{},{},{},{},{},{plat},{plng},{},{},false,{days_ago},{},{},{}\n",
                uuid::Uuid::new_v4(),
                category.code,
                category.department,
                uuid::Uuid::new_v4(),
                lat,
                lng,
                cell(lat, lng, Resolution::Nine)?,
                cell(lat, lng, Resolution::Seven)?,
                cell(lat, lng, Resolution::Fifteen)?,
                category.public,
                cell(plat, plng, Resolution::Nine)?,
                category.priority.as_str(),
                hours(accepted),
                hours(resolved),
                rating.unwrap_or_default(),
            ));
            made += 1;
        }
        // Ages in days and hours go to a staging table; the insert turns them into timestamps.
        let mut conn = pool.acquire().await?;
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staging (id uuid, jurisdiction_id text, category_code text, ward_id text,
                 department_id text, reporter_id uuid, anonymous boolean, status text, description text,
                 latitude float8, longitude float8, h3_res9 bigint, h3_res7 bigint, h3_res15 bigint,
                 public boolean, public_latitude float8, public_longitude float8, public_h3_res9 bigint,
                 priority text, urgent boolean, days_ago float8, accepted_hours float8,
                 resolved_hours float8, rating smallint); TRUNCATE staging",
        )
        .await?;
        let mut copy = conn
            .copy_in_raw("COPY staging FROM STDIN WITH (FORMAT csv)")
            .await?;
        copy.send(csv.as_bytes()).await?;
        copy.finish().await?;
        conn.execute(
            "INSERT INTO reports (id, jurisdiction_id, category_code, ward_id, department_id, reporter_id, anonymous,
                 status, description, latitude, longitude, h3_res9, h3_res7, h3_res15, public, public_latitude,
                 public_longitude, public_h3_res9, priority, urgent, created_at, sla_due_at, resolved_at,
                 accepted_at, first_resolved_at, overdue_at, reopen_count, rating)
             SELECT id, jurisdiction_id, category_code, ward_id, department_id, reporter_id, anonymous,
                 -- A resolution no one reopened within the week was closed then (reports' REOPEN_WINDOW_DAYS).
                 CASE WHEN status = 'resolved' AND resolved < now() - interval '7 days' THEN 'closed' ELSE status END,
                 description, latitude, longitude, h3_res9, h3_res7, h3_res15, public, public_latitude,
                 public_longitude, public_h3_res9, priority, urgent, created,
                 created + interval '72 hours',
                 CASE WHEN status IN ('resolved', 'closed') THEN resolved END,
                 created + make_interval(secs => accepted_hours * 3600),
                 resolved,
                 -- Late resolutions, and open reports past their deadline, were escalated then.
                 CASE WHEN resolved_hours > 72 OR (resolved_hours IS NULL AND created < now() - interval '72 hours')
                      THEN created + interval '72 hours' END,
                 CASE WHEN status = 'reopened' THEN 1 ELSE 0 END,
                 rating
             FROM (SELECT *, now() - make_interval(secs => days_ago * 86400) AS created,
                          now() - make_interval(secs => days_ago * 86400)
                              + make_interval(secs => resolved_hours * 3600) AS resolved
                   FROM staging) aged",
        )
        .await?;
        written += batch;
        println!(
            "{written} reports written ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
