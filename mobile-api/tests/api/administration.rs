//! Public administration through the gateway, against the one-stop, social insurance and
//! planning sandboxes on a port of their own (like the province's systems elsewhere) and
//! VNeID's sandbox for verification.

use std::path::PathBuf;

use administration::config::{AdministrationConfig, ApiServer};
use chrono::{DateTime, Days, NaiveDate, Utc};
use identity::config::IdentityConfig;
use reqwest::Method;
use sandbox::{one_stop, planning, social_insurance};
use serde_json::{Value, json};

use crate::health::verified;
use crate::helpers::{Mode, TestApp, client, poll_until, post_json, problem};
use crate::in_both_modes;
use crate::verification::{app_with, sandbox};

/// The app with the sandboxes at `provider` as Huế's one-stop system, Social Security and
/// planning layers, adjusted by `adjust`; NATS between the processes when split.
async fn app_with_offices(
    mode: Mode,
    provider: &mobile_api::App,
    adjust: impl Fn(&mut AdministrationConfig) + Clone + Send + Sync + 'static,
) -> TestApp {
    let issuer = format!("http://{}/sandbox/vneid", provider.addr());
    let base = format!("http://{}/sandbox", provider.addr());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    app_with(mode, &issuer, move |c| {
        // Administration asks identity for the resident's personal ID number.
        c.internal.service_token = Some("test-service-token".to_owned().into());
        // The centres' staff sign in as the demo city's; erasures happen at once, every second.
        c.edit(|identity: &mut IdentityConfig| {
            identity.dev_seed_staff = true;
            identity.erasure_grace_days = 0;
            identity.erasure_interval_secs = 1;
        });
        if matches!(mode, Mode::Split) {
            // Dossier changes and reminders reach notifications as events, through NATS.
            crate::helpers::use_nats(c, &unique);
        }
        let (base, adjust) = (base.clone(), adjust.clone());
        c.edit(move |administration: &mut AdministrationConfig| {
            administration.one_stop.insert(
                "hue".to_owned(),
                ApiServer {
                    base_url: format!("{base}/one-stop"),
                    token_url: format!("{base}/one-stop/token"),
                    client_id: one_stop::CLIENT_ID.to_owned(),
                    client_secret: one_stop::CLIENT_SECRET.to_owned().into(),
                },
            );
            administration.social_insurance = Some(ApiServer {
                base_url: format!("{base}/social-insurance"),
                token_url: format!("{base}/social-insurance/token"),
                client_id: social_insurance::CLIENT_ID.to_owned(),
                client_secret: social_insurance::CLIENT_SECRET.to_owned().into(),
            });
            administration.planning.insert(
                "hue".to_owned(),
                [(
                    "phan-khu".to_owned(),
                    format!("{base}/planning/layers/phan-khu.geojson"),
                )]
                .into(),
            );
            administration.timeout_ms = 4_000;
            administration.dossier_poll_ms = 200;
            administration.planning_refresh_secs = 1;
            administration.reminders_interval_ms = 200;
            adjust(administration);
        });
    })
    .await
}

/// The last four digits of a phone number.
fn last_four(phone: &str) -> &str {
    &phone[phone.len() - 4..]
}

async fn lookup(app: &TestApp, token: Option<&str>, code: &str, digits: &str) -> reqwest::Response {
    post_json(
        app,
        "/v1/administration/dossiers/lookup",
        token,
        &json!({ "code": code, "phone_last_digits": digits }),
    )
    .await
}

/// Tells the one-stop sandbox that `event` happened to dossier `code`.
async fn one_stop_event(provider: &mobile_api::App, code: &str, event: Value) {
    let answer = client()
        .post(format!(
            "http://{}/sandbox/one-stop/api/hoso/{code}/su-kien",
            provider.addr()
        ))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
}

