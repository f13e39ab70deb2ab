//! Community: the events calendar (read back by PyPI's `icalendar` through
//! `scripts/ical-validator`), lost and found, and questions to the government.

use std::path::Path;

use community::config::CommunityConfig;
use identity::config::IdentityConfig;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, TestApp, problem};
use crate::in_both_modes;

async fn spawn(mode: Mode) -> TestApp {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| {
            identity.dev_seed_staff = true;
            // Erasures happen at once, every second.
            identity.erasure_grace_days = 0;
            identity.erasure_interval_secs = 1;
        });
        if matches!(mode, Mode::Split) {
            // Erasures reach community as events, through NATS.
            crate::helpers::use_nats(config, &unique);
        }
        config.edit(|community: &mut CommunityConfig| {
            community.demo_events = Some("hue".to_owned());
        });
        config.internal.service_token = Some("test-service-token".to_owned().into());
    })
    .await
}

/// `POST path` with `body` and a new `Idempotency-Key`, as `token`'s holder.
async fn post(app: &TestApp, path: &str, token: &str, body: &Json) -> reqwest::Response {
    app.authed(Method::POST, path, token)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn json_of(response: reqwest::Response, status: u16) -> Json {
    let got = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn titles(list: &Json) -> Vec<String> {
    list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"]["en"].as_str().unwrap().to_owned())
        .collect()
}

/// Whether a page of lost-and-found notices lists the notice `id`.
fn lists(page: &Json, id: &str) -> bool {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|item| item["id"] == id)
}

/// What `token` gets for the display size of `photo`, once media has made it (409 until then).
async fn display_status(app: &TestApp, photo: &str, token: &str) -> reqwest::StatusCode {
    crate::helpers::poll_until(
        || async {
            app.get_as(&format!("/v1/media/{photo}/display"), token)
                .await
                .status()
        },
        |status| *status != 409,
    )
    .await
}

/// An iCalendar answer, checked and decoded by `scripts/ical-validator`: its events.
async fn calendar(app: &TestApp, path: &str) -> Vec<Json> {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let file = std::env::temp_dir().join(format!("citizen-{}.ics", uuid::Uuid::new_v4()));
    std::fs::write(&file, &text).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ical-validator");
    let output = std::process::Command::new(script)
        .arg(&file)
        .output()
        .expect("scripts/ical-validator runs");
    std::fs::remove_file(&file).unwrap();
    assert!(
        output.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoded: Json = serde_json::from_slice(&output.stdout).unwrap();
    decoded[file.to_str().unwrap()]["events"]
        .as_array()
        .unwrap()
        .clone()
}

async fn residents_find_a_periods_events_and_add_them_to_their_calendars(mode: Mode) {
    let app = spawn(mode).await;
    let spring = "/v1/events/hue?from=2027-01-01&to=2027-04-30";
    let all = titles(&app.get_json(spring).await);
    assert!(all.contains(&"Huế Heritage Run".to_owned()), "{all:?}");
    assert!(all.contains(&"Phú Xuân ward reading day".to_owned()));
    assert!(
        !all.iter().any(|t| t.contains("Traditional Crafts")),
        "June is after the period"
    );
    // A ward's events and the whole city's; not another ward's.
    let vy_da = titles(&app.get_json(&format!("{spring}&ward=vy-da")).await);
    assert!(vy_da.contains(&"Vỹ Dạ ward youth football tournament".to_owned()));
    assert!(vy_da.contains(&"Huế Heritage Run".to_owned()));
    assert!(!vy_da.contains(&"Phú Xuân ward reading day".to_owned()));
    let sport = titles(&app.get_json(&format!("{spring}&category=sport")).await);
    assert_eq!(
        sport,
        ["Huế Heritage Run", "Vỹ Dạ ward youth football tournament"]
    );
    // A page at a time, in order of start, nothing twice.
    let first: Json = app.get_json(&format!("{spring}&limit=2")).await;
    let next = first["next"].as_str().unwrap();
    let second: Json = app
        .get_json(&format!("{spring}&limit=2&cursor={next}"))
        .await;
    let paged = [titles(&first), titles(&second)].concat();
    assert_eq!(paged, all[..4]);

    // The flower market runs whole days, in Vietnam.
    let market = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["events"].as_array().unwrap())
        .find(|e| e["category"] == "festival" && e["all_day"] == true)
        .unwrap()
        .clone();
    assert_eq!(market["first_day"], "2027-01-30");
    assert_eq!(market["last_day"], "2027-02-05");
    assert_eq!(market["starts_at"], "2027-01-29T17:00:00Z");

    // One event, as iCalendar, in Vietnamese unless asked otherwise.
    let one = market["calendar_url"].as_str().unwrap();
    let events = calendar(&app, one).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["summary"], "Chợ hoa Xuân Đinh Mùi 2027");
    assert_eq!(events[0]["start"], "2027-01-30");
    assert_eq!(
        events[0]["end"], "2027-02-06",
        "DTEND is the day after the last"
    );
    assert_eq!(events[0]["status"], "CONFIRMED");
    let english = calendar(&app, &format!("{one}?lang=en")).await;
    assert_eq!(
        english[0]["summary"],
        "Spring flower market, Year of the Goat 2027"
    );
    // A ward's calendar to subscribe to: the coming year's events of the ward and the city.
    let admin = app.staff_token("hue.admin").await;
    let soon = chrono::Utc::now() + chrono::TimeDelta::days(10);
    for ward in ["vy-da", "phu-xuan"] {
        let mut event = concert(Some(ward));
        event["title_vi"] = json!(format!("Hòa nhạc {ward}"));
        event["starts_at"] = json!(soon);
        event["ends_at"] = json!(soon + chrono::TimeDelta::hours(2));
        json_of(post(&app, "/v1/admin/events", &admin, &event).await, 201).await;
    }
    let subscribed = calendar(&app, "/v1/events/hue/calendar.ics?ward=vy-da").await;
    let summaries: Vec<&str> = subscribed
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(summaries.contains(&"Hòa nhạc vy-da"), "{summaries:?}");
    assert!(!summaries.contains(&"Hòa nhạc phu-xuan"), "{summaries:?}");

    problem(
        app.get("/v1/events/hue?from=2027-05-01&to=2027-04-01")
            .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/v1/events/hue?from=2027-01-01&to=2028-06-01")
            .await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get("/v1/events/hue?category=rave").await,
        422,
        "unknown_event_category",
    )
    .await;
    problem(
        app.get(&format!("/v1/events/hue/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "event_not_found",
    )
    .await;
    // A jurisdiction spliced into a path is no jurisdiction.
    problem(
        app.get("/v1/events/..%2Fhue/calendar.ics").await,
        404,
        "jurisdiction_not_found",
    )
    .await;
    app.stop().await;
}
in_both_modes!(residents_find_a_periods_events_and_add_them_to_their_calendars);

fn concert(ward: Option<&str>) -> Json {
    json!({
        "jurisdiction": "hue",
        "ward": ward,
        "category": "culture",
        "title_vi": "Ca Huế trên sông Hương",
        "title_en": "Huế songs on the Perfume River",
        "description_vi": "Nghe ca Huế trên thuyền rồng; vé tại bến.",
        "description_en": "Traditional songs on a dragon boat; tickets at the landing.",
        "venue_vi": "Bến Tòa Khâm",
        "venue_en": "Tòa Khâm landing",
        "position": { "lat": 16.4689, "lng": 107.5912 },
        "starts_at": "2027-05-01T12:00:00Z",
        "ends_at": "2027-05-01T14:00:00Z",
    })
}

async fn operators_and_ward_officers_publish_change_and_cancel_events(mode: Mode) {
    let app = spawn(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let resident = app.resident_token().await;

    // Once per key: a retry gets the first answer.
    let request = || {
        app.authed(Method::POST, "/v1/admin/events", &admin)
            .header("Idempotency-Key", "concert-may")
            .json(&concert(None))
    };
    let created = json_of(request().send().await.unwrap(), 201).await;
    let replayed = request().send().await.unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replayed, 201).await["id"], created["id"]);
    let reused = app
        .authed(Method::POST, "/v1/admin/events", &admin)
        .header("Idempotency-Key", "concert-may")
        .json(&concert(Some("phu-xuan")))
        .send()
        .await
        .unwrap();
    problem(reused, 422, "idempotency_key_reused").await;
    let id = created["id"].as_str().unwrap();
    let may = "/v1/events/hue?from=2027-05-01&to=2027-05-01";
    assert_eq!(
        titles(&app.get_json(may).await),
        ["Huế songs on the Perfume River"]
    );

    // A ward officer publishes for their ward only; residents publish nothing.
    json_of(
        post(
            &app,
            "/v1/admin/events",
            &officer,
            &concert(Some("phu-xuan")),
        )
        .await,
        201,
    )
    .await;
    for (token, ward) in [
        (&officer, None),
        (&officer, Some("thuan-hoa")),
        (&resident, Some("phu-xuan")),
    ] {
        problem(
            post(&app, "/v1/admin/events", token, &concert(ward)).await,
            404,
            "route_not_found",
        )
        .await;
    }
    problem(
        post(&app, "/v1/admin/events", &admin, &concert(Some("atlantis"))).await,
        422,
        "unknown_ward",
    )
    .await;
    let mut backwards = concert(None);
    backwards["ends_at"] = json!("2027-05-01T11:00:00Z");
    problem(
        post(&app, "/v1/admin/events", &admin, &backwards).await,
        422,
        "invalid_event_period",
    )
    .await;
    let mut not_https = concert(None);
    not_https["url"] = json!("javascript:alert(1)");
    problem(
        post(&app, "/v1/admin/events", &admin, &not_https).await,
        422,
        "invalid_field",
    )
    .await;

    // A change reaches subscribed calendars: the same UID, a higher SEQUENCE.
    let ics = format!("/v1/events/hue/{id}/calendar.ics");
    let before = calendar(&app, &ics).await;
    let mut later = concert(None);
    later["starts_at"] = json!("2027-05-01T13:00:00Z");
    later["ends_at"] = json!("2027-05-01T15:00:00Z");
    let changed = app
        .authed(Method::PUT, &format!("/v1/admin/events/{id}"), &admin)
        .json(&later)
        .send()
        .await
        .unwrap();
    json_of(changed, 200).await;
    let after = calendar(&app, &ics).await;
    assert_eq!(after[0]["uid"], before[0]["uid"]);
    assert_eq!(after[0]["start"], "2027-05-01T13:00:00Z");
    assert!(after[0]["sequence"].as_i64().unwrap() > before[0]["sequence"].as_i64().unwrap());
    // Another ward's officer cannot touch it; a resident learns nothing of the route.
    let other = app.staff_token("thuanhoa.officer").await;
    for token in [&other, &resident] {
        let changed = app
            .authed(Method::PUT, &format!("/v1/admin/events/{id}"), token)
            .json(&later)
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 404);
    }
    problem(
        app.authed(
            Method::POST,
            &format!("/v1/admin/events/{id}/cancel"),
            &other,
        )
        .send()
        .await
        .unwrap(),
        404,
        "event_not_found",
    )
    .await;

    // Cancelled, it stays listed and tells calendars so.
    let cancel = || {
        app.authed(
            Method::POST,
            &format!("/v1/admin/events/{id}/cancel"),
            &admin,
        )
        .send()
    };
    assert_eq!(
        json_of(cancel().await.unwrap(), 200).await["cancelled"],
        true
    );
    let sequence = calendar(&app, &ics).await[0]["sequence"].clone();
    json_of(cancel().await.unwrap(), 200).await;
    let cancelled = calendar(&app, &ics).await;
    assert_eq!(cancelled[0]["status"], "CANCELLED");
    assert_eq!(
        cancelled[0]["sequence"], sequence,
        "cancelling twice is once"
    );
    let changed_again = app
        .authed(Method::PUT, &format!("/v1/admin/events/{id}"), &admin)
        .json(&later)
        .send()
        .await
        .unwrap();
    problem(changed_again, 409, "event_cancelled").await;
    app.stop().await;
}
in_both_modes!(operators_and_ward_officers_publish_change_and_cancel_events);

