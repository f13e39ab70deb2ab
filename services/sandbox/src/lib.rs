//! Sandboxes: stand-ins, for development and tests, for outside systems Citizen cannot reach
//! from here. Each speaks the real protocol, errors included, so the code talking to it is the
//! code that talks to the real system.

mod faults;
pub mod fcm;
mod recorded;
pub mod vneid;
pub mod webpush;

use axum::Router;

/// Every sandbox's routes, each under its own prefix (`/sandbox/vneid`, `/sandbox/fcm`, `/sandbox/webpush`).
pub fn router() -> Router {
    Router::new()
        .nest("/sandbox/vneid", vneid::router())
        .nest("/sandbox/fcm", fcm::router())
        .nest("/sandbox/webpush", webpush::router())
}
