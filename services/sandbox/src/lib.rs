//! Sandboxes: stand-ins, for development and tests, for outside systems Citizen cannot reach
//! from here. Each speaks the real protocol, errors included, so the code talking to it is the
//! code that talks to the real system.

pub mod biller;
pub mod cap;
pub mod exams;
mod faults;
pub mod fcm;
pub mod fhir;
mod gateway;
pub mod gtfs_rt;
pub mod momo;
mod oauth;
pub mod one_stop;
pub mod oneroster;
pub mod open_meteo;
pub mod openaq;
pub mod osm;
pub mod planning;
mod recorded;
pub mod sensorthings;
pub mod social_insurance;
pub mod vneid;
pub mod vnpay;
pub mod webpush;

use axum::Router;

/// Every sandbox's routes, each under its own prefix: `/sandbox/vneid`, `/sandbox/fcm`,
/// `/sandbox/webpush`, for payments `/sandbox/vnpay` (VNPay), `/sandbox/momo` (MoMo) and
/// `/sandbox/biller` (a bill aggregator for electricity, water, tuition, fees and fines),
/// `/sandbox/fhir` (a FHIR R4 server standing in for the city's hospital and health systems),
/// `/sandbox/oneroster` (a OneRoster 1.2 server standing in for the city's school information
/// system: schools, classes, pupils, parents and their marks), `/sandbox/exams` (the
/// department's published national exam results), `/sandbox/one-stop` (the province's one-stop
/// administrative-procedure system over its LGSP: dossiers and where each is in its procedure),
/// `/sandbox/social-insurance` (Việt Nam Social Security's participant lookup over the LGSP:
/// who paid social and unemployment insurance, where and on what salary),
/// `/sandbox/planning` (the Department of Construction's zoning and land-use layers for
/// central Huế, GeoJSON), and for the environment `/sandbox/open-meteo` (Open-Meteo's weather
/// forecast), `/sandbox/openaq` (OpenAQ v3: the city's air-quality stations and their hourly
/// readings), `/sandbox/sensorthings` (an OGC SensorThings API 1.1 server: the
/// hydro-meteorological station's river gauges), `/sandbox/cap` (the CAP 1.2 alert feeds,
/// over Atom, of the city's disaster committee, power company and water company) and
/// `/sandbox/osm` (an OpenStreetMap extract of central Huế's toilets, Wi-Fi, parking, heritage
/// sites and traffic cameras, GeoJSON), and `/sandbox/gtfs-rt` (the bus operator's GTFS
/// Realtime TripUpdates feed).
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
        .nest("/sandbox/one-stop", one_stop::router())
        .nest("/sandbox/social-insurance", social_insurance::router())
        .nest("/sandbox/planning", planning::router())
        .nest("/sandbox/open-meteo", open_meteo::router())
        .nest("/sandbox/openaq", openaq::router())
        .nest("/sandbox/sensorthings", sensorthings::router())
        .nest("/sandbox/cap", cap::router())
        .nest("/sandbox/osm", osm::router())
        .nest("/sandbox/gtfs-rt", gtfs_rt::router())
}
