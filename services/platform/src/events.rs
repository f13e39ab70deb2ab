//! Events between services: a service writes them to its `outbox` table in the transaction
//! that makes the change, a relay publishes them to the bus in order, and consumers receive each
//! at least once and keep an `inbox` of the ones they handled, so a second delivery has no
//! second effect.
//!
//! Two buses behind one trait: in-process (the embedded default, for everything in one process)
//! and NATS JetStream (durable consumers, explicit acks, redelivery with backoff, a dead-letter
//! subject), which a split deployment needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::config::{EventBackend, EventsConfig};
use crate::jobs::Jobs;

/// Something that happened, as another service learns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique: consumers deduplicate by it.
    pub id: Uuid,
    /// The service that wrote it (its schema name).
    pub source: String,
    /// `account.erased`, `report.status_changed`, ...
    pub event_type: String,
    /// The thing it is about; events of one aggregate are published in the order written.
    pub aggregate_id: Uuid,
    /// The version of the payload's shape for this `event_type`; a breaking change bumps it.
    #[serde(default = "first_schema_version")]
    pub schema_version: i16,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

fn first_schema_version() -> i16 {
    1
}

impl Event {
    /// The payload as the type it was written as; an error for an event of another type or a
    /// payload of another shape (the consumer has it delivered again, then dead-lettered).
    pub fn decode<E: EventType>(&self) -> anyhow::Result<E> {
        anyhow::ensure!(
            self.event_type == E::NAME,
            "a {} event read as {}",
            self.event_type,
            E::NAME
        );
        E::deserialize(&self.payload)
            .with_context(|| format!("a {} event of another shape", E::NAME))
    }
}

pub mod types;

use types::EventType;

/// What a consumer does with an event: `Ok` once handled, `Err` to have it delivered again.
pub type Handler = Arc<dyn Fn(Event) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Hands the event to the bus; once this returns `Ok` the bus owns its delivery.
    async fn publish(&self, event: &Event) -> anyhow::Result<()>;
    /// Delivers every event of `event_type` to `handler` under the durable name `consumer`.
    async fn subscribe(
        &self,
        consumer: &str,
        event_type: &str,
        handler: Handler,
    ) -> anyhow::Result<()>;
}

pub type SharedBus = Arc<dyn EventBus>;

/// The bus the configuration names; its consumers run under `jobs`.
pub async fn connect(config: &EventsConfig, jobs: &Jobs) -> anyhow::Result<SharedBus> {
    Ok(match config.backend {
        EventBackend::InProcess => Arc::new(InProcessBus::new(config.max_deliveries)),
        EventBackend::Nats => Arc::new(NatsBus::connect(config, jobs.clone()).await?),
    })
}

/// Writes an event to the service's `outbox`, within the transaction of the change it tells of;
/// the outbox relay publishes it once that commits.
pub async fn enqueue<E: EventType>(
    tx: &mut PgConnection,
    aggregate_id: Uuid,
    event: &E,
) -> sqlx::Result<()> {
    let payload = serde_json::to_value(event).map_err(|error| sqlx::Error::Encode(error.into()))?;
    sqlx::query(
        "INSERT INTO outbox (id, aggregate_id, event_type, payload) VALUES ($1, $2, $3, $4)",
    )
    .bind(Uuid::now_v7())
    .bind(aggregate_id)
    .bind(E::NAME)
    .bind(payload)
    .execute(tx)
    .await?;
    Ok(())
}

/// Marks the event handled by `consumer` in the consumer's `inbox`, within the transaction that
/// handles it; `false` when it was handled before and must be skipped.
pub async fn first_delivery(
    tx: &mut PgConnection,
    consumer: &str,
    event_id: Uuid,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// What a service forgets of an erased account, inside the transaction that records the
/// delivery: a plain function, as `fn forget(tx, account) -> BoxFuture<..> { Box::pin(..) }`.
pub type Forget = for<'c> fn(&'c mut PgConnection, Uuid) -> BoxFuture<'c, anyhow::Result<()>>;

