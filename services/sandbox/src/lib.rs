//! Sandboxes: stand-ins, for development and tests, for outside systems Citizen cannot reach
//! from here. Each speaks the real protocol, errors included, so the code talking to it is the
//! code that talks to the real system.

pub mod biller;
pub mod exams;
mod faults;
pub mod fcm;
pub mod fhir;
mod gateway;
pub mod momo;
pub mod oneroster;
mod recorded;
pub mod vneid;
pub mod vnpay;
pub mod webpush;

use axum::Router;

/// Every sandbox's routes, each under its own prefix: `/sandbox/vneid`, `/sandbox/fcm`,
/// `/sandbox/webpush`, for payments `/sandbox/vnpay` (VNPay), `/sandbox/momo` (MoMo) and
/// `/sandbox/biller` (a bill aggregator for electricity, water, tuition, fees and fines),
/// `/sandbox/fhir` (a FHIR R4 server standing in for the city's hospital and health systems),
/// `/sandbox/oneroster` (a OneRoster 1.2 server standing in for the city's school information
/// system: schools, classes, pupils, parents and their marks) and `/sandbox/exams` (the
/// department's published national exam results).
pub fn router() -> Router {
    Router::new()
        .nest("/sandbox/vneid", vneid::router())
        .nest("/sandbox/fcm", fcm::router())
        .nest("/sandbox/webpush", webpush::router())
        .nest("/sandbox/vnpay", vnpay::router())
        .nest("/sandbox/momo", momo::router())
        .nest("/sandbox/biller", biller::router())
        .nest("/sandbox/fhir", fhir::router())
        .nest("/sandbox/oneroster", oneroster::router())
        .nest("/sandbox/exams", exams::router())
}
