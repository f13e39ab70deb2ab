//! One connection pool per service, bound to that service's own PostgreSQL schema through
//! `search_path`, with the service's migrations applied to that schema (each schema keeps its
//! own `_sqlx_migrations` table). Services never read each other's schemas.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::config::DatabaseConfig;

/// A service's schema, its pool and the migrations it expects.
#[derive(Clone, Debug)]
pub struct ServiceDb {
    schema: &'static str,
    pool: PgPool,
    migrator: &'static Migrator,
}

impl ServiceDb {
    /// Creates the schema if needed, opens a pool whose connections use it, and applies the
    /// service's migrations there.
    pub async fn connect(
        url: &SecretString,
        schema: &'static str,
        migrator: &'static Migrator,
        config: &DatabaseConfig,
    ) -> anyhow::Result<Self> {
        debug_assert!(
            schema.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "schema names are plain identifiers"
        );
        let options = PgConnectOptions::from_str(url.expose_secret())
            .context("the database URL is not a valid PostgreSQL URL")?
            .application_name(&format!("citizen-{schema}"))
            .log_statements(tracing::log::LevelFilter::Debug);

        let mut admin = PgConnection::connect_with(&options)
            .await
            .context("cannot connect to PostgreSQL")?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create schema {schema}"))?;
        admin.close().await.ok();

        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            .connect_with(options.options([("search_path", schema)]))
            .await
            .with_context(|| format!("cannot open the {schema} pool"))?;
        migrator
            .run(&pool)
            .await
            .with_context(|| format!("cannot apply the {schema} migrations"))?;
        tracing::info!(schema, "database ready");
        Ok(Self {
            schema,
            pool,
            migrator,
        })
    }

    pub fn schema(&self) -> &'static str {
        self.schema
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Ready when the database answers and every migration this build knows is applied.
    pub async fn check_ready(&self) -> Result<(), String> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| format!("database unreachable: {e}"))?;
        let missing = self
            .migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
            .count();
        if missing > 0 {
            return Err(format!("{missing} migrations not applied"));
        }
        Ok(())
    }
}