/// Subscribes `consumer` to identity's `account.erased`: `forget` runs once per erasure (a
/// redelivery finds it done), in one transaction with the record of its delivery.
pub async fn forget_erased_accounts(
    bus: &SharedBus,
    consumer: &'static str,
    pool: PgPool,
    forget: Forget,
) -> anyhow::Result<()> {
    let handler: Handler = Arc::new(move |event: Event| {
        let pool = pool.clone();
        Box::pin(async move {
            let account = event.decode::<types::AccountErased>()?.account_id;
            let mut tx = pool.begin().await?;
            if first_delivery(&mut tx, consumer, event.id).await? {
                forget(&mut tx, account).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    });
    bus.subscribe(consumer, types::AccountErased::NAME, handler)
        .await
}

struct Subscription {
    consumer: String,
    event_type: String,
    handler: Handler,
}

/// Calls the subscribers in the publisher's task: an event is published only once every
/// subscriber handled it, so the outbox keeps it (and retries) until then. An event one
/// subscriber keeps failing is given up for it after `max_deliveries`, logged as a dead letter.
pub struct InProcessBus {
    subscriptions: RwLock<Vec<Arc<Subscription>>>,
    failures: Mutex<HashMap<(String, Uuid), i64>>,
    max_deliveries: i64,
}

impl InProcessBus {
    pub fn new(max_deliveries: i64) -> Self {
        Self {
            subscriptions: RwLock::new(Vec::new()),
            failures: Mutex::new(HashMap::new()),
            max_deliveries: max_deliveries.max(1),
        }
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        let subscribers: Vec<Arc<Subscription>> = self
            .subscriptions
            .read()
            .map_err(|_| anyhow::anyhow!("subscriptions poisoned"))?
            .iter()
            .filter(|s| s.event_type == event.event_type)
            .cloned()
            .collect();
        for subscriber in subscribers {
            let key = (subscriber.consumer.clone(), event.id);
            let outcome = (subscriber.handler)(event.clone()).await;
            let mut failures = self
                .failures
                .lock()
                .map_err(|_| anyhow::anyhow!("failures poisoned"))?;
            if let Err(error) = outcome {
                let count = failures.entry(key.clone()).or_insert(0);
                *count += 1;
                if *count < self.max_deliveries {
                    return Err(error.context(format!("{} failed", subscriber.consumer)));
                }
                failures.remove(&key);
                tracing::error!(consumer = %subscriber.consumer, event = %event.id,
                    event_type = %event.event_type, error = %format!("{error:#}"),
                    "event given up after repeated failures (dead letter)");
            } else {
                // Only failing events are counted, and only until they pass.
                failures.remove(&key);
            }
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        consumer: &str,
        event_type: &str,
        handler: Handler,
    ) -> anyhow::Result<()> {
        self.subscriptions
            .write()
            .map_err(|_| anyhow::anyhow!("subscriptions poisoned"))?
            .push(Arc::new(Subscription {
                consumer: consumer.to_owned(),
                event_type: event_type.to_owned(),
                handler,
            }));
        Ok(())
    }
}

/// NATS JetStream: one stream for every event, declared at start; a durable pull consumer per
/// subscriber and event type; explicit acks; a failed event comes back after a growing delay,
/// and after `max_deliveries` goes to `<prefix>.dead.<consumer>`.
pub struct NatsBus {
    jetstream: jetstream::Context,
    stream: String,
    prefix: String,
    max_deliveries: i64,
    /// Where the consumers run.
    jobs: Jobs,
}

impl NatsBus {
    pub async fn connect(config: &EventsConfig, jobs: Jobs) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(&config.nats_url)
            .await
            .with_context(|| format!("cannot reach NATS at {}", config.nats_url))?;
        let jetstream = jetstream::new(client);
        jetstream
            .get_or_create_stream(stream::Config {
                name: config.nats_stream.clone(),
                subjects: vec![format!("{}.>", config.nats_subject_prefix)],
                storage: stream::StorageType::File,
                // A relay that publishes again after a crash is deduplicated by event id.
                duplicate_window: Duration::from_secs(600),
                max_age: Duration::from_secs(14 * 24 * 3600),
                ..Default::default()
            })
            .await
            .map_err(|error| anyhow::anyhow!("cannot declare stream: {error}"))?;
        Ok(Self {
            jetstream,
            stream: config.nats_stream.clone(),
            prefix: config.nats_subject_prefix.clone(),
            max_deliveries: config.max_deliveries.max(1),
            jobs,
        })
    }
}

#[async_trait]
impl EventBus for NatsBus {
    async fn publish(&self, event: &Event) -> anyhow::Result<()> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.id.to_string().as_str());
        let subject = format!("{}.{}", self.prefix, event.event_type);
        self.jetstream
            .publish_with_headers(subject, headers, serde_json::to_vec(event)?.into())
            .await
            .map_err(|error| anyhow::anyhow!("publish failed: {error}"))?
            .await
            .map_err(|error| anyhow::anyhow!("publish not acknowledged: {error}"))?;
        Ok(())
    }

    async fn subscribe(
        &self,
        consumer: &str,
        event_type: &str,
        handler: Handler,
    ) -> anyhow::Result<()> {
        let durable = format!("{consumer}_{}", event_type.replace('.', "_"));
        let stream = self
            .jetstream
            .get_stream(&self.stream)
            .await
            .map_err(|error| anyhow::anyhow!("no stream {}: {error}", self.stream))?;
        let pull = stream
            .get_or_create_consumer(
                &durable,
                pull::Config {
                    durable_name: Some(durable.clone()),
                    filter_subject: format!("{}.{event_type}", self.prefix),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(60),
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| anyhow::anyhow!("cannot declare consumer {durable}: {error}"))?;
        let dead_letters = format!("{}.dead.{consumer}", self.prefix);
        let jetstream = self.jetstream.clone();
        let max_deliveries = self.max_deliveries;
        let jobs = self.jobs.clone();
        self.jobs.spawn("event consumer", async move {
            loop {
                let mut messages = match pull.messages().await {
                    Ok(messages) => messages,
                    Err(error) => {
                        tracing::warn!(consumer = %durable, %error, "cannot consume; retrying");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                        continue;
                    }
                };
                while let Some(message) = messages.next().await {
                    let Ok(message) = message else { break };
                    // Handled and acknowledged to the end, stop or not: a stop between the two
                    // would leave the event to come again only after `ack_wait`.
                    let (handler, jetstream) = (handler.clone(), jetstream.clone());
                    let (consumer, dead_letters) = (durable.clone(), dead_letters.clone());
                    let ack = jobs
                        .uninterrupted(async move {
                            let delivered = message.info().map_or(1, |info| info.delivered);
                            let outcome = match serde_json::from_slice::<Event>(&message.payload) {
                                Ok(event) => handler(event).await,
                                Err(error) => {
                                    Err(anyhow::Error::new(error).context("not an event"))
                                }
                            };
                            match outcome {
                                Ok(()) => message.ack().await,
                                Err(error) if delivered >= max_deliveries => {
                                    tracing::error!(%consumer, delivered, error = %format!("{error:#}"),
                                        "event moved to the dead-letter subject");
                                    match jetstream
                                        .publish(dead_letters, message.payload.clone())
                                        .await
                                    {
                                        Ok(_) => message.ack_with(AckKind::Term).await,
                                        Err(_) => message.ack_with(AckKind::Nak(None)).await,
                                    }
                                }
                                Err(error) => {
                                    tracing::warn!(%consumer, delivered, error = %format!("{error:#}"),
                                        "event failed; it will be delivered again");
                                    let delay = Duration::from_secs(1 << delivered.clamp(0, 6));
                                    message.ack_with(AckKind::Nak(Some(delay))).await
                                }
                            }
                        })
                        .await;
                    if let Err(error) = ack {
                        tracing::warn!(consumer = %durable, %error, "ack failed; the event may come again");
                    }
                }
            }
        });
        Ok(())
    }
}

const RELAY_BATCH: i64 = 200;
/// Published events are kept a week (to trace what happened), then deleted, hourly.
const PUBLISHED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Publishes a service's outbox for as long as the process runs: woken by the table's
/// `NOTIFY <schema>_outbox`, polling as a fallback. One replica at a time holds the batch (an
/// advisory lock), so events leave in the order they were written.
pub fn spawn_outbox_relay(
    pool: PgPool,
    schema: &'static str,
    bus: SharedBus,
    poll: Duration,
    jobs: &Jobs,
) {
    jobs.spawn("outbox relay", async move {
        let channel = format!("{schema}_outbox");
        let mut listener = None;
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                match prune_outbox(&pool, PUBLISHED_RETENTION).await {
                    Ok(0) => {}
                    Ok(deleted) => tracing::info!(schema, deleted, "published events pruned"),
                    Err(error) => {
                        tracing::warn!(schema, error = %format!("{error:#}"), "outbox pruning failed")
                    }
                }
                pruned_at = Some(std::time::Instant::now());
            }
            if listener.is_none() {
                listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut new) => match new.listen(&channel).await {
                        Ok(()) => Some(new),
                        Err(_) => None,
                    },
                    Err(_) => None,
                };
            }
            loop {
                match relay_batch(&pool, schema, bus.as_ref()).await {
                    Ok(published) if published == RELAY_BATCH as usize => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(schema, error = %format!("{error:#}"), "outbox relay failed; will retry");
                        break;
                    }
                }
            }
            match listener.as_mut() {
                Some(active) => {
                    // A broken listener is made again; a timeout is the polling fallback.
                    if let Ok(Err(_)) = tokio::time::timeout(poll, active.recv()).await {
                        listener = None;
                    }
                }
                None => tokio::time::sleep(poll).await,
            }
        }
    });
}

