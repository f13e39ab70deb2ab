//! A bare axum hello-world server: the yardstick `load-tests/bench` measures the gateway
//! against, on the same machine in the same run.
//!
//!   cargo run --release --example hello -- 127.0.0.1:18090

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let app = Router::new().route("/", get(|| async { "Hello, World!" }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
