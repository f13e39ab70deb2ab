//! Fills a scratch database (`--database`, default `citizen_ops_bench`) with `--reports`
//! reports (default 1,000,000) over the past year, for `load-tests/ops-bench`, which times the
//! KPI and heatmap endpoints on them through a running server, and `load-tests/filing-bench`,
//! which also asks for `--points FILE`: that many (`--point-count`) random positions inside the
//! demo city's wards, one `latitude longitude` per line, to file new reports at.
//!
//!   cargo run --release -p reports --example ops_bench -- --reports 1000000

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Executor;

#[path = "shared/mod.rs"]
mod shared;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut reports = 1_000_000;
    let mut database = "citizen_ops_bench".to_owned();
    let (mut points, mut point_count) = (None, 20_000);
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        match (flag.as_str(), given.next()) {
            ("--reports", Some(value)) => reports = value.parse()?,
            ("--database", Some(value)) => database = value,
            ("--points", Some(value)) => points = Some(value),
            ("--point-count", Some(value)) => point_count = value.parse()?,
            _ => anyhow::bail!(
                "usage: ops_bench [--reports N] [--database NAME] [--points FILE [--point-count N]]"
            ),
        }
    }
    if let Some(file) = points {
        std::fs::write(&file, points_in_wards(point_count)?)?;
    }
    let admin_url = std::env::var("ADMIN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let database = database.as_str();
    let (pool, reusable) = shared::scratch(&admin_url, database, reports).await?;
    if reusable {
        println!("reusing {reports} reports in {database}");
        return Ok(());
    }
    shared::fill(&pool, reports).await?;
    pool.execute("VACUUM ANALYZE reports").await?;
    println!("{reports} reports in {database}");
    Ok(())
}

/// `count` random positions inside the demo city's wards, one `latitude longitude` per line.
fn points_in_wards(count: usize) -> anyhow::Result<String> {
    let (_, index) = shared::demo_wards()?;
    let mut rng = StdRng::seed_from_u64(7);
    let mut lines = String::new();
    let mut made = 0;
    while made < count {
        let (lat, lng) = (
            rng.random_range(shared::SOUTH..shared::NORTH),
            rng.random_range(shared::WEST..shared::EAST),
        );
        if index.locate(lat, lng).is_some() {
            lines.push_str(&format!("{lat:.6} {lng:.6}\n"));
            made += 1;
        }
    }
    Ok(lines)
}
