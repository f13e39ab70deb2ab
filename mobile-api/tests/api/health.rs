//! Health through the gateway, against the FHIR sandbox on a port of its own (like a hospital
//! system elsewhere) and VNeID's sandbox for verification.

use chrono::{Days, Months, NaiveDate};
use health::config::{FhirServer, HealthConfig};
use reqwest::Method;
use sandbox::fhir;
use serde_json::{Value, json};

use crate::helpers::{Mode, TestApp, client, problem, random_phone};
use crate::in_both_modes;
use crate::verification::{app_with, sandbox, verify};

/// Today in Việt Nam, as the sandbox dates its records.
pub(crate) fn today() -> NaiveDate {
    platform::vietnam_time::today()
}

/// The app, its sandboxes' address, and a resident verified as `national_id` (a fresh token).
async fn app_and_resident(
    mode: Mode,
    national_id: &str,
) -> (TestApp, mobile_api::App, String, String) {
    let (provider, issuer) = sandbox().await;
    let fhir_base = format!("http://{}/sandbox/fhir", provider.addr());
    let app = app_with_health_system(mode, &issuer, &fhir_base, fhir::BEARER_TOKEN).await;
    let token = verified(&app, &provider, national_id).await;
    (app, provider, fhir_base, token)
}

/// The app with the FHIR server at `fhir_base` (which takes `bearer_token`) as Huế's health
/// system, and VNeID at `issuer`.
pub(crate) async fn app_with_health_system(
    mode: Mode,
    issuer: &str,
    fhir_base: &str,
    bearer_token: &str,
) -> TestApp {
    let server = FhirServer {
        base_url: fhir_base.to_owned(),
        bearer_token: Some(bearer_token.to_owned().into()),
        smart: None,
    };
    app_with_fhir_server(mode, issuer, server).await
}

/// The app with `server` as Huế's health system, and VNeID at `issuer`.
async fn app_with_fhir_server(mode: Mode, issuer: &str, server: FhirServer) -> TestApp {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    app_with(mode, issuer, move |c| {
        // Health asks identity for the personal ID number, across processes when split.
        c.internal.service_token = Some("test-service-token".to_owned().into());
        // Erasures happen at once, every second.
        c.edit(|identity: &mut identity::config::IdentityConfig| {
            identity.erasure_grace_days = 0;
            identity.erasure_interval_secs = 1;
        });
        if matches!(mode, Mode::Split) {
            // Reminders reach notifications as events, through NATS.
            crate::helpers::use_nats(c, &unique);
        }
        let server = server.clone();
        c.edit(move |health: &mut HealthConfig| {
            // Generous for a loaded CI machine; the slow faults below wait longer still.
            health.timeout_ms = 4_000;
            health.reminders_interval_ms = 200;
            health.systems.insert("hue".to_owned(), server);
        });
    })
    .await
}

