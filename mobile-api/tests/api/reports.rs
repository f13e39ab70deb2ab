//! Field reports, black-box through the gateway: filing, routing, duplicates, the workflow,
//! scopes, the public feed and the SLA job, on the demo city `hue`.

use identity::config::IdentityConfig;
use reports::config::ReportsConfig;
use std::io::Cursor;

use image::{ImageFormat, RgbImage};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, problem};
use crate::in_both_modes;

/// Well inside Phú Xuân.
/// In Thanh Thủy, which fills a hole in Hương Thủy.
const IN_THE_HOLE: (f64, f64) = (16.400, 107.614);
/// In Hương Thủy, outside its hole.
const HUONG_THUY: (f64, f64) = (16.39, 107.59);
/// A vertex Kim Long and Phú Xuân share.
const ON_A_BORDER: (f64, f64) = (16.49, 107.564);
/// The sea off Thuận An.
const OUTSIDE: (f64, f64) = (16.60, 107.72);
/// Thuận Hóa, away from its borders.
const THUAN_HOA: (f64, f64) = (16.458, 107.592);

async fn spawn(mode: Mode) -> TestApp {
    spawn_with(mode, |_| {}).await
}

async fn spawn_with(mode: Mode, adjust: impl Fn(&mut platform::Config)) -> TestApp {
    TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        config.internal.service_token = Some("test-service-token".to_owned().into());
        adjust(config);
    })
    .await
}

fn photo() -> Vec<u8> {
    let mut bytes = Vec::new();
    RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]))
        .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .unwrap();
    bytes
}

pub(crate) async fn upload_photo(app: &TestApp, token: &str) -> String {
    let part = Part::bytes(photo())
        .file_name("p.png")
        .mime_str("image/png")
        .unwrap();
    let response = app
        .authed(Method::POST, "/v1/media", token)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let media: Json = response.json().await.unwrap();
    media["id"].as_str().unwrap().to_owned()
}

fn pothole_at((lat, lng): (f64, f64)) -> Json {
    json!({
        "category": "pothole",
        "latitude": lat,
        "longitude": lng,
        "description": "Ổ gà lớn giữa đường",
        "answers": { "size": "large", "depth_cm": 15 },
    })
}

