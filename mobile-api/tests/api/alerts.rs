//! CAP alerts through the gateway: the authorities' feeds (the CAP sandbox on a port of its own,
//! as their systems are elsewhere), operators' alerts, updates and cancels, the residents of an
//! area told, and what we publish checked by a second implementation (the OASIS schema, through
//! lxml, installed from PyPI by `scripts/cap-validator`).

use std::path::Path;
use std::process::Command;

use alerts::config::{AlertsConfig, CapFeed};
use chrono::{Duration, Utc};
use identity::config::IdentityConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, client, poll_until, problem};
use crate::in_both_modes;
use crate::verification::sandbox;

const COMMITTEE: &str = "pctt@hue.gov.vn";

/// The app reading the CAP sandbox's three feeds every second.
async fn app_with_feeds(mode: Mode, provider: &mobile_api::App) -> TestApp {
    let base = format!("http://{}/sandbox/cap", provider.addr());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    TestApp::spawn_with(mode, move |c| {
        c.internal.service_token = Some("test-service-token".to_owned().into());
        c.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        if matches!(mode, Mode::Split) {
            crate::helpers::use_nats(c, &unique);
        }
        let base = base.clone();
        c.edit(move |alerts: &mut AlertsConfig| {
            let feed = |publisher: &str, sender: &str, kind: &str| CapFeed {
                url: format!("{base}/{publisher}/feed.atom"),
                sender: sender.to_owned(),
                kind: kind.to_owned(),
            };
            alerts.feeds.insert(
                "hue".to_owned(),
                vec![
                    feed("disaster-committee", COMMITTEE, "disaster"),
                    feed("power", sandbox::cap::POWER_SENDER, "power_outage"),
                    feed("water", sandbox::cap::WATER_SENDER, "water_outage"),
                ],
            );
            alerts.feed_poll_secs = 1;
            alerts.timeout_ms = 2_000;
        });
    })
    .await
}

