//! The near-me query against PostGIS, on the same rows and the same query points.
//!
//! Fills a scratch database with `--reports` reports (default 1,000,000) spread over the demo
//! city's wards, adds a PostGIS geography column with a GiST index over the same public
//! positions, then runs `--queries` random near-me queries (default 1,000) both ways,
//! interleaved, and prints the median and p99 latency of each and whether they returned the
//! same rows. Needs PostGIS (`load-tests/near-bench` installs Debian's package).
//!
//!   cargo run --release -p reports --example near_bench -- --reports 1000000 --radius 500

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use h3o::Resolution;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reports::jurisdiction::{self, JurisdictionFile};
use reports::wards::WardIndex;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool};

const OPEN: &[&str] = &[
    "submitted",
    "accepted",
    "assigned",
    "in_progress",
    "reopened",
];
/// The demo city's extent.
const SOUTH: f64 = 16.36;
const NORTH: f64 = 16.58;
const WEST: f64 = 107.48;
const EAST: f64 = 107.70;

struct Args {
    reports: usize,
    queries: usize,
    radius_m: f64,
    limit: i64,
    admin_url: String,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        reports: 1_000_000,
        queries: 1_000,
        radius_m: 500.0,
        limit: 50,
        admin_url: std::env::var("ADMIN_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--reports" => args.reports = value.parse()?,
            "--queries" => args.queries = value.parse()?,
            "--radius" => args.radius_m = value.parse()?,
            "--limit" => args.limit = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let database = "citizen_near_bench";
    let admin = PgPool::connect(&args.admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&admin)
            .await?;
    let options = PgConnectOptions::from_str(&args.admin_url)?
        .database(database)
        .options([("search_path", "reports")]);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(if exists {
            options.clone()
        } else {
            admin
                .execute(format!("CREATE DATABASE {database}").as_str())
                .await?;
            options.clone()
        })
        .await?;
    let filled: i64 = if exists {
        sqlx::query_scalar("SELECT count(*) FROM reports")
            .fetch_one(&pool)
            .await
            .unwrap_or(0)
    } else {
        0
    };
    if filled != args.reports as i64 {
        fill(&pool, args.reports).await?;
    } else {
        println!("reusing {filled} reports in {database}");
    }

    let mut rng = StdRng::seed_from_u64(7);
    let points: Vec<(f64, f64)> = (0..args.queries)
        .map(|_| {
            (
                rng.random_range(16.44..16.52),
                rng.random_range(107.54..107.64),
            )
        })
        .collect();
    // Warm both indexes and the caches, then time them interleaved.
    for &(lat, lng) in points.iter().take(100) {
        ours(&pool, lat, lng, &args).await?;
        postgis(&pool, lat, lng, &args).await?;
    }
    let (mut h3_times, mut gist_times) = (Vec::new(), Vec::new());
    let (mut same, mut rows) = (0usize, 0usize);
    for &(lat, lng) in &points {
        let started = Instant::now();
        let a = ours(&pool, lat, lng, &args).await?;
        h3_times.push(started.elapsed());
        let started = Instant::now();
        let b = postgis(&pool, lat, lng, &args).await?;
        gist_times.push(started.elapsed());
        rows += a.len();
        if agree(&a, &b, args.radius_m) {
            same += 1;
        } else {
            eprintln!(
                "differ at {lat},{lng}: h3 {} rows, postgis {} rows",
                a.len(),
                b.len()
            );
        }
    }
    println!(
        "{} reports, {} queries, radius {} m, limit {}, {:.1} rows per answer on average",
        args.reports,
        args.queries,
        args.radius_m,
        args.limit,
        rows as f64 / points.len() as f64
    );
    println!("H3 disk + B-tree:       {}", summary(&mut h3_times));
    println!("PostGIS ST_DWithin GiST: {}", summary(&mut gist_times));
    println!("same rows in {same} of {} queries", points.len());
    Ok(())
}

async fn ours(
    pool: &PgPool,
    lat: f64,
    lng: f64,
    args: &Args,
) -> anyhow::Result<Vec<(uuid::Uuid, f64)>> {
    Ok(reports::nearest_public(pool, lat, lng, args.radius_m, OPEN, args.limit).await?)
}

async fn postgis(
    pool: &PgPool,
    lat: f64,
    lng: f64,
    args: &Args,
) -> anyhow::Result<Vec<(uuid::Uuid, f64)>> {
    // On the sphere, as ours: the same distances to the millimetre.
    Ok(sqlx::query_as(
        r#"SELECT id, ST_Distance(public_geog, p, false) AS d
           FROM reports, (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS p) point
           WHERE public AND status = ANY($3) AND ST_DWithin(public_geog, p, $4, false)
           ORDER BY d, id LIMIT $5"#,
    )
    .bind(lat)
    .bind(lng)
    .bind(OPEN)
    .bind(args.radius_m)
    .bind(args.limit)
    .fetch_all(pool)
    .await?)
}

/// The same rows, except any whose distance is within a centimetre of the radius, where the two
/// spheres' radii (6371008.8 m and PostGIS's 6371008.771 m) may decide differently.
fn agree(a: &[(uuid::Uuid, f64)], b: &[(uuid::Uuid, f64)], radius: f64) -> bool {
    let firm = |rows: &[(uuid::Uuid, f64)]| -> Vec<uuid::Uuid> {
        rows.iter()
            .filter(|(_, d)| (radius - d).abs() > 0.01)
            .map(|(id, _)| *id)
            .collect()
    };
    firm(a) == firm(b)
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3
    )
}