/// Deletes events published longer than `older_than` ago; how many.
pub async fn prune_outbox(pool: &PgPool, older_than: Duration) -> anyhow::Result<u64> {
    let deleted =
        sqlx::query("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)")
            .bind(older_than.as_secs_f64())
            .execute(pool)
            .await?;
    Ok(deleted.rows_affected())
}

/// Publishes one batch of the outbox in order; the published prefix is marked even when a later
/// event fails, and the rest waits for the next run.
async fn relay_batch(pool: &PgPool, schema: &str, bus: &dyn EventBus) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    if !crate::jobs::lead(&mut tx, &format!("{schema}.outbox")).await? {
        return Ok(0);
    }
    let rows = sqlx::query(
        r#"SELECT id, aggregate_id, event_type, schema_version, payload, created_at FROM outbox
           WHERE published_at IS NULL ORDER BY seq LIMIT $1"#,
    )
    .bind(RELAY_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let mut published = Vec::new();
    let mut failure = None;
    for row in &rows {
        let event = Event {
            id: row.try_get("id")?,
            source: schema.to_owned(),
            event_type: row.try_get("event_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            schema_version: row.try_get("schema_version")?,
            payload: row.try_get("payload")?,
            occurred_at: row.try_get("created_at")?,
        };
        match bus.publish(&event).await {
            Ok(()) => published.push(event.id),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    sqlx::query("UPDATE outbox SET published_at = now() WHERE id = ANY($1)")
        .bind(&published)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    match failure {
        Some(error) => Err(error),
        None => Ok(published.len()),
    }
}