/// A CAP 1.2 document of the disaster committee, written out by hand (not by our writer).
fn committee_alert(
    identifier: &str,
    msg_type: &str,
    references: Option<&str>,
    severity: &str,
) -> String {
    let now = Utc::now().with_timezone(&platform::vietnam_time::OFFSET);
    let time =
        |t: chrono::DateTime<chrono::FixedOffset>| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string();
    let references = references
        .map(|r| format!("<references>{r}</references>"))
        .unwrap_or_default();
    let (lat, lng) = PHU_XUAN;
    let polygon = format!(
        "{},{} {},{} {},{} {},{} {},{}",
        lat - 0.01,
        lng - 0.01,
        lat + 0.01,
        lng - 0.01,
        lat + 0.01,
        lng + 0.01,
        lat - 0.01,
        lng + 0.01,
        lat - 0.01,
        lng - 0.01
    );
    let info = |language: &str, event: &str, headline: &str, description: &str, area: &str| {
        format!(
            "<info><language>{language}</language><category>Met</category><event>{event}</event>\
             <urgency>Immediate</urgency><severity>{severity}</severity><certainty>Observed</certainty>\
             <effective>{}</effective><expires>{}</expires><headline>{headline}</headline>\
             <description>{description}</description><area><areaDesc>{area}</areaDesc>\
             <polygon>{polygon}</polygon></area></info>",
            time(now),
            time(now + Duration::hours(12)),
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>{identifier}</identifier>\
         <sender>{COMMITTEE}</sender><sent>{}</sent><status>Actual</status><msgType>{msg_type}</msgType>\
         <scope>Public</scope>{references}{}{}</alert>",
        time(now),
        info(
            "vi-VN",
            "Ngập lụt",
            &format!("Ngập sâu ở Phú Xuân ({identifier})"),
            "Nước lên nhanh, di chuyển đồ đạc lên cao.",
            "Phường Phú Xuân"
        ),
        info(
            "en-US",
            "Flooding",
            &format!("Deep flooding in Phu Xuan ({identifier})"),
            "Water is rising fast; move belongings up.",
            "Phu Xuan ward"
        ),
    )
}

async fn publish(provider: &mobile_api::App, publisher: &str, document: &str) {
    let answer = client()
        .post(format!(
            "http://{}/sandbox/cap/{publisher}/alerts",
            provider.addr()
        ))
        .header("content-type", "application/cap+xml")
        .body(document.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
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

/// The titles of the account's notices, once one contains `part` (10 s at most).
async fn notices_once(app: &TestApp, token: &str, part: &str) -> Vec<String> {
    let titles = |inbox: &Value| -> Vec<String> {
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title_vi"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let inbox = poll_until(
        || app.get_json_as("/v1/inbox", token),
        |inbox: &Value| titles(inbox).iter().any(|t| t.contains(part)),
    )
    .await;
    titles(&inbox)
}

async fn alert_with(app: &TestApp, query: &str, identifier: &str) -> Value {
    let path = format!("/v1/alerts?{query}");
    let answer = poll_until(
        || app.get_json(&path),
        |a: &Value| {
            a["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["headline"]["vi"].as_str().unwrap().contains(identifier))
        },
    )
    .await;
    answer["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["headline"]["vi"].as_str().unwrap().contains(identifier))
        .cloned()
        .unwrap_or_else(|| panic!("no alert {identifier}: {answer}"))
}

in_both_modes!(authorities_alerts_reach_their_area_and_follow_their_references);
async fn authorities_alerts_reach_their_area_and_follow_their_references(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_feeds(mode, &provider).await;
    let resident = app.resident_token().await;
    set_home_ward(&app, &resident, "phu-xuan").await;
    let elsewhere = app.resident_token().await;
    set_home_ward(&app, &elsewhere, "thuan-hoa").await;

    // The power company's planned outage, from its feed, covers its point.
    let (lat, lng) = sandbox::cap::POWER_OUTAGE_POINT;
    let path = format!("/v1/alerts?kind=power_outage&lat={lat}&lng={lng}");
    let outages = poll_until(
        || app.get_json(&path),
        |a: &Value| !a["alerts"].as_array().unwrap().is_empty(),
    )
    .await;
    let outage = &outages["alerts"][0];
    assert_eq!(outage["kind"], "power_outage");
    assert_eq!(outage["applies_here"], true, "{outage}");
    assert_eq!(outage["sender"], sandbox::cap::POWER_SENDER);
    assert_eq!(outage["state"], "active");
    assert!(outage["headline"]["vi"].is_string() && outage["headline"]["en"].is_string());

    // The committee warns Phú Xuân of a flood: severe and immediate, so urgent.
    publish(
        &provider,
        "disaster-committee",
        &committee_alert("PCTT-1", "Alert", None, "Severe"),
    )
    .await;
    let flood = alert_with(&app, "kind=disaster", "PCTT-1").await;
    assert_eq!(flood["urgent"], true);
    assert!(
        notices_once(&app, &resident, "PCTT-1")
            .await
            .iter()
            .any(|t| t.contains("Ngập sâu"))
    );

    // It updates it; the first is `updated`, the update in force, and the resident told again.
    let sent = flood["sent"].as_str().unwrap();
    let reference = format!(
        "{COMMITTEE},PCTT-1,{}",
        chrono::DateTime::parse_from_rfc3339(sent)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%:z")
    );
    publish(
        &provider,
        "disaster-committee",
        &committee_alert("PCTT-2", "Update", Some(&reference), "Extreme"),
    )
    .await;
    let update = alert_with(&app, "kind=disaster", "PCTT-2").await;
    assert_eq!(update["msg_type"], "Update");
    let first = app
        .get_json(&format!("/v1/alerts/{}", flood["id"].as_str().unwrap()))
        .await;
    assert_eq!(first["state"], "updated");
    assert_eq!(first["replaced_by"], update["id"]);
    assert!(
        notices_once(&app, &resident, "PCTT-2")
            .await
            .iter()
            .any(|t| t.starts_with("Cập nhật"))
    );

    // Then cancels it: nothing of it is in force any more.
    let update_sent =
        chrono::DateTime::parse_from_rfc3339(update["sent"].as_str().unwrap()).unwrap();
    let reference = format!(
        "{COMMITTEE},PCTT-2,{}",
        update_sent.format("%Y-%m-%dT%H:%M:%S%:z")
    );
    publish(
        &provider,
        "disaster-committee",
        &committee_alert("PCTT-3", "Cancel", Some(&reference), "Minor"),
    )
    .await;
    let path = format!("/v1/alerts/{}", update["id"].as_str().unwrap());
    let cancelled = poll_until(
        || app.get_json(&path),
        |a: &Value| a["state"] == "cancelled",
    )
    .await;
    assert_eq!(cancelled["state"], "cancelled");
    let disasters = app.get_json("/v1/alerts?kind=disaster").await;
    assert!(
        disasters["alerts"].as_array().unwrap().is_empty(),
        "{disasters}"
    );

    // A cancel without info (as CAP allows) of an alert told in that alert's words.
    publish(
        &provider,
        "disaster-committee",
        &committee_alert("PCTT-5", "Alert", None, "Moderate"),
    )
    .await;
    let moderate = alert_with(&app, "kind=disaster", "PCTT-5").await;
    let moderate_sent =
        chrono::DateTime::parse_from_rfc3339(moderate["sent"].as_str().unwrap()).unwrap();
    let bare_cancel = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>PCTT-6</identifier>\
         <sender>{COMMITTEE}</sender><sent>{}</sent><status>Actual</status><msgType>Cancel</msgType>\
         <scope>Public</scope><references>{COMMITTEE},PCTT-5,{}</references></alert>",
        Utc::now()
            .with_timezone(&platform::vietnam_time::OFFSET)
            .format("%Y-%m-%dT%H:%M:%S%:z"),
        moderate_sent.format("%Y-%m-%dT%H:%M:%S%:z"),
    );
    publish(&provider, "disaster-committee", &bare_cancel).await;
    let path = format!("/v1/alerts/{}", moderate["id"].as_str().unwrap());
    let gone = poll_until(
        || app.get_json(&path),
        |a: &Value| a["state"] == "cancelled",
    )
    .await;
    assert_eq!(gone["state"], "cancelled");

    // A test message is not an alert: refused, recorded, shown to no one.
    let test = committee_alert("PCTT-7", "Alert", None, "Extreme")
        .replace("<status>Actual", "<status>Test");
    publish(&provider, "disaster-committee", &test).await;

    // A document in the committee's feed that claims another sender is refused, and recorded.
    let forged = committee_alert("PCTT-4", "Alert", None, "Extreme")
        .replace(COMMITTEE, "someone@else.example");
    publish(&provider, "disaster-committee", &forged).await;
    let db = app.schema_pool("alerts").await;
    let refusal: Option<String> = poll_until(
        || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT refusal FROM feed_entries WHERE link LIKE '%PCTT-4%'",
            )
            .fetch_optional(&db)
            .await
            .unwrap()
            .flatten()
        },
        Option::is_some,
    )
    .await;
    assert!(refusal.unwrap().contains("not the feed's"));
    let test_refusal: Option<String> =
        sqlx::query_scalar("SELECT refusal FROM feed_entries WHERE link LIKE '%PCTT-7%'")
            .fetch_optional(&db)
            .await
            .unwrap()
            .flatten();
    assert!(test_refusal.unwrap().contains("not an actual alert"));
    let listed = app.get_json("/v1/alerts?kind=disaster").await;
    assert!(!listed.to_string().contains("PCTT-7"), "{listed}");

    // Thuận Hóa heard nothing of Phú Xuân's flood.
    let inbox = app.get_json_as("/v1/inbox", &elsewhere).await;
    assert!(!inbox.to_string().contains("PCTT"), "{inbox}");
    app.stop().await;
}

fn operator_alert(area: Value) -> Value {
    json!({
        "jurisdiction": "hue",
        "kind": "traffic",
        "event_vi": "Cấm đường",
        "event_en": "Road closure",
        "headline_vi": "Cấm đường Lê Lợi cho lễ hội",
        "headline_en": "Le Loi Street closed for the festival",
        "description_vi": "Đường Lê Lợi cấm xe từ 18 giờ đến 23 giờ.",
        "description_en": "Le Loi Street is closed to traffic from 6 pm to 11 pm.",
        "urgency": "Expected",
        "severity": "Minor",
        "certainty": "Likely",
        "expires": (Utc::now() + Duration::hours(6)).to_rfc3339(),
        "area_desc_vi": "Phường Phú Xuân",
        "area_desc_en": "Phu Xuan ward",
        "area": area,
    })
}

/// Runs `scripts/cap-validator` (the OASIS CAP 1.2 schema, or Atom's, through lxml).
fn validate(mode: &str, document: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("document.xml");
    std::fs::write(&file, document).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cap-validator");
    let output = Command::new(script).arg(mode).arg(&file).output().unwrap();
    assert!(
        output.status.success(),
        "{mode} document refused: {}\n{document}",
        String::from_utf8_lossy(&output.stderr)
    );
}

in_both_modes!(operators_issue_and_cancel_alerts_published_as_cap);
async fn operators_issue_and_cancel_alerts_published_as_cap(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_feeds(mode, &provider).await;
    let admin = app.staff_token("hue.admin").await;
    let resident = app.resident_token().await;
    set_home_ward(&app, &resident, "phu-xuan").await;

    let issue = |key: &str, body: Value| {
        app.authed(Method::POST, "/v1/admin/alerts", &admin)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let closure = operator_alert(json!({ "wards": ["phu-xuan"] }));
    let issued = issue("closure-1", closure.clone()).await.unwrap();
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["state"], "active");
    assert_eq!(issued["wards"], json!(["phu-xuan"]));
    let again = issue("closure-1", closure.clone()).await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], issued["id"], "a retry makes no second alert");
    let mut other = closure.clone();
    other["severity"] = json!("Severe");
    problem(
        issue("closure-1", other).await.unwrap(),
        422,
        "idempotency_key_reused",
    )
    .await;
    assert!(
        notices_once(&app, &resident, "Lê Lợi")
            .await
            .iter()
            .any(|t| t.contains("Cấm đường Lê Lợi"))
    );

    // Published as CAP 1.2 that the OASIS schema accepts, and in the jurisdiction's Atom feed.
    let id = issued["id"].as_str().unwrap();
    let cap = app.get(&format!("/v1/alerts/{id}/cap")).await;
    assert!(
        cap.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/cap+xml")
    );
    let cap = cap.text().await.unwrap();
    assert!(
        cap.contains("<language>vi-VN</language>")
            && cap.contains("<valueName>citizen:ward</valueName>")
    );
    validate("cap", &cap);
    let circle = issue(
        "closure-2",
        operator_alert(json!({ "circle": { "lat": 16.4637, "lng": 107.5909, "radius_m": 800 } })),
    )
    .await
    .unwrap();
    assert_eq!(circle.status(), 201);
    let circle: Value = circle.json().await.unwrap();
    let circle_cap = app
        .get(&format!(
            "/v1/alerts/{}/cap",
            circle["id"].as_str().unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(circle_cap.contains("<circle>16.4637,107.5909 0.8</circle>"));
    validate("cap", &circle_cap);
    let feed = app.get("/v1/alerts/feeds/hue.atom").await;
    assert!(
        feed.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let feed = feed.text().await.unwrap();
    assert!(feed.contains(&format!("/v1/alerts/{id}/cap")));
    validate("atom", &feed);

    // Bad input is refused with its reason; another jurisdiction's staff see no such route.
    let mut long = operator_alert(json!({ "wards": ["phu-xuan"] }));
    long["area_desc_vi"] = json!("Phường Phú Xuân và các phường lân cận dọc bờ sông Hương");
    problem(
        issue("closure-3", long).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    let unknown = operator_alert(json!({ "wards": ["atlantis"] }));
    problem(
        issue("closure-4", unknown).await.unwrap(),
        422,
        "unknown_ward",
    )
    .await;
    let mut past = operator_alert(json!({ "wards": ["phu-xuan"] }));
    past["expires"] = json!((Utc::now() - Duration::hours(1)).to_rfc3339());
    problem(
        issue("closure-5", past).await.unwrap(),
        422,
        "invalid_alert_period",
    )
    .await;
    let officer = app.staff_token("phuxuan.officer").await;
    let not_theirs = app
        .authed(Method::POST, "/v1/admin/alerts", &officer)
        .header("Idempotency-Key", "closure-6")
        .json(&operator_alert(json!({ "wards": ["phu-xuan"] })))
        .send()
        .await
        .unwrap();
    assert_eq!(not_theirs.status(), 404);

    // Cancelled: a CAP Cancel referencing it; a second cancel finds nothing in force.
    let cancel = |id: String| {
        app.authed(
            Method::POST,
            &format!("/v1/admin/alerts/{id}/cancel"),
            &admin,
        )
        .json(&json!({ "reason_vi": "Lễ hội hoãn.", "reason_en": "The festival is postponed." }))
        .send()
    };
    let cancelled = cancel(id.to_owned()).await.unwrap();
    assert_eq!(cancelled.status(), 200);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(cancelled["msg_type"], "Cancel");
    let cancel_cap = app
        .get(&format!(
            "/v1/alerts/{}/cap",
            cancelled["id"].as_str().unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        cancel_cap.contains("<msgType>Cancel</msgType>") && cancel_cap.contains("<references>")
    );
    validate("cap", &cancel_cap);
    assert_eq!(
        app.get_json(&format!("/v1/alerts/{id}")).await["state"],
        "cancelled"
    );
    problem(
        cancel(id.to_owned()).await.unwrap(),
        409,
        "alert_not_current",
    )
    .await;
    // The power company's alert is the power company's to cancel.
    let outages = poll_until(
        || app.get_json("/v1/alerts?kind=power_outage"),
        |a: &Value| !a["alerts"].as_array().unwrap().is_empty(),
    )
    .await;
    let outage = outages["alerts"][0]["id"].as_str().unwrap().to_owned();
    problem(
        cancel(outage.clone()).await.unwrap(),
        409,
        "alert_of_another_sender",
    )
    .await;
    // Nor ours to update.
    let mut update = operator_alert(json!({ "wards": ["phu-xuan"] }));
    update["updates"] = json!(outage);
    problem(
        issue("closure-7", update).await.unwrap(),
        409,
        "alert_of_another_sender",
    )
    .await;
    app.stop().await;
}

in_both_modes!(emergency_numbers_and_the_nearest_help);
async fn emergency_numbers_and_the_nearest_help(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    // At Huế Central Hospital.
    let near = app
        .get_json("/v1/alerts/emergency?lat=16.4627&lng=107.5880")
        .await;
    let numbers: Vec<&str> = near["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers[..3], ["113", "114", "115"]);
    assert_eq!(near["numbers"][0]["name"]["vi"], "Công an");
    let places = near["places"].as_array().unwrap();
    let kinds: Vec<&str> = places.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 3, "{near}");
    for kind in ["police", "fire_station", "hospital"] {
        assert_eq!(kinds.iter().filter(|k| **k == kind).count(), 1, "{kind}");
    }
    assert_eq!(places[0]["name"]["vi"], "Bệnh viện Trung ương Huế");
    assert_eq!(places[0]["distance_m"], 0.0);
    assert!(
        places
            .windows(2)
            .all(|p| p[0]["distance_m"].as_f64() <= p[1]["distance_m"].as_f64())
    );

    let everywhere = app.get_json("/v1/alerts/emergency").await;
    assert_eq!(everywhere["places"].as_array().unwrap().len(), 6);
    let half = app.get("/v1/alerts/emergency?lat=16.46").await;
    problem(half, 422, "invalid_position").await;
    app.stop().await;
}

in_both_modes!(ward_officers_notify_their_own_ward);
async fn ward_officers_notify_their_own_ward(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_feeds(mode, &provider).await;
    let officer = app.staff_token("phuxuan.officer").await;
    let resident = app.resident_token().await;
    set_home_ward(&app, &resident, "phu-xuan").await;
    let notice = |area: Value, severity: &str| {
        let mut body = operator_alert(area);
        body["kind"] = json!("neighbourhood");
        body["severity"] = json!(severity);
        body["headline_vi"] = json!("Họp tổ dân phố tối thứ Bảy");
        body
    };
    let post = |key: &str, body: Value| {
        app.authed(Method::POST, "/v1/admin/alerts", &officer)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let issued = post("meeting", notice(json!({ "wards": ["phu-xuan"] }), "Minor"))
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["urgent"], false);
    assert!(
        notices_once(&app, &resident, "Họp tổ dân phố")
            .await
            .iter()
            .any(|t| t.contains("Họp tổ dân phố"))
    );
    let listed = app
        .get_json("/v1/alerts?kind=neighbourhood&ward=phu-xuan")
        .await;
    assert_eq!(listed["alerts"][0]["id"], issued["id"]);
    let elsewhere = app
        .get_json("/v1/alerts?kind=neighbourhood&ward=thuan-hoa")
        .await;
    assert!(elsewhere["alerts"].as_array().unwrap().is_empty());

    // Another ward, a polygon, another kind: not theirs to send. Nor a severe warning.
    let other_ward = post("other", notice(json!({ "wards": ["thuan-hoa"] }), "Minor"))
        .await
        .unwrap();
    assert_eq!(other_ward.status(), 404);
    let mut announcement = notice(json!({ "wards": ["phu-xuan"] }), "Minor");
    announcement["kind"] = json!("announcement");
    assert_eq!(post("announce", announcement).await.unwrap().status(), 404);
    let circle = notice(
        json!({ "circle": { "lat": 16.495, "lng": 107.582, "radius_m": 500 } }),
        "Minor",
    );
    assert_eq!(post("circle", circle).await.unwrap().status(), 404);
    let severe = post("severe", notice(json!({ "wards": ["phu-xuan"] }), "Severe"))
        .await
        .unwrap();
    problem(severe, 422, "notice_too_severe").await;

    // The officer cancels their notice; another ward's officer cannot see it to cancel it.
    let other_officer = app.staff_token("thuanhoa.officer").await;
    let id = issued["id"].as_str().unwrap();
    let reason = json!({ "reason_vi": "Hoãn họp.", "reason_en": "The meeting is postponed." });
    let theirs = app
        .authed(
            Method::POST,
            &format!("/v1/admin/alerts/{id}/cancel"),
            &other_officer,
        )
        .json(&reason)
        .send()
        .await
        .unwrap();
    problem(theirs, 404, "alert_not_found").await;
    let cancelled = app
        .authed(
            Method::POST,
            &format!("/v1/admin/alerts/{id}/cancel"),
            &officer,
        )
        .json(&reason)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 200);
    app.stop().await;
}
