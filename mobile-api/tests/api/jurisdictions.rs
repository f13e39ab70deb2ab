//! More than one jurisdiction in a deployment: each keeps its reports, its residents and its
//! warnings to itself. A second one, Phong Điền, lies west of Huế and shares no area with it.

use identity::config::IdentityConfig;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, poll_until, pothole_at, problem};
use crate::in_both_modes;

/// Phú Xuân, Huế, away from its borders.
/// Hương An, Huế's westernmost ward.
const HUONG_AN: (f64, f64) = (16.48, 107.50);
/// Inside Phong Điền's ward, west of Huế.
const PHONG_DIEN: (f64, f64) = (16.485, 107.44);

/// What every process of a test is configured with (events cross processes through NATS).
fn configure(mode: Mode) -> impl Fn(&mut platform::Config) + use<> {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    move |config: &mut platform::Config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        config.internal.service_token = Some("test-service-token".to_owned().into());
        if matches!(mode, Mode::Split) {
            crate::helpers::use_nats(config, &unique);
        }
    }
}

/// A staff account made as `citizen staff create` would; its access token.
async fn staff(
    app: &TestApp,
    username: &str,
    role: platform::auth::Role,
    jurisdiction: Option<&str>,
) -> String {
    let password = "two-cities-password";
    mobile_api::app::create_staff(
        &crate::helpers::test_config(&app.database),
        &identity::NewStaff {
            username: username.to_owned(),
            password: password.to_owned(),
            display_name: None,
            roles: vec![role],
            scope: platform::auth::Scope {
                jurisdiction: jurisdiction.map(str::to_owned),
                ..Default::default()
            },
        },
    )
    .await
    .unwrap();
    app.staff_token_with(username, password).await
}

fn phong_dien() -> Json {
    json!({
        "id": "phong-dien",
        "name_vi": "Thị xã Phong Điền",
        "name_en": "Phong Dien Town",
        "timezone": "Asia/Ho_Chi_Minh",
        "departments": [{ "id": "public-works", "name_vi": "Phòng Quản lý đô thị", "name_en": "Urban Management Office" }],
        "categories": [{ "code": "pothole", "name_vi": "Ổ gà", "name_en": "Pothole", "group": "roads",
                         "department": "public-works", "sla_hours": 72, "priority": "normal",
                         "questions": [{ "code": "size", "label_vi": "Kích thước", "label_en": "Size",
                                         "kind": "single_choice", "required": true, "options": [
                                             { "code": "small", "label_vi": "Nhỏ", "label_en": "Small" }] }] }],
    })
}

/// A rectangular ward.
fn ward(id: &str, (west, south): (f64, f64), (east, north): (f64, f64)) -> Json {
    json!({
        "type": "Feature",
        "properties": { "id": id, "name_vi": id, "name_en": id },
        "geometry": { "type": "Polygon", "coordinates": [[
            [west, south], [east, south], [east, north], [west, north], [west, south]]] },
    })
}

fn wards(features: Vec<Json>) -> Json {
    json!({ "type": "FeatureCollection", "features": features })
}

/// Phong Điền's ward, west of Huế's Hương An (which starts at 107.477° E).
fn phong_thu(id: &str) -> Json {
    ward(id, (107.40, 16.46), (107.47, 16.51))
}

async fn put_wards(
    app: &TestApp,
    token: &str,
    jurisdiction: &str,
    body: &Json,
) -> reqwest::Response {
    app.authed(
        Method::PUT,
        &format!("/v1/admin/jurisdictions/{jurisdiction}/wards"),
        token,
    )
    .header("content-type", "application/geo+json")
    .body(body.to_string())
    .send()
    .await
    .unwrap()
}

/// Phong Điền, created by a platform admin; its wards uploaded by its own admin.
async fn create_phong_dien(app: &TestApp) -> String {
    let operator = staff(
        app,
        "city.operator",
        platform::auth::Role::PlatformAdmin,
        None,
    )
    .await;
    let created = app
        .authed(Method::PUT, "/v1/admin/jurisdictions/phong-dien", &operator)
        .json(&phong_dien())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 204);
    staff(
        app,
        "phongdien.admin",
        platform::auth::Role::JurisdictionAdmin,
        Some("phong-dien"),
    )
    .await
}

/// Files a pothole at `at`, expecting success: the answer's `report`.
async fn file(app: &TestApp, token: &str, at: (f64, f64)) -> Json {
    app.file_report(token, &pothole_at(at)).await
}