fn found(category: &str, photos: &[&str]) -> Json {
    json!({
        "kind": "found",
        "category": category,
        "description": "Ví da màu nâu, có vài thẻ ngân hàng",
        "place": "Chợ Đông Ba, cổng chính",
        "ward": "phu-xuan",
        "occurred_on": platform::vietnam_time::today(),
        "photos": photos,
    })
}

async fn a_found_wallet_is_kept_by_the_officers_and_handed_back(mode: Mode) {
    let app = spawn(mode).await;
    let finder = app.resident_token().await;
    let stranger = app.resident_token().await;
    let officer = app.staff_token("phuxuan.officer").await;
    let other_officer = app.staff_token("thuanhoa.officer").await;
    let (_, photo) =
        crate::media::uploaded(&app, &finder, crate::media::png(32, 32), "image/png").await;

    let posted = json_of(
        post(
            &app,
            "/v1/lost-and-found/hue",
            &finder,
            &found("wallet", &[&photo]),
        )
        .await,
        201,
    )
    .await;
    let id = posted["id"].as_str().unwrap().to_owned();
    assert_eq!(posted["status"], "open");
    assert_eq!(posted["mine"], true);
    // Anyone finds it, and its photo; nobody learns who posted it.
    let listed: Json = app
        .get_json("/v1/lost-and-found/hue?kind=found&q=v%C3%AD%20da")
        .await;
    let item = &listed["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["photos"], json!([photo]));
    assert_eq!(item["mine"], false);
    assert!(item.get("posted_by").is_none());
    assert_eq!(display_status(&app, &photo, &stranger).await, 200);
    let none: Json = app.get_json("/v1/lost-and-found/hue?kind=lost").await;
    assert!(!lists(&none, &id));
    // A search for `%` matches only a `%`.
    let wildcard: Json = app.get_json("/v1/lost-and-found/hue?q=%25").await;
    assert_eq!(wildcard["items"], json!([]));

    let act = |token: &str, action: &str, body: Json| {
        app.authed(
            Method::POST,
            &format!("/v1/lost-and-found/hue/{id}/{action}"),
            token,
        )
        .json(&body)
        .send()
    };
    // Only its poster withdraws it; only the ward's officers keep it.
    problem(
        act(&stranger, "withdraw", json!({})).await.unwrap(),
        404,
        "lost_item_not_found",
    )
    .await;
    problem(
        act(
            &other_officer,
            "held",
            json!({ "held_at": "Công an phường Thuận Hóa" }),
        )
        .await
        .unwrap(),
        404,
        "lost_item_not_found",
    )
    .await;
    problem(
        act(&finder, "held", json!({ "held_at": "x" }))
            .await
            .unwrap(),
        404,
        "lost_item_not_found",
    )
    .await;
    problem(
        act(&officer, "held", json!({})).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    let held = json_of(
        act(
            &officer,
            "held",
            json!({ "held_at": "Công an phường Phú Xuân, 8h–17h" }),
        )
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(held["status"], "held");
    let seen: Json = app.get_json(&format!("/v1/lost-and-found/hue/{id}")).await;
    assert_eq!(seen["held_at"], "Công an phường Phú Xuân, 8h–17h");
    // Among what the officers keep, and no longer among the open notices.
    let kept: Json = app.get_json("/v1/lost-and-found/hue?status=held").await;
    assert_eq!(kept["items"][0]["id"], id.as_str());
    let open: Json = app.get_json("/v1/lost-and-found/hue?status=open").await;
    assert!(!lists(&open, &id));
    // Kept by the officers, the finder can no longer withdraw it.
    problem(
        act(&finder, "withdraw", json!({})).await.unwrap(),
        409,
        "lost_item_held",
    )
    .await;

    // Handed back: off the list, its photo private again.
    let returned = json_of(act(&officer, "returned", json!({})).await.unwrap(), 200).await;
    assert_eq!(returned["status"], "returned");
    let listed: Json = app.get_json("/v1/lost-and-found/hue").await;
    assert!(!lists(&listed, &id));
    let private_photo = app
        .get_as(&format!("/v1/media/{photo}/display"), &stranger)
        .await;
    assert_eq!(private_photo.status(), 404);
    let settled: Json = app.get_json(&format!("/v1/lost-and-found/hue/{id}")).await;
    assert_eq!(settled["photos"], json!([]), "no link to a private photo");
    problem(
        act(&officer, "returned", json!({})).await.unwrap(),
        409,
        "lost_item_settled",
    )
    .await;
    let mine: Json = app.get_json_as("/v1/lost-and-found/mine", &finder).await;
    assert_eq!(mine["items"][0]["status"], "returned");

    // Found papers: their photos for the poster and the officers only.
    let (_, card) =
        crate::media::uploaded(&app, &finder, crate::media::png(24, 16), "image/png").await;
    let papers = json_of(
        post(
            &app,
            "/v1/lost-and-found/hue",
            &finder,
            &found("documents", &[&card]),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(papers["photos"], json!([card]));
    let path = format!("/v1/lost-and-found/hue/{}", papers["id"].as_str().unwrap());
    assert_eq!(app.get_json(&path).await["photos"], json!([]));
    assert_eq!(
        app.get_json_as(&path, &officer).await["photos"],
        json!([card])
    );
    let by_stranger = app
        .get_as(&format!("/v1/media/{card}/display"), &stranger)
        .await;
    assert_eq!(by_stranger.status(), 404);
    assert_eq!(display_status(&app, &card, &officer).await, 200);

    // Someone else's photo, a future day, too many photos, an unknown ward.
    problem(
        post(
            &app,
            "/v1/lost-and-found/hue",
            &stranger,
            &found("wallet", &[&card]),
        )
        .await,
        404,
        "media_not_found",
    )
    .await;
    let mut tomorrow = found("keys", &[]);
    tomorrow["occurred_on"] = json!(platform::vietnam_time::today().succ_opt().unwrap());
    problem(
        post(&app, "/v1/lost-and-found/hue", &finder, &tomorrow).await,
        422,
        "invalid_field",
    )
    .await;
    let five: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let mut many = found("bag", &[]);
    many["photos"] = json!(five);
    problem(
        post(&app, "/v1/lost-and-found/hue", &finder, &many).await,
        422,
        "too_many_media",
    )
    .await;
    let mut nowhere = found("phone", &[]);
    nowhere["ward"] = json!("atlantis");
    problem(
        post(&app, "/v1/lost-and-found/hue", &finder, &nowhere).await,
        422,
        "unknown_ward",
    )
    .await;
    problem(
        post(
            &app,
            "/v1/lost-and-found/atlantis",
            &finder,
            &found("phone", &[]),
        )
        .await,
        404,
        "jurisdiction_not_found",
    )
    .await;

    // A lost thing: never kept by the officers; withdrawn by its poster, seen only by them.
    let mut lost = found("phone", &[]);
    lost["kind"] = json!("lost");
    let lost = json_of(
        post(&app, "/v1/lost-and-found/hue", &stranger, &lost).await,
        201,
    )
    .await;
    let lost_path = format!("/v1/lost-and-found/hue/{}", lost["id"].as_str().unwrap());
    let lost_act = |token: &str, action: &str, body: Json| {
        app.authed(Method::POST, &format!("{lost_path}/{action}"), token)
            .json(&body)
            .send()
    };
    problem(
        lost_act(&officer, "held", json!({ "held_at": "Công an phường" }))
            .await
            .unwrap(),
        409,
        "not_a_found_item",
    )
    .await;
    json_of(
        lost_act(&stranger, "withdraw", json!({})).await.unwrap(),
        200,
    )
    .await;
    problem(app.get(&lost_path).await, 404, "lost_item_not_found").await;
    assert_eq!(
        app.get_json_as(&lost_path, &stranger).await["status"],
        "withdrawn"
    );
    app.stop().await;
}
in_both_modes!(a_found_wallet_is_kept_by_the_officers_and_handed_back);

async fn a_question_is_moderated_then_answered_in_public(mode: Mode) {
    let app = spawn(mode).await;
    let asker = app.resident_token().await;
    let stranger = app.resident_token().await;
    let construction = app.staff_token("construction.staff").await;
    let environment = app.staff_token("environment.staff").await;

    let departments: Json = app.get_json("/v1/questions/hue/departments").await;
    assert!(
        departments["departments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == "construction")
    );
    let question = json!({
        "department": "construction",
        "title": "Giấy phép xây dựng nhà ở riêng lẻ",
        "body": "Sửa mái nhà cấp 4 trong kiệt có cần xin giấy phép xây dựng không?",
    });
    let asked = json_of(
        post(&app, "/v1/questions/hue", &asker, &question).await,
        201,
    )
    .await;
    let id = asked["id"].as_str().unwrap().to_owned();
    assert_eq!(asked["status"], "pending");
    assert_eq!(asked["department"]["id"], "construction");
    assert!(
        !asked["department"]["name"]["vi"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    // Nobody else sees it before a moderator does.
    let path = format!("/v1/questions/hue/{id}");
    problem(
        app.get_as(&path, &stranger).await,
        404,
        "question_not_found",
    )
    .await;
    let public: Json = app.get_json("/v1/questions/hue").await;
    assert_eq!(public["questions"], json!([]));
    let queue: Json = app
        .get_json_as("/v1/questions/hue/queue", &construction)
        .await;
    assert_eq!(queue["questions"][0]["id"], id.as_str());
    let elsewhere: Json = app
        .get_json_as("/v1/questions/hue/queue", &environment)
        .await;
    assert_eq!(elsewhere["questions"], json!([]));
    problem(
        app.get_as("/v1/questions/hue/queue", &stranger).await,
        404,
        "route_not_found",
    )
    .await;

    let step = |token: &str, action: &str, body: Json| {
        app.authed(Method::POST, &format!("{path}/{action}"), token)
            .json(&body)
            .send()
    };
    problem(
        step(&environment, "publish", json!({})).await.unwrap(),
        404,
        "question_not_found",
    )
    .await;
    problem(
        step(&asker, "publish", json!({})).await.unwrap(),
        404,
        "question_not_found",
    )
    .await;
    json_of(
        step(&construction, "publish", json!({})).await.unwrap(),
        200,
    )
    .await;
    problem(
        step(&construction, "publish", json!({})).await.unwrap(),
        409,
        "question_not_waiting",
    )
    .await;
    let waiting: Json = app.get_json("/v1/questions/hue?answered=false").await;
    assert_eq!(waiting["questions"][0]["id"], id.as_str());
    assert_eq!(waiting["questions"][0]["mine"], false);

    problem(
        step(
            &construction,
            "answer",
            json!({ "answer_vi": "Không cần." }),
        )
        .await
        .unwrap(),
        422,
        "invalid_field",
    )
    .await;
    let answer = json!({
        "answer_vi": "Sửa chữa mái không làm thay đổi kết cấu chịu lực thì được miễn giấy phép.",
        "answer_en": "Repairing a roof without changing the load-bearing structure needs no permit.",
    });
    let answered = json_of(step(&construction, "answer", answer).await.unwrap(), 200).await;
    assert_eq!(answered["status"], "answered");
    let read: Json = app.get_json(&path).await;
    assert!(
        read["answer"]["text"]["en"]
            .as_str()
            .unwrap()
            .starts_with("Repairing a roof")
    );
    let answered_list: Json = app.get_json("/v1/questions/hue?answered=true").await;
    assert_eq!(answered_list["questions"][0]["id"], id.as_str());
    // The asker hears of the answer.
    let inbox = crate::helpers::poll_until(
        || app.get_json_as("/v1/inbox", &asker),
        |inbox: &Json| {
            inbox["notices"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["kind"] == "community.question_settled"))
        },
    )
    .await;
    let notice = inbox["notices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "community.question_settled")
        .unwrap_or_else(|| panic!("no notice of the answer: {inbox}"));
    assert_eq!(notice["title_vi"], "Câu hỏi của bạn đã được trả lời");
    assert_eq!(notice["data"]["question_id"], id.as_str());

    // A question turned down: its asker learns why; nobody else sees it.
    let off_topic =
        json!({ "department": "construction", "title": "Xổ số", "body": "Hôm nay số mấy trúng?" });
    let rejected = json_of(
        post(&app, "/v1/questions/hue", &asker, &off_topic).await,
        201,
    )
    .await;
    let rejected_path = format!("/v1/questions/hue/{}", rejected["id"].as_str().unwrap());
    let reject = |body: Json| {
        app.authed(
            Method::POST,
            &format!("{rejected_path}/reject"),
            &construction,
        )
        .json(&body)
        .send()
    };
    problem(
        reject(json!({ "reason": "because" })).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;
    json_of(reject(json!({ "reason": "off_topic" })).await.unwrap(), 200).await;
    let seen = app.get_json_as(&rejected_path, &asker).await;
    assert_eq!(seen["rejection"]["reason"], "off_topic");
    assert!(!seen["rejection"]["text"]["vi"].as_str().unwrap().is_empty());
    problem(app.get(&rejected_path).await, 404, "question_not_found").await;
    let told = crate::helpers::poll_until(
        || app.get_json_as("/v1/inbox", &asker),
        |inbox: &Json| {
            inbox["notices"].as_array().is_some_and(|n| {
                n.iter()
                    .any(|n| n["title_en"] == "Your question was not published")
            })
        },
    )
    .await;
    assert!(
        told["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title_en"] == "Your question was not published"),
        "{told}"
    );

    problem(
        post(
            &app,
            "/v1/questions/hue",
            &asker,
            &json!({ "department": "nasa", "title": "t", "body": "b" }),
        )
        .await,
        422,
        "unknown_department",
    )
    .await;
    problem(
        post(&app, "/v1/questions/atlantis", &asker, &question).await,
        404,
        "jurisdiction_not_found",
    )
    .await;
    let mine: Json = app.get_json_as("/v1/questions/mine", &asker).await;
    assert_eq!(mine["questions"].as_array().unwrap().len(), 2);
    app.stop().await;
}
in_both_modes!(a_question_is_moderated_then_answered_in_public);

/// An erased resident's notices stay, nobody's; their questions nobody saw go.
async fn an_erased_account_leaves_anonymous_notices_and_no_unseen_questions(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let lost = json!({ "kind": "lost", "category": "keys", "description": "Chùm chìa khóa",
                       "place": "Cầu Trường Tiền", "occurred_on": platform::vietnam_time::today() });
    json_of(
        post(&app, "/v1/lost-and-found/hue", &resident, &lost).await,
        201,
    )
    .await;
    let question = json!({ "department": "construction", "title": "Hỏi", "body": "Câu hỏi" });
    json_of(
        post(&app, "/v1/questions/hue", &resident, &question).await,
        201,
    )
    .await;
    let pool = app.schema_pool("community").await;
    let left = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT (SELECT count(*) FROM lost_items WHERE posted_by IS NOT NULL),
                    (SELECT count(*) FROM questions)",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(left().await, (1, 1));
    let erased = app
        .authed(Method::DELETE, "/v1/me", &resident)
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
    assert_eq!(
        crate::helpers::poll_until(left, |n| *n == (0, 0)).await,
        (0, 0)
    );
    let listed: Json = app.get_json("/v1/lost-and-found/hue?kind=lost").await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "the notice stays"
    );
    app.stop().await;
}
in_both_modes!(an_erased_account_leaves_anonymous_notices_and_no_unseen_questions);

/// A resident's flood of notices and questions stops at ten an hour; a retry is no new post;
/// the ward's officers take down a notice that should not be there.
async fn a_flood_of_posts_is_refused_and_officers_take_notices_down(mode: Mode) {
    let app = spawn(mode).await;
    let resident = app.resident_token().await;
    let officer = app.staff_token("phuxuan.officer").await;
    let notice = json!({ "kind": "lost", "category": "other", "description": "Mua bán hàng giả",
                         "place": "Chợ", "ward": "phu-xuan",
                         "occurred_on": platform::vietnam_time::today() });
    let question = json!({ "department": "construction", "title": "Hỏi", "body": "Câu hỏi" });
    let first = app
        .authed(Method::POST, "/v1/lost-and-found/hue", &resident)
        .header("Idempotency-Key", "first-notice")
        .json(&notice)
        .send()
        .await
        .unwrap();
    let first = json_of(first, 201).await;
    for n in 1..10 {
        let (path, body) = if n % 2 == 0 {
            ("/v1/lost-and-found/hue", &notice)
        } else {
            ("/v1/questions/hue", &question)
        };
        json_of(post(&app, path, &resident, body).await, 201).await;
    }
    let refused = post(&app, "/v1/questions/hue", &resident, &question).await;
    assert!(refused.headers().contains_key("retry-after"));
    problem(refused, 429, "too_many_community_posts").await;
    let replayed = app
        .authed(Method::POST, "/v1/lost-and-found/hue", &resident)
        .header("Idempotency-Key", "first-notice")
        .json(&notice)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replayed, 201).await["id"], first["id"]);

    let path = format!("/v1/lost-and-found/hue/{}", first["id"].as_str().unwrap());
    let taken_down = app
        .authed(Method::POST, &format!("{path}/withdraw"), &officer)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(taken_down, 200).await["status"], "withdrawn");
    problem(app.get(&path).await, 404, "lost_item_not_found").await;
    app.stop().await;
}
in_both_modes!(a_flood_of_posts_is_refused_and_officers_take_notices_down);
