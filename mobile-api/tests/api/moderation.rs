//! Moderation hides what it should from the app's public endpoints and Open311 alike, bans a
//! filer for a while, and logs every action; officers answer with response templates.

use identity::config::IdentityConfig;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, problem};
use crate::in_both_modes;

async fn file(app: &TestApp, token: &str, category: &str) -> reqwest::Response {
    let answers = match category {
        "pothole" => json!({ "size": "small" }),
        _ => json!({ "light_state": "off" }),
    };
    let report = json!({ "category": category, "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1,
                         "description": "Ổ gà", "answers": answers });
    app.post_report(token, &report).await
}

async fn filed(app: &TestApp, token: &str, category: &str) -> String {
    let response = file(app, token, category).await;
    assert_eq!(response.status(), 201);
    response.json::<Json>().await.unwrap()["report"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn post_as(app: &TestApp, token: &str, path: &str, body: Json) -> reqwest::Response {
    app.authed(Method::POST, path, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The app with the demo staff, and the service token hiding and redacting need (media's
/// internal API).
async fn spawn(mode: Mode) -> TestApp {
    TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        config.internal.service_token = Some("test-service-token".to_owned().into());
    })
    .await
}

fn near() -> String {
    format!(
        "/v1/reports/near?lat={}&lng={}&radius_m=500",
        PHU_XUAN.0, PHU_XUAN.1
    )
}

async fn in_feed(app: &TestApp, id: &str) -> bool {
    let feed: Json = app.get(&near()).await.json().await.unwrap();
    feed["reports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == id)
}

async fn moderation_hides_from_the_public_and_open311_alike(mode: Mode) {
    let app = spawn(mode).await;
    let reporter = app.resident_token().await;
    let stranger = app.resident_token().await;
    let officer = app.staff_token("phuxuan.officer").await;
    let admin = app.staff_token("hue.admin").await;
    let id = filed(&app, &reporter, "pothole").await;
    let accepted = post_as(
        &app,
        &officer,
        &format!("/v1/officer/reports/{id}/accept"),
        json!({ "public_note": "Một ghi chú không phù hợp" }),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    let timeline = app
        .get_json_as(&format!("/v1/reports/{id}"), &stranger)
        .await["timeline"]
        .clone();
    let note = timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["note"] == "Một ghi chú không phù hợp")
        .unwrap();
    let event = note["id"].as_str().unwrap().to_owned();
    let open311 = format!("/open311/v2/requests/{id}.json");
    let listed: Json = app.get(&open311).await.json().await.unwrap();
    assert_eq!(listed[0]["status_notes"], "Một ghi chú không phù hợp");

    // Only the jurisdiction's admins moderate.
    problem(
        post_as(
            &app,
            &officer,
            &format!("/v1/admin/reports/{id}/hide"),
            json!({ "reason": "x" }),
        )
        .await,
        404,
        "report_not_found",
    )
    .await;

    // The note leaves the public timeline and Open311; staff still read it.
    let hidden = post_as(
        &app,
        &admin,
        &format!("/v1/admin/reports/{id}/events/{event}/hide"),
        json!({ "reason": "Ngôn từ không phù hợp" }),
    )
    .await;
    assert_eq!(hidden.status(), 204);
    let public = app
        .get_json_as(&format!("/v1/reports/{id}"), &stranger)
        .await;
    assert!(
        !public["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == event.as_str())
    );
    let listed: Json = app.get(&open311).await.json().await.unwrap();
    assert_eq!(listed[0]["status_notes"], "");
    let staff = app
        .get_json_as(&format!("/v1/officer/reports/{id}"), &officer)
        .await;
    assert!(
        staff["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["note"] == "Một ghi chú không phù hợp")
    );

    // The report leaves the feed, its page and Open311; its reporter still has it.
    assert!(in_feed(&app, &id).await);
    let hidden = post_as(
        &app,
        &admin,
        &format!("/v1/admin/reports/{id}/hide"),
        json!({ "reason": "Ảnh có thông tin cá nhân" }),
    )
    .await;
    assert_eq!(hidden.status(), 204);
    assert!(!in_feed(&app, &id).await);
    problem(
        app.get_as(&format!("/v1/reports/{id}"), &stranger).await,
        404,
        "report_not_found",
    )
    .await;
    assert_eq!(app.get(&open311).await.status(), 404);
    let everything: Json = app
        .get("/open311/v2/requests.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(everything, json!([]));
    assert_eq!(
        app.get_as(&format!("/v1/reports/{id}"), &reporter)
            .await
            .status(),
        200
    );
    // And back.
    let shown = post_as(
        &app,
        &admin,
        &format!("/v1/admin/reports/{id}/show"),
        json!({}),
    )
    .await;
    assert_eq!(shown.status(), 204);
    assert!(in_feed(&app, &id).await);
    assert_eq!(app.get(&open311).await.status(), 200);

    // A ban stops filing until it is lifted.
    let reporter_id = app.get_json_as("/v1/me", &reporter).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let until = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let banned = app
        .authed(
            Method::PUT,
            &format!("/v1/admin/jurisdictions/hue/bans/{reporter_id}"),
            &admin,
        )
        .json(&json!({ "reason": "Gửi phản ánh sai sự thật nhiều lần", "until": until }))
        .send()
        .await
        .unwrap();
    assert_eq!(banned.status(), 204);
    problem(
        file(&app, &reporter, "pothole").await,
        403,
        "banned_from_filing",
    )
    .await;
    assert_eq!(file(&app, &stranger, "pothole").await.status(), 201);
    let lifted = app
        .authed(
            Method::DELETE,
            &format!("/v1/admin/jurisdictions/hue/bans/{reporter_id}"),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), 204);
    assert_eq!(file(&app, &reporter, "pothole").await.status(), 201);

    // Every action is in the log, newest first.
    let log = app
        .get_json_as("/v1/admin/jurisdictions/hue/moderation-log", &admin)
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "ban_lifted",
            "filer_banned",
            "report_shown",
            "report_hidden",
            "note_hidden"
        ]
    );
    assert_eq!(log[3]["reason"], "Ảnh có thông tin cá nhân");
    problem(
        app.get_as("/v1/admin/jurisdictions/hue/moderation-log", &officer)
            .await,
        404,
        "route_not_found",
    )
    .await;
    app.stop().await;
}
in_both_modes!(moderation_hides_from_the_public_and_open311_alike);

async fn officers_answer_with_response_templates(mode: Mode) {
    let app = spawn(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let resident = app.resident_token().await;
    let put = |body: Json| {
        app.authed(
            Method::PUT,
            "/v1/admin/jurisdictions/hue/response-templates",
            &admin,
        )
        .json(&body)
        .send()
    };
    problem(
        put(json!([{ "id": "bad", "text_vi": "Xin chào {name}", "text_en": "Hello {name}" }]))
            .await
            .unwrap(),
        422,
        "invalid_template",
    )
    .await;
    let templates = json!([
        { "id": "on_the_way", "action": "accept",
          "text_vi": "Đã tiếp nhận phản ánh {category} tại {ward}; {department} sẽ xử lý trước {due}.",
          "text_en": "Your {category} report in {ward} was accepted; {department} will act before {due}." },
        { "id": "pothole_fixed", "category": "pothole", "action": "resolve",
          "text_vi": "Ổ gà đã được vá.", "text_en": "The pothole was patched." },
    ]);
    assert_eq!(put(templates).await.unwrap().status(), 204);

    let offered = app
        .get_json_as(
            "/v1/officer/response-templates?category=pothole&action=accept",
            &officer,
        )
        .await;
    let ids: Vec<&str> = offered
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["on_the_way"]);

    let id = filed(&app, &resident, "pothole").await;
    let accepted = post_as(
        &app,
        &officer,
        &format!("/v1/officer/reports/{id}/accept"),
        json!({ "template": "on_the_way" }),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    let report: Json = accepted.json().await.unwrap();
    let note = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find_map(|e| e["note"].as_str())
        .unwrap()
        .to_owned();
    let due = chrono::DateTime::parse_from_rfc3339(report["sla_due_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .format("%H:%M %d/%m/%Y")
        .to_string();
    assert_eq!(
        note,
        format!(
            "Đã tiếp nhận phản ánh {} tại {}; {} sẽ xử lý trước {due}.",
            report["category"]["name_vi"].as_str().unwrap(),
            report["ward"]["name_vi"].as_str().unwrap(),
            report["department"]["name_vi"].as_str().unwrap()
        )
    );
    // The resident reads it on the public timeline.
    let public = app
        .get_json_as(&format!("/v1/reports/{id}"), &resident)
        .await;
    assert!(
        public["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["note"] == note.as_str())
    );

    // A template for another category or action, or none at all: refused.
    let light = filed(&app, &resident, "street_light").await;
    for (report, template) in [(&light, "pothole_fixed"), (&light, "nonexistent")] {
        problem(
            post_as(
                &app,
                &officer,
                &format!("/v1/officer/reports/{report}/accept"),
                json!({ "template": template }),
            )
            .await,
            422,
            "unknown_template",
        )
        .await;
    }
    app.stop().await;
}
in_both_modes!(officers_answer_with_response_templates);

/// A 64×48 gradient: every pixel differs from its neighbours.
fn gradient() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

async fn a_redacted_photo_is_pixelated_for_everyone_but_staff(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let stranger = app.resident_token().await;
    let admin = app.staff_token("hue.admin").await;
    let original = gradient();
    let (_, photo) = crate::media::uploaded(&app, &resident, original.clone(), "image/png").await;
    let filed: Json = app
        .authed(Method::POST, "/v1/reports", &resident)
        .header("Idempotency-Key", "with-a-face")
        .json(
            &json!({ "category": "pothole", "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1,
                       "description": "Ổ gà", "answers": { "size": "small" },
                       "media_ids": [photo] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = filed["report"]["id"].as_str().unwrap().to_owned();
    let display = |token: String| {
        let path = format!("/v1/media/{photo}/display");
        let request = app.authed(Method::GET, &path, &token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            image::load_from_memory(&response.bytes().await.unwrap())
                .unwrap()
                .into_rgb8()
        }
    };
    let media = crate::media::until_ready(&app, &resident, &photo).await;
    assert_eq!(media["status"], "ready", "derivatives made");
    let before = display(stranger.clone()).await;
    // Neighbouring pixels of the gradient differ.
    assert_ne!(before.get_pixel(0, 0), before.get_pixel(3, 3));

    let redacted = post_as(
        &app,
        &admin,
        &format!("/v1/admin/reports/{id}/photos/{photo}/redact"),
        json!({ "reason": "Có khuôn mặt người đi đường" }),
    )
    .await;
    assert_eq!(redacted.status(), 204);
    // Everyone now sees 4×4 blocks (64 px across in 16 blocks), up to JPEG's rounding.
    let after = display(stranger.clone()).await;
    assert_eq!(after.dimensions(), (64, 48));
    let close = |a: &image::Rgb<u8>, b: &image::Rgb<u8>| {
        a.0.iter().zip(b.0).all(|(x, y)| x.abs_diff(y) <= 12)
    };
    assert!(
        close(after.get_pixel(0, 0), after.get_pixel(3, 3)),
        "one block"
    );
    assert!(
        !close(after.get_pixel(0, 0), after.get_pixel(40, 40)),
        "blocks differ"
    );
    // Staff still have the original, byte for byte.
    let kept = app
        .get_as(&format!("/v1/media/{photo}/original"), &admin)
        .await;
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.bytes().await.unwrap().to_vec(), original);
    // A photo of another report is not this report's to redact.
    problem(
        post_as(
            &app,
            &admin,
            &format!(
                "/v1/admin/reports/{id}/photos/{}/redact",
                uuid::Uuid::new_v4()
            ),
            json!({ "reason": "x" }),
        )
        .await,
        404,
        "media_not_found",
    )
    .await;
    let log = app
        .get_json_as("/v1/admin/jurisdictions/hue/moderation-log", &admin)
        .await;
    assert_eq!(log[0]["action"], "photo_redacted");
    assert_eq!(log[0]["media_id"], photo.as_str());
    app.stop().await;
}
in_both_modes!(a_redacted_photo_is_pixelated_for_everyone_but_staff);
