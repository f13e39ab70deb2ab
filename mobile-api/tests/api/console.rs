//! The officers' web console at `/console/`: its files and their policy, what it reads of the
//! API (wards, the queue's ETag), and an officer's day in headless Chromium
//! (`tests/browser/officer.cjs` through `scripts/console-browser`).

use std::path::Path;

use identity::config::IdentityConfig;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, pothole_at, problem};
use crate::in_both_modes;

/// The app with the demo staff; the console's map without a base layer, as offline.
async fn spawn(mode: Mode) -> TestApp {
    spawn_with_tiles(mode, "").await
}

async fn spawn_with_tiles(mode: Mode, tile_url: &str) -> TestApp {
    TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        config.gateway.console_tile_url = tile_url.to_owned();
    })
    .await
}

async fn the_console_is_served_with_a_strict_policy(mode: Mode) {
    let app = spawn_with_tiles(mode, "https://tiles.hue.example/osm/{z}/{x}/{y}.png").await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let bare = client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/console/");

    let page = app.get("/console/").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'self'",
        "script-src 'self';",
        "style-src 'self';",
        "frame-ancestors 'none'",
        "img-src 'self' blob: data: https://tiles.hue.example;",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let etag = page.headers()["etag"].clone();
    assert!(page.text().await.unwrap().contains("js/main.js"));

    // Unchanged files cost a 304.
    let again = client
        .get(app.url("/console/"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let script = app.get("/console/js/main.js").await;
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    for missing in [
        "/console/js/nothing.js",
        "/console/../Cargo.toml",
        "/console/%2e%2e/Cargo.toml",
    ] {
        problem(app.get(missing).await, 404, "route_not_found").await;
    }

    let settings: Json = app.get("/console/config.json").await.json().await.unwrap();
    assert_eq!(
        settings["tile_url"],
        "https://tiles.hue.example/osm/{z}/{x}/{y}.png"
    );
    app.stop().await;
}
in_both_modes!(the_console_is_served_with_a_strict_policy);

async fn wards_are_published_as_geojson(mode: Mode) {
    let app = spawn(mode).await;
    let response = app.get("/v1/reports/wards?jurisdiction=hue").await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].clone();
    let wards: Json = response.json().await.unwrap();
    assert_eq!(wards["type"], "FeatureCollection");
    let phu_xuan = wards["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["id"] == "phu-xuan")
        .expect("Phú Xuân is a ward of Huế");
    assert_eq!(phu_xuan["properties"]["name_vi"], "Phường Phú Xuân");
    assert!(
        ["Polygon", "MultiPolygon"].contains(&phu_xuan["geometry"]["type"].as_str().unwrap()),
        "{phu_xuan}"
    );

    let again = app
        .client
        .get(app.url("/v1/reports/wards?jurisdiction=hue"))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    problem(
        app.get("/v1/reports/wards?jurisdiction=atlantis").await,
        404,
        "jurisdiction_not_found",
    )
    .await;
    app.stop().await;
}
in_both_modes!(wards_are_published_as_geojson);

async fn the_queue_is_not_sent_again_until_it_changes(mode: Mode) {
    let app = spawn(mode).await;
    let officer = app.staff_token("phuxuan.officer").await;
    let resident = app.resident_token().await;
    app.file_report_id(&resident, &pothole_at(PHU_XUAN)).await;

    let first = app
        .authed(Method::GET, "/v1/officer/reports", &officer)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].clone();
    let poll = || {
        app.authed(Method::GET, "/v1/officer/reports", &officer)
            .header("If-None-Match", etag.clone())
            .send()
    };
    assert_eq!(poll().await.unwrap().status(), 304);

    let arrived = app.file_report_id(&resident, &pothole_at(PHU_XUAN)).await;
    let changed = poll().await.unwrap();
    assert_eq!(changed.status(), 200);
    let page: Json = changed.json().await.unwrap();
    assert!(
        page["reports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == arrived.as_str())
    );
    app.stop().await;
}
in_both_modes!(the_queue_is_not_sent_again_until_it_changes);

/// An officer with TOTP signs in to the console, finds a new report on the map, accepts,
/// starts and resolves it with a photo uploaded from the page, and sees a report filed
/// meanwhile arrive; the resident's app then shows theirs resolved with that photo.
#[tokio::test]
async fn an_officer_resolves_a_report_in_the_browser() {
    let app = spawn(Mode::AllInOne).await;
    let officer = app.staff_token("phuxuan.officer").await;
    let totp_secret = enrol_totp(&app, &officer).await;

    let resident = app.resident_token().await;
    let (_, photo) =
        crate::media::uploaded(&app, &resident, crate::media::png(640, 480), "image/png").await;
    let mut report = pothole_at(PHU_XUAN);
    report["media_ids"] = json!([photo]);
    report["description"] = json!("Ổ gà lớn trước số 12 Lê Lợi <img src=x onerror=alert(1)>");
    let report_id = app.file_report_id(&resident, &report).await;
    let neighbour = app.resident_token().await;
    let duplicate_id = app.file_report_id(&neighbour, &pothole_at(PHU_XUAN)).await;

    let proof = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(proof.path(), crate::media::png(800, 600)).unwrap();
    let mut new_report = pothole_at(PHU_XUAN);
    new_report["description"] = json!("Ổ gà mới ở ngõ 4");

    let result = browser(
        &app,
        "officer.cjs",
        &[
            ("USERNAME", "phuxuan.officer".into()),
            ("TOTP_SECRET", totp_secret),
            ("REPORT_ID", report_id.clone()),
            ("DUPLICATE_ID", duplicate_id.clone()),
            ("PHOTO", proof.path().display().to_string()),
            ("RESIDENT_TOKEN", resident.clone()),
            ("NEW_REPORT", new_report.to_string()),
        ],
    )
    .await;

    // What the resident's app reads: resolved, with the officer's answer and proof photo.
    let seen = app
        .get_json_as(&format!("/v1/reports/{report_id}"), &resident)
        .await;
    assert_eq!(seen["status"], "resolved", "{seen}");
    let resolution = seen["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to_status"] == "resolved")
        .expect("a resolution on the timeline");
    assert_eq!(resolution["note"], "Đã vá ổ gà. / The pothole is filled.");
    assert_eq!(resolution["media_ids"].as_array().unwrap().len(), 1);

    let duplicate = app
        .get_json_as(&format!("/v1/reports/{duplicate_id}"), &neighbour)
        .await;
    assert_eq!(duplicate["status"], "rejected", "{duplicate}");
    assert_eq!(duplicate["duplicate_of"], report_id.as_str());

    let live = result["live_report_id"].as_str().unwrap();
    let queue = app.get_json_as("/v1/officer/reports", &officer).await;
    let listed: Vec<&str> = queue["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [live]);
    app.stop().await;
}

/// An operator of the operations centre reads the month's KPIs and heatmap and downloads them
/// as CSV, then draws an area around Phú Xuân's middle, sees whom it reaches, and sends a
/// warning there, which the resident who reported from there finds in their inbox.
#[tokio::test]
async fn an_operator_warns_an_area_drawn_on_the_map_in_the_browser() {
    let app = spawn(Mode::AllInOne).await;
    let admin = app.staff_token("hue.admin").await;
    let resident = app.resident_token().await;
    for _ in 0..2 {
        app.file_report_id(&resident, &pothole_at(PHU_XUAN)).await;
    }
    // Notifications has learnt where the resident last reported from.
    let audience = crate::helpers::poll_until(
        || async {
            app.authed(Method::POST, "/v1/admin/broadcasts/preview", &admin)
                .json(&json!({ "jurisdiction": "hue", "area": { "wards": ["phu-xuan"] } }))
                .send()
                .await
                .unwrap()
                .json::<Json>()
                .await
                .unwrap()
        },
        |audience| audience["recipients"] == 1,
    )
    .await;
    assert_eq!(audience["recipients"], 1, "{audience}");

    let result = browser(
        &app,
        "operator.cjs",
        &[
            ("USERNAME", "hue.admin".into()),
            ("RECEIVED", "2".into()),
            ("REACHES", "1".into()),
        ],
    )
    .await;

    let csv = result["csv"].as_str().unwrap();
    assert!(csv.starts_with("key,received,"), "{csv}");
    assert!(csv.contains("\nphu-xuan,2,"), "{csv}");
    assert!(csv.contains("\ntotal,2,"), "{csv}");
    // The resident who reported from there was told of the warning, and of the alert's cancel.
    let titles = |inbox: &Json| -> Vec<String> {
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "broadcast")
            .filter_map(|n| n["title_vi"].as_str().map(str::to_owned))
            .collect()
    };
    let inbox = crate::helpers::poll_until(
        || app.get_json_as("/v1/inbox", &resident),
        |inbox| {
            titles(inbox)
                .iter()
                .any(|title| title.starts_with("Hủy cảnh báo"))
        },
    )
    .await;
    let titles = titles(&inbox);
    let titles: Vec<&str> = titles.iter().map(String::as_str).collect();
    assert!(titles.contains(&"Cảnh báo ngập lụt"), "{titles:?}");
    assert!(
        titles.contains(&"Hủy cảnh báo: Lũ trên sông Hương"),
        "{titles:?}"
    );

    // The alert issued and cancelled from the console is no longer in force.
    let in_force = app.get_json("/v1/alerts?jurisdiction=hue").await;
    assert!(
        !in_force["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["headline"]["vi"] == "Lũ trên sông Hương" && a["msg_type"] == "Alert"),
        "{in_force}"
    );
    app.stop().await;
}

/// A jurisdiction admin adds a ward officer and disables them, issues an Open311 key and
/// revokes it, reads the moderation log, and imports renamed ward boundaries after seeing them
/// on the map: the API then says so.
#[tokio::test]
async fn an_admin_manages_staff_keys_and_wards_in_the_browser() {
    let app = spawn(Mode::AllInOne).await;
    let admin = app.staff_token("hue.admin").await;
    let resident = app.resident_token().await;
    let report = app.file_report_id(&resident, &pothole_at(PHU_XUAN)).await;
    let hidden = app
        .authed(
            Method::POST,
            &format!("/v1/admin/reports/{report}/hide"),
            &admin,
        )
        .json(&json!({ "reason": "Thông tin cá nhân / Personal data" }))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 204, "{}", hidden.text().await.unwrap());

    let mut wards: Json = app.get_json("/v1/reports/wards?jurisdiction=hue").await;
    // Names that look like markup are names: shown as text everywhere, tooltips included.
    let renamed = "Phường Phú Xuân <i id=injected>2027</i>";
    for ward in wards["features"].as_array_mut().unwrap() {
        let name = ward["properties"]["name_vi"].as_str().unwrap().to_owned();
        ward["properties"]["name_vi"] = json!(format!("{name} <i id=injected>2027</i>"));
    }
    let file = tempfile::Builder::new()
        .suffix(".geojson")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), wards.to_string()).unwrap();

    let result = browser(
        &app,
        "admin.cjs",
        &[
            ("USERNAME", "hue.admin".into()),
            ("WARDS_FILE", file.path().display().to_string()),
            ("RENAMED", renamed.into()),
        ],
    )
    .await;

    let staff = app
        .get_json_as("/v1/admin/staff?jurisdiction=hue", &admin)
        .await;
    let added = staff
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "kimlong.officer")
        .expect("the new officer is listed");
    assert_eq!(added["roles"], json!(["ward_officer"]));
    assert_eq!(added["scope"]["wards"], json!(["huong-tra", "kim-long"]));
    assert_eq!(added["disabled"], true);

    let clients = app
        .get_json_as("/v1/admin/jurisdictions/hue/open311-clients", &admin)
        .await;
    assert_eq!(clients[0]["name"], "FixMyStreet Huế");
    assert!(clients[0]["revoked_at"].is_string(), "{clients}");
    assert!(clients[0]["api_key"].is_null(), "a key is shown only once");
    assert!(result["api_key"].as_str().unwrap().len() >= 32);

    let imported: Json = app.get_json("/v1/reports/wards?jurisdiction=hue").await;
    let phu_xuan = imported["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["id"] == "phu-xuan")
        .unwrap();
    assert_eq!(phu_xuan["properties"]["name_vi"], renamed);
    app.stop().await;
}

