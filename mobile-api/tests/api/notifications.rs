//! Notifications end to end: an officer's action on a report reaches the reporter's phone
//! through the FCM emulator (and their browser through the Web Push emulator) and lands in their
//! inbox, in both deployment shapes (split over NATS), with the push services' failures handled.

use identity::config::IdentityConfig;
use notifications::config::NotificationsConfig;
use reports::config::ReportsConfig;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value as Json, json};

use base64::Engine as _;

use crate::helpers::{Mode, PHU_XUAN, TestApp, problem};
use crate::in_both_modes;

/// The FCM emulator on a port of its own; its base URL.
async fn fcm_emulator() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sandbox::router()).await.unwrap() });
    format!("http://{addr}/sandbox/fcm")
}

async fn spawn(mode: Mode, fcm: &str) -> TestApp {
    let configure = configure(mode, fcm);
    TestApp::spawn_with(mode, configure).await
}

/// What every process of a test is configured with.
fn configure(mode: Mode, fcm: &str) -> impl Fn(&mut platform::Config) + use<> {
    // The emulator's test service account, pointed at this emulator's token endpoint.
    let mut account: Json = serde_json::from_str(sandbox::fcm::TEST_SERVICE_ACCOUNT).unwrap();
    account["token_uri"] = json!(format!("{fcm}/token"));
    let web_push = fcm.replace("/sandbox/fcm", "/sandbox/webpush");
    let fcm = fcm.to_owned();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    // A VAPID key of this test's own: any 32 bytes below the curve order are a P-256 key.
    let mut vapid: [u8; 32] = rand::random();
    vapid[0] &= 0x7f;
    let vapid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(vapid);
    move |config: &mut platform::Config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        // Erasures happen at once, every second; so do SLA checks.
        config.edit(|identity: &mut IdentityConfig| identity.erasure_grace_days = 0);
        config.edit(|identity: &mut IdentityConfig| identity.erasure_interval_secs = 1);
        config.edit(|reports: &mut ReportsConfig| reports.sla_check_interval_ms = 200);
        config.internal.service_token = Some("test-service-token".to_owned().into());
        config.edit(|notifications: &mut NotificationsConfig| {
            notifications.fcm = Some(notifications::config::FcmConfig {
                service_account: account.to_string().into(),
                base_url: fcm.clone(),
                concurrency: 16,
            })
        });
        config.edit(|notifications: &mut NotificationsConfig| {
            notifications.web_push = Some(notifications::config::WebPushConfig {
                vapid_private_key: vapid.clone().into(),
                subject: "mailto:ops@citizen.example".to_owned(),
                concurrency: 16,
            })
        });
        // Browsers' subscriptions may point at the emulator as well as the real push services.
        config.edit(|identity: &mut IdentityConfig| {
            identity
                .web_push_endpoints
                .push(format!("{web_push}/push/"))
        });
        if matches!(mode, Mode::Split) {
            // Events cross processes through NATS.
            crate::helpers::use_nats(config, &unique);
        }
    }
}