async fn a_ward_overlapping_another_jurisdiction_is_refused_and_reports_keep_their_city(
    mode: Mode,
) {
    let app = TestApp::spawn_with(mode, configure(mode)).await;
    let resident = app.resident_token().await;
    assert_eq!(
        file(&app, &resident, PHU_XUAN).await["ward"]["id"],
        "phu-xuan"
    );
    let phong_dien_admin = create_phong_dien(&app).await;

    // Another jurisdiction's admin cannot draw a ward over Huế's streets.
    let grabbing = wards(vec![ward("grab", (107.40, 16.47), (107.59, 16.51))]);
    let refused = put_wards(&app, &phong_dien_admin, "phong-dien", &grabbing).await;
    let body = problem(refused, 422, "overlaps_jurisdiction").await;
    assert!(body["detail"].as_str().unwrap().contains("`hue`"), "{body}");
    assert_eq!(
        file(&app, &resident, PHU_XUAN).await["ward"]["id"],
        "phu-xuan"
    );

    // Wards beside Huế's are accepted, and so are both cities' re-imports of their own.
    let own = wards(vec![phong_thu("phong-thu")]);
    assert_eq!(
        put_wards(&app, &phong_dien_admin, "phong-dien", &own)
            .await
            .status(),
        204
    );
    assert_eq!(
        put_wards(&app, &phong_dien_admin, "phong-dien", &own)
            .await
            .status(),
        204
    );
    let hue_admin = app.staff_token("hue.admin").await;
    let mut hue: Json = serde_json::from_str(reports::jurisdiction::DEMO_WARDS).unwrap();
    assert_eq!(put_wards(&app, &hue_admin, "hue", &hue).await.status(), 204);
    // Huế cannot grow into Phong Điền either.
    for feature in hue["features"].as_array_mut().unwrap() {
        if feature["properties"]["id"] == "huong-an" {
            feature["geometry"] = ward("", (107.44, 16.47), (107.476, 16.50))["geometry"].take();
        }
    }
    problem(
        put_wards(&app, &hue_admin, "hue", &hue).await,
        422,
        "overlaps_jurisdiction",
    )
    .await;
    assert_eq!(
        file(&app, &resident, PHONG_DIEN).await["ward"]["id"],
        "phong-thu"
    );
    assert_eq!(
        file(&app, &resident, PHONG_DIEN).await["department"]["id"],
        "public-works"
    );

    // A ward stored before overlaps were refused: routing follows a stable order, never the
    // order the rows happen to lie in the table (an update moves a row to its end).
    let db = app.schema_pool("reports").await;
    sqlx::query(
        r#"INSERT INTO wards (jurisdiction_id, id, name_vi, name_en, boundary)
           VALUES ('phong-dien', 'old-overlap', 'x', 'x', $1)"#,
    )
    .bind(ward("", (107.56, 16.48), (107.61, 16.51))["geometry"].clone())
    .execute(&db)
    .await
    .unwrap();
    for moved in ["phong-dien", "hue", "phong-dien", "hue"] {
        sqlx::query(
            "UPDATE jurisdictions SET boundaries_version = boundaries_version + 1 WHERE id = $1",
        )
        .bind(moved)
        .execute(&db)
        .await
        .unwrap();
        assert_eq!(
            file(&app, &resident, PHU_XUAN).await["ward"]["id"],
            "phu-xuan",
            "after moving {moved}"
        );
    }
    app.stop().await;
}
in_both_modes!(a_ward_overlapping_another_jurisdiction_is_refused_and_reports_keep_their_city);