async fn file_with_key(app: &TestApp, token: &str, key: &str, body: &Json) -> reqwest::Response {
    app.authed(Method::POST, "/v1/reports", token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Files a report, expecting success: the answer's `report`.
async fn file(app: &TestApp, token: &str, body: &Json) -> Json {
    app.file_report(token, body).await
}

async fn act(app: &TestApp, token: &str, id: &str, action: &str, body: Json) -> reqwest::Response {
    app.authed(
        Method::POST,
        &format!("/v1/officer/reports/{id}/{action}"),
        token,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

async fn act_ok(app: &TestApp, token: &str, id: &str, action: &str, body: Json) -> Json {
    let response = act(app, token, id, action, body).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn filing_locates_the_ward_and_routes_to_the_department(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let photo = upload_photo(&app, &resident).await;

    let mut body = pothole_at(PHU_XUAN);
    body["media_ids"] = json!([photo]);
    let response = file_with_key(&app, &resident, "first", &body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let filed: Json = response.json().await.unwrap();
    let report = &filed["report"];
    assert_eq!(
        location,
        format!("/v1/reports/{}", report["id"].as_str().unwrap())
    );
    assert_eq!(report["status"], "submitted");
    assert_eq!(report["ward"]["id"], "phu-xuan");
    assert_eq!(report["ward"]["name_vi"], "Phường Phú Xuân");
    assert_eq!(report["department"]["id"], "construction");
    assert_eq!(report["media_ids"], json!([photo]));
    assert_eq!(report["timeline"][0]["kind"], "created");
    // 72 hours for a pothole.
    let created =
        chrono::DateTime::parse_from_rfc3339(report["created_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(report["sla_due_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - created).num_hours(), 72);

    // The photo is now the report's: media says so.
    let media: Json = app
        .get_json_as(&format!("/v1/media/{photo}"), &resident)
        .await;
    assert_eq!(media["attached"], true);

    // In a hole, the ward that fills it; beside it, the ward with the hole.
    let ward = |report: Json| report["ward"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        ward(file(&app, &resident, &pothole_at(IN_THE_HOLE)).await),
        "thanh-thuy"
    );
    assert_eq!(
        ward(file(&app, &resident, &pothole_at(HUONG_THUY)).await),
        "huong-thuy"
    );
    // On a border both wards share, the first by id, every time.
    assert_eq!(
        ward(file(&app, &resident, &pothole_at(ON_A_BORDER)).await),
        "kim-long"
    );
    assert_eq!(
        ward(file(&app, &resident, &pothole_at(ON_A_BORDER)).await),
        "kim-long"
    );

    let outside = file_with_key(&app, &resident, "outside", &pothole_at(OUTSIDE)).await;
    problem(outside, 422, "outside_jurisdiction").await;

    // A ward rule beats the category's own department: street lights in Phú Xuân (the
    // Citadel) go to heritage, elsewhere to electricity and lighting.
    let light = |at: (f64, f64)| {
        json!({ "category": "street_light", "latitude": at.0, "longitude": at.1,
                "description": "Đèn tắt", "answers": { "light_state": "off" } })
    };
    let department = |report: Json| report["department"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        department(file(&app, &resident, &light(PHU_XUAN)).await),
        "heritage"
    );
    assert_eq!(
        department(file(&app, &resident, &light(THUAN_HOA)).await),
        "electricity-lighting"
    );

    // Every filing wrote its outbox event in the same transaction.
    let db = app.schema_pool("reports").await;
    let created: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'report.created' AND aggregate_id = $1",
    )
    .bind(uuid::Uuid::parse_str(report["id"].as_str().unwrap()).unwrap())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(created, 1);
    app.stop().await;
}
in_both_modes!(filing_locates_the_ward_and_routes_to_the_department);

async fn bad_filings_are_refused_with_clear_codes(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let other = app.resident_token().await;

    let no_key = app
        .authed(Method::POST, "/v1/reports", &resident)
        .json(&pothole_at(PHU_XUAN))
        .send()
        .await
        .unwrap();
    problem(no_key, 400, "idempotency_key_required").await;

    let cases = [
        (json!({ "category": "no_such_thing" }), "unknown_category"),
        (json!({ "answers": {} }), "invalid_answers"),
        (
            json!({ "answers": { "size": "gigantic" } }),
            "invalid_answers",
        ),
        (
            json!({ "answers": { "size": "large", "colour": "red" } }),
            "invalid_answers",
        ),
        (
            json!({ "description": "x".repeat(4001) }),
            "description_too_long",
        ),
    ];
    for (change, code) in cases {
        let mut body = pothole_at(PHU_XUAN);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = file_with_key(&app, &resident, code, &body).await;
        problem(response, 422, code).await;
    }

    // Someone else's photo: refused, and nothing is filed.
    let theirs = upload_photo(&app, &other).await;
    let mut body = pothole_at(PHU_XUAN);
    body["media_ids"] = json!([theirs]);
    problem(
        file_with_key(&app, &resident, "theirs", &body).await,
        422,
        "media_not_owned",
    )
    .await;
    let mine: Json = app.get_json_as("/v1/reports/mine", &resident).await;
    assert_eq!(mine["reports"], json!([]));
    app.stop().await;
}
in_both_modes!(bad_filings_are_refused_with_clear_codes);

async fn filing_is_rate_limited_per_account(mode: Mode) {
    let app = spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.max_reports_per_hour = 3)
    })
    .await;
    let resident = app.resident_token().await;
    for n in 0..3 {
        file_with_key(&app, &resident, &format!("k{n}"), &pothole_at(PHU_XUAN)).await;
    }
    let refused = file_with_key(&app, &resident, "k3", &pothole_at(PHU_XUAN)).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3601).contains(&retry_after), "{retry_after}");
    problem(refused, 429, "too_many_reports").await;
    // A retry of a report already filed is still answered; another resident is not limited.
    assert_eq!(
        file_with_key(&app, &resident, "k0", &pothole_at(PHU_XUAN))
            .await
            .status(),
        201
    );
    let other = app.resident_token().await;
    assert_eq!(
        file_with_key(&app, &other, "k0", &pothole_at(PHU_XUAN))
            .await
            .status(),
        201
    );
    app.stop().await;
}
in_both_modes!(filing_is_rate_limited_per_account);

