//! The places near-me answer on a city of `--places` places (default 100,000): fills a
//! scratch database with points spread over Huế (every layer alike, one in three with
//! opening hours), then answers `--queries` random near-me questions (default 1,000) at
//! `--radius` metres (default 1,000) exactly as `GET /v1/places` does (cells, nearest
//! candidates, exact distance, hours evaluated), and prints the median and p99 latency.
//!
//!   cargo run --release -p places --example near_bench -- --places 100000 --radius 1000

use std::time::{Duration, Instant};

use anyhow::Context;
use h3o::Resolution;
use platform::geo::cell_at;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::{Executor, PgPool};

/// Huế and its wards, roughly.
const LAT: (f64, f64) = (16.35, 16.60);
const LNG: (f64, f64) = (107.45, 107.75);
const LAYERS: [&str; 6] = [
    "toilets",
    "wifi",
    "parking",
    "motorbike_parking",
    "heritage",
    "camera",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (mut places, mut queries, mut radius) = (100_000usize, 1_000usize, 1_000.0f64);
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--places" => places = value.parse()?,
            "--queries" => queries = value.parse()?,
            "--radius" => radius = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    let admin = std::env::var("ADMIN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let database = "citizen_places_bench";
    let admin_pool = PgPool::connect(&admin).await?;
    admin_pool
        .execute(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)").as_str())
        .await?;
    admin_pool
        .execute(format!("CREATE DATABASE {database}").as_str())
        .await?;
    let url = format!(
        "{}/{database}?options=-c%20search_path%3Dplaces",
        admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base)
    );
    let pool = PgPool::connect(&url).await?;
    pool.execute("CREATE SCHEMA places").await?;
    places::MIGRATOR.run(&pool).await?;

    let mut rng = StdRng::seed_from_u64(7);
    let started = Instant::now();
    for chunk in (0..places).collect::<Vec<_>>().chunks(10_000) {
        let mut tx = pool.begin().await?;
        for &i in chunk {
            let (lat, lng) = (
                rng.random_range(LAT.0..LAT.1),
                rng.random_range(LNG.0..LNG.1),
            );
            let hours = (i % 3 == 0).then_some("Mo-Sa 07:00-21:00; Su 08:00-12:00; PH off");
            sqlx::query(
                "INSERT INTO places (id, jurisdiction, layer, name_vi, latitude, longitude, cell,
                                     coarse_cell, opening_hours, source)
                 VALUES ($1, 'hue', $2, $3, $4, $5, $6, $7, $8, 'bench')",
            )
            .bind(format!("bench-{i}"))
            .bind(LAYERS[i % LAYERS.len()])
            .bind(format!("Điểm {i}"))
            .bind(lat)
            .bind(lng)
            .bind(cell_at(lat, lng, Resolution::Nine))
            .bind(cell_at(lat, lng, Resolution::Seven))
            .bind(hours)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    pool.execute("ANALYZE places").await?;
    println!(
        "{places} places in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let hours = places::opening::Hours::vietnam(2025, 2030);
    let mut latencies = Vec::with_capacity(queries);
    let mut answered = 0;
    for i in 0..queries {
        let (lat, lng) = (
            rng.random_range(LAT.0..LAT.1),
            rng.random_range(LNG.0..LNG.1),
        );
        let layer = LAYERS[i % LAYERS.len()];
        let started = Instant::now();
        let found = places::near::nearest(&pool, &hours, layer, lat, lng, radius).await?;
        latencies.push(started.elapsed());
        answered += found.map_or(0, |f| f.len());
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{queries} near-me answers at {radius} m: median {:.2} ms, p99 {:.2} ms, {:.1} places each",
        ms(at(0.5)),
        ms(at(0.99)),
        answered as f64 / queries as f64
    );
    admin_pool
        .execute(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)").as_str())
        .await?;
    Ok(())
}
