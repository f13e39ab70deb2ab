//! The Web Push client against the Web Push emulator (the sandbox), over real HTTP: a message
//! the emulator can decrypt and whose VAPID signature it accepts, and each refusal a push
//! service answers with.

// Tests fail loudly: unwrapping is how they assert.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use notifications::SendError;
use notifications::webpush::{Message, Subscription, WebPushClient};
use serde_json::{Value, json};

/// The emulator on a port of its own.
async fn emulator() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sandbox::router()).await.unwrap() });
    format!("http://{addr}/sandbox/webpush")
}

fn new_client() -> WebPushClient {
    let mut key: [u8; 32] = rand::random();
    key[0] &= 0x7f;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key);
    WebPushClient::new(
        &key,
        "mailto:ops@citizen.example",
        8,
        platform::outbound::PlainHttp::Loopback,
    )
    .unwrap()
}

/// A browser's subscription, made for `client`'s key.
async fn subscribe(base: &str, client: &WebPushClient) -> Value {
    reqwest::Client::new()
        .post(format!("{base}/subscriptions"))
        .json(&json!({ "application_server_key": client.public_key() }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn subscription(value: &Value) -> Subscription<'_> {
    Subscription {
        endpoint: value["endpoint"].as_str().unwrap(),
        p256dh: value["keys"]["p256dh"].as_str().unwrap(),
        auth: value["keys"]["auth"].as_str().unwrap(),
    }
}

fn message(payload: &[u8]) -> Message<'_> {
    Message {
        payload,
        ttl: Duration::from_secs(3600),
        urgent: true,
        topic: Some("flood0193".into()),
    }
}

#[tokio::test]
async fn a_message_is_encrypted_for_the_browser_and_signed_for_the_push_service() {
    let base = emulator().await;
    let client = new_client();
    let browser = subscribe(&base, &client).await;
    let text = "Cảnh báo lũ: nước sông Hương đang lên nhanh";
    let location = client
        .send(&subscription(&browser), &message(text.as_bytes()))
        .await
        .unwrap();
    assert!(location.contains("/sandbox/webpush/message/"), "{location}");
    // A second message reuses the VAPID signature; the push service still accepts it.
    client
        .send(&subscription(&browser), &message(b"second"))
        .await
        .unwrap();

    let id = browser["endpoint"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let received: Vec<Value> = reqwest::get(format!("{base}/deliveries?subscription={id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0]["payload"], text);
    assert_eq!(received[0]["urgency"], "high");
    assert_eq!(received[0]["ttl"], 3600);
    assert_eq!(received[0]["topic"], "flood0193");
}

#[tokio::test]
async fn refusals_are_classified() {
    let base = emulator().await;
    let client = new_client();
    let browser = subscribe(&base, &client).await;
    let id = browser["endpoint"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();

    // Another server's key: the subscription is bound to ours, so the push service refuses.
    let stranger = new_client();
    assert!(matches!(
        stranger
            .send(&subscription(&browser), &message(b"hi"))
            .await,
        Err(SendError::Misconfigured(_))
    ));

    // Overloaded: retry, when the push service says.
    let control = |answer: Value| {
        let base = base.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/control"))
                .json(&answer)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 204);
        }
    };
    control(
        json!({ "subscription": id, "answer": "too_many_requests", "times": 1,
                    "retry_after_secs": 30 }),
    )
    .await;
    assert_eq!(
        client
            .send(&subscription(&browser), &message(b"hi"))
            .await
            .map_err(|e| matches!(e, SendError::Retry { after: Some(d), .. } if d == Duration::from_secs(30))),
        Err(true)
    );
    control(json!({ "subscription": id, "answer": "unavailable", "times": 1 })).await;
    assert!(matches!(
        client.send(&subscription(&browser), &message(b"hi")).await,
        Err(SendError::Retry { .. })
    ));
    // Expired or unsubscribed: forget the device.
    for answer in ["not_found", "gone"] {
        control(json!({ "subscription": id, "answer": answer, "times": 1 })).await;
        assert_eq!(
            client.send(&subscription(&browser), &message(b"hi")).await,
            Err(SendError::Unregistered)
        );
    }
    // Too big to encrypt into one push message: our bug, not worth retrying.
    assert!(matches!(
        client
            .send(&subscription(&browser), &message(&[b'x'; 5000]))
            .await,
        Err(SendError::Rejected(_))
    ));
    // Keys that are not a browser's: the device is unusable.
    let broken = Subscription {
        p256dh: "bm90LWEta2V5",
        ..subscription(&browser)
    };
    assert!(matches!(
        client.send(&broken, &message(b"hi")).await,
        Err(SendError::InvalidToken(_))
    ));
}

#[tokio::test]
async fn the_emulator_refuses_what_push_services_refuse() {
    let base = emulator().await;
    let browser = subscribe(&base, &new_client()).await;
    let endpoint = browser["endpoint"].as_str().unwrap();
    let http = reqwest::Client::new();
    // No VAPID at all.
    let unsigned = http
        .post(endpoint)
        .header("TTL", "60")
        .header("Content-Encoding", "aes128gcm")
        .body(vec![0u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // No TTL.
    let no_ttl = http
        .post(endpoint)
        .body(vec![0u8; 100])
        .send()
        .await
        .unwrap();
    assert_eq!(no_ttl.status(), 400);
    // An endpoint nobody subscribed.
    let unknown = http
        .post(format!("{base}/push/nobody"))
        .header("TTL", "60")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}
