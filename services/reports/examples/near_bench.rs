//! The near-me query against PostGIS, on the same rows and the same query points.
//!
//! Fills a scratch database with `--reports` reports (default 1,000,000) spread over the demo
//! city's wards, adds a PostGIS geography column with a GiST index over the same public
//! positions, then runs `--queries` random near-me queries (default 1,000) both ways,
//! interleaved, and prints the median and p99 latency of each and whether they returned the
//! same rows. Needs PostGIS (`load-tests/near-bench` installs Debian's package).
//!
//!   cargo run --release -p reports --example near_bench -- --reports 1000000 --radius 500

use std::time::{Duration, Instant};

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Executor, PgPool};

#[path = "shared/mod.rs"]
mod shared;

const OPEN: &[&str] = &[
    "submitted",
    "accepted",
    "assigned",
    "in_progress",
    "reopened",
];

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
    let (pool, reusable) = shared::scratch(&args.admin_url, database, args.reports).await?;
    if reusable {
        println!("reusing {} reports in {database}", args.reports);
    } else {
        fill(&pool, args.reports).await?;
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

/// The shared fill, then a PostGIS column with its GiST index over the same public positions.
async fn fill(pool: &PgPool, count: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    shared::fill(pool, count).await?;
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