/// Where admins need a second factor, an admin turns TOTP on from the console and then acts as
/// admin; a password alone no longer signs them in.
#[tokio::test]
async fn an_admin_turns_on_totp_in_the_browser() {
    let app = TestApp::spawn_with(Mode::AllInOne, |config| {
        config.edit(|identity: &mut IdentityConfig| {
            identity.dev_seed_staff = true;
            identity.admin_totp_required = true;
        });
    })
    .await;
    let result = browser(&app, "account.cjs", &[("USERNAME", "hue.admin".into())]).await;
    assert_eq!(result["secret"].as_str().unwrap().len(), 32);
    let password_only = app
        .client
        .post(app.url("/v1/auth/staff/login"))
        .json(&json!({ "username": "hue.admin", "password": "hue-demo-password" }))
        .send()
        .await
        .unwrap();
    problem(password_only, 401, "totp_required").await;
    app.stop().await;
}

/// Turns TOTP on for the signed-in staff member: the secret their authenticator keeps.
async fn enrol_totp(app: &TestApp, token: &str) -> String {
    let enrolment: Json = app
        .authed(Method::POST, "/v1/me/totp", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = enrolment["secret"].as_str().unwrap().to_owned();
    let key = totp_rs::Secret::Encoded(secret.clone()).to_bytes().unwrap();
    let totp =
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, key, None, String::new()).unwrap();
    let confirm = app
        .authed(Method::POST, "/v1/me/totp/confirm", token)
        .json(&json!({ "code": totp.generate_current().unwrap() }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 204);
    secret
}

/// Runs a browser scenario of `tests/browser/` against `app`, signing in with the demo password,
/// with `env` besides, expecting success: what it printed. Its screenshots are kept in
/// `target/tmp/console-screenshots/`.
async fn browser(app: &TestApp, scenario: &str, env: &[(&str, String)]) -> Json {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let mut command = tokio::process::Command::new(root.join("../scripts/console-browser"));
    command
        .arg(root.join("tests/browser").join(scenario))
        .env("BASE_URL", app.url(""))
        .env("PASSWORD", "hue-demo-password")
        .env("SCREENSHOTS", &screenshots);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command
        .output()
        .await
        .expect("scripts/console-browser runs");
    assert!(
        output.status.success(),
        "{scenario} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the scenario prints its result as JSON")
}
