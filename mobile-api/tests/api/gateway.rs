use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use platform::Config;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::helpers::{Mode, TestApp, client, problem, start};
use crate::in_both_modes;

/// A gateway alone, with the catalogue said to run at `catalogue`.
async fn gateway_for(catalogue: SocketAddr, adjust: impl Fn(&mut Config)) -> mobile_api::App {
    let mut config = Config::default();
    config
        .upstreams
        .insert("catalogue".to_owned(), format!("http://{catalogue}"));
    // No request here carries a token, a photo or a report: the others are never called.
    for other in mobile_api::modules::SERVICES {
        config
            .upstreams
            .insert(other.name.to_owned(), format!("http://{catalogue}"));
    }
    adjust(&mut config);
    start(config, "mobile-api").await
}

/// An upstream that answers every request with the headers it received, after `delay`.
async fn echo_upstream(delay: Duration) -> SocketAddr {
    echo_upstream_telling(delay, Arc::new(Notify::new())).await
}

/// The same, telling `arrived` when a request reaches it.
async fn echo_upstream_telling(delay: Duration, arrived: Arc<Notify>) -> SocketAddr {
    let app = Router::new().fallback(any(move |headers: HeaderMap| async move {
        arrived.notify_one();
        tokio::time::sleep(delay).await;
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        axum::Json(Value::Object(headers))
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn a_dead_upstream_gives_503_with_retry_after() {
    // A port that was just free: nothing listens there.
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let gateway = gateway_for(dead, |_| {}).await;
    let response = client()
        .get(format!("http://{}/v1/catalogue/services", gateway.addr()))
        .send()
        .await
        .unwrap();
    assert!(response.headers().contains_key("retry-after"));
    let body = problem(response, 503, "upstream_unavailable").await;
    assert!(
        !body.to_string().contains("127.0.0.1"),
        "no internals: {body}"
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_silent_upstream_gives_504() {
    // Accepts connections and reads, but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                while matches!(socket.read(&mut buffer).await, Ok(n) if n > 0) {}
            });
        }
    });
    let gateway = gateway_for(silent, |c| c.gateway.upstream_timeout_ms = 300).await;
    let response = client()
        .get(format!("http://{}/v1/catalogue/services", gateway.addr()))
        .send()
        .await
        .unwrap();
    problem(response, 504, "upstream_timeout").await;
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn trace_context_and_request_id_reach_the_upstream() {
    let upstream = echo_upstream(Duration::ZERO).await;
    let gateway = gateway_for(upstream, |_| {}).await;
    let url = format!("http://{}/v1/catalogue/services", gateway.addr());

    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let seen: Value = client()
        .get(&url)
        .header("traceparent", incoming)
        .header("x-request-id", "trace-test-1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let forwarded = seen["traceparent"].as_str().unwrap();
    assert!(
        forwarded.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{forwarded}"
    );
    assert_ne!(
        forwarded, incoming,
        "a new parent id for the gateway's call"
    );
    assert_eq!(seen["x-request-id"], "trace-test-1");
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");

    let started: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let traceparent = started["traceparent"].as_str().unwrap();
    assert_eq!(traceparent.len(), 55, "a new, valid trace: {traceparent}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let arrived = Arc::new(Notify::new());
    let upstream = echo_upstream_telling(Duration::from_millis(500), arrived.clone()).await;
    let gateway = gateway_for(upstream, |_| {}).await;
    let url = format!("http://{}/v1/catalogue/services", gateway.addr());
    let in_flight = tokio::spawn(async move { client().get(url).send().await });
    // Stop while the request is inside the upstream.
    arrived.notified().await;
    gateway.stop().await.unwrap();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
}

async fn responses_are_compressed_when_asked(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    for encoding in ["gzip", "br"] {
        let response = app
            .client
            .get(app.url("/v1/catalogue/services"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
    }
    app.stop().await;
}
in_both_modes!(responses_are_compressed_when_asked);

async fn an_oversized_body_is_refused_before_the_service(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| c.gateway.body_limit_bytes = 1024).await;
    let response = app
        .client
        .post(app.url("/v1/catalogue/services"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    problem(response, 413, "too_large").await;
    app.stop().await;
}
in_both_modes!(an_oversized_body_is_refused_before_the_service);

async fn unknown_routes_and_methods_are_problems(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    problem(app.get("/v1/nowhere").await, 404, "route_not_found").await;
    problem(
        app.get("/v1/catalogue/nowhere").await,
        404,
        "route_not_found",
    )
    .await;
    let delete = app
        .client
        .delete(app.url("/v1/catalogue/services"))
        .send()
        .await
        .unwrap();
    problem(delete, 405, "method_not_allowed").await;
    app.stop().await;
}
in_both_modes!(unknown_routes_and_methods_are_problems);

async fn cors_allows_only_configured_origins(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.gateway.cors_allowed_origins = vec!["https://app.hue.example".to_owned()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/catalogue/services"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://app.hue.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.hue.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );
    app.stop().await;
}
in_both_modes!(cors_allows_only_configured_origins);

#[tokio::test]
async fn the_openapi_document_is_served_with_its_docs_page() {
    let app = TestApp::spawn(Mode::AllInOne).await;
    let doc: Value = app.get_json("/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/v1/catalogue/services"]["get"].is_object());
    let docs = app.get("/v1/docs").await;
    assert_eq!(docs.status(), 200);
    let page = docs.text().await.unwrap();
    assert!(
        page.contains("Citizen mobile API"),
        "the page carries the document"
    );
    app.stop().await;
}

/// A NUL byte or another control character in any string, wherever it comes in, is refused at
/// the edge with 400 `invalid_text`, never a 500 from the database.
async fn control_characters_anywhere_are_refused_with_invalid_text(mode: crate::helpers::Mode) {
    use crate::helpers::{TestApp, problem};
    use reqwest::Method;
    use serde_json::json;
    let app = TestApp::spawn(mode).await;
    let token = app.resident_token().await;
    // Query and path.
    problem(
        app.get("/v1/catalogue/services?q=a%00b").await,
        400,
        "invalid_text",
    )
    .await;
    problem(
        app.get("/v1/reports/categories%00").await,
        400,
        "invalid_text",
    )
    .await;
    // JSON fields of several services.
    let bodies = [
        (
            Method::PATCH,
            "/v1/me",
            json!({ "display_name": "An\u{0}" }),
        ),
        (
            Method::POST,
            "/v1/me/devices",
            json!({ "platform": "android", "push_token": "tok\u{0}en", "app_version": "1" }),
        ),
        (
            Method::POST,
            "/v1/reports",
            json!({ "category": "pothole", "latitude": 16.495, "longitude": 107.582,
                    "description": "Ổ gà\u{1b}[2J", "answers": {} }),
        ),
    ];
    for (method, path, body) in bodies {
        let response = app
            .authed(method, path, &token)
            .header("idempotency-key", "nul-test")
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(response, 400, "invalid_text").await;
    }
    let login = app
        .client
        .post(app.url("/v1/auth/staff/login"))
        .json(&json!({ "username": "hue.admin\u{0}", "password": "x" }))
        .send()
        .await
        .unwrap();
    problem(login, 400, "invalid_text").await;
    // Multi-line text is still text.
    let filed = app
        .authed(Method::POST, "/v1/reports", &token)
        .header("idempotency-key", "multi-line")
        .json(&json!({ "category": "pothole", "latitude": 16.495, "longitude": 107.582,
                        "description": "Dòng một\nDòng hai\tcó tab", "answers": { "size": "large" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(filed.status(), 201, "{}", filed.text().await.unwrap());
    app.stop().await;
}
in_both_modes!(control_characters_anywhere_are_refused_with_invalid_text);