async fn a_jurisdiction_import_is_all_or_nothing_and_takes_positions_with_a_height(mode: Mode) {
    let app = TestApp::spawn_with(mode, configure(mode)).await;
    let resident = app.resident_token().await;
    let config = crate::helpers::test_config(&app.database);
    let import = |wards: Json| {
        let config = config.clone();
        async move {
            mobile_api::app::import_jurisdiction(
                &config,
                &phong_dien().to_string(),
                Some(&wards.to_string()),
            )
            .await
        }
    };
    let stored = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM jurisdictions WHERE id = 'phong-dien'")
            .fetch_one(&app.schema_pool("reports").await)
            .await
            .unwrap()
    };

    // A file whose wards fail leaves nothing behind: a broken ring, a ward over Huế.
    let bow_tie = json!({
        "type": "Feature",
        "properties": { "id": "bow-tie", "name_vi": "x", "name_en": "x" },
        "geometry": { "type": "Polygon", "coordinates": [[
            [107.40, 16.46], [107.47, 16.51], [107.47, 16.46], [107.40, 16.51], [107.40, 16.46]]] },
    });
    let error = import(wards(vec![phong_thu("phong-thu"), bow_tie]))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("bow-tie"), "{error}");
    assert_eq!(stored().await, 0);
    let over_hue = ward("grab", (107.40, 16.47), (107.59, 16.51));
    let error = import(wards(vec![over_hue])).await.unwrap_err();
    assert!(error.to_string().contains("overlaps"), "{error}");
    assert_eq!(stored().await, 0);
    problem(
        app.authed(Method::POST, "/v1/reports", &resident)
            .header("Idempotency-Key", "outside")
            .json(&pothole_at(PHONG_DIEN))
            .send()
            .await
            .unwrap(),
        422,
        "outside_jurisdiction",
    )
    .await;

    // Positions with a height, as QGIS writes them: accepted, the height dropped.
    let mut with_height = phong_thu("phong-thu");
    for position in with_height["geometry"]["coordinates"][0]
        .as_array_mut()
        .unwrap()
    {
        position.as_array_mut().unwrap().push(json!(12.5));
    }
    let (id, count) = import(wards(vec![with_height.clone()])).await.unwrap();
    assert_eq!((id.as_str(), count), ("phong-dien", 1));
    assert_eq!(stored().await, 1);
    assert_eq!(
        file(&app, &resident, PHONG_DIEN).await["ward"]["id"],
        "phong-thu"
    );
    // And through the admin endpoint.
    let admin = staff(
        &app,
        "phongdien.admin",
        platform::auth::Role::JurisdictionAdmin,
        Some("phong-dien"),
    )
    .await;
    with_height["properties"]["name_en"] = json!("Phong Thu");
    let put = put_wards(&app, &admin, "phong-dien", &wards(vec![with_height])).await;
    assert_eq!(put.status(), 204, "{}", put.text().await.unwrap());
    let boundary: Json = sqlx::query_scalar("SELECT boundary FROM wards WHERE id = 'phong-thu'")
        .fetch_one(&app.schema_pool("reports").await)
        .await
        .unwrap();
    assert_eq!(boundary["coordinates"][0][0], json!([107.40, 16.46]));
    app.stop().await;
}
in_both_modes!(a_jurisdiction_import_is_all_or_nothing_and_takes_positions_with_a_height);

async fn set_home_ward(
    app: &TestApp,
    token: &str,
    jurisdiction: &str,
    ward: &str,
) -> reqwest::Response {
    app.authed(Method::PATCH, "/v1/me", token)
        .json(&json!({ "home_ward": { "jurisdiction": jurisdiction, "ward": ward } }))
        .send()
        .await
        .unwrap()
}

/// A new resident: their token and account id.
async fn resident(app: &TestApp) -> (String, String) {
    let token = app.resident_token().await;
    let id = app.get_json_as("/v1/me", &token).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (token, id)
}

/// Waits until notifications knows where `accounts` live or last reported (events are
/// asynchronous): `(account, home jurisdiction, last report's jurisdiction)` each.
async fn residents_known(app: &TestApp, expected: &[(&str, Option<&str>, Option<&str>)]) {
    let db = app.schema_pool("notifications").await;
    let mut expected: Vec<(String, Option<String>, Option<String>)> = expected
        .iter()
        .map(|(a, h, r)| ((*a).to_owned(), h.map(str::to_owned), r.map(str::to_owned)))
        .collect();
    expected.sort();
    let ids: Vec<uuid::Uuid> = expected.iter().map(|e| e.0.parse().unwrap()).collect();
    let known = poll_until(
        || async {
            sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
                r#"SELECT account_id::text, home_jurisdiction, last_report_jurisdiction
                   FROM residents WHERE account_id = ANY($1) ORDER BY account_id::text"#,
            )
            .bind(&ids)
            .fetch_all(&db)
            .await
            .unwrap()
        },
        |known| *known == expected,
    )
    .await;
    assert_eq!(known, expected);
}