async fn set_fault(provider: &mobile_api::App, sandbox: &str, fault: Value) {
    let answer = client()
        .post(format!(
            "http://{}/sandbox/{sandbox}/faults",
            provider.addr()
        ))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

async fn dossier_notices(app: &TestApp, token: &str) -> Vec<Value> {
    let inbox = app.get_json_as("/v1/inbox", token).await;
    inbox["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "administration.dossier_changed")
        .cloned()
        .collect()
}

/// A dossier looked up with its receipt, an applicant's own dossiers in full, someone else's
/// not at all, and a push on each change to one she follows.
async fn an_applicant_tracks_her_dossiers(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_offices(mode, &provider, |_| {}).await;
    let digits = last_four(one_stop::APPLICANT_PHONE);

    // Anyone holding the receipt: the code and the phone's last four digits.
    let answer = lookup(&app, None, one_stop::BUILDING_PERMIT_CODE, digits).await;
    assert_eq!(answer.status(), 200);
    let dossier: Value = answer.json().await.unwrap();
    assert_eq!(dossier["code"], one_stop::BUILDING_PERMIT_CODE);
    assert_eq!(dossier["state"], "processing");
    assert_eq!(dossier["state_label"]["vi"], "Đang giải quyết");
    assert_eq!(
        dossier["applicant"], "N. T. Hoa",
        "only initials for a lookup"
    );
    let steps = dossier["steps"].as_array().unwrap();
    assert!(steps.len() >= 3, "{dossier}");
    assert_eq!(steps[0]["status"], "done");
    assert_eq!(steps[1]["status"], "current");
    assert!(steps[1]["left_days"].is_number(), "{dossier}");
    assert!(steps[1]["handler_role"].is_string());
    assert!(steps[1].get("handler").is_none(), "no official's name");
    // The code in lower case is the same code.
    let lower = lookup(
        &app,
        None,
        &one_stop::BUILDING_PERMIT_CODE.to_lowercase(),
        digits,
    )
    .await;
    assert_eq!(lower.status(), 200);

    // Wrong digits, a code nobody has, and another's dossier with her digits: one answer.
    for (code, digits) in [
        (one_stop::BUILDING_PERMIT_CODE, "0000"),
        ("H57.22-991231-9999", digits),
        (one_stop::OTHER_CODE, digits),
    ] {
        problem(
            lookup(&app, None, code, digits).await,
            404,
            "dossier_not_found",
        )
        .await;
    }
    for code in ["../../token", "x", "H57.22-261201-0001?SoGiayToChuHoSo=1"] {
        problem(
            lookup(&app, None, code, digits).await,
            422,
            "invalid_dossier_code",
        )
        .await;
    }

    // Her own, in full, once verified as the applicant; not before.
    let basic = app.resident_token().await;
    let refused = app.get_as("/v1/administration/dossiers", &basic).await;
    problem(refused, 403, "verification_required").await;
    let token = verified(&app, &provider, one_stop::APPLICANT_ID).await;
    let mine = app.get_json_as("/v1/administration/dossiers", &token).await;
    let codes: Vec<&str> = mine["dossiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 2, "{mine}");
    assert!(codes.contains(&one_stop::BUILDING_PERMIT_CODE));
    assert!(codes.contains(&one_stop::BIRTH_CODE));
    let birth = app
        .get_json_as(
            &format!("/v1/administration/dossiers/{}", one_stop::BIRTH_CODE),
            &token,
        )
        .await;
    assert_eq!(birth["state"], "returned");
    assert_eq!(birth["applicant"], "Nguyễn Thị Hoa");
    // Someone else's is no one's.
    let other = app
        .get_as(
            &format!("/v1/administration/dossiers/{}", one_stop::OTHER_CODE),
            &token,
        )
        .await;
    problem(other, 404, "dossier_not_found").await;

    // She follows hers from now on: more documents asked for, then a delay with an apology.
    one_stop_event(
        &provider,
        one_stop::BUILDING_PERMIT_CODE,
        json!({ "loai": "bo_sung", "noi_dung": "Bổ sung bản vẽ mặt bằng tầng 2" }),
    )
    .await;
    let notices = poll_until(|| dossier_notices(&app, &token), |n| !n.is_empty()).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]["title_vi"]
            .as_str()
            .unwrap()
            .contains(one_stop::BUILDING_PERMIT_CODE),
        "{notices:?}"
    );
    assert!(
        notices[0]["body_vi"]
            .as_str()
            .unwrap()
            .contains("Bổ sung bản vẽ mặt bằng tầng 2"),
        "{notices:?}"
    );
    let new_date = (Utc::now() + chrono::Duration::days(20)).to_rfc3339();
    one_stop_event(
        &provider,
        one_stop::BUILDING_PERMIT_CODE,
        json!({ "loai": "tre_han", "ly_do": "Chờ ý kiến Sở Văn hóa", "ngay_hen_moi": new_date }),
    )
    .await;
    let notices = poll_until(|| dossier_notices(&app, &token), |n| n.len() >= 2).await;
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices
            .iter()
            .any(|n| n["body_en"].as_str().unwrap().contains("apologises")),
        "{notices:?}"
    );
    let delayed = app
        .get_json_as(
            &format!(
                "/v1/administration/dossiers/{}",
                one_stop::BUILDING_PERMIT_CODE
            ),
            &token,
        )
        .await;
    assert_eq!(delayed["state"], "delayed");
    assert_eq!(delayed["reason"], "Chờ ý kiến Sở Văn hóa");

    // A change to someone else's dossier tells her nothing; later rounds repeat nothing.
    one_stop_event(
        &provider,
        one_stop::OTHER_CODE,
        json!({ "loai": "co_ket_qua" }),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(dossier_notices(&app, &token).await.len(), 2);
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(an_applicant_tracks_her_dossiers);

/// Guessing phone digits meets a lock on the code (every lookup of it counts), and one
/// address a limit; a one-stop system
/// that is down, slow or garbled is a quick 503.
#[tokio::test]
async fn dossier_lookups_are_limited_and_a_broken_system_is_a_503() {
    let (provider, _) = sandbox().await;
    let app = app_with_offices(Mode::AllInOne, &provider, |administration| {
        administration.dossier_lookups_per_minute = 11;
        administration.dossier_lookups_per_code_hour = 3;
        administration.timeout_ms = 1_000;
    })
    .await;
    // Digits that cannot be a phone's last four are refused, and count as no guess.
    for digits in ["122", "05111222", "12a4"] {
        let answer = lookup(&app, None, one_stop::OTHER_CODE, digits).await;
        problem(answer, 422, "invalid_phone_digits").await;
    }
    for digits in ["0001", "0002", "0003"] {
        let answer = lookup(&app, None, one_stop::OTHER_CODE, digits).await;
        problem(answer, 404, "dossier_not_found").await;
    }
    let right = lookup(
        &app,
        None,
        one_stop::OTHER_CODE,
        last_four(one_stop::OTHER_PHONE),
    )
    .await;
    assert!(right.headers().contains_key("retry-after"));
    problem(right, 429, "dossier_lookups_locked").await;

    let digits = last_four(one_stop::APPLICANT_PHONE);
    for fault in [
        json!({ "mode": "down" }),
        json!({ "mode": "slow", "delay_ms": 3_000 }),
        json!({ "mode": "garbage" }),
    ] {
        set_fault(&provider, "one-stop", fault.clone()).await;
        let answer = lookup(&app, None, one_stop::BIRTH_CODE, digits).await;
        problem(answer, 503, "upstream_unavailable").await;
        set_fault(&provider, "one-stop", json!({ "mode": null })).await;
    }
    // The address's own limit: 11 a minute, 10 used.
    let ok = lookup(&app, None, one_stop::BUILDING_PERMIT_CODE, digits).await;
    assert_eq!(ok.status(), 200);
    let over = lookup(&app, None, one_stop::BUILDING_PERMIT_CODE, digits).await;
    problem(over, 429, "too_many_dossier_lookups").await;
    app.stop().await;
    provider.stop().await.unwrap();
}

/// The next day from tomorrow on which `centre` has slots for `service`, and those slots.
async fn next_open_day(app: &TestApp, centre: &str, service: &str) -> (NaiveDate, Vec<Value>) {
    let mut day = Utc::now().date_naive() + Days::new(1);
    for _ in 0..14 {
        let slots = app
            .get_json(&format!(
                "/v1/administration/centres/{centre}/slots?service={service}&date={day}"
            ))
            .await;
        let slots = slots["slots"].as_array().unwrap().clone();
        if !slots.is_empty() {
            return (day, slots);
        }
        day = day + Days::new(1);
    }
    panic!("{centre} has no open day in two weeks");
}

async fn book(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    client()
        .post(app.url("/v1/administration/appointments"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn free_at(app: &TestApp, centre: &str, service: &str, day: NaiveDate, at: &str) -> i64 {
    let slots = app
        .get_json(&format!(
            "/v1/administration/centres/{centre}/slots?service={service}&date={day}"
        ))
        .await;
    let at: DateTime<Utc> = at.parse().unwrap();
    slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["starts_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
                == at
        })
        .map(|s| s["free"].as_i64().unwrap())
        .unwrap()
}

const CENTRE: &str = "hue-public-service-centre";

/// Booking, replaying, rescheduling and cancelling; no slot overbooked by residents racing
/// for it; someone else's booking is no one's; the staff's day list by who serves where.
async fn residents_book_counter_appointments(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_offices(mode, &provider, |_| {}).await;
    let centres = app.get_json("/v1/administration/centres").await;
    let centre = centres["centres"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == CENTRE)
        .unwrap()
        .clone();
    assert_eq!(
        centre["name"]["vi"],
        "Trung tâm Phục vụ hành chính công thành phố Huế"
    );
    let (day, slots) = next_open_day(&app, CENTRE, "construction").await;
    // Two counters serve building permits: two places a slot.
    assert!(slots.iter().all(|s| s["free"] == 2), "{slots:?}");
    let first = slots[0]["starts_at"].as_str().unwrap().to_owned();

    let token = app.resident_token().await;
    let request = json!({ "centre": CENTRE, "service": "construction", "starts_at": first });
    let booked = book(&app, &token, "first-booking", &request).await;
    assert_eq!(booked.status(), 201);
    let booking: Value = booked.json().await.unwrap();
    assert_eq!(booking["status"], "booked");
    assert_eq!(booking["queue_number"], "B001");
    let id = booking["id"].as_str().unwrap().to_owned();
    assert_eq!(booking["qr_code"], format!("citizen:booking:{id}"));
    // A retry books nothing more and answers the same; the key for another booking is refused.
    let replay = book(&app, &token, "first-booking", &request).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.json::<Value>().await.unwrap()["id"], id.as_str());
    assert_eq!(free_at(&app, CENTRE, "construction", day, &first).await, 1);
    let other_body = json!({ "centre": CENTRE, "service": "land", "starts_at": first });
    problem(
        book(&app, &token, "first-booking", &other_body).await,
        422,
        "idempotency_key_reused",
    )
    .await;

    // Not a slot of the hours, in the past, or a service the centre lacks.
    let odd = (first.parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(7)).to_rfc3339();
    for (body, status, code) in [
        (
            json!({ "centre": CENTRE, "service": "construction", "starts_at": odd }),
            422,
            "booking_slot_unavailable",
        ),
        (
            json!({ "centre": CENTRE, "service": "construction", "starts_at": "2020-01-06T01:00:00Z" }),
            422,
            "booking_slot_unavailable",
        ),
        (
            json!({ "centre": CENTRE, "service": "civil-status", "starts_at": first }),
            404,
            "counter_service_not_found",
        ),
        (
            json!({ "centre": "nowhere", "service": "land", "starts_at": first }),
            404,
            "centre_not_found",
        ),
    ] {
        let key = uuid::Uuid::new_v4().to_string();
        problem(book(&app, &token, &key, &body).await, status, code).await;
    }

    // Ten residents race for the one place of a criminal-record slot: one gets it.
    let (_, judicial) = next_open_day(&app, CENTRE, "judicial-records").await;
    let contested = judicial[0]["starts_at"].as_str().unwrap().to_owned();
    let mut racers = Vec::new();
    for _ in 0..10 {
        racers.push(app.resident_token().await);
    }
    let answers = futures::future::join_all(racers.iter().map(|racer| {
        let body =
            json!({ "centre": CENTRE, "service": "judicial-records", "starts_at": contested });
        let app = &app;
        async move {
            let answer = book(app, racer, "race", &body).await;
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap();
            (status, body)
        }
    }))
    .await;
    let won = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, b)| *s == 201 || (*s == 409 && b["code"] == "booking_slot_full")),
        "{answers:?}"
    );

    // Rescheduled: the new place taken, the old one freed, a new number.
    let second = slots[1]["starts_at"].as_str().unwrap().to_owned();
    let moved = post_json(
        &app,
        &format!("/v1/administration/appointments/{id}/reschedule"),
        Some(&token),
        &json!({ "starts_at": second }),
    )
    .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(
        moved["starts_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        second.parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(moved["queue_number"], "B002");
    assert_eq!(free_at(&app, CENTRE, "construction", day, &first).await, 2);
    assert_eq!(free_at(&app, CENTRE, "construction", day, &second).await, 1);

    // Someone else's booking is no one's, to read, move or cancel.
    let stranger = app.resident_token().await;
    let path = format!("/v1/administration/appointments/{id}");
    problem(app.get_as(&path, &stranger).await, 404, "booking_not_found").await;
    let cancel_as = |token: String| {
        let path = path.clone();
        let app = &app;
        async move {
            app.authed(Method::DELETE, &path, &token)
                .send()
                .await
                .unwrap()
        }
    };
    problem(cancel_as(stranger.clone()).await, 404, "booking_not_found").await;

    // The staff who serve the centre see the day's list; a ward's officer does not.
    let staff = app.staff_token("centre.staff").await;
    let list = app
        .get_json_as(
            &format!("/v1/administration/centres/{CENTRE}/appointments?date={day}"),
            &staff,
        )
        .await;
    assert!(
        list["appointments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == id.as_str() && b["queue_number"] == "B002"),
        "{list}"
    );
    // Another department's staff, and a ward's officer, serve neither the centre nor another
    // ward's desk.
    let other_department = app.staff_token("construction.staff").await;
    let refused = app
        .get_as(
            &format!("/v1/administration/centres/{CENTRE}/appointments"),
            &other_department,
        )
        .await;
    problem(refused, 404, "centre_not_found").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let refused = app
        .get_as(
            &format!("/v1/administration/centres/{CENTRE}/appointments"),
            &officer,
        )
        .await;
    problem(refused, 404, "centre_not_found").await;
    let ward_desk = app
        .get_as(
            "/v1/administration/centres/thuan-hoa-ward/appointments",
            &officer,
        )
        .await;
    problem(ward_desk, 404, "centre_not_found").await;
    let own_desk = app
        .get_as(
            "/v1/administration/centres/thuan-hoa-ward/appointments",
            &app.staff_token("thuanhoa.officer").await,
        )
        .await;
    assert_eq!(own_desk.status(), 200);

    // One booking a day for a service: another time is a reschedule, not a second place.
    let again =
        json!({ "centre": CENTRE, "service": "construction", "starts_at": slots[3]["starts_at"] });
    problem(
        book(&app, &token, "same-day", &again).await,
        409,
        "already_booked",
    )
    .await;

    // Nor by moving another day's booking of the service into that day.
    let mut later = day + Days::new(1);
    let later_slots = loop {
        let found = app
            .get_json(&format!(
                "/v1/administration/centres/{CENTRE}/slots?service=construction&date={later}"
            ))
            .await;
        let found = found["slots"].as_array().unwrap().clone();
        if !found.is_empty() {
            break found;
        }
        later = later + Days::new(1);
    };
    let other_day = json!({ "centre": CENTRE, "service": "construction", "starts_at": later_slots[0]["starts_at"] });
    let other_day: Value = book(&app, &token, "other-day", &other_day)
        .await
        .json()
        .await
        .unwrap();
    let other_id = other_day["id"].as_str().unwrap().to_owned();
    let moved = post_json(
        &app,
        &format!("/v1/administration/appointments/{other_id}/reschedule"),
        Some(&token),
        &json!({ "starts_at": slots[4]["starts_at"] }),
    )
    .await;
    problem(moved, 409, "already_booked").await;
    let cancelled = app
        .authed(
            Method::DELETE,
            &format!("/v1/administration/appointments/{other_id}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), 204);

    // At most three upcoming bookings.
    for (n, service) in ["land", "business", "judicial-records"]
        .into_iter()
        .enumerate()
    {
        let body =
            json!({ "centre": CENTRE, "service": service, "starts_at": slots[2]["starts_at"] });
        let answer = book(&app, &token, &format!("more-{n}"), &body).await;
        if n < 2 {
            assert_eq!(answer.status(), 201);
        } else {
            problem(answer, 409, "too_many_bookings").await;
        }
    }

    // Cancelled: the place is free again; cancelling again changes nothing.
    assert_eq!(cancel_as(token.clone()).await.status(), 204);
    assert_eq!(cancel_as(token.clone()).await.status(), 204);
    assert_eq!(free_at(&app, CENTRE, "construction", day, &second).await, 2);
    let mine = app
        .get_json_as("/v1/administration/appointments", &token)
        .await;
    let cancelled = mine["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id.as_str())
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(residents_book_counter_appointments);

/// A centre open every day around the clock, five minutes a slot, for the tests of today.
fn always_open_centres() -> PathBuf {
    let path = std::env::temp_dir().join(format!("centres-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &path,
        r#"
[[centres]]
id = "always-open"
department = "public-service-centre"
jurisdiction = "hue"
name_vi = "Điểm tiếp nhận thử nghiệm"
name_en = "Test desk"
address = "Huế"
latitude = 16.46
longitude = 107.59
slot_minutes = 5
hours = [{ days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], opens = "00:00", closes = "23:59" }]

[[centres.services]]
code = "civil-status"
letter = "H"
name_vi = "Hộ tịch"
name_en = "Civil status"
counters = 1
"#,
    )
    .unwrap();
    path
}

/// A reminder within a day of the start, once; staff mark today's arrivals by the QR code.
#[tokio::test]
async fn a_booking_is_reminded_and_its_arrival_marked() {
    let (provider, _) = sandbox().await;
    let centres = always_open_centres();
    let file = centres.clone();
    let app = app_with_offices(Mode::AllInOne, &provider, move |administration| {
        administration.centres_file = Some(file.clone());
    })
    .await;
    let token = app.resident_token().await;
    let today = platform::vietnam_time::today();
    let mut slots = Vec::new();
    for day in [today, today + Days::new(1)] {
        let found = app
            .get_json(&format!(
                "/v1/administration/centres/always-open/slots?service=civil-status&date={day}"
            ))
            .await;
        slots.extend(found["slots"].as_array().unwrap().iter().cloned());
    }
    let body = json!({ "centre": "always-open", "service": "civil-status", "starts_at": slots[0]["starts_at"] });
    let booked: Value = book(&app, &token, "soon", &body)
        .await
        .json()
        .await
        .unwrap();
    let id = booked["id"].as_str().unwrap().to_owned();

    // Just booked: no reminder. Booked two hours ago: one.
    let pool = app.schema_pool("administration").await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let reminders = || async {
        let inbox = app.get_json_as("/v1/inbox", &token).await;
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "administration.appointment_reminder")
            .cloned()
            .collect::<Vec<Value>>()
    };
    assert!(reminders().await.is_empty());
    sqlx::query("UPDATE bookings SET created_at = now() - interval '2 hours' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let told = poll_until(reminders, |r| !r.is_empty()).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0]["body_vi"].as_str().unwrap().contains("H001"),
        "{told:?}"
    );

    // Arrival: the booking starts today (moved here to be certain of the day).
    sqlx::query("UPDATE bookings SET starts_at = date_trunc('minute', now()) WHERE id = $1::uuid")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    let admin = app.staff_token("hue.admin").await;
    let arrivals = "/v1/administration/centres/always-open/arrivals";
    for code in [
        "citizen:booking:not-a-uuid",
        &format!("citizen:booking:{}", uuid::Uuid::new_v4()),
    ] {
        let answer = post_json(&app, arrivals, Some(&admin), &json!({ "code": code })).await;
        problem(answer, 422, "invalid_booking_code").await;
    }
    let officer = app.staff_token("phuxuan.officer").await;
    let refused = post_json(
        &app,
        arrivals,
        Some(&officer),
        &json!({ "code": booked["qr_code"] }),
    )
    .await;
    problem(refused, 404, "centre_not_found").await;
    for _ in 0..2 {
        let arrived = post_json(
            &app,
            arrivals,
            Some(&admin),
            &json!({ "code": booked["qr_code"] }),
        )
        .await;
        assert_eq!(arrived.status(), 200);
        assert_eq!(arrived.json::<Value>().await.unwrap()["status"], "arrived");
    }
    app.stop().await;
    provider.stop().await.unwrap();
    let _ = std::fs::remove_file(centres);
}

/// A verified resident's social insurance record; nobody else's, and a quick 503 when the
/// system is down.
async fn social_insurance_for_the_insured(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_offices(mode, &provider, |administration| {
        administration.timeout_ms = 1_000;
    })
    .await;
    let basic = app.resident_token().await;
    let refused = app
        .get_as("/v1/administration/social-insurance", &basic)
        .await;
    problem(refused, 403, "verification_required").await;

    let token = verified(&app, &provider, social_insurance::INSURED_ID).await;
    let record = app
        .get_json_as("/v1/administration/social-insurance", &token)
        .await;
    assert_eq!(record["number"], social_insurance::INSURED_BHXH_NUMBER);
    assert_eq!(record["name"], social_insurance::INSURED_NAME);
    assert_eq!(
        record["current_employer"]["code"],
        social_insurance::INSURED_EMPLOYER_CODE
    );
    let periods = record["periods"].as_array().unwrap();
    assert_eq!(periods[0]["from"], social_insurance::INSURED_SINCE);
    assert!(periods.last().unwrap()["to"].is_null(), "{record}");
    assert_eq!(periods[0]["kind"], "compulsory");
    // Months from July 2012 to this month, both counted.
    let now = Utc::now().with_timezone(&platform::vietnam_time::OFFSET);
    use chrono::Datelike;
    let months = (now.year() - 2012) * 12 + now.month() as i32 - 7 + 1;
    assert_eq!(record["months"]["social_insurance"], months);

    let never = verified(&app, &provider, social_insurance::NEVER_INSURED_ID).await;
    let answer = app
        .get_as("/v1/administration/social-insurance", &never)
        .await;
    problem(answer, 404, "not_insured").await;

    for fault in [json!({ "mode": "down" }), json!({ "mode": "garbage" })] {
        set_fault(&provider, "social-insurance", fault).await;
        let answer = app
            .get_as("/v1/administration/social-insurance", &token)
            .await;
        problem(answer, 503, "upstream_unavailable").await;
        set_fault(&provider, "social-insurance", json!({ "mode": null })).await;
    }
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(social_insurance_for_the_insured);

async fn zoning_at(app: &TestApp, (latitude, longitude): (f64, f64)) -> Value {
    app.get_json(&format!(
        "/v1/administration/planning?lat={latitude}&lng={longitude}"
    ))
    .await
}

/// The zoning at a point from the imported layer; nothing where no plan reaches; a broken
/// layer file changes nothing.
async fn planning_at_a_point(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_offices(mode, &provider, |_| {}).await;
    let citadel = poll_until(
        || zoning_at(&app, planning::CITADEL_POINT),
        |z| z["zones"].as_array().is_some_and(|z| !z.is_empty()),
    )
    .await;
    let zones = citadel["zones"].as_array().unwrap();
    assert_eq!(zones.len(), 1, "{citadel}");
    assert_eq!(zones[0]["code"], planning::CITADEL_ZONE_CODE);
    assert_eq!(zones[0]["max_floors"], planning::CITADEL_MAX_FLOORS);
    assert_eq!(zones[0]["layer"], "phan-khu");
    assert!(zones[0]["land_use"]["vi"].is_string());
    assert!(zones[0]["decision"].as_str().unwrap().contains("QĐ-UBND"));

    let residential = zoning_at(&app, planning::PHU_HOI_POINT).await;
    assert_eq!(residential["zones"][0]["code"], planning::PHU_HOI_ZONE_CODE);
    assert_eq!(
        residential["zones"][0]["land_use"]["en"],
        "Urban residential land"
    );
    let outside = zoning_at(&app, planning::OUTSIDE_POINT).await;
    assert_eq!(outside["zones"], json!([]));
    let off = app.get("/v1/administration/planning?lat=91&lng=107").await;
    problem(off, 422, "invalid_position").await;

    // A layer file cut off midway is refused whole; the zones stay.
    set_fault(&provider, "planning", json!({ "mode": "garbage" })).await;
    let pool = app.schema_pool("administration").await;
    poll_until(
        || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT refusal FROM planning_imports WHERE source LIKE '%/phan-khu.geojson'",
            )
            .fetch_optional(&pool)
            .await
            .unwrap()
            .flatten()
        },
        Option::is_some,
    )
    .await;
    let still = zoning_at(&app, planning::CITADEL_POINT).await;
    assert_eq!(still["zones"][0]["code"], planning::CITADEL_ZONE_CODE);
    set_fault(&provider, "planning", json!({ "mode": null })).await;
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(planning_at_a_point);

/// An erased account's follows and bookings go with it, and its places return to the slots.
#[tokio::test]
async fn an_erased_account_leaves_no_follows_or_bookings() {
    let (provider, _) = sandbox().await;
    let app = app_with_offices(Mode::AllInOne, &provider, |_| {}).await;
    let token = verified(&app, &provider, one_stop::APPLICANT_ID).await;
    let mine = app.get_as("/v1/administration/dossiers", &token).await;
    assert_eq!(mine.status(), 200);
    let (day, slots) = next_open_day(&app, CENTRE, "business").await;
    let at = slots[0]["starts_at"].as_str().unwrap().to_owned();
    let body = json!({ "centre": CENTRE, "service": "business", "starts_at": at });
    assert_eq!(book(&app, &token, "to-erase", &body).await.status(), 201);
    assert_eq!(free_at(&app, CENTRE, "business", day, &at).await, 1);

    let pool = app.schema_pool("administration").await;
    let held = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM dossier_follows) + (SELECT count(*) FROM bookings)
                    + (SELECT count(*) FROM idempotency_keys)",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    assert_eq!(held().await, 4);
    let erased = app
        .authed(Method::DELETE, "/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
    assert_eq!(poll_until(held, |n| *n == 0).await, 0);
    assert_eq!(free_at(&app, CENTRE, "business", day, &at).await, 2);
    app.stop().await;
    provider.stop().await.unwrap();
}
