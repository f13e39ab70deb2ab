//! Fills the scratch database `citizen_ops_bench` with `--reports` reports (default 1,000,000)
//! over the past year, for `load-tests/ops-bench`, which times the KPI and heatmap endpoints on
//! them through a running server.
//!
//!   cargo run --release -p reports --example ops_bench -- --reports 1000000

use sqlx::Executor;

#[path = "shared/mod.rs"]
mod shared;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut reports = 1_000_000;
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        match (flag.as_str(), given.next()) {
            ("--reports", Some(value)) => reports = value.parse()?,
            _ => anyhow::bail!("usage: ops_bench [--reports N]"),
        }
    }
    let admin_url = std::env::var("ADMIN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let database = "citizen_ops_bench";
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
