//! The outbox relay and both buses against a real PostgreSQL and the local NATS server: every
//! event arrives, in the order written per aggregate, a failed one comes again, and an event
//! delivered twice has one effect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform::config::{EventBackend, EventsConfig};
use platform::events::{self, Event, Handler, SharedBus};
use sqlx::{Connection, PgPool};
use uuid::Uuid;

const SCHEMA: &str = "relaytest";

/// A database of its own with a service's outbox and inbox, as the migrations make them.
async fn database() -> (PgPool, String, String) {
    let admin = std::env::var("TEST_ADMIN_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("citizen_events_{}", Uuid::new_v4().simple());
    let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut connection)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET search_path = relaytest")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    for statement in [
        "CREATE SCHEMA relaytest",
        "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregate_id uuid NOT NULL, event_type text NOT NULL,
            schema_version smallint NOT NULL DEFAULT 1, payload jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz,
            seq bigint GENERATED ALWAYS AS IDENTITY)",
        "CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_notify('relaytest_outbox', ''); RETURN NULL; END $$",
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()",
        "CREATE TABLE inbox (consumer text NOT NULL, event_id uuid NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id))",
        "CREATE TABLE effects (aggregate_id uuid NOT NULL, n integer NOT NULL)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    (pool, admin, name)
}

fn config(backend: EventBackend) -> EventsConfig {
    let unique = Uuid::new_v4().simple().to_string();
    EventsConfig {
        backend,
        nats_url: std::env::var("TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
        nats_stream: format!("TEST_{unique}"),
        nats_subject_prefix: format!("test.{unique}"),
        ..EventsConfig::default()
    }
}

/// A consumer that records each event's effect once (its inbox), and what order it saw; it
/// fails the first delivery of event `n == 5` of the first aggregate.
fn consumer(
    pool: PgPool,
    seen: Arc<Mutex<Vec<(Uuid, i64)>>>,
    fail_once: Arc<AtomicBool>,
) -> Handler {
    Arc::new(move |event: Event| {
        let (pool, seen, fail_once) = (pool.clone(), seen.clone(), fail_once.clone());
        Box::pin(async move {
            let n = event.payload["n"].as_i64().unwrap();
            if event.payload["fail_once"] == true && fail_once.swap(false, Ordering::SeqCst) {
                anyhow::bail!("the consumer's database blinked");
            }
            seen.lock().unwrap().push((event.aggregate_id, n));
            let mut tx = pool.begin().await?;
            if events::first_delivery(&mut tx, "counter", event.id).await? {
                sqlx::query("INSERT INTO effects (aggregate_id, n) VALUES ($1, $2)")
                    .bind(event.aggregate_id)
                    .bind(n as i32)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    })
}

async fn effects(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn every_event_arrives_once_in_order(backend: EventBackend) {
    let (pool, admin, name) = database().await;
    let jobs = platform::jobs::Jobs::new();
    let bus: SharedBus = events::connect(&config(backend), &jobs).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fail_once = Arc::new(AtomicBool::new(true));
    bus.subscribe(
        "counter",
        "thing.happened",
        consumer(pool.clone(), seen.clone(), fail_once.clone()),
    )
    .await
    .unwrap();

    let aggregates = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    for n in 0..10i64 {
        let mut tx = pool.begin().await.unwrap();
        for (i, aggregate) in aggregates.iter().enumerate() {
            sqlx::query(
                "INSERT INTO outbox (id, aggregate_id, event_type, payload) VALUES ($1, $2, 'thing.happened', $3)",
            )
            .bind(Uuid::now_v7())
            .bind(aggregate)
            .bind(serde_json::json!({ "n": n, "fail_once": i == 0 && n == 5 }))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    events::spawn_outbox_relay(
        pool.clone(),
        SCHEMA,
        bus.clone(),
        Duration::from_millis(100),
        &jobs,
    );

    for _ in 0..200 {
        if effects(&pool).await == 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(effects(&pool).await, 30, "every event arrived");
    assert!(
        !fail_once.load(Ordering::SeqCst),
        "the failure happened and was retried"
    );
    // The relay marks an event published after the bus took it, so a consumer may act first.
    let mut unpublished = -1i64;
    for _ in 0..100 {
        unpublished = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
        if unpublished == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(unpublished, 0);
    jobs.stop().await;
    if backend == EventBackend::InProcess {
        // The relay stops at a failed event, so the order holds even across the retry.
        let seen = seen.lock().unwrap().clone();
        for aggregate in aggregates {
            let order: Vec<i64> = seen
                .iter()
                .filter(|(a, _)| *a == aggregate)
                .map(|(_, n)| *n)
                .collect();
            let mut sorted = order.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(order, sorted, "in order, once each, for {aggregate}");
        }
    }

    // The same event again, as after a relay crash between publishing and marking it: no
    // second effect.
    let row: (Uuid, Uuid, serde_json::Value) =
        sqlx::query_as("SELECT id, aggregate_id, payload FROM outbox ORDER BY seq LIMIT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    let again = Event {
        id: row.0,
        source: SCHEMA.to_owned(),
        event_type: "thing.happened".to_owned(),
        aggregate_id: row.1,
        schema_version: 1,
        payload: row.2,
        occurred_at: chrono::Utc::now(),
    };
    bus.publish(&again).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(effects(&pool).await, 30, "a second delivery has no effect");

    // Published events are kept for a while, then pruned; unpublished ones never are.
    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(events::prune_outbox(&pool, week).await.unwrap(), 0);
    sqlx::query("UPDATE outbox SET published_at = now() - interval '8 days' WHERE seq <= 20")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE outbox SET published_at = NULL WHERE seq = 1")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(events::prune_outbox(&pool, week).await.unwrap(), 19);

    pool.close().await;
    let mut connection = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut connection)
        .await
        .unwrap();
}

#[tokio::test]
async fn in_process_every_event_arrives_once_in_order() {
    every_event_arrives_once_in_order(EventBackend::InProcess).await
}

#[tokio::test]
async fn nats_every_event_arrives_once() {
    every_event_arrives_once_in_order(EventBackend::Nats).await
}