async fn register_device(app: &TestApp, token: &str, push_token: &str) {
    let registered = app
        .authed(Method::POST, "/v1/me/devices", token)
        .json(&json!({ "platform": "android", "push_token": push_token }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
}

async fn file_report(app: &TestApp, token: &str) -> String {
    file(
        app,
        token,
        json!({ "category": "pothole", "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1,
                "description": "Ổ gà", "answers": { "size": "large" } }),
    )
    .await
}

async fn file(app: &TestApp, token: &str, report: Json) -> String {
    app.file_report_id(token, &report).await
}

async fn officer_does(app: &TestApp, id: &str, action: &str, body: Json) {
    let officer = app.staff_token("phuxuan.officer").await;
    let response = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{id}/{action}"),
            &officer,
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// What an emulator recorded for one device (`key` = `value`), once `count` messages arrived
/// (10 s at most).
async fn recorded(emulator: &str, key: &str, value: &str, count: usize) -> Vec<Json> {
    let mut received = Vec::new();
    for _ in 0..100 {
        received = reqwest::Client::new()
            .get(format!("{emulator}/deliveries"))
            .query(&[(key, value)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if received.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    received
}

/// What the FCM emulator received for `push_token`.
async fn pushes_to(fcm: &str, push_token: &str, count: usize) -> Vec<Json> {
    recorded(fcm, "token", push_token, count).await
}

/// Waits (10 s at most) for every device of the account to be forgotten.
async fn assert_devices_forgotten(app: &TestApp, token: &str) {
    let mut devices = json!(null);
    for _ in 0..100 {
        devices = app.get_json_as("/v1/me/devices", token).await;
        if devices == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(devices, json!([]));
}

async fn control(fcm: &str, body: Json) {
    let response = reqwest::Client::new()
        .post(format!("{fcm}/control"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

async fn a_status_change_reaches_the_phone_and_the_inbox(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let resident = app.resident_token().await;
    let push_token = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(&app, &resident, &push_token).await;
    let id = file_report(&app, &resident).await;

    officer_does(
        &app,
        &id,
        "accept",
        json!({ "public_note": "Đã tiếp nhận, đội 2 sẽ đến trong hôm nay" }),
    )
    .await;
    let received = pushes_to(&fcm, &push_token, 1).await;
    assert_eq!(received.len(), 1, "one push");
    let message = &received[0]["message"];
    assert_eq!(
        message["notification"]["title"],
        "Phản ánh của bạn đã được tiếp nhận"
    );
    assert_eq!(
        message["notification"]["body"],
        "Đã tiếp nhận, đội 2 sẽ đến trong hôm nay"
    );
    assert_eq!(message["data"]["report_id"], id.as_str());
    assert_eq!(message["data"]["title_en"], "Your report was accepted");

    let inbox: Json = app.get_json_as("/v1/inbox", &resident).await;
    assert_eq!(inbox["unread"], 1);
    let notice = &inbox["notices"][0];
    assert_eq!(notice["title_vi"], "Phản ánh của bạn đã được tiếp nhận");
    assert_eq!(notice["data"]["report_id"], id.as_str());
    // Someone else cannot mark it read; its owner can.
    let notice_id = notice["id"].as_str().unwrap();
    let stranger = app.resident_token().await;
    let theirs = app
        .authed(
            Method::POST,
            &format!("/v1/inbox/{notice_id}/read"),
            &stranger,
        )
        .send()
        .await
        .unwrap();
    problem(theirs, 404, "notice_not_found").await;
    assert_eq!(
        app.get_json_as("/v1/inbox", &stranger).await["notices"],
        json!([])
    );
    let read = app
        .authed(
            Method::POST,
            &format!("/v1/inbox/{notice_id}/read"),
            &resident,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 204);
    assert_eq!(
        app.get_json_as("/v1/inbox/unread-count", &resident).await["unread"],
        0
    );
    app.stop().await;
}
in_both_modes!(a_status_change_reaches_the_phone_and_the_inbox);

async fn failures_are_retried_and_gone_devices_forgotten(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let resident = app.resident_token().await;
    let push_token = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(&app, &resident, &push_token).await;
    let id = file_report(&app, &resident).await;

    // FCM is unavailable once: the push goes out on the next attempt, once.
    control(
        &fcm,
        json!({ "token": push_token, "answer": "unavailable", "times": 1 }),
    )
    .await;
    officer_does(&app, &id, "accept", json!({})).await;
    assert_eq!(pushes_to(&fcm, &push_token, 1).await.len(), 1);

    // The app was uninstalled: FCM says UNREGISTERED and the device is forgotten.
    control(
        &fcm,
        json!({ "token": push_token, "answer": "unregistered" }),
    )
    .await;
    officer_does(&app, &id, "start", json!({})).await;
    assert_devices_forgotten(&app, &resident).await;
    // The inbox has both notices all the same.
    assert_eq!(
        app.get_json_as("/v1/inbox/unread-count", &resident).await["unread"],
        2
    );
    app.stop().await;
}
in_both_modes!(failures_are_retried_and_gone_devices_forgotten);

/// What the Web Push emulator decrypted for `subscription`.
async fn web_pushes_to(web_push: &str, subscription: &str, count: usize) -> Vec<Json> {
    recorded(web_push, "subscription", subscription, count).await
}

async fn a_browser_gets_web_pushes_until_it_unsubscribes(mode: Mode) {
    let fcm = fcm_emulator().await;
    let web_push = fcm.replace("/sandbox/fcm", "/sandbox/webpush");
    let app = spawn(mode, &fcm).await;
    let resident = app.resident_token().await;

    // The web app subscribes with our VAPID key, as `pushManager.subscribe()` would.
    let key: Json = app
        .get_json_as("/v1/notifications/web-push/key", &resident)
        .await;
    let subscription: Json = reqwest::Client::new()
        .post(format!("{web_push}/subscriptions"))
        .json(&json!({ "application_server_key": key["public_key"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = subscription["endpoint"].as_str().unwrap();
    let subscription_id = endpoint.rsplit('/').next().unwrap();
    let registered = app
        .authed(Method::POST, "/v1/me/devices", &resident)
        .json(&json!({ "platform": "web", "push_token": endpoint,
                       "web_push_keys": subscription["keys"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    // An endpoint that is no push service is refused: the server will not post to it.
    let elsewhere = app
        .authed(Method::POST, "/v1/me/devices", &resident)
        .json(
            &json!({ "platform": "web", "push_token": "https://internal.example/hook",
                       "web_push_keys": subscription["keys"] }),
        )
        .send()
        .await
        .unwrap();
    problem(elsewhere, 422, "invalid_field").await;

    // The push service is overloaded once: the message goes out on the next attempt, once,
    // encrypted for this browser (the emulator decrypts it) and signed with our key.
    control(
        &web_push,
        json!({ "subscription": subscription_id, "answer": "too_many_requests", "times": 1,
                "retry_after_secs": 1 }),
    )
    .await;
    let id = file_report(&app, &resident).await;
    officer_does(
        &app,
        &id,
        "accept",
        json!({ "public_note": "Đã tiếp nhận, đội 2 sẽ đến trong hôm nay" }),
    )
    .await;
    let received = web_pushes_to(&web_push, subscription_id, 1).await;
    assert_eq!(received.len(), 1, "one push");
    let delivery = &received[0];
    assert_eq!(delivery["urgency"], "normal");
    assert_eq!(delivery["contact"], "mailto:ops@citizen.example");
    assert_eq!(
        delivery["topic"],
        uuid::Uuid::parse_str(&id).unwrap().simple().to_string(),
        "a newer push about the report replaces one not yet delivered"
    );
    let payload: Json = serde_json::from_str(delivery["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["title"], "Phản ánh của bạn đã được tiếp nhận");
    assert_eq!(payload["body"], "Đã tiếp nhận, đội 2 sẽ đến trong hôm nay");
    assert_eq!(payload["title_en"], "Your report was accepted");
    assert_eq!(payload["data"]["report_id"], id.as_str());

    // The user unsubscribed: the push service answers 410 and the device is forgotten.
    control(
        &web_push,
        json!({ "subscription": subscription_id, "answer": "gone" }),
    )
    .await;
    officer_does(&app, &id, "start", json!({})).await;
    assert_devices_forgotten(&app, &resident).await;
    app.stop().await;
}
in_both_modes!(a_browser_gets_web_pushes_until_it_unsubscribes);

async fn an_event_delivered_twice_pushes_once(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let resident = app.resident_token().await;
    let push_token = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(&app, &resident, &push_token).await;
    let id = file_report(&app, &resident).await;
    officer_does(&app, &id, "accept", json!({})).await;
    assert_eq!(pushes_to(&fcm, &push_token, 1).await.len(), 1);

    // As after a relay crash between publishing and marking: the same event goes out again.
    let reports = app.schema_pool("reports").await;
    let republished = sqlx::query(
        "UPDATE outbox SET published_at = NULL WHERE event_type = 'report.status_changed'",
    )
    .execute(&reports)
    .await
    .unwrap();
    assert_eq!(republished.rows_affected(), 1);
    sqlx::query("SELECT pg_notify('reports_outbox', '')")
        .execute(&reports)
        .await
        .unwrap();
    // Once republished, the relay marks it again; by then the consumer had its chance.
    for _ in 0..100 {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&reports)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A second push, if any, would arrive while this waits for it.
    assert_eq!(pushes_to(&fcm, &push_token, 2).await.len(), 1, "one push");
    assert_eq!(
        app.get_json_as("/v1/inbox/unread-count", &resident).await["unread"],
        1
    );
    app.stop().await;
}
in_both_modes!(an_event_delivered_twice_pushes_once);

async fn followers_hear_quiet_hours_hold_and_urgent_goes_through(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let reporter = app.resident_token().await;
    let follower = app.resident_token().await;
    let reporter_device = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    let follower_device = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(&app, &reporter, &reporter_device).await;
    register_device(&app, &follower, &follower_device).await;
    let id = file_report(&app, &reporter).await;
    let follow = app
        .authed(Method::PUT, &format!("/v1/reports/{id}/follow"), &follower)
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 204);

    // The reporter's quiet hours are now (in Huế): from an hour ago to an hour ahead.
    let local = chrono::Utc::now() + chrono::Duration::hours(7);
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let quiet = json!({ "quiet_hours": { "start": hhmm(local - chrono::Duration::hours(1)),
                                          "end": hhmm(local + chrono::Duration::hours(1)) } });
    let set = app
        .authed(Method::PUT, "/v1/notifications/preferences", &reporter)
        .json(&quiet)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(
        app.get_json_as("/v1/notifications/preferences", &reporter)
            .await["utc_offset_minutes"],
        420
    );

    officer_does(&app, &id, "accept", json!({})).await;
    // The follower hears at once; the reporter's push waits for the quiet hours' end, the
    // notice does not.
    let heard = pushes_to(&fcm, &follower_device, 1).await;
    assert_eq!(
        heard[0]["message"]["notification"]["title"],
        "Phản ánh của bạn đã được tiếp nhận"
    );
    assert_eq!(
        app.get_json_as("/v1/inbox/unread-count", &reporter).await["unread"],
        1
    );
    let db = app.schema_pool("notifications").await;
    let held: bool = sqlx::query_scalar(
        "SELECT status = 'pending' AND next_attempt_at > now() + interval '30 minutes' FROM pushes WHERE push_token = $1",
    )
    .bind(&reporter_device)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(held, "held until the quiet hours end");

    // A flood is urgent: it goes through quiet hours.
    let flood = file(
        &app,
        &reporter,
        json!({ "category": "flooding", "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1 + 0.002,
                "description": "Ngập sâu", "answers": { "water_depth_cm": 50 } }),
    )
    .await;
    officer_does(&app, &flood, "accept", json!({})).await;
    let urgent = pushes_to(&fcm, &reporter_device, 1).await;
    assert_eq!(urgent.len(), 1, "only the urgent one");
    assert_eq!(urgent[0]["message"]["data"]["report_id"], flood.as_str());
    assert_eq!(urgent[0]["message"]["android"]["priority"], "HIGH");

    // An erased account's inbox goes with it; others' stay.
    let erase = app
        .authed(Method::DELETE, "/v1/me", &reporter)
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 202);
    let mut notices = json!(null);
    for _ in 0..100 {
        // The access token outlives the account by at most 15 minutes; the inbox must not.
        notices = app.get_json_as("/v1/inbox", &reporter).await["notices"].clone();
        if notices == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(notices, json!([]));
    assert_eq!(
        app.get_json_as("/v1/inbox/unread-count", &follower).await["unread"],
        1
    );
    app.stop().await;
}
in_both_modes!(followers_hear_quiet_hours_hold_and_urgent_goes_through);

async fn officers_hear_of_new_and_overdue_reports(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let officer = app.staff_token("phuxuan.officer").await;
    let elsewhere = app.staff_token("thuanhoa.officer").await;
    let officer_device = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    let elsewhere_device = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(&app, &officer, &officer_device).await;
    register_device(&app, &elsewhere, &elsewhere_device).await;

    let resident = app.resident_token().await;
    let id = file_report(&app, &resident).await;
    let heard = pushes_to(&fcm, &officer_device, 1).await;
    assert_eq!(heard.len(), 1);
    assert_eq!(
        heard[0]["message"]["notification"]["title"],
        "Phản ánh mới: Ổ gà, hư hỏng mặt đường"
    );
    assert_eq!(heard[0]["message"]["data"]["report_id"], id.as_str());

    // Past its deadline, the ward hears again.
    let reports = app.schema_pool("reports").await;
    sqlx::query("UPDATE reports SET sla_due_at = now() - interval '1 hour' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&reports)
        .await
        .unwrap();
    let heard = pushes_to(&fcm, &officer_device, 2).await;
    assert_eq!(heard.len(), 2);
    assert_eq!(
        heard[1]["message"]["notification"]["title"],
        "Phản ánh quá hạn xử lý"
    );
    // Another ward's officer heard nothing.
    assert_eq!(
        app.get_json_as("/v1/inbox", &elsewhere).await["notices"],
        json!([])
    );
    app.stop().await;
}
in_both_modes!(officers_hear_of_new_and_overdue_reports);

/// With NATS, the notifications pod dies while reports keep changing; when it is back, every
/// change it missed is pushed, once.
#[tokio::test]
async fn a_consumer_down_mid_stream_loses_nothing_and_doubles_nothing() {
    let fcm = fcm_emulator().await;
    let configure = configure(Mode::Split, &fcm);
    let mut app = TestApp::spawn_with(Mode::Split, &configure).await;
    let resident = app.resident_token().await;
    let push_token = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(&app, &resident, &push_token).await;
    let mut reports = Vec::new();
    for _ in 0..6 {
        reports.push(file_report(&app, &resident).await);
    }
    officer_does(&app, &reports[0], "accept", json!({})).await;
    assert_eq!(pushes_to(&fcm, &push_token, 1).await.len(), 1);

    app.stop_service("notifications").await;
    for id in &reports[1..] {
        officer_does(&app, id, "accept", json!({})).await;
    }
    let mut config = crate::helpers::test_config(&app.database);
    configure(&mut config);
    app.start_service("notifications", config).await;

    let received = pushes_to(&fcm, &push_token, 6).await;
    let mut ids: Vec<&str> = received
        .iter()
        .map(|d| d["message"]["data"]["report_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = reports.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected, "each change pushed once");
    // Nothing more arrives while this waits for a seventh.
    assert_eq!(pushes_to(&fcm, &push_token, 7).await.len(), 6);
    app.stop().await;
}

const THUAN_HOA: (f64, f64) = (16.458, 107.592);

/// A resident with an Android device; their account id and device token.
async fn resident_with_device(app: &TestApp) -> (String, String, String) {
    let token = app.resident_token().await;
    let id = app.get_json_as("/v1/me", &token).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let device = format!("device-{}:APA91b", uuid::Uuid::new_v4().simple());
    register_device(app, &token, &device).await;
    (token, id, device)
}

async fn set_home_ward(app: &TestApp, token: &str, ward: &str) {
    let set = app
        .authed(Method::PATCH, "/v1/me", token)
        .json(&json!({ "home_ward": { "jurisdiction": "hue", "ward": ward } }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
}

/// Waits until notifications knows where `count` of `accounts` are (events are asynchronous).
async fn residents_known(app: &TestApp, accounts: &[&str], count: i64) {
    let db = app.schema_pool("notifications").await;
    let ids: Vec<uuid::Uuid> = accounts.iter().map(|a| a.parse().unwrap()).collect();
    let mut known = 0;
    for _ in 0..100 {
        known = sqlx::query_scalar("SELECT count(*) FROM residents WHERE account_id = ANY($1)")
            .bind(&ids)
            .fetch_one(&db)
            .await
            .unwrap();
        if known >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(known, count);
}

async fn send_broadcast(app: &TestApp, token: &str, key: &str, body: &Json) -> reqwest::Response {
    app.authed(Method::POST, "/v1/admin/broadcasts", token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The broadcast, once `done` says it is (10 s at most).
async fn broadcast_when(
    app: &TestApp,
    token: &str,
    id: &str,
    done: impl Fn(&Json) -> bool,
) -> Json {
    let mut broadcast = json!(null);
    for _ in 0..100 {
        broadcast = app
            .get_json_as(&format!("/v1/admin/broadcasts/{id}"), token)
            .await;
        if done(&broadcast) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    broadcast
}

fn warning(area: Json) -> Json {
    json!({
        "jurisdiction": "hue",
        "area": area,
        "title_vi": "Cảnh báo ngập lụt",
        "body_vi": "Nước sông Hương đang lên nhanh. Hãy di chuyển đồ đạc lên cao.",
        "title_en": "Flood warning",
        "body_en": "The Perfume River is rising fast. Move belongings to higher ground.",
        "urgent": true,
    })
}

async fn a_broadcast_reaches_exactly_the_devices_inside_the_area(mode: Mode) {
    let fcm = fcm_emulator().await;
    let web_push = fcm.replace("/sandbox/fcm", "/sandbox/webpush");
    let app = spawn(mode, &fcm).await;
    let admin = app.staff_token("hue.admin").await;

    // Lives in Phú Xuân; has a phone and a browser.
    let (at_home, at_home_id, at_home_phone) = resident_with_device(&app).await;
    set_home_ward(&app, &at_home, "phu-xuan").await;
    let browser: Json = reqwest::Client::new()
        .post(format!("{web_push}/subscriptions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint = browser["endpoint"].as_str().unwrap();
    let registered = app
        .authed(Method::POST, "/v1/me/devices", &at_home)
        .json(
            &json!({ "platform": "web", "push_token": endpoint, "web_push_keys": browser["keys"] }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    // Last reported from Phú Xuân; no home ward.
    let (reporter, reporter_id, reporter_phone) = resident_with_device(&app).await;
    file_report(&app, &reporter).await;
    // Lives in Thuận Hóa.
    let (elsewhere, elsewhere_id, elsewhere_phone) = resident_with_device(&app).await;
    set_home_ward(&app, &elsewhere, "thuan-hoa").await;
    // Reported from Phú Xuân once, but last from Thuận Hóa.
    let (moved, moved_id, moved_phone) = resident_with_device(&app).await;
    file_report(&app, &moved).await;
    let last = file(
        &app,
        &moved,
        json!({ "category": "pothole", "latitude": THUAN_HOA.0, "longitude": THUAN_HOA.1,
                "description": "Ổ gà", "answers": { "size": "small" } }),
    )
    .await;
    residents_known(
        &app,
        &[&at_home_id, &reporter_id, &elsewhere_id, &moved_id],
        4,
    )
    .await;
    // The later report's cell wins, whatever order the events came in.
    let last_cell: i64 = sqlx::query_scalar("SELECT h3_res9 FROM reports WHERE id = $1::uuid")
        .bind(&last)
        .fetch_one(&app.schema_pool("reports").await)
        .await
        .unwrap();
    let notifications_db = app.schema_pool("notifications").await;
    let mut moved_cell = 0i64;
    for _ in 0..100 {
        moved_cell = sqlx::query_scalar(
            "SELECT last_report_cell FROM residents WHERE account_id = $1::uuid",
        )
        .bind(&moved_id)
        .fetch_one(&notifications_db)
        .await
        .unwrap();
        if moved_cell == last_cell {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(moved_cell, last_cell);

    // Phú Xuân: its resident (phone and browser) and the one who last reported from there,
    // counted before anything is sent.
    let preview = |token: &str, area: Json| {
        app.authed(Method::POST, "/v1/admin/broadcasts/preview", token)
            .json(&json!({ "jurisdiction": "hue", "area": area }))
            .send()
    };
    let audience: Json = preview(&admin, json!({ "wards": ["phu-xuan"] }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audience, json!({ "wards": ["phu-xuan"], "recipients": 2 }));
    let officer = app.staff_token("phuxuan.officer").await;
    for token in [&at_home, &officer] {
        problem(
            preview(token, json!({ "wards": ["phu-xuan"] }))
                .await
                .unwrap(),
            404,
            "route_not_found",
        )
        .await;
    }
    problem(
        preview(&admin, json!({ "wards": ["atlantis"] }))
            .await
            .unwrap(),
        422,
        "unknown_ward",
    )
    .await;
    let body = warning(json!({ "wards": ["phu-xuan"] }));
    let sent = send_broadcast(&app, &admin, "flood-2026-11-24", &body).await;
    assert_eq!(sent.status(), 202);
    let id = sent.json::<Json>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = broadcast_when(&app, &admin, &id, |b| b["status"] == "completed").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["recipients"], 2);
    assert_eq!(done["fanned_out"], 2);
    assert_eq!(done["pushes"]["sent"], 3);
    assert_eq!(done["wards"], json!(["phu-xuan"]));
    for phone in [&at_home_phone, &reporter_phone] {
        let received = pushes_to(&fcm, phone, 1).await;
        assert_eq!(received.len(), 1, "exactly once");
        let message = &received[0]["message"];
        assert_eq!(message["notification"]["title"], "Cảnh báo ngập lụt");
        assert_eq!(message["data"]["broadcast_id"], id.as_str());
        assert_eq!(message["android"]["priority"], "HIGH");
    }
    let subscription = endpoint.rsplit('/').next().unwrap();
    let on_the_web = web_pushes_to(&web_push, subscription, 1).await;
    assert_eq!(on_the_web.len(), 1);
    assert_eq!(on_the_web[0]["urgency"], "high");
    for phone in [&elsewhere_phone, &moved_phone] {
        assert_eq!(pushes_to(&fcm, phone, 0).await, Vec::<Json>::new());
    }
    let inbox = app.get_json_as("/v1/inbox", &at_home).await;
    assert_eq!(inbox["notices"][0]["kind"], "broadcast");
    assert_eq!(inbox["notices"][0]["title_en"], "Flood warning");

    // The operator's retry is the same broadcast; the same key for another is refused.
    let again = send_broadcast(&app, &admin, "flood-2026-11-24", &body).await;
    assert_eq!(again.status(), 202, "the first answer again");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Json>().await.unwrap()["id"], id.as_str());
    let other = warning(json!({ "wards": ["vy-da"] }));
    problem(
        send_broadcast(&app, &admin, "flood-2026-11-24", &other).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    // A key that made its broadcast before keys were kept (its id derives from the key) is
    // still the same broadcast on a retry, and still refused for another.
    let db = app.schema_pool("notifications").await;
    sqlx::query("DELETE FROM idempotency_keys WHERE key = 'flood-2026-11-24'")
        .execute(&db)
        .await
        .unwrap();
    let again = send_broadcast(&app, &admin, "flood-2026-11-24", &body).await;
    assert_eq!(again.status(), 202, "the first broadcast again");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Json>().await.unwrap()["id"], id.as_str());
    problem(
        send_broadcast(&app, &admin, "flood-2026-11-24", &other).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    // Every push of a completed broadcast has reached the emulator: none came of the retries.
    assert_eq!(pushes_to(&fcm, &at_home_phone, 1).await.len(), 1);

    // A small polygon in Thuận Hóa: whoever last reported inside it, and whoever lives in the
    // ward it touches.
    let (lat, lng) = THUAN_HOA;
    let square = json!({ "polygon": { "type": "Polygon", "coordinates": [[
        [lng - 0.001, lat - 0.001], [lng + 0.001, lat - 0.001], [lng + 0.001, lat + 0.001],
        [lng - 0.001, lat + 0.001], [lng - 0.001, lat - 0.001]]] } });
    let sent = send_broadcast(&app, &admin, "flood-thuan-hoa", &warning(square)).await;
    assert_eq!(sent.status(), 202);
    let id = sent.json::<Json>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = broadcast_when(&app, &admin, &id, |b| b["status"] == "completed").await;
    assert_eq!(done["recipients"], 2, "{done}");
    assert_eq!(done["wards"], json!(["thuan-hoa"]));
    for phone in [&elsewhere_phone, &moved_phone] {
        assert_eq!(pushes_to(&fcm, phone, 1).await.len(), 1);
    }
    assert_eq!(pushes_to(&fcm, &reporter_phone, 1).await.len(), 1);

    // Only the jurisdiction's admins may warn it; areas must make sense.
    for token in [&at_home, &officer] {
        problem(
            send_broadcast(&app, token, "x", &body).await,
            404,
            "route_not_found",
        )
        .await;
        problem(
            app.get_as(&format!("/v1/admin/broadcasts/{id}"), token)
                .await,
            404,
            "broadcast_not_found",
        )
        .await;
    }
    let mut elsewhere_city = body.clone();
    elsewhere_city["jurisdiction"] = json!("da-nang");
    problem(
        send_broadcast(&app, &admin, "y", &elsewhere_city).await,
        404,
        "route_not_found",
    )
    .await;
    for (area, code) in [
        (json!({ "wards": ["atlantis"] }), "unknown_ward"),
        (
            json!({ "wards": ["phu-xuan"], "cells": [] }),
            "invalid_area",
        ),
        (json!({ "cells": ["not-a-cell"] }), "invalid_area"),
    ] {
        problem(
            send_broadcast(
                &app,
                &admin,
                &uuid::Uuid::new_v4().to_string(),
                &warning(area),
            )
            .await,
            422,
            code,
        )
        .await;
    }
    let unkeyed = app
        .authed(Method::POST, "/v1/admin/broadcasts", &admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(unkeyed, 400, "idempotency_key_required").await;
    let listed = app.get_json_as("/v1/admin/broadcasts", &admin).await;
    assert_eq!(listed["broadcasts"].as_array().unwrap().len(), 2);
    assert_eq!(listed["broadcasts"][0]["id"], id.as_str(), "newest first");
    app.stop().await;
}
in_both_modes!(a_broadcast_reaches_exactly_the_devices_inside_the_area);

async fn an_interrupted_broadcast_resumes_and_tells_nobody_twice(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let admin = app.staff_token("hue.admin").await;
    let (resident, resident_id, phone) = resident_with_device(&app).await;
    set_home_ward(&app, &resident, "kim-long").await;
    residents_known(&app, &[&resident_id], 1).await;
    // 2,500 more residents of Kim Long (without devices): three pages of recipients.
    let db = app.schema_pool("notifications").await;
    sqlx::query(
        "INSERT INTO residents (account_id, home_jurisdiction, home_ward) SELECT gen_random_uuid(), 'hue', 'kim-long' FROM generate_series(1, 2500)",
    )
    .execute(&db)
    .await
    .unwrap();
    // The database fails every page after the first, as a crash would leave it: mid-way.
    sqlx::raw_sql(
        r#"CREATE SEQUENCE pages_written;
           CREATE FUNCTION fail_after_one_page() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF nextval('pages_written') > 1 THEN RAISE EXCEPTION 'injected fault'; END IF;
             RETURN NULL;
           END $$;
           CREATE TRIGGER injected_fault AFTER INSERT ON notices
             FOR EACH STATEMENT EXECUTE FUNCTION fail_after_one_page();"#,
    )
    .execute(&db)
    .await
    .unwrap();

    let sent = send_broadcast(
        &app,
        &admin,
        "kim-long-water-cut",
        &warning(json!({ "wards": ["kim-long"] })),
    )
    .await;
    assert_eq!(sent.status(), 202);
    let id = sent.json::<Json>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Stuck after one page: progress shows it, and no page is half written.
    let stuck = broadcast_when(&app, &admin, &id, |b| b["fanned_out"] == 1000).await;
    assert_eq!(stuck["status"], "fanning_out", "{stuck}");
    assert_eq!(stuck["recipients"], 2501);
    assert_eq!(stuck["fanned_out"], 1000);
    // The job has tried the second page, and failed, more than once by now.
    let mut attempts = 0i64;
    for _ in 0..100 {
        attempts = sqlx::query_scalar("SELECT last_value FROM pages_written")
            .fetch_one(&db)
            .await
            .unwrap();
        if attempts >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(attempts >= 3, "the fault was hit: {attempts}");
    let written: i64 = sqlx::query_scalar("SELECT count(*) FROM notices WHERE event_id = $1::uuid")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(written, 1000);
    let still = app
        .get_json_as(&format!("/v1/admin/broadcasts/{id}"), &admin)
        .await;
    assert_eq!(still["fanned_out"], 1000);

    // The fault clears: the job goes on from where it stopped.
    sqlx::raw_sql("DROP TRIGGER injected_fault ON notices")
        .execute(&db)
        .await
        .unwrap();
    let done = broadcast_when(&app, &admin, &id, |b| b["status"] == "completed").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["fanned_out"], 2501);
    let (notices, people): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT account_id) FROM notices WHERE event_id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((notices, people), (2501, 2501));
    // Completed: every push has been settled, so what the emulator holds is final.
    assert_eq!(pushes_to(&fcm, &phone, 1).await.len(), 1, "pushed once");
    app.stop().await;
}
in_both_modes!(an_interrupted_broadcast_resumes_and_tells_nobody_twice);

async fn a_cancelled_broadcast_sends_nothing_more(mode: Mode) {
    let fcm = fcm_emulator().await;
    let app = spawn(mode, &fcm).await;
    let admin = app.staff_token("hue.admin").await;
    let (resident, resident_id, phone) = resident_with_device(&app).await;
    set_home_ward(&app, &resident, "vy-da").await;
    residents_known(&app, &[&resident_id], 1).await;
    // Quiet hours now: a warning that is not urgent waits.
    let local = chrono::Utc::now() + chrono::Duration::hours(7);
    let hhmm = |t: chrono::DateTime<chrono::Utc>| t.format("%H:%M").to_string();
    let quiet = json!({ "quiet_hours": { "start": hhmm(local - chrono::Duration::hours(1)),
                                          "end": hhmm(local + chrono::Duration::hours(1)) } });
    let set = app
        .authed(Method::PUT, "/v1/notifications/preferences", &resident)
        .json(&quiet)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);

    let mut notice = warning(json!({ "wards": ["vy-da"] }));
    notice["urgent"] = json!(false);
    let sent = send_broadcast(&app, &admin, "water-cut", &notice).await;
    let id = sent.json::<Json>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let waiting = broadcast_when(&app, &admin, &id, |b| b["status"] == "sending").await;
    assert_eq!(waiting["pushes"]["pending"], 1, "{waiting}");

    let cancel = |token: String| {
        let url = format!("/v1/admin/broadcasts/{id}/cancel");
        let request = app.authed(Method::POST, &url, &token);
        async move { request.send().await.unwrap() }
    };
    let cancelled = cancel(admin.clone()).await;
    assert_eq!(cancelled.status(), 200);
    let cancelled: Json = cancelled.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["pushes"]["cancelled"], 1);
    assert_eq!(cancelled["pushes"]["pending"], 0);
    // Again: still cancelled. Someone else's: not found.
    assert_eq!(cancel(admin.clone()).await.status(), 200);
    problem(cancel(resident.clone()).await, 404, "broadcast_not_found").await;
    assert_eq!(pushes_to(&fcm, &phone, 0).await, Vec::<Json>::new());

    // What went out completely cannot be cancelled.
    let empty = send_broadcast(
        &app,
        &admin,
        "nobody-there",
        &warning(json!({ "wards": ["phu-bai"] })),
    )
    .await;
    let empty_id = empty.json::<Json>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = broadcast_when(&app, &admin, &empty_id, |b| b["status"] == "completed").await;
    assert_eq!(done["recipients"], 0);
    let late = app
        .authed(
            Method::POST,
            &format!("/v1/admin/broadcasts/{empty_id}/cancel"),
            &admin,
        )
        .send()
        .await
        .unwrap();
    problem(late, 409, "broadcast_completed").await;
    app.stop().await;
}
in_both_modes!(a_cancelled_broadcast_sends_nothing_more);
