//! One connection pool per service, bound to that service's own PostgreSQL schema through
//! `search_path`, with the service's migrations applied to that schema (each schema keeps its
//! own `_sqlx_migrations` table), then the tables of the shared mechanisms it uses (outbox,
//! inbox, Idempotency-Keys), which platform defines once for every schema. Services never read
//! each other's schemas.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::config::DatabaseConfig;
use crate::service::Service;

/// A service's schema, its pool and the migrations it expects.
#[derive(Clone, Debug)]
pub struct ServiceDb {
    schema: &'static str,
    pool: PgPool,
    migrator: &'static Migrator,
}

impl ServiceDb {
    /// Creates the schema if needed, opens a pool whose connections use it, applies the
    /// service's migrations there and makes the shared tables it uses.
    pub async fn connect(
        url: &SecretString,
        service: &Service,
        config: &DatabaseConfig,
    ) -> anyhow::Result<Self> {
        let (schema, migrator) = (service.schema, service.migrator);
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
        make_shared_tables(&pool, service)
            .await
            .with_context(|| format!("cannot make the shared tables of {schema}"))?;
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

/// The outbox a service writes its events to, in the transaction of the change they tell of;
/// the relay publishes them in `seq` order, woken by `NOTIFY <schema>_outbox`.
const OUTBOX: &str = r#"
CREATE TABLE IF NOT EXISTS outbox (
    id             uuid PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    aggregate_id   uuid NOT NULL,
    event_type     text NOT NULL,
    schema_version smallint NOT NULL DEFAULT 1,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished_seq ON outbox (seq) WHERE published_at IS NULL;
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{schema}_outbox', '');
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"#;

/// The events a consumer handled, so one delivered twice acts once.
const INBOX: &str = r#"
CREATE TABLE IF NOT EXISTS inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"#;

/// The first answer to each Idempotency-Key (`idempotency`): a key being worked on has a claim
/// and a lease and no answer yet; answers are replayed 24 hours, then pruned by `created_at`.
const IDEMPOTENCY_KEYS: &str = r#"
CREATE TABLE IF NOT EXISTS idempotency_keys (
    account_id      uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    claim_id        uuid,
    locked_until    timestamptz,
    response_status smallint,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
"#;

/// Makes the shared tables `service` uses in its schema, or leaves them be where they are
/// (schemas whose early migrations made them have this shape: a test compares them). Replicas
/// starting together take turns.
async fn make_shared_tables(pool: &PgPool, service: &Service) -> anyhow::Result<()> {
    let mut sql = String::new();
    if service.outbox {
        sql.push_str(&OUTBOX.replace("{schema}", service.schema));
    }
    if service.consumes_events {
        sql.push_str(INBOX);
    }
    if service.idempotency_keys {
        sql.push_str(IDEMPOTENCY_KEYS);
    }
    if sql.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(format!("{}.shared_tables", service.schema))
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(&sql).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