/// A new resident of `app` verified at `provider`'s VNeID as `national_id`: their token.
pub(crate) async fn verified(
    app: &TestApp,
    provider: &mobile_api::App,
    national_id: &str,
) -> String {
    let issuer = format!("http://{}/sandbox/vneid", provider.addr());
    let session = app.sign_in(&random_phone()).await;
    let basic = session["access_token"].as_str().unwrap();
    let outcome = verify(app, &issuer, basic, "approve", national_id).await;
    assert_eq!(outcome, "citizen://identity-verification?status=verified");
    app.refresh(&session).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn set_fault(fhir_base: &str, fault: Value) {
    let answer = client()
        .post(format!("{fhir_base}/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// The vaccinations of an infant born 100 days ago who had hepatitis B and BCG after birth and
/// the first pentavalent and oral polio doses at 62 days, the clinic forecasting the next (as
/// the FHIR sandbox and the Medplum seed both record them): the doses given with their series,
/// and those due dated from the real birth date.
pub(crate) fn assert_a_hundred_day_old_infants_vaccinations(shots: &Value) {
    let given = shots["given"].as_array().unwrap();
    let series: Vec<&str> = given.iter().filter_map(|g| g["series"].as_str()).collect();
    for expected in ["hepb-birth", "bcg", "dtp-hepb-hib", "opv"] {
        assert!(series.contains(&expected), "{series:?}");
    }
    assert!(
        given
            .iter()
            .all(|g| g["date"].is_string() && g["vaccine"].is_string())
    );
    assert!(
        given
            .iter()
            .any(|g| g["lot"].is_string() && g["place"].is_string()),
        "{given:?}"
    );
    let born = today().checked_sub_days(Days::new(100)).unwrap();
    let first_dose = born.checked_add_days(Days::new(62)).unwrap();
    let second_due = born
        .checked_add_months(Months::new(3))
        .unwrap()
        .max(first_dose.checked_add_days(Days::new(28)).unwrap());
    let due = shots["due"].as_array().unwrap();
    let penta = due.iter().find(|d| d["series"] == "dtp-hepb-hib").unwrap();
    assert_eq!(penta["dose"], 2);
    assert_eq!(penta["due_on"], second_due.to_string(), "{penta}");
    assert_eq!(penta["status"], "due");
    assert!(
        penta["hospital_due_on"].is_string(),
        "the hospital forecast it too"
    );
    assert!(penta["vaccine"]["vi"].is_string() && penta["vaccine"]["en"].is_string());
    let ipv = due.iter().find(|d| d["series"] == "ipv").unwrap();
    assert_eq!(
        ipv["due_on"],
        born.checked_add_months(Months::new(5)).unwrap().to_string()
    );
    assert!(
        !due.iter()
            .any(|d| d["series"] == "hepb-birth" || d["series"] == "bcg")
    );
}

async fn a_parent_sees_their_card_and_their_young_childs_records(mode: Mode) {
    let (app, provider, _, token) = app_and_resident(mode, fhir::MOTHER_CCCD).await;

    // Not verified: nothing.
    let basic = app.resident_token().await;
    for path in [
        "/v1/health/people",
        "/v1/health/insurance-card",
        "/v1/health/vaccinations",
    ] {
        problem(app.get_as(path, &basic).await, 403, "verification_required").await;
    }

    let people = app.get_json_as("/v1/health/people", &token).await;
    let people = people["people"].as_array().unwrap();
    assert_eq!(people[0]["id"], fhir::MOTHER_ID);
    assert_eq!(people[0]["relationship"], "self");
    assert_eq!(people[0]["name"], "Nguyễn Thị Hoa");
    // Her infant son, not her daughter of 17, who speaks for herself.
    assert_eq!(people.len(), 2, "{people:?}");
    assert_eq!(people[1]["id"], fhir::INFANT_ID);
    assert_eq!(people[1]["relationship"], "child");

    let mine = app.get_json_as("/v1/health/insurance-card", &token).await;
    assert_eq!(mine["person"]["id"], fhir::MOTHER_ID);
    let card = &mine["card"];
    assert_eq!(card["number"], "4601234567");
    assert_eq!(card["benefit_level"], 4);
    assert_eq!(card["pays_percent"], 80);
    assert!(card["pays"]["vi"].as_str().unwrap().contains("80%"));
    assert!(card["pays"]["en"].as_str().unwrap().contains("80%"));
    assert_eq!(card["state"], "expiring", "{card}");
    assert_eq!(card["days_left"], 25);
    assert_eq!(card["five_years_continuous_from"], "2021-01-01");
    assert!(
        card["primary_clinic"]["name"]
            .as_str()
            .unwrap()
            .contains("Phú Hội"),
        "{card}"
    );

    let sons = app
        .get_json_as(
            &format!("/v1/health/insurance-card?person={}", fhir::INFANT_ID),
            &token,
        )
        .await;
    assert_eq!(sons["person"]["relationship"], "child");
    assert_eq!(sons["card"]["number"], "TE1460123456789");
    assert_eq!(sons["card"]["group"]["code"], "TE");
    assert_eq!(sons["card"]["benefit_level"], 1);
    assert_eq!(sons["card"]["pays_percent"], 100);
    assert_eq!(sons["card"]["province_code"], "46");
    assert_eq!(sons["card"]["social_insurance_number"], "0123456789");
    assert_eq!(sons["card"]["state"], "valid");

    // His vaccinations, and the doses the schedule asks for, dated from his real birth date.
    let shots = app
        .get_json_as(
            &format!("/v1/health/vaccinations?person={}", fhir::INFANT_ID),
            &token,
        )
        .await;
    assert_eq!(shots["person"]["id"], fhir::INFANT_ID);
    assert_a_hundred_day_old_infants_vaccinations(&shots);

    // Her daughter of 17 and another family's child are no one to her.
    for stranger in [
        fhir::DAUGHTER_ID,
        fhir::TODDLER_ID,
        "../metadata",
        "no-such-person",
    ] {
        for path in ["insurance-card", "vaccinations"] {
            let answer = app
                .get_as(&format!("/v1/health/{path}?person={stranger}"), &token)
                .await;
            problem(answer, 404, "person_not_found").await;
        }
    }
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_parent_sees_their_card_and_their_young_childs_records);

async fn a_resident_unknown_to_the_hospitals_or_with_an_expired_card_is_told_so(mode: Mode) {
    let (app, provider, _, token) = app_and_resident(mode, fhir::UNKNOWN_CCCD).await;
    problem(
        app.get_as("/v1/health/people", &token).await,
        404,
        "no_health_record",
    )
    .await;
    app.stop().await;
    provider.stop().await.unwrap();

    let (app, provider, _, token) = app_and_resident(mode, fhir::FATHER_CCCD).await;
    let card = app.get_json_as("/v1/health/insurance-card", &token).await;
    assert_eq!(card["card"]["state"], "expired");
    assert_eq!(card["card"]["days_left"], -10);
    // His child's records are his to see; the other family's are not.
    let people = app.get_json_as("/v1/health/people", &token).await;
    assert!(
        people["people"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == fhir::TODDLER_ID)
    );
    let answer = app
        .get_as(
            &format!("/v1/health/vaccinations?person={}", fhir::INFANT_ID),
            &token,
        )
        .await;
    problem(answer, 404, "person_not_found").await;
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_resident_unknown_to_the_hospitals_or_with_an_expired_card_is_told_so);

/// A health system that is down, slow or answering garbage is an honest 503 with
/// `Retry-After`, naming nothing of ours; when it is back, so are the answers.
#[tokio::test]
async fn a_health_system_down_slow_or_garbled_is_a_503_and_then_recovers() {
    let (app, provider, fhir_base, token) =
        app_and_resident(Mode::AllInOne, fhir::MOTHER_CCCD).await;
    // The household is known before the faults begin.
    let card = app.get_as("/v1/health/insurance-card", &token).await;
    assert_eq!(card.status(), 200);

    for fault in [
        json!({ "mode": "down" }),
        json!({ "mode": "slow", "delay_ms": 8_000 }),
        json!({ "mode": "garbage" }),
    ] {
        set_fault(&fhir_base, fault.clone()).await;
        let answer = app.get_as("/v1/health/insurance-card", &token).await;
        assert!(answer.headers().contains_key("retry-after"), "{fault}");
        let body = problem(answer, 503, "upstream_unavailable").await;
        let text = body.to_string();
        assert!(
            !text.contains("sandbox") && !text.contains("127.0.0.1"),
            "{text}"
        );
    }
    set_fault(&fhir_base, json!({ "mode": null })).await;
    let card = app.get_json_as("/v1/health/insurance-card", &token).await;
    assert_eq!(card["card"]["number"], "4601234567");
    app.stop().await;
    provider.stop().await.unwrap();
}

/// A token the FHIR server refuses is the operators' problem: residents get a 503, never the
/// hospital's words.
#[tokio::test]
async fn a_wrong_fhir_token_is_a_503_not_a_leak() {
    let (provider, issuer) = sandbox().await;
    let base = format!("http://{}/sandbox/fhir", provider.addr());
    let app = app_with_health_system(Mode::AllInOne, &issuer, &base, "not-the-token").await;
    let token = verified(&app, &provider, fhir::MOTHER_CCCD).await;
    let answer = app
        .authed(Method::GET, "/v1/health/people", &token)
        .send()
        .await
        .unwrap();
    problem(answer, 503, "upstream_unavailable").await;
    app.stop().await;
    provider.stop().await.unwrap();
}

/// The next day the hospital's doctors work (Monday to Saturday).
fn next_working_day() -> NaiveDate {
    use chrono::Datelike;
    let mut day = today().succ_opt().unwrap();
    while day.weekday() == chrono::Weekday::Sun {
        day = day.succ_opt().unwrap();
    }
    day
}

async fn free_slots(app: &TestApp, token: &str, day: NaiveDate) -> Vec<Value> {
    let path = format!(
        "/v1/health/slots?department={}&date={day}",
        fhir::PAEDIATRICS_SERVICE_ID
    );
    let answer = app.get_json_as(&path, token).await;
    answer["slots"].as_array().unwrap().clone()
}

async fn book(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/health/appointments", token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// How many appointments the hospital holds for a slot, asked of the hospital itself.
async fn hospital_bookings(fhir_base: &str, slot: &str) -> u64 {
    let bundle: Value = client()
        .get(format!(
            "{fhir_base}/Appointment?slot=Slot/{slot}&status=booked"
        ))
        .bearer_auth(fhir::BEARER_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    bundle["total"].as_u64().unwrap()
}

async fn a_parent_books_a_paediatrician_for_her_son_with_a_queue_number(mode: Mode) {
    let (app, provider, fhir_base, token) = app_and_resident(mode, fhir::MOTHER_CCCD).await;
    let departments = app.get_json_as("/v1/health/departments", &token).await;
    let paediatrics = departments["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == fhir::PAEDIATRICS_SERVICE_ID)
        .unwrap()
        .clone();
    assert!(
        paediatrics["hospital"]["name"]
            .as_str()
            .unwrap()
            .contains("Trung ương Huế")
    );

    let day = next_working_day();
    let slots = free_slots(&app, &token, day).await;
    assert!(slots.len() >= 2, "{slots:?}");
    assert!(slots[0]["start"].as_str().unwrap().ends_with("+07:00"));
    assert!(slots[0]["doctor"].is_string());
    let (first, second) = (
        slots[0]["id"].as_str().unwrap(),
        slots[1]["id"].as_str().unwrap(),
    );

    let request = json!({ "slot": first, "person": fhir::INFANT_ID });
    let unkeyed = app
        .authed(Method::POST, "/v1/health/appointments", &token)
        .json(&request)
        .send()
        .await
        .unwrap();
    problem(unkeyed, 400, "idempotency_key_required").await;
    problem(
        book(&app, &token, "bad", &json!({ "person": "x" })).await,
        400,
        "invalid_body",
    )
    .await;
    let nowhere = book(&app, &token, "nowhere", &json!({ "slot": "no-such-slot" })).await;
    problem(nowhere, 404, "slot_not_found").await;
    let yesterday = today().pred_opt().unwrap();
    let past = format!(
        "/v1/health/slots?department={}&date={yesterday}",
        fhir::PAEDIATRICS_SERVICE_ID
    );
    problem(app.get_as(&past, &token).await, 422, "invalid_date").await;
    let booked = book(&app, &token, "book-1", &request).await;
    assert_eq!(booked.status(), 201);
    let booked: Value = booked.json().await.unwrap();
    assert_eq!(booked["queue_number"], "1");
    assert_eq!(booked["person"]["id"], fhir::INFANT_ID);
    assert_eq!(booked["status"], "booked");
    assert!(booked["doctor"].is_string() && booked["department"].is_string());
    // A retry books nothing more and answers the same.
    let again = book(&app, &token, "book-1", &request).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], booked["id"]);
    assert_eq!(hospital_bookings(&fhir_base, first).await, 1);
    // Taken, for anyone else.
    problem(
        book(&app, &token, "book-2", &request).await,
        409,
        "slot_taken",
    )
    .await;
    assert!(
        !free_slots(&app, &token, day)
            .await
            .iter()
            .any(|s| s["id"] == first)
    );

    let next = book(&app, &token, "book-3", &json!({ "slot": second })).await;
    assert_eq!(next.status(), 201);
    let next: Value = next.json().await.unwrap();
    assert_eq!(next["queue_number"], "2");
    assert_eq!(next["person"]["id"], fhir::MOTHER_ID);

    let mine = app.get_json_as("/v1/health/appointments", &token).await;
    assert_eq!(mine["appointments"].as_array().unwrap().len(), 2);

    // Another resident sees none of it and cannot cancel it.
    let stranger = verified(&app, &provider, fhir::FATHER_CCCD).await;
    let theirs = app.get_json_as("/v1/health/appointments", &stranger).await;
    assert!(theirs["appointments"].as_array().unwrap().is_empty());
    let cancel_path = format!("/v1/health/appointments/{}", booked["id"].as_str().unwrap());
    let answer = app
        .authed(Method::DELETE, &cancel_path, &stranger)
        .send()
        .await
        .unwrap();
    problem(answer, 404, "appointment_not_found").await;
    // Nor book for her son.
    let answer = book(
        &app,
        &stranger,
        "theirs",
        &json!({ "slot": second, "person": fhir::INFANT_ID }),
    )
    .await;
    problem(answer, 404, "person_not_found").await;

    // Cancelled: the slot is free again at the hospital.
    let cancelled: Value = app
        .authed(Method::DELETE, &cancel_path, &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["cancelled_at"].is_string());
    assert_eq!(hospital_bookings(&fhir_base, first).await, 0);
    assert!(
        free_slots(&app, &token, day)
            .await
            .iter()
            .any(|s| s["id"] == first)
    );
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_parent_books_a_paediatrician_for_her_son_with_a_queue_number);

/// Fifty bookings of one slot at once, by fifty keys: the hospital books it once, and exactly
/// one of them is told so.
#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_book_it_once() {
    let (app, provider, fhir_base, token) =
        app_and_resident(Mode::AllInOne, fhir::MOTHER_CCCD).await;
    let slots = free_slots(&app, &token, next_working_day()).await;
    let slot = slots[0]["id"].as_str().unwrap().to_owned();
    let attempts = (0..50).map(|n| {
        let (app, token, slot) = (&app, &token, &slot);
        async move {
            book(app, token, &format!("race-{n}"), &json!({ "slot": slot }))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(hospital_bookings(&fhir_base, &slot).await, 1);
    let mine = app.get_json_as("/v1/health/appointments", &token).await;
    assert_eq!(mine["appointments"].as_array().unwrap().len(), 1);
    app.stop().await;
    provider.stop().await.unwrap();
}

/// A hospital that answers a booking too late: the resident is told 503 and nothing is
/// recorded here; the retry with the same key finds the appointment the hospital made and
/// books nothing more.
#[tokio::test]
async fn a_booking_the_hospital_answers_too_late_is_found_again_by_its_retry() {
    let (app, provider, fhir_base, token) =
        app_and_resident(Mode::AllInOne, fhir::MOTHER_CCCD).await;
    let slots = free_slots(&app, &token, next_working_day()).await;
    let slot = slots[0]["id"].as_str().unwrap().to_owned();
    let request = json!({ "slot": slot });

    set_fault(
        &fhir_base,
        json!({ "mode": "slow", "delay_ms": 8_000, "method": "POST", "times": 1 }),
    )
    .await;
    let late = book(&app, &token, "slow-1", &request).await;
    assert!(late.headers().contains_key("retry-after"));
    problem(late, 503, "upstream_unavailable").await;
    let mine = app.get_json_as("/v1/health/appointments", &token).await;
    assert!(mine["appointments"].as_array().unwrap().is_empty());

    // The hospital booked it once the delay was over.
    let booked_there =
        crate::helpers::poll_until(|| hospital_bookings(&fhir_base, &slot), |n| *n == 1).await;
    assert_eq!(booked_there, 1);
    let retried = book(&app, &token, "slow-1", &request).await;
    assert_eq!(retried.status(), 201);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["queue_number"], "1");
    assert_eq!(hospital_bookings(&fhir_base, &slot).await, 1);
    let mine = app.get_json_as("/v1/health/appointments", &token).await;
    assert_eq!(mine["appointments"].as_array().unwrap().len(), 1);
    app.stop().await;
    provider.stop().await.unwrap();
}

async fn fhir_read(fhir_base: &str, path: &str) -> Value {
    client()
        .get(format!("{fhir_base}/{path}"))
        .bearer_auth(fhir::BEARER_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Anyone finds the hospitals, clinics and pharmacies near them from our copy of what the
/// health system lists, and the blood drives coming up.
async fn facilities_and_blood_drives_near_me(mode: Mode) {
    let (app, provider, fhir_base, _) = app_and_resident(mode, fhir::MOTHER_CCCD).await;
    let hospital = fhir_read(
        &fhir_base,
        &format!("Location/{}", fhir::HUE_CENTRAL_HOSPITAL_ID),
    )
    .await;
    let (lat, lng) = (
        hospital["position"]["latitude"].as_f64().unwrap(),
        hospital["position"]["longitude"].as_f64().unwrap(),
    );
    let near = format!("/v1/health/facilities?lat={lat}&lng={lng}&radius_m=3000");
    // The copy is made when the service starts.
    let found = crate::helpers::poll_until(
        || app.get_json(&near),
        |answer: &Value| !answer["facilities"].as_array().unwrap().is_empty(),
    )
    .await;
    let facilities = found["facilities"].as_array().unwrap();
    assert_eq!(facilities[0]["id"], fhir::HUE_CENTRAL_HOSPITAL_ID);
    assert_eq!(facilities[0]["kind"], "hospital");
    assert_eq!(facilities[0]["distance_m"], 0.0);
    assert!(facilities[0]["open_now"].is_boolean() && facilities[0]["hours"].is_array());
    let distances: Vec<f64> = facilities
        .iter()
        .map(|f| f["distance_m"].as_f64().unwrap())
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(distances.iter().all(|d| *d <= 3000.0));
    let kinds: Vec<&str> = facilities
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"pharmacy") && kinds.contains(&"clinic"),
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"blood_drive"));

    // A narrow circle is looked up by finer cells, and finds the same nearest ones.
    let close = app
        .get_json(&format!(
            "/v1/health/facilities?lat={lat}&lng={lng}&radius_m=800"
        ))
        .await;
    let close = close["facilities"].as_array().unwrap();
    assert_eq!(close[0]["id"], fhir::HUE_CENTRAL_HOSPITAL_ID);
    let within: Vec<&Value> = facilities
        .iter()
        .filter(|f| f["distance_m"].as_f64().unwrap() <= 800.0)
        .collect();
    assert_eq!(close.len(), within.len(), "{close:?}");

    let pharmacies = app.get_json(&format!("{near}&kind=pharmacy")).await;
    let pharmacies = pharmacies["facilities"].as_array().unwrap();
    assert!(!pharmacies.is_empty() && pharmacies.iter().all(|f| f["kind"] == "pharmacy"));
    let insured = app.get_json(&format!("{near}&accepts_bhyt=true")).await;
    let insured = insured["facilities"].as_array().unwrap();
    assert!(!insured.is_empty() && insured.iter().all(|f| f["accepts_bhyt"] == true));
    assert!(
        insured.len() < facilities.len(),
        "pharmacies do not take the card"
    );

    problem(
        app.get("/v1/health/facilities?lat=91&lng=107.59").await,
        422,
        "invalid_position",
    )
    .await;
    problem(
        app.get("/v1/health/facilities?lat=16.46").await,
        400,
        "invalid_query",
    )
    .await;

    let drives = app
        .get_json(&format!("/v1/health/blood-drives?lat={lat}&lng={lng}"))
        .await;
    let drives = drives["drives"].as_array().unwrap();
    assert_eq!(drives.len(), fhir::BLOOD_DRIVE_IDS.len(), "{drives:?}");
    let starts: Vec<&str> = drives
        .iter()
        .map(|d| d["starts_at"].as_str().unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "soonest first: {starts:?}"
    );
    assert_eq!(drives[0]["id"], fhir::BLOOD_DRIVE_IDS[0]);
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(facilities_and_blood_drives_near_me);

/// A parent who opened her son's vaccinations is reminded, once, of the doses he is due.
async fn a_parent_is_reminded_of_her_sons_due_doses_once(mode: Mode) {
    let (app, provider, _, token) = app_and_resident(mode, fhir::MOTHER_CCCD).await;
    let shots = app
        .get_json_as(
            &format!("/v1/health/vaccinations?person={}", fhir::INFANT_ID),
            &token,
        )
        .await;
    let due_soon: Vec<&Value> = shots["due"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            let due_on: NaiveDate = d["due_on"].as_str().unwrap().parse().unwrap();
            (due_on - today()).num_days() <= 3 && (today() - due_on).num_days() <= 30
        })
        .collect();
    assert!(!due_soon.is_empty(), "{shots}");
    let reminders = || async {
        let inbox = app.get_json_as("/v1/inbox", &token).await;
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "health.vaccinations_due")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let told = crate::helpers::poll_until(reminders, |found| !found.is_empty()).await;
    assert_eq!(told.len(), 1, "{told:?}");
    let notice = &told[0];
    assert_eq!(notice["title_vi"], "Nhắc lịch tiêm chủng");
    assert_eq!(notice["data"]["person"], fhir::INFANT_ID);
    for dose in &due_soon {
        let vaccine = dose["vaccine"]["vi"].as_str().unwrap();
        assert!(
            notice["body_vi"].as_str().unwrap().contains(vaccine),
            "{notice}"
        );
        assert!(
            notice["body_en"]
                .as_str()
                .unwrap()
                .contains(dose["vaccine"]["en"].as_str().unwrap())
        );
    }
    assert!(
        notice["body_vi"]
            .as_str()
            .unwrap()
            .starts_with("Trần Minh An")
    );
    // Later rounds and another look tell nothing more.
    app.get_as(
        &format!("/v1/health/vaccinations?person={}", fhir::INFANT_ID),
        &token,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(reminders().await.len(), 1);
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_parent_is_reminded_of_her_sons_due_doses_once);

/// An erased account's appointments and vaccination watches go with it.
async fn an_erased_account_leaves_no_appointments_or_watches(mode: Mode) {
    let (app, provider, _, token) = app_and_resident(mode, fhir::MOTHER_CCCD).await;
    let slots = free_slots(&app, &token, next_working_day()).await;
    let booked = book(&app, &token, "erase-me", &json!({ "slot": slots[0]["id"] })).await;
    assert_eq!(booked.status(), 201);
    app.get_as(
        &format!("/v1/health/vaccinations?person={}", fhir::INFANT_ID),
        &token,
    )
    .await;
    let health = app.schema_pool("health").await;
    let held = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM appointments) + (SELECT count(*) FROM vaccination_watches)",
        )
        .fetch_one(&health)
        .await
        .unwrap()
    };
    assert_eq!(held().await, 2);
    let erased = app
        .authed(Method::DELETE, "/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 202);
    assert_eq!(crate::helpers::poll_until(held, |n| *n == 0).await, 0);
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(an_erased_account_leaves_no_appointments_or_watches);

/// A health system that grants access through SMART Backend Services: health signs an
/// assertion with its registered key, trades it for an access token and reads with that; a
/// registration the server does not know gets residents a 503, never a leak.
#[tokio::test]
async fn a_health_system_behind_smart_backend_services_is_read_with_a_signed_assertion() {
    use health::config::SmartClient;
    for (client_id, works) in [(fhir::smart::CLIENT_ID, true), ("someone-else", false)] {
        let (provider, issuer) = sandbox().await;
        let server = FhirServer {
            base_url: format!("http://{}/sandbox/fhir", provider.addr()),
            bearer_token: None,
            smart: Some(SmartClient {
                client_id: client_id.to_owned(),
                private_key: fhir::smart::CLIENT_PRIVATE_KEY_PEM.to_owned().into(),
                algorithm: "ES384".to_owned(),
                key_id: None,
                scope: "system/*.rs system/Appointment.cu".to_owned(),
            }),
        };
        let app = app_with_fhir_server(Mode::AllInOne, &issuer, server).await;
        let token = verified(&app, &provider, fhir::MOTHER_CCCD).await;
        let answer = app.get_as("/v1/health/people", &token).await;
        if works {
            assert_eq!(answer.status(), 200);
            // The token is kept: a second look asks for no new one and still reads.
            let card = app.get_json_as("/v1/health/insurance-card", &token).await;
            assert_eq!(card["card"]["number"], fhir::MOTHER_BHYT);
        } else {
            problem(answer, 503, "upstream_unavailable").await;
        }
        app.stop().await;
        provider.stop().await.unwrap();
    }
}
