//! Payments: residents pay their bills and fees (electricity, water, sanitation, tuition,
//! administrative fees, traffic fines) through VNPay or MoMo. A bill is looked up at the bill
//! gateway; a payment intent is made once per `Idempotency-Key`; the payer pays on the
//! provider's page; only the provider's server-to-server notification or its answer to our
//! query settles the payment. Every settled dong goes into a double-entry ledger the database
//! keeps balanced and append-only; the payer gets a receipt and a push; the biller is told;
//! reconciliation settles what the provider never told us and reports each day's mismatches.

mod bills;
mod callbacks;
pub mod config;
mod customers;
mod errors;
mod intents;
mod ledger;
pub mod providers;
mod receipts;
mod reconcile;
mod refunds;
mod settle;

pub use errors::PaymentsError;

use std::sync::Arc;
use std::time::Duration;

use crate::config::PaymentsConfig;
use axum::Router;
use axum::routing::{get, post, put};
use platform::service::{Running, Service, StartContext};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::sync::Notify;

use crate::bills::BillGateway;
use crate::providers::Providers;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "payments";

pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/payments");

pub static SERVICE: Service = Service {
    name: "payments",
    about: "bills and fees paid through VNPay and MoMo, the ledger, reconciliation",
    schema: SCHEMA,
    migrator: &MIGRATOR,
    routes: &["/v1/payments", "/v1/admin/payments"],
    calls: &[],
    outbox: true,
    consumes_events: false,
    idempotency_keys: true,
    config: Some(platform::config::SectionSpec::of::<config::PaymentsConfig>()),
    body_limit: platform::service::gateway_body_limit,
    openapi: <PaymentsApi as utoipa::OpenApi>::openapi,
    errors: PaymentsError::CODES,
    start: |context| {
        Box::pin(async move {
            let state = PaymentsState::start(&context)?;
            Ok(Running::routes(router(state)))
        })
    },
};

#[derive(Clone)]
pub struct PaymentsState {
    pool: PgPool,
    config: Arc<PaymentsConfig>,
    /// Where bills are looked up and told they were paid; `None` when not configured.
    billers: Option<Arc<dyn bills::Biller>>,
    providers: Arc<Providers>,
    /// Uses of the bill gateway per account (lookups, payments made, codes linked), against
    /// enumerating customer codes.
    lookups: Arc<platform::ratelimit::Limiter>,
    /// Wakes the job that tells billers of paid bills.
    settled: Arc<Notify>,
}

impl PaymentsState {
    /// Opens the providers and the bill gateway, and starts the reconciliation and posting jobs.
    fn start(context: &StartContext) -> anyhow::Result<Self> {
        let config: &PaymentsConfig = &context.section()?;
        let plain_http = context.config.outside_plain_http();
        let providers = Providers::new(config, plain_http)?;
        if providers.offered().is_empty() {
            tracing::warn!("payments.vnpay and payments.momo are not set: nothing can be paid");
        } else if config.public_url.is_none() {
            tracing::warn!(
                "payments.public_url is not set: the providers' return and notification URLs follow each request's host; set it in production"
            );
        }
        let billers: Option<Arc<dyn bills::Biller>> = match &config.biller_url {
            Some(url) => Some(Arc::new(BillGateway::new(
                url,
                Duration::from_millis(config.biller_timeout_ms.max(1)),
                plain_http,
            )?)),
            None => {
                tracing::warn!("payments.biller_url is not set: no bills can be looked up");
                None
            }
        };
        let state = Self {
            pool: context.pool.clone(),
            config: Arc::new(config.clone()),
            billers,
            providers: Arc::new(providers),
            lookups: Arc::new(platform::ratelimit::Limiter::new(
                &context.counters,
                "payments.bill_lookups",
                config.bill_lookups_per_minute,
                Duration::from_secs(60),
            )),
            settled: Arc::new(Notify::new()),
        };
        reconcile::start(state.clone(), &context.jobs);
        bills::start_postings(state.clone(), &context.jobs);
        Ok(state)
    }
}

/// Payments' routes, without the shared service layers (the caller adds them).
pub fn router(state: PaymentsState) -> Router {
    Router::new()
        .route("/v1/payments/bills", get(bills::lookup))
        .route("/v1/payments/customer-links", get(customers::list_links))
        .route(
            "/v1/payments/customer-links/{service}/{code}",
            put(customers::link_code).delete(customers::unlink_code),
        )
        .route("/v1/payments", get(intents::list).post(intents::create))
        .route("/v1/payments/{id}", get(intents::get))
        .route("/v1/payments/{id}/receipt", get(receipts::get))
        .route("/v1/payments/{id}/refunds", post(refunds::create))
        .route("/v1/payments/ipn/vnpay", get(callbacks::vnpay_ipn))
        .route("/v1/payments/ipn/momo", post(callbacks::momo_ipn))
        .route("/v1/payments/return/vnpay", get(callbacks::vnpay_return))
        .route("/v1/payments/return/momo", get(callbacks::momo_return))
        .route("/v1/admin/payments/ledger", get(ledger::balances))
        .route(
            "/v1/admin/payments/refunds/{id}/resolve",
            post(refunds::resolve),
        )
        .route(
            "/v1/admin/payments/reconciliations",
            post(reconcile::run_now),
        )
        .route(
            "/v1/admin/payments/reconciliations/{provider}/{day}",
            get(reconcile::get),
        )
        .with_state(state)
}

/// Payments' part of the public OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        bills::lookup,
        customers::link_code,
        customers::list_links,
        customers::unlink_code,
        intents::create,
        intents::list,
        intents::get,
        receipts::get,
        refunds::create,
        callbacks::vnpay_ipn,
        callbacks::momo_ipn,
        callbacks::vnpay_return,
        callbacks::momo_return,
        ledger::balances,
        refunds::resolve,
        reconcile::run_now,
        reconcile::get
    ),
    tags(
        (name = "payments", description = "Thanh toán hóa đơn và phí / Paying bills and fees"),
        (name = "payment-providers", description = "Thông báo từ VNPay và MoMo / Notifications from VNPay and MoMo"),
        (name = "payments-admin", description = "Sổ cái và đối soát / Ledger and reconciliation")
    )
)]
pub struct PaymentsApi;