/// Sends a warning as `token` and waits until it is fanned out; the broadcast.
async fn broadcast(app: &TestApp, token: &str, area: Json) -> Json {
    let sent = app
        .authed(Method::POST, "/v1/admin/broadcasts", token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&warning(area))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202, "{}", sent.text().await.unwrap());
    let id = sent.json::<Json>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/admin/broadcasts/{id}");
    let done = poll_until(
        || app.get_json_as(&path, token),
        |b| b["status"] == "completed",
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

fn warning(area: Json) -> Json {
    json!({
        "jurisdiction": "hue",
        "area": area,
        "title_vi": "Cảnh báo ngập lụt",
        "body_vi": "Nước sông Hương đang lên nhanh.",
        "title_en": "Flood warning",
        "body_en": "The Perfume River is rising fast.",
        "urgent": true,
    })
}

async fn broadcasts_in_inbox(app: &TestApp, token: &str) -> usize {
    let inbox = app.get_json_as("/v1/inbox", token).await;
    inbox["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "broadcast")
        .count()
}

async fn a_broadcast_reaches_no_resident_of_another_jurisdiction(mode: Mode) {
    let app = TestApp::spawn_with(mode, configure(mode)).await;
    let phong_dien_admin = create_phong_dien(&app).await;
    // Phong Điền has a ward with the id of one of Huế's.
    let own = wards(vec![phong_thu("huong-an")]);
    assert_eq!(
        put_wards(&app, &phong_dien_admin, "phong-dien", &own)
            .await
            .status(),
        204
    );

    let (hue_home, hue_home_id) = resident(&app).await;
    assert_eq!(
        set_home_ward(&app, &hue_home, "hue", "huong-an")
            .await
            .status(),
        200
    );
    let (hue_reporter, hue_reporter_id) = resident(&app).await;
    file(&app, &hue_reporter, HUONG_AN).await;
    let (their_home, their_home_id) = resident(&app).await;
    assert_eq!(
        set_home_ward(&app, &their_home, "phong-dien", "huong-an")
            .await
            .status(),
        200
    );
    let (their_reporter, their_reporter_id) = resident(&app).await;
    assert_eq!(
        file(&app, &their_reporter, PHONG_DIEN).await["department"]["id"],
        "public-works"
    );
    residents_known(
        &app,
        &[
            (&hue_home_id, Some("hue"), None),
            (&hue_reporter_id, None, Some("hue")),
            (&their_home_id, Some("phong-dien"), None),
            (&their_reporter_id, None, Some("phong-dien")),
        ],
    )
    .await;

    // Huế's admin draws a polygon over both cities: only Huế's part of it counts.
    let across = json!({ "polygon": { "type": "Polygon", "coordinates": [[
        [107.42, 16.47], [107.51, 16.47], [107.51, 16.50], [107.42, 16.50], [107.42, 16.47]]] } });
    let hue_admin = app.staff_token("hue.admin").await;
    let done = broadcast(&app, &hue_admin, across).await;
    assert_eq!(done["recipients"], 2, "{done}");
    assert_eq!(done["wards"], json!(["huong-an"]));
    // Huế's Hương An by name: not Phong Điền's.
    let done = broadcast(&app, &hue_admin, json!({ "wards": ["huong-an"] })).await;
    assert_eq!(done["recipients"], 2, "{done}");
    // Cells wholly in Phong Điền are not Huế's to warn.
    let cell = h3o::LatLng::new(PHONG_DIEN.0, PHONG_DIEN.1)
        .unwrap()
        .to_cell(h3o::Resolution::Seven)
        .to_string();
    problem(
        app.authed(Method::POST, "/v1/admin/broadcasts", &hue_admin)
            .header("Idempotency-Key", "outside")
            .json(&warning(json!({ "cells": [cell] })))
            .send()
            .await
            .unwrap(),
        422,
        "area_outside_jurisdiction",
    )
    .await;

    assert_eq!(broadcasts_in_inbox(&app, &hue_home).await, 2);
    assert_eq!(broadcasts_in_inbox(&app, &hue_reporter).await, 2);
    assert_eq!(broadcasts_in_inbox(&app, &their_home).await, 0);
    assert_eq!(broadcasts_in_inbox(&app, &their_reporter).await, 0);
    app.stop().await;
}
in_both_modes!(a_broadcast_reaches_no_resident_of_another_jurisdiction);

async fn a_resident_cannot_set_a_home_ward_that_does_not_exist(mode: Mode) {
    let app = TestApp::spawn_with(mode, configure(mode)).await;
    let (token, _) = resident(&app).await;
    for (jurisdiction, ward) in [
        ("hue", "no-such-ward"),
        ("nowhere", "phu-xuan"),
        ("hue", "Phu Xuan"),
    ] {
        problem(
            set_home_ward(&app, &token, jurisdiction, ward).await,
            422,
            "unknown_ward",
        )
        .await;
    }
    // A bare ward id names no jurisdiction.
    let bare = app
        .authed(Method::PATCH, "/v1/me", &token)
        .json(&json!({ "home_ward": "phu-xuan" }))
        .send()
        .await
        .unwrap();
    problem(bare, 400, "invalid_body").await;
    assert_eq!(
        app.get_json_as("/v1/me", &token).await["home_ward"],
        Json::Null
    );

    let set = set_home_ward(&app, &token, "hue", "phu-xuan").await;
    assert_eq!(set.status(), 200);
    assert_eq!(
        set.json::<Json>().await.unwrap()["home_ward"],
        json!({ "jurisdiction": "hue", "ward": "phu-xuan" })
    );
    app.stop().await;
}
in_both_modes!(a_resident_cannot_set_a_home_ward_that_does_not_exist);

async fn home_wards_set_before_jurisdictions_were_recorded_are_resolved_or_cleared(mode: Mode) {
    let configure = configure(mode);
    let app = TestApp::spawn_with(mode, &configure).await;
    let (kept, kept_id) = resident(&app).await;
    let (cleared, cleared_id) = resident(&app).await;
    let database = app.database.clone();
    app.stop().await;

    // As the previous version left them: a bare ward id, in identity and in notifications.
    let identity_db = sqlx::PgPool::connect(&format!(
        "{}?options=-c%20search_path%3Didentity",
        database.url
    ))
    .await
    .unwrap();
    let notifications_db = sqlx::PgPool::connect(&format!(
        "{}?options=-c%20search_path%3Dnotifications",
        database.url
    ))
    .await
    .unwrap();
    for (id, ward) in [(&kept_id, "phu-xuan"), (&cleared_id, "no-such-ward")] {
        sqlx::query("UPDATE accounts SET home_ward = $2 WHERE id = $1::uuid")
            .bind(id)
            .bind(ward)
            .execute(&identity_db)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO residents (account_id, home_ward, home_ward_at) VALUES ($1::uuid, $2, now() - interval '1 day')",
        )
        .bind(id)
        .bind(ward)
        .execute(&notifications_db)
        .await
        .unwrap();
    }

    let app = TestApp::spawn_on(mode, database, &configure).await;
    let home = poll_until(
        || async { app.get_json_as("/v1/me", &kept).await["home_ward"].clone() },
        |home| !home.is_null(),
    )
    .await;
    assert_eq!(home, json!({ "jurisdiction": "hue", "ward": "phu-xuan" }));
    let gone = poll_until(
        || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT home_ward FROM accounts WHERE id = $1::uuid",
            )
            .bind(&cleared_id)
            .fetch_one(&identity_db)
            .await
            .unwrap()
        },
        Option::is_none,
    )
    .await;
    assert_eq!(gone, None);
    assert_eq!(
        app.get_json_as("/v1/me", &cleared).await["home_ward"],
        Json::Null
    );
    // Notifications hears of both.
    let residents = poll_until(
        || async {
            sqlx::query_as::<_, (String, Option<String>, Option<String>)>(
                r#"SELECT account_id::text, home_jurisdiction, home_ward FROM residents
                   WHERE account_id = ANY($1::uuid[]) ORDER BY home_ward NULLS LAST"#,
            )
            .bind([&kept_id, &cleared_id])
            .fetch_all(&notifications_db)
            .await
            .unwrap()
        },
        |rows| {
            rows.iter()
                .all(|(_, _, ward)| ward.as_deref() != Some("no-such-ward"))
                && rows
                    .iter()
                    .any(|(_, jurisdiction, _)| jurisdiction.is_some())
        },
    )
    .await;
    assert_eq!(
        residents,
        vec![
            (
                kept_id.clone(),
                Some("hue".to_owned()),
                Some("phu-xuan".to_owned())
            ),
            (cleared_id.clone(), None, None),
        ]
    );
    let hue_admin = app.staff_token("hue.admin").await;
    let done = broadcast(&app, &hue_admin, json!({ "wards": ["phu-xuan"] })).await;
    assert_eq!(done["recipients"], 1, "{done}");
    assert_eq!(broadcasts_in_inbox(&app, &kept).await, 1);
    app.stop().await;
}
in_both_modes!(home_wards_set_before_jurisdictions_were_recorded_are_resolved_or_cleared);
