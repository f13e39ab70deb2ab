//! The mobile API gateway and the composition of a `citizen` process from its targets.

pub mod app;
mod console;
pub mod gateway;
pub mod modules;
pub mod upstream;

pub use app::App;