/// Migrates, imports the demo city, and writes `count` reports with COPY.
async fn fill(pool: &PgPool, count: usize) -> anyhow::Result<()> {
    pool.execute("DROP SCHEMA IF EXISTS reports CASCADE; CREATE SCHEMA reports")
        .await?;
    reports::MIGRATOR.run(pool).await?;
    reports::import(
        pool,
        jurisdiction::DEMO_JURISDICTION,
        Some(jurisdiction::DEMO_WARDS),
    )
    .await?;
    let file: JurisdictionFile = serde_json::from_str(jurisdiction::DEMO_JURISDICTION)?;
    let wards = jurisdiction::parse_wards(jurisdiction::DEMO_WARDS)
        .map_err(|e| anyhow::anyhow!("{}", e.describe()))?;
    let index = WardIndex::build(
        file.id.clone(),
        1,
        wards.into_iter().map(|w| (w.id, w.boundary)).collect(),
    )?;
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
        let mut csv = String::with_capacity(batch * 400);
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
            let cell = |lat, lng, res| reports::cell_at(lat, lng, res).context("cell");
            let days_ago = rng.random_range(0.0..365.0);
            csv.push_str(&format!(
                "{},hue,{},{ward},{},{},{anonymous},{status},Bench report,{},{},{},{},{},{plat},{plng},{},{},false,{days_ago}\n",
                uuid::Uuid::new_v4(),
                category.code,
                category.department,
                uuid::Uuid::new_v4(),
                lat,
                lng,
                cell(lat, lng, Resolution::Nine)?,
                cell(lat, lng, Resolution::Seven)?,
                category.public,
                cell(plat, plng, Resolution::Nine)?,
                category.priority.as_str(),
            ));
            made += 1;
        }
        // Ages in days go to a staging table; the insert turns them into timestamps.
        let mut conn = pool.acquire().await?;
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS staging (id uuid, jurisdiction_id text, category_code text, ward_id text,
                 department_id text, reporter_id uuid, anonymous boolean, status text, description text,
                 latitude float8, longitude float8, h3_res9 bigint, h3_res7 bigint, public boolean,
                 public_latitude float8, public_longitude float8, public_h3_res9 bigint, priority text,
                 urgent boolean, days_ago float8); TRUNCATE staging",
        )
        .await?;
        let mut copy = conn
            .copy_in_raw("COPY staging FROM STDIN WITH (FORMAT csv)")
            .await?;
        copy.send(csv.as_bytes()).await?;
        copy.finish().await?;
        conn.execute(
            "INSERT INTO reports (id, jurisdiction_id, category_code, ward_id, department_id, reporter_id, anonymous,
                 status, description, latitude, longitude, h3_res9, h3_res7, public, public_latitude, public_longitude,
                 public_h3_res9, priority, urgent, created_at, sla_due_at, resolved_at)
             SELECT id, jurisdiction_id, category_code, ward_id, department_id, reporter_id, anonymous,
                 status, description, latitude, longitude, h3_res9, h3_res7, public, public_latitude, public_longitude,
                 public_h3_res9, priority, urgent, created,
                 created + interval '72 hours',
                 CASE WHEN status IN ('resolved', 'closed') THEN created + interval '24 hours' END
             FROM (SELECT *, now() - make_interval(secs => days_ago * 86400) AS created FROM staging) aged",
        )
        .await?;
        written += batch;
        println!(
            "{written} reports written ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    println!("adding the PostGIS column and its GiST index");
    pool.execute(
        "CREATE EXTENSION IF NOT EXISTS postgis;
         ALTER TABLE reports ADD COLUMN public_geog geography(Point, 4326);
         UPDATE reports SET public_geog = ST_SetSRID(ST_MakePoint(public_longitude, public_latitude), 4326)::geography;
         CREATE INDEX reports_public_geog ON reports USING gist (public_geog) WHERE public",
    )
    .await?;
    pool.execute("VACUUM ANALYZE reports").await?;
    println!("filled in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
