//! Black-box tests: the real `citizen` app on port 0, against a fresh PostgreSQL database per
//! test, in both deployment shapes (all-in-one, and gateway + catalogue as two servers).

// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod administration;
mod alerts;
mod catalogue;
mod community;
mod config;
mod console;
mod education;
mod environment;
mod firebase_admin;
mod gateway;
mod health;
mod health_medplum;
mod helpers;
mod identity;
mod jurisdictions;
mod media;
mod moderation;
mod notifications;
mod open311;
mod openapi;
mod operations;
mod ops;
mod payments;
mod places;
mod reports;
mod staff;
mod transit;
mod verification;
