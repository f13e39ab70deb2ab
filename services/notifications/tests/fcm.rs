//! The FCM client against the FCM emulator (the sandbox), over real HTTP: the OAuth flow, sends,
//! and each kind of error FCM answers with.

// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use notifications::SendError;
use notifications::fcm::{FcmClient, ServiceAccount};
use serde_json::{Value, json};

const TOKEN: &str = "dGVzdC1kZXZpY2UtdG9rZW4tMDAx:APA91bHc1";

/// The emulator on a port of its own, and a client of it.
async fn emulator() -> (String, FcmClient) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sandbox::router()).await.unwrap() });
    let base = format!("http://{addr}/sandbox/fcm");
    let mut account: ServiceAccount =
        serde_json::from_str(sandbox::fcm::TEST_SERVICE_ACCOUNT).unwrap();
    account.token_uri = format!("{base}/token");
    (
        base.clone(),
        FcmClient::new(account, &base, 16, platform::outbound::PlainHttp::Loopback).unwrap(),
    )
}

fn message(token: &str) -> Value {
    json!({
        "token": token,
        "notification": { "title": "Phản ánh đã được xử lý", "body": "Ổ gà trên đường Lê Lợi đã được vá." },
        "data": { "report_id": "0193", "kind": "report.status_changed" },
        "android": { "priority": "HIGH", "ttl": "86400s", "collapseKey": "report-0193" },
        "apns": { "headers": { "apns-priority": "10" }, "payload": { "aps": { "sound": "default" } } },
        "webpush": { "fcm_options": { "link": "https://hue-s.example/reports/0193" } },
    })
}

async fn control(base: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/control"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

async fn deliveries(base: &str, token: &str) -> Vec<Value> {
    reqwest::Client::new()
        .get(format!("{base}/deliveries"))
        .query(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_message_reaches_the_device_with_its_vietnamese_text() {
    let (base, client) = emulator().await;
    let name = client.send(&message(TOKEN)).await.unwrap();
    assert!(
        name.starts_with("projects/citizen-test/messages/"),
        "{name}"
    );
    // The access token is reused for the next message.
    client.send(&message(TOKEN)).await.unwrap();
    let received = deliveries(&base, TOKEN).await;
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0]["message"]["notification"]["title"],
        "Phản ánh đã được xử lý"
    );
    assert_eq!(
        received[0]["message"]["android"]["collapseKey"],
        "report-0193"
    );
}

#[tokio::test]
async fn temporary_failures_are_retried_until_they_pass() {
    let (base, client) = emulator().await;
    for (answer, retry_after) in [
        ("unavailable", None),
        ("quota_exceeded", Some(1)),
        ("internal", None),
        ("html502", None),
    ] {
        control(&base, json!({ "token": TOKEN, "answer": answer, "times": 1, "retry_after_secs": retry_after })).await;
        let first = client.send(&message(TOKEN)).await.unwrap_err();
        assert!(
            matches!(first, SendError::Retry { .. }),
            "{answer}: {first:?}"
        );
        if let Some(seconds) = retry_after {
            assert_eq!(
                first,
                SendError::Retry {
                    after: Some(std::time::Duration::from_secs(seconds)),
                    reason: "429 QUOTA_EXCEEDED".into()
                }
            );
        }
        control(
            &base,
            json!({ "token": TOKEN, "answer": answer, "times": 1 }),
        )
        .await;
        client.send_with_retries(&message(TOKEN), 3).await.unwrap();
    }
    assert_eq!(
        deliveries(&base, TOKEN).await.len(),
        4,
        "each sent once, after its failure"
    );
    // A failure that outlasts the attempts is reported as such.
    control(&base, json!({ "token": TOKEN, "answer": "unavailable" })).await;
    assert!(matches!(
        client.send_with_retries(&message(TOKEN), 2).await,
        Err(SendError::Retry { .. })
    ));
}

#[tokio::test]
async fn gone_and_invalid_devices_and_misconfiguration_are_told_apart() {
    let (base, client) = emulator().await;
    control(&base, json!({ "token": TOKEN, "answer": "unregistered" })).await;
    assert_eq!(
        client.send(&message(TOKEN)).await,
        Err(SendError::Unregistered)
    );
    assert!(matches!(
        client.send(&message("not a token")).await,
        Err(SendError::InvalidToken(_))
    ));
    let other = "b3RoZXItZGV2aWNlLXRva2VuLTAwMg:APA91bX";
    control(
        &base,
        json!({ "token": other, "answer": "sender_id_mismatch" }),
    )
    .await;
    assert!(matches!(
        client.send(&message(other)).await,
        Err(SendError::Misconfigured(_))
    ));
    control(
        &base,
        json!({ "token": other, "answer": "third_party_auth_error" }),
    )
    .await;
    assert!(matches!(
        client.send(&message(other)).await,
        Err(SendError::Misconfigured(_))
    ));
    // Told to stop, the emulator succeeds again.
    control(&base, json!({ "token": other, "answer": null })).await;
    client.send(&message(other)).await.unwrap();
}

#[tokio::test]
async fn the_emulator_validates_messages_as_fcm_does() {
    let (base, client) = emulator().await;
    let refused = |change: Value| {
        let mut body = message(TOKEN);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    for (change, why) in [
        (json!({ "topic": "news" }), "two targets"),
        (json!({ "data": { "count": 3 } }), "a number in data"),
        (json!({ "data": { "from": "me" } }), "a reserved key"),
        (json!({ "data": { "google.x": "1" } }), "a reserved prefix"),
        (
            json!({ "android": { "ttl": "2419201s" } }),
            "a TTL over four weeks",
        ),
        (
            json!({ "android": { "ttl": "1d" } }),
            "a TTL not in seconds",
        ),
        (json!({ "colour": "red" }), "an unknown field"),
        (
            json!({ "data": { "text": "x".repeat(5000) } }),
            "more than 4 KB",
        ),
    ] {
        let result = client.send(&refused(change)).await;
        assert!(
            matches!(result, Err(SendError::Rejected(_))),
            "{why}: {result:?}"
        );
    }
    let mut topic = message(TOKEN);
    topic.as_object_mut().unwrap().remove("token");
    topic["topic"] = json!("bad topic!");
    assert!(matches!(
        client.send(&topic).await,
        Err(SendError::Rejected(_))
    ));
    topic["topic"] = json!("/topics/hue-flood-warnings");
    client.send(&topic).await.unwrap();
    // snake_case is as good as camelCase.
    let mut snake = message(TOKEN);
    snake["android"] = json!({ "collapse_key": "x", "restricted_package_name": "vn.hue.citizen" });
    client.send(&snake).await.unwrap();
    assert_eq!(deliveries(&base, TOKEN).await.len(), 1);
}

#[tokio::test]
async fn the_token_endpoint_refuses_a_foreign_signature() {
    let (base, _) = emulator().await;
    // An assertion signed with another key than the service account's.
    let response = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            (
                "assertion",
                "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    // And messages:send refuses a caller without an access token.
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/projects/citizen-test/messages:send"))
        .json(&json!({ "message": message(TOKEN) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
}