/// Filings sent all at once are counted one after another: the limit holds exactly.
async fn concurrent_filings_never_pass_the_hourly_limit(mode: Mode) {
    let app = spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.max_reports_per_hour = 5)
    })
    .await;
    let resident = app.resident_token().await;
    let filings = (0..16).map(|n| {
        let (app, resident) = (&app, &resident);
        async move {
            file_with_key(app, resident, &format!("burst-{n}"), &pothole_at(PHU_XUAN))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(filings).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        11,
        "{statuses:?}"
    );
    app.stop().await;
}
in_both_modes!(concurrent_filings_never_pass_the_hourly_limit);

async fn a_failed_filing_lets_its_photos_go(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let photo = upload_photo(&app, &resident).await;
    let mut body = pothole_at(PHU_XUAN);
    body["media_ids"] = json!([photo]);

    // The database refuses the report after media attached the photo.
    let db = app.schema_pool("reports").await;
    sqlx::query(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON reports FOR EACH ROW EXECUTE FUNCTION refuse()",
    )
    .execute(&db)
    .await
    .unwrap();
    let failed = file_with_key(&app, &resident, "first-try", &body).await;
    let failed = problem(failed, 500, "internal_error").await;
    assert!(
        !failed.to_string().contains("refused by the test"),
        "no internals in a 5xx"
    );
    let media: Json = app
        .get_json_as(&format!("/v1/media/{photo}"), &resident)
        .await;
    assert_eq!(media["attached"], false, "the photo is let go");

    // Once the fault is gone, the same photo files under a new key.
    sqlx::query("DROP TRIGGER refuse ON reports")
        .execute(&db)
        .await
        .unwrap();
    let filed = file_with_key(&app, &resident, "second-try", &body).await;
    assert_eq!(filed.status(), 201);
    app.stop().await;
}
in_both_modes!(a_failed_filing_lets_its_photos_go);

async fn one_key_files_one_report_under_concurrent_retries(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let photo = upload_photo(&app, &resident).await;
    let mut body = pothole_at(PHU_XUAN);
    body["media_ids"] = json!([photo]);

    let attempts = (0..20).map(|_| file_with_key(&app, &resident, "same-key", &body));
    let responses = futures::future::join_all(attempts).await;
    let mut ids = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let filed: Json = response.json().await.unwrap();
        ids.push(filed["report"]["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry answers with the one report");
    let db = app.schema_pool("reports").await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM reports")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 1);

    // A replay says so; the same key with another body is refused.
    let replayed = file_with_key(&app, &resident, "same-key", &body).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    body["description"] = json!("Khác");
    problem(
        file_with_key(&app, &resident, "same-key", &body).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    // Keys belong to their account: another resident's same key is a new report.
    let other = app.resident_token().await;
    let theirs = file_with_key(&app, &other, "same-key", &pothole_at(PHU_XUAN)).await;
    assert_eq!(theirs.status(), 201);

    // A key kept before keys were fingerprinted with their operation (the body's SHA-256 alone,
    // as filing wrote them until December 2026) still replays its report, and only for its body.
    let first = file_with_key(&app, &other, "old-key", &pothole_at(PHU_XUAN)).await;
    let first: Json = first.json().await.unwrap();
    let (lat, lng) = PHU_XUAN;
    let as_written = format!(
        r#"{{"category":"pothole","latitude":{lat},"longitude":{lng},"description":"Ổ gà lớn giữa đường","media_ids":[],"answers":{{"depth_cm":15,"size":"large"}},"anonymous":false,"jurisdiction":null}}"#
    );
    sqlx::query(
        "UPDATE idempotency_keys SET request_hash = sha256(convert_to($1, 'UTF8')) WHERE key = 'old-key'",
    )
    .bind(&as_written)
    .execute(&db)
    .await
    .unwrap();
    let retried = file_with_key(&app, &other, "old-key", &pothole_at(PHU_XUAN)).await;
    assert_eq!(retried.status(), 201);
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    let retried: Json = retried.json().await.unwrap();
    assert_eq!(retried["report"]["id"], first["report"]["id"]);
    problem(
        file_with_key(&app, &other, "old-key", &body).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    app.stop().await;
}
in_both_modes!(one_key_files_one_report_under_concurrent_retries);

async fn duplicates_are_offered_followed_and_linked(mode: Mode) {
    let app = spawn(mode).await;
    let first_resident = app.resident_token().await;
    let second_resident = app.resident_token().await;
    let original = file(&app, &first_resident, &pothole_at(PHU_XUAN)).await;
    let original_id = original["id"].as_str().unwrap();

    // ~20 m north: offered before filing; ~200 m north, or another category: not.
    let near = (PHU_XUAN.0 + 0.00018, PHU_XUAN.1);
    let far = (PHU_XUAN.0 + 0.0018, PHU_XUAN.1);
    let offered = |category: &'static str, at: (f64, f64)| {
        let app = &app;
        let token = second_resident.clone();
        async move {
            let answer: Json = app
                .get_json_as(
                    &format!(
                        "/v1/reports/duplicates?category={category}&lat={}&lng={}",
                        at.0, at.1
                    ),
                    &token,
                )
                .await;
            answer["reports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(offered("pothole", near).await, vec![original_id.to_owned()]);
    assert!(offered("pothole", far).await.is_empty());
    assert!(offered("garbage", near).await.is_empty());

    // Filed anyway: the answer offers the original too.
    let response = file_with_key(&app, &second_resident, "dup", &pothole_at(near)).await;
    let filed: Json = response.json().await.unwrap();
    assert_eq!(filed["possible_duplicates"][0]["id"], original_id);
    assert!(filed["possible_duplicates"][0].get("reporter_id").is_none());
    let duplicate_id = filed["report"]["id"].as_str().unwrap().to_owned();

    // A resident may follow someone else's public report instead.
    let follow = app
        .authed(
            Method::PUT,
            &format!("/v1/reports/{original_id}/follow"),
            &second_resident,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 204);
    let following: Json = app
        .get_json_as("/v1/reports/following", &second_resident)
        .await;
    assert_eq!(following["reports"][0]["id"], original_id);
    assert_eq!(following["reports"][0]["followers"], 1);

    // The ward officer links them: the duplicate is rejected, both point at each other.
    let officer = app.staff_token("phuxuan.officer").await;
    let linked: Json = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{duplicate_id}/duplicate-of"),
            &officer,
        )
        .json(&json!({ "original_id": original_id, "public_note": "Đã có phản ánh này" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(linked["status"], "rejected");
    assert_eq!(linked["reject_reason"], "duplicate");
    assert_eq!(linked["duplicate_of"], original_id);
    let original: Json = app
        .get_json_as(&format!("/v1/reports/{original_id}"), &first_resident)
        .await;
    assert_eq!(original["duplicates"], json!([duplicate_id]));
    assert!(
        original["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "duplicate_linked")
    );
    // A rejected report is no original, and the original of others is no duplicate.
    let backwards = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{original_id}/duplicate-of"),
            &officer,
        )
        .json(&json!({ "original_id": duplicate_id }))
        .send()
        .await
        .unwrap();
    problem(backwards, 422, "invalid_duplicate").await;
    // An anonymous report at the very spot is never offered: it would give its place away.
    let mut anonymous = pothole_at(PHU_XUAN);
    anonymous["anonymous"] = json!(true);
    file(&app, &first_resident, &anonymous).await;
    // Its reporter follows the original once, and is not offered a rejected report again.
    assert_eq!(original["followers"], 1);
    assert_eq!(
        offered("pothole", PHU_XUAN).await,
        vec![original_id.to_owned()]
    );
    app.stop().await;
}
in_both_modes!(duplicates_are_offered_followed_and_linked);

async fn the_workflow_checks_each_step(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let report = file(&app, &resident, &pothole_at(PHU_XUAN)).await;
    let id = report["id"].as_str().unwrap();
    let officer = app.staff_token("phuxuan.officer").await;

    // Out of order: 409, and nothing changes.
    problem(
        act(&app, &officer, id, "close", json!({})).await,
        409,
        "illegal_transition",
    )
    .await;
    problem(
        act(&app, &officer, id, "start", json!({})).await,
        409,
        "illegal_transition",
    )
    .await;
    problem(
        act(&app, &officer, id, "frobnicate", json!({})).await,
        404,
        "route_not_found",
    )
    .await;

    let accepted = act_ok(
        &app,
        &officer,
        id,
        "accept",
        json!({ "internal_note": "Đội 2 xử lý" }),
    )
    .await;
    assert_eq!(accepted["status"], "accepted");
    problem(
        act(&app, &officer, id, "accept", json!({})).await,
        409,
        "illegal_transition",
    )
    .await;

    // Assigning needs someone of the report's ward or department.
    problem(
        act(&app, &officer, id, "assign", json!({})).await,
        422,
        "assignee_required",
    )
    .await;
    let members: Json = app
        .get_json_as("/v1/admin/staff", &app.staff_token("hue.admin").await)
        .await;
    let member = |username: &str| {
        members
            .as_array()
            .or(members["staff"].as_array())
            .unwrap()
            .iter()
            .find(|m| m["username"] == username)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let elsewhere = act(
        &app,
        &officer,
        id,
        "assign",
        json!({ "assignee_id": member("thuanhoa.officer") }),
    )
    .await;
    problem(elsewhere, 422, "invalid_assignee").await;
    let assigned = act_ok(
        &app,
        &officer,
        id,
        "assign",
        json!({ "assignee_id": member("construction.staff") }),
    )
    .await;
    assert_eq!(assigned["status"], "assigned");
    assert_eq!(assigned["assignee_id"], member("construction.staff"));

    // The assignee (department staff of construction) works it.
    let worker = app.staff_token("construction.staff").await;
    assert_eq!(
        act_ok(&app, &worker, id, "start", json!({})).await["status"],
        "in_progress"
    );
    // Resolving needs a proof photo and a public note.
    problem(
        act(
            &app,
            &worker,
            id,
            "resolve",
            json!({ "public_note": "Đã vá" }),
        )
        .await,
        422,
        "proof_required",
    )
    .await;
    let proof = upload_photo(&app, &worker).await;
    problem(
        act(
            &app,
            &worker,
            id,
            "resolve",
            json!({ "media_ids": [proof] }),
        )
        .await,
        422,
        "proof_required",
    )
    .await;
    let resolved = act_ok(
        &app,
        &worker,
        id,
        "resolve",
        json!({ "public_note": "Đã vá xong", "media_ids": [proof] }),
    )
    .await;
    assert_eq!(resolved["status"], "resolved");

    // The resident sees the public timeline only: no internal note, no staff ids.
    let seen: Json = app
        .get_json_as(&format!("/v1/reports/{id}"), &resident)
        .await;
    let timeline = seen["timeline"].as_array().unwrap();
    let kinds: Vec<_> = timeline
        .iter()
        .map(|e| e["to_status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "submitted",
            "accepted",
            "assigned",
            "in_progress",
            "resolved"
        ]
    );
    assert!(
        timeline
            .iter()
            .all(|e| e.get("actor_id").is_none() && e["public"] == true)
    );
    // Nor who it is assigned to.
    assert!(
        timeline
            .iter()
            .all(|e| e["details"].get("assignee_id").is_none())
    );
    assert_eq!(timeline[4]["note"], "Đã vá xong");
    assert_eq!(timeline[4]["media_ids"], json!([proof]));
    // Staff see the internal note.
    let full: Json = app
        .get_json_as(&format!("/v1/officer/reports/{id}"), &officer)
        .await;
    assert!(
        full["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["note"] == "Đội 2 xử lý" && e["public"] == false)
    );

    // Rating: 1 to 5, once, by the reporter only.
    let rate = |token: String, rating: i64| {
        let app = &app;
        async move {
            app.authed(Method::POST, &format!("/v1/reports/{id}/rating"), &token)
                .json(&json!({ "rating": rating, "comment": "Nhanh" }))
                .send()
                .await
                .unwrap()
        }
    };
    problem(rate(resident.clone(), 6).await, 422, "invalid_rating").await;
    problem(
        rate(app.resident_token().await, 5).await,
        404,
        "report_not_found",
    )
    .await;
    assert_eq!(rate(resident.clone(), 5).await.status(), 200);
    problem(rate(resident.clone(), 4).await, 409, "already_rated").await;

    // Reopened by the reporter, then back through the workflow; rejected needs a reason.
    let reopened = app
        .authed(Method::POST, &format!("/v1/reports/{id}/reopen"), &resident)
        .json(&json!({ "note": "Ổ gà lại xuất hiện" }))
        .send()
        .await
        .unwrap();
    assert_eq!(reopened.status(), 200);
    // Reopened, it has a fresh deadline.
    let reopened: Json = reopened.json().await.unwrap();
    assert!(reopened["sla_due_at"].as_str().unwrap() > resolved["sla_due_at"].as_str().unwrap());
    assert_eq!(reopened["overdue"], false);
    problem(
        act(&app, &officer, id, "reject", json!({})).await,
        422,
        "reason_required",
    )
    .await;
    let rejected = act_ok(
        &app,
        &officer,
        id,
        "reject",
        json!({ "reason": "invalid", "public_note": "Không đúng" }),
    )
    .await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reject_reason"], "invalid");
    for action in ["accept", "assign", "start", "resolve", "close", "reject"] {
        let response = act(&app, &officer, id, action, json!({ "reason": "spam", "assignee_id": member("phuxuan.officer"), "public_note": "x", "media_ids": [] })).await;
        assert_eq!(
            response.status(),
            if action == "resolve" { 422 } else { 409 },
            "{action}"
        );
    }
    // Events went out for every change.
    let db = app.schema_pool("reports").await;
    let changes: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE event_type = 'report.status_changed'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(changes, 6);
    app.stop().await;
}
in_both_modes!(the_workflow_checks_each_step);

async fn reopening_closes_after_a_week(mode: Mode) {
    let app = spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.sla_check_interval_ms = 100)
    })
    .await;
    let resident = app.resident_token().await;
    let officer = app.staff_token("phuxuan.officer").await;
    let id = file(&app, &resident, &pothole_at(PHU_XUAN)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = upload_photo(&app, &officer).await;
    act_ok(&app, &officer, &id, "accept", json!({})).await;
    act_ok(
        &app,
        &officer,
        &id,
        "resolve",
        json!({ "public_note": "Xong", "media_ids": [proof] }),
    )
    .await;
    // Eight days later, as the clock would have it.
    let db = app.schema_pool("reports").await;
    sqlx::query("UPDATE reports SET resolved_at = now() - interval '8 days' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&db)
        .await
        .unwrap();
    let reopen = app
        .authed(Method::POST, &format!("/v1/reports/{id}/reopen"), &resident)
        .json(&json!({ "note": "Chưa xong" }))
        .send()
        .await
        .unwrap();
    let status = reopen.status().as_u16();
    assert_eq!(status, 409);
    // And the SLA job closes it.
    let mut closed = false;
    for _ in 0..100 {
        let seen: Json = app
            .get_json_as(&format!("/v1/reports/{id}"), &resident)
            .await;
        if seen["status"] == "closed" {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(closed);
    app.stop().await;
}
in_both_modes!(reopening_closes_after_a_week);

async fn scopes_keep_reports_to_those_responsible(mode: Mode) {
    let app = spawn(mode).await;
    let reporter = app.resident_token().await;
    let stranger = app.resident_token().await;
    let in_phu_xuan = file(&app, &reporter, &pothole_at(PHU_XUAN)).await;
    let id = in_phu_xuan["id"].as_str().unwrap();
    // A complaint about an officer is never public.
    let complaint = file(
        &app,
        &reporter,
        &json!({ "category": "officer_conduct", "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1,
                 "description": "Cán bộ đòi tiền", "answers": { "details": "Chi tiết" } }),
    )
    .await;
    let complaint_id = complaint["id"].as_str().unwrap();

    // Another ward's officer: 404 to read and to act.
    let other_ward = app.staff_token("thuanhoa.officer").await;
    problem(
        app.get_as(&format!("/v1/officer/reports/{id}"), &other_ward)
            .await,
        404,
        "report_not_found",
    )
    .await;
    problem(
        act(&app, &other_ward, id, "accept", json!({})).await,
        404,
        "report_not_found",
    )
    .await;
    let queue: Json = app.get_json_as("/v1/officer/reports", &other_ward).await;
    assert_eq!(queue["reports"], json!([]));
    // Department staff see their department's reports across wards; residents have no queue.
    let construction = app.staff_token("construction.staff").await;
    let queue: Json = app.get_json_as("/v1/officer/reports", &construction).await;
    assert_eq!(queue["reports"][0]["id"], id);
    assert!(queue["reports"][0]["reporter_id"].as_str().is_some());
    problem(
        app.get_as("/v1/officer/reports", &reporter).await,
        404,
        "route_not_found",
    )
    .await;

    // A stranger reads the public report without its reporter, and not the private one.
    let public: Json = app
        .get_json_as(&format!("/v1/reports/{id}"), &stranger)
        .await;
    assert_eq!(public["id"], id);
    for private_field in ["reporter_id", "anonymous", "assignee_id"] {
        assert!(public.get(private_field).is_none(), "{private_field}");
    }
    // Only the answers to questions marked public.
    assert_eq!(
        public["answers"],
        json!({ "size": "large", "depth_cm": 15 })
    );
    problem(
        app.get_as(&format!("/v1/reports/{complaint_id}"), &stranger)
            .await,
        404,
        "report_not_found",
    )
    .await;
    problem(
        app.get(&format!("/v1/reports/{complaint_id}")).await,
        404,
        "report_not_found",
    )
    .await;
    let follow = app
        .authed(
            Method::PUT,
            &format!("/v1/reports/{complaint_id}/follow"),
            &stranger,
        )
        .send()
        .await
        .unwrap();
    problem(follow, 404, "report_not_found").await;
    // Its reporter does read it, with their answers.
    let own: Json = app
        .get_json_as(&format!("/v1/reports/{complaint_id}"), &reporter)
        .await;
    assert_eq!(own["answers"]["details"], "Chi tiết");
    // Another resident cannot reopen or rate it either.
    let reopen = app
        .authed(Method::POST, &format!("/v1/reports/{id}/reopen"), &stranger)
        .json(&json!({ "note": "x" }))
        .send()
        .await
        .unwrap();
    problem(reopen, 404, "report_not_found").await;
    app.stop().await;
}
in_both_modes!(scopes_keep_reports_to_those_responsible);

async fn the_near_feed_shows_public_reports_and_hides_who_and_where_exactly(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let here = file(&app, &resident, &pothole_at(PHU_XUAN)).await;
    let mut anonymous = pothole_at((PHU_XUAN.0 + 0.002, PHU_XUAN.1));
    anonymous["anonymous"] = json!(true);
    let anonymous = file(&app, &resident, &anonymous).await;
    let far = file(&app, &resident, &pothole_at(THUAN_HOA)).await;

    let feed: Json = app
        .get(&format!(
            "/v1/reports/near?lat={}&lng={}&radius_m=1000",
            PHU_XUAN.0, PHU_XUAN.1
        ))
        .await
        .json()
        .await
        .unwrap();
    let reports = feed["reports"].as_array().unwrap();
    let ids: Vec<_> = reports.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(
        ids,
        vec![here["id"].clone(), anonymous["id"].clone()],
        "nearest first, only within the radius"
    );
    assert!(!ids.contains(&far["id"]));
    assert_eq!(reports[0]["distance_m"], 0.0);
    for report in reports {
        assert!(report.get("reporter_id").is_none() && report.get("anonymous").is_none());
    }
    // The anonymous one shows at the centre of its cell, not where it was filed.
    let position = &reports[1]["position"];
    assert_eq!(position["coarsened"], true);
    assert_ne!(position["latitude"], anonymous["position"]["latitude"]);
    assert_eq!(reports[0]["position"]["latitude"], PHU_XUAN.0);

    // The radius is capped; a bad one is a 400.
    let capped: Json = app
        .get(&format!(
            "/v1/reports/near?lat={}&lng={}&radius_m=50000",
            PHU_XUAN.0, PHU_XUAN.1
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(capped["radius_m"], 2000.0);
    problem(
        app.get("/v1/reports/near?lat=16.4&lng=107.5&radius_m=-1")
            .await,
        400,
        "invalid_radius",
    )
    .await;
    problem(
        app.get("/v1/reports/near?lat=north&lng=107.5").await,
        400,
        "invalid_query",
    )
    .await;
    app.stop().await;
}
in_both_modes!(the_near_feed_shows_public_reports_and_hides_who_and_where_exactly);

async fn the_officer_queue_filters_and_pages_in_sla_order(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let officer = app.staff_token("phuxuan.officer").await;
    // A flood (6 h) is due before a pothole (72 h), whenever filed.
    let pothole = file(&app, &resident, &pothole_at(PHU_XUAN)).await;
    let flood = file(
        &app,
        &resident,
        &json!({ "category": "flooding", "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1 + 0.001,
                 "description": "Ngập sâu", "answers": { "water_depth_cm": 40, "impacts": ["road_impassable"] } }),
    )
    .await;
    let second_pothole = file(
        &app,
        &resident,
        &pothole_at((PHU_XUAN.0 + 0.003, PHU_XUAN.1)),
    )
    .await;
    assert_eq!(flood["urgent"], true);

    let first_page: Json = app
        .get_json_as("/v1/officer/reports?limit=2", &officer)
        .await;
    let second_page: Json = app
        .get_json_as(
            &format!(
                "/v1/officer/reports?limit=2&cursor={}",
                first_page["next_cursor"].as_str().unwrap()
            ),
            &officer,
        )
        .await;
    let order: Vec<_> = first_page["reports"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second_page["reports"].as_array().unwrap())
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(
        order,
        vec![
            flood["id"].clone(),
            pothole["id"].clone(),
            second_pothole["id"].clone()
        ]
    );

    let potholes: Json = app
        .get_json_as("/v1/officer/reports?category=pothole", &officer)
        .await;
    assert_eq!(potholes["reports"].as_array().unwrap().len(), 2);
    let drainage: Json = app
        .get_json_as("/v1/officer/reports?department=drainage", &officer)
        .await;
    assert_eq!(drainage["reports"][0]["id"], flood["id"]);
    let elsewhere: Json = app
        .get_json_as("/v1/officer/reports?ward=thuan-hoa", &officer)
        .await;
    assert_eq!(elsewhere["reports"], json!([]));
    problem(
        app.get_as("/v1/officer/reports?status=lost", &officer)
            .await,
        400,
        "invalid_status",
    )
    .await;
    problem(
        app.get_as("/v1/officer/reports?cursor=!!", &officer).await,
        400,
        "invalid_cursor",
    )
    .await;

    // Bulk accept: in-scope submitted ones accepted, the rest skipped with a reason.
    let stranger = uuid::Uuid::new_v4();
    let bulk: Json = app
        .authed(Method::POST, "/v1/officer/reports/accept", &officer)
        .json(&json!({ "report_ids": [pothole["id"], flood["id"], stranger] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bulk["accepted"].as_array().unwrap().len(), 2);
    assert_eq!(
        bulk["skipped"],
        json!([{ "id": stranger, "code": "report_not_found" }])
    );
    let accepted: Json = app
        .get_json_as("/v1/officer/reports?status=accepted", &officer)
        .await;
    assert_eq!(accepted["reports"].as_array().unwrap().len(), 2);
    app.stop().await;
}
in_both_modes!(the_officer_queue_filters_and_pages_in_sla_order);

async fn overdue_reports_are_escalated_once(mode: Mode) {
    let app = spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.sla_check_interval_ms = 100)
    })
    .await;
    let resident = app.resident_token().await;
    let officer = app.staff_token("phuxuan.officer").await;
    let id = file(&app, &resident, &pothole_at(PHU_XUAN)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = app.schema_pool("reports").await;
    sqlx::query("UPDATE reports SET sla_due_at = now() - interval '1 hour' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&db)
        .await
        .unwrap();
    let mut overdue = Json::Null;
    for _ in 0..100 {
        overdue = app
            .get_json_as("/v1/officer/reports?overdue=true", &officer)
            .await;
        if overdue["reports"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(overdue["reports"][0]["id"], id.as_str());
    assert_eq!(overdue["reports"][0]["overdue"], true);
    // Several more runs of the job later, still one escalation.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let escalations: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE event_type = 'report.overdue'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(escalations, 1);
    app.stop().await;
}
in_both_modes!(overdue_reports_are_escalated_once);

async fn admins_import_wards_and_routing(mode: Mode) {
    let app = spawn(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let resident = app.resident_token().await;

    // A ward rule added by the admin wins over the category's department.
    let mut jurisdiction: Json =
        serde_json::from_str(reports::jurisdiction::DEMO_JURISDICTION).unwrap();
    jurisdiction["routing"].as_array_mut().unwrap().push(
        json!({ "category": "pothole", "ward": "thuan-hoa", "department": "urban-environment" }),
    );
    let put = app
        .authed(Method::PUT, "/v1/admin/jurisdictions/hue", &admin)
        .json(&jurisdiction)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    assert_eq!(
        file(&app, &resident, &pothole_at(THUAN_HOA)).await["department"]["id"],
        "urban-environment"
    );
    assert_eq!(
        file(&app, &resident, &pothole_at(PHU_XUAN)).await["department"]["id"],
        "construction"
    );
    // A category left out of the next import is retired: not offered, not filed under.
    jurisdiction["categories"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["code"] != "damaged_sign");
    let put = app
        .authed(Method::PUT, "/v1/admin/jurisdictions/hue", &admin)
        .json(&jurisdiction)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let categories: Json = app
        .get("/v1/reports/categories")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        !categories["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "damaged_sign")
    );
    let mut sign = pothole_at(PHU_XUAN);
    sign["category"] = json!("damaged_sign");
    sign["answers"] = json!({});
    problem(
        file_with_key(&app, &resident, "sign", &sign).await,
        422,
        "unknown_category",
    )
    .await;

    // New boundaries take effect at once; overlapping ones are refused.
    let square = |id: &str, south: f64, north: f64| {
        json!({
            "type": "Feature",
            "properties": { "id": id, "name_vi": id, "name_en": id },
            "geometry": { "type": "Polygon", "coordinates": [[[107.0, south], [108.0, south], [108.0, north], [107.0, north], [107.0, south]]] },
        })
    };
    let wards = |features: Vec<Json>| json!({ "type": "FeatureCollection", "features": features });
    let upload = |body: Json| {
        app.authed(Method::PUT, "/v1/admin/jurisdictions/hue/wards", &admin)
            .header("content-type", "application/geo+json")
            .body(body.to_string())
            .send()
    };
    let overlapping = upload(wards(vec![
        square("phu-xuan", 16.0, 16.6),
        square("thuan-hoa", 16.5, 17.0),
    ]))
    .await
    .unwrap();
    problem(overlapping, 422, "invalid_jurisdiction_data").await;
    // Wards with reports stay.
    let dropping = upload(wards(vec![square("phu-xuan", 16.0, 17.0)]))
        .await
        .unwrap();
    problem(dropping, 409, "ward_in_use").await;
    let replaced = upload(wards(vec![
        square("phu-xuan", 16.0, 16.5),
        square("thuan-hoa", 16.5, 17.0),
    ]))
    .await
    .unwrap();
    assert_eq!(replaced.status(), 204);
    assert_eq!(
        file(&app, &resident, &pothole_at(OUTSIDE)).await["ward"]["id"],
        "thuan-hoa"
    );

    // Only admins of the jurisdiction.
    let officer = app.staff_token("phuxuan.officer").await;
    let refused = app
        .authed(Method::PUT, "/v1/admin/jurisdictions/hue", &officer)
        .json(&jurisdiction)
        .send()
        .await
        .unwrap();
    problem(refused, 404, "route_not_found").await;
    let categories: Json = app
        .get("/v1/reports/categories")
        .await
        .json()
        .await
        .unwrap();
    assert!(categories["categories"].as_array().unwrap().len() >= 20);
    app.stop().await;
}
in_both_modes!(admins_import_wards_and_routing);
