use std::collections::{BTreeMap, HashSet};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::gateway::testing::{self, Answer};

const HOST: &str = "sandbox.test";
const BASE: &str = "http://sandbox.test/sandbox/fhir";

fn app() -> Router {
    Router::new().nest("/sandbox/fhir", router())
}

/// A request to `path` (after `/sandbox/fhir`, or a full `http://sandbox.test/...` URL), with
/// the token and `headers`.
async fn call(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Answer {
    let uri = match path.strip_prefix(&format!("http://{HOST}")) {
        Some(rest) => rest.to_owned(),
        None => format!("/sandbox/fhir{path}"),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", HOST)
        .header("authorization", format!("Bearer {BEARER_TOKEN}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    testing::send(
        app,
        request
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap(),
    )
    .await
}

async fn get(app: &Router, path: &str) -> Answer {
    call(app, "GET", path, &[], None).await
}

async fn post(app: &Router, path: &str, resource: &Value, headers: &[(&str, &str)]) -> Answer {
    let mut all = vec![("content-type", "application/fhir+json")];
    all.extend_from_slice(headers);
    call(app, "POST", path, &all, Some(resource.to_string())).await
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn ids(bundle: &Value, mode: &str) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["search"]["mode"] == mode)
                .map(|e| e["resource"]["id"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn link(bundle: &Value, relation: &str) -> Option<String> {
    bundle["link"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["relation"] == relation)
        .map(|l| l["url"].as_str().unwrap().to_owned())
}

fn issue_code(answer: &Answer) -> String {
    let outcome = answer.json();
    assert_eq!(
        outcome["resourceType"], "OperationOutcome",
        "{}",
        answer.body
    );
    outcome["issue"][0]["code"].as_str().unwrap().to_owned()
}

fn appointment(slot: &str, patient: &str, booking: &str) -> Value {
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "identifier": [{ "system": BOOKING_SYSTEM, "value": booking }],
        "slot": [{ "reference": format!("Slot/{slot}") }],
        "participant": [{
            "actor": { "reference": format!("Patient/{patient}") },
            "status": "accepted",
        }],
    })
}

/// The appointment booking `slot` (its start and end copied, as app-3 wants).
fn booking(slot: &Value, patient: &str, booking: &str) -> Value {
    let mut appointment = appointment(slot["id"].as_str().unwrap(), patient, booking);
    appointment["start"] = slot["start"].clone();
    appointment["end"] = slot["end"].clone();
    appointment
}

fn queue_number(appointment: &Value) -> String {
    appointment["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["system"] == QUEUE_NUMBER_SYSTEM)
        .map(|i| i["value"].as_str().unwrap().to_owned())
        .unwrap()
}

/// Every free slot of `schedule`, soonest first, following `next` links.
async fn free_slots(app: &Router, schedule: &str) -> Vec<Value> {
    let mut url = format!("/Slot?schedule=Schedule/{schedule}&status=free&_sort=start&_count=100");
    let mut slots = Vec::new();
    loop {
        let page = get(app, &url).await.json();
        slots.extend(
            page["entry"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["resource"].clone()),
        );
        match link(&page, "next") {
            Some(next) => url = next,
            None => return slots,
        }
    }
}

#[tokio::test]
async fn requests_without_the_token_are_refused_but_metadata_is_open() {
    let app = app();
    let bare = Request::get("/sandbox/fhir/Patient?identifier=x")
        .header("host", HOST)
        .body(Body::empty())
        .unwrap();
    let refused = testing::send(&app, bare).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(issue_code(&refused), "login");

    let wrong = Request::get("/sandbox/fhir/Patient/nguyen-thi-hoa")
        .header("authorization", "Bearer not-the-token")
        .body(Body::empty())
        .unwrap();
    let wrong = testing::send(&app, wrong).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let metadata = Request::get("/sandbox/fhir/metadata")
        .header("host", HOST)
        .body(Body::empty())
        .unwrap();
    let metadata = testing::send(&app, metadata).await;
    assert_eq!(metadata.status, StatusCode::OK);
    assert_eq!(
        metadata.headers["content-type"],
        "application/fhir+json; charset=utf-8"
    );
    let capability = metadata.json();
    assert_eq!(capability["resourceType"], "CapabilityStatement");
    assert_eq!(capability["fhirVersion"], "4.0.1");
    let resources = capability["rest"][0]["resource"].as_array().unwrap();
    let location = resources.iter().find(|r| r["type"] == "Location").unwrap();
    assert!(
        location["searchParam"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "near")
    );
    let appointment = resources
        .iter()
        .find(|r| r["type"] == "Appointment")
        .unwrap();
    assert_eq!(appointment["conditionalCreate"], true);
}

#[tokio::test]
async fn the_mother_is_found_by_her_cccd_and_nobody_by_an_unknown_one() {
    let app = app();
    let found = get(
        &app,
        &format!(
            "/Patient?identifier={}&_include=Patient:general-practitioner",
            encode(&format!("{CCCD_SYSTEM}|{MOTHER_CCCD}"))
        ),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK);
    let bundle = found.json();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "searchset");
    assert_eq!(bundle["total"], 1, "includes are not counted");
    assert_eq!(ids(&bundle, "match"), vec![MOTHER_ID]);
    assert_eq!(ids(&bundle, "include"), vec![PHU_HOI_STATION_ID]);
    assert_eq!(
        bundle["entry"][0]["fullUrl"],
        format!("{BASE}/Patient/{MOTHER_ID}")
    );
    let mother = &bundle["entry"][0]["resource"];
    assert_eq!(mother["birthDate"], "1990-05-17");
    assert_eq!(mother["name"][0]["text"], "Nguyễn Thị Hoa");
    assert!(link(&bundle, "self").unwrap().starts_with(BASE));
    assert!(link(&bundle, "next").is_none());

    // A bare value, and a name without its diacritics.
    let bare = get(&app, &format!("/Patient?identifier={MOTHER_CCCD}"))
        .await
        .json();
    assert_eq!(ids(&bare, "match"), vec![MOTHER_ID]);
    let by_name = get(&app, "/Patient?name=nguyen%20thi%20hoa").await.json();
    assert_eq!(ids(&by_name, "match"), vec![MOTHER_ID]);

    let nobody = get(
        &app,
        &format!(
            "/Patient?identifier={}",
            encode(&format!("{CCCD_SYSTEM}|{UNKNOWN_CCCD}"))
        ),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::OK);
    let nobody = nobody.json();
    assert_eq!(nobody["total"], 0);
    assert!(nobody.get("entry").is_none());

    let infant = get(&app, &format!("/Patient?identifier={}", infant_cccd()))
        .await
        .json();
    assert_eq!(ids(&infant, "match"), vec![INFANT_ID]);
}

#[tokio::test]
async fn a_parents_cccd_finds_her_children_through_related_person() {
    let app = app();
    let bundle = get(
        &app,
        &format!(
            "/RelatedPerson?identifier={}&_include=RelatedPerson:patient",
            encode(&format!("{CCCD_SYSTEM}|{MOTHER_CCCD}"))
        ),
    )
    .await
    .json();
    assert_eq!(bundle["total"], 2);
    let children: HashSet<String> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| {
            assert_eq!(e["resource"]["relationship"][0]["coding"][0]["code"], "MTH");
            e["resource"]["patient"]["reference"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        children,
        HashSet::from([
            format!("Patient/{INFANT_ID}"),
            format!("Patient/{DAUGHTER_ID}")
        ])
    );
    let included: HashSet<String> = ids(&bundle, "include").into_iter().collect();
    assert_eq!(
        included,
        HashSet::from([INFANT_ID.to_owned(), DAUGHTER_ID.to_owned()])
    );

    let father = get(
        &app,
        &format!("/RelatedPerson?identifier={FATHER_CCCD}&relationship=FTH"),
    )
    .await
    .json();
    assert_eq!(ids(&father, "match"), vec![FATHER_OF_TODDLER_ID]);
}

#[tokio::test]
async fn cards_vaccinations_and_due_doses_are_dated_from_today() {
    let app = app();
    let today = today();
    let day = |offset: i64| {
        (today + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let cards = get(
        &app,
        &format!("/Coverage?beneficiary=Patient/{MOTHER_ID}&_include=Coverage:payor"),
    )
    .await
    .json();
    assert_eq!(ids(&cards, "match"), vec![MOTHER_COVERAGE_ID]);
    assert_eq!(ids(&cards, "include"), vec![SOCIAL_SECURITY_ID]);
    let card = &cards["entry"][0]["resource"];
    assert_eq!(card["subscriberId"], MOTHER_BHYT);
    assert_eq!(card["identifier"][0]["system"], BHYT_SYSTEM);
    assert_eq!(card["period"]["end"], day(25));
    assert_eq!(card["period"]["start"], day(-340));
    assert_eq!(card["class"][0]["value"], "4");
    assert_eq!(card["class"][0]["name"], "Mức hưởng 4 - 80%");
    assert!(
        card["extension"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["url"] == FIVE_YEARS_EXTENSION && e["valueDate"] == "2021-01-01")
    );

    let infant_card = get(
        &app,
        &format!("/Coverage?identifier={BHYT_SYSTEM}|{INFANT_BHYT}"),
    )
    .await
    .json();
    assert_eq!(ids(&infant_card, "match"), vec![INFANT_COVERAGE_ID]);
    let father_card = get(&app, &format!("/Coverage/{FATHER_COVERAGE_ID}"))
        .await
        .json();
    assert_eq!(father_card["period"]["end"], day(-10));
    let none = get(&app, &format!("/Coverage?beneficiary={UNINSURED_ID}"))
        .await
        .json();
    assert_eq!(none["total"], 0);

    let shots = get(
        &app,
        &format!("/Immunization?patient=Patient/{INFANT_ID}&_sort=-date"),
    )
    .await
    .json();
    assert_eq!(shots["total"], 4);
    let codes: Vec<&str> = shots["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["resource"]["vaccineCode"]["coding"][0]["code"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(codes[3], "08", "the birth dose comes last, newest first");
    assert!(codes[..2].contains(&"198") && codes[..2].contains(&"178"));
    let birth_dose = &shots["entry"][3]["resource"];
    assert!(
        birth_dose["occurrenceDateTime"]
            .as_str()
            .unwrap()
            .starts_with(&day(-100))
    );
    let recent = get(
        &app,
        &format!("/Immunization?patient={INFANT_ID}&date=ge{}", day(-50)),
    )
    .await
    .json();
    assert_eq!(recent["total"], 2);

    let due = get(
        &app,
        &format!("/ImmunizationRecommendation?patient={INFANT_ID}"),
    )
    .await
    .json();
    let recommendations = due["entry"][0]["resource"]["recommendation"]
        .as_array()
        .unwrap();
    assert_eq!(recommendations.len(), 3);
    assert_eq!(
        recommendations[0]["forecastStatus"]["coding"][0]["code"],
        "overdue"
    );
    assert_eq!(recommendations[0]["dateCriterion"][0]["value"], day(-8));
    assert_eq!(
        recommendations[0]["dateCriterion"][0]["code"]["coding"][0]["code"],
        "30980-7"
    );

    let drives = get(
        &app,
        &format!(
            "/Schedule?actor=HealthcareService/{BLOOD_DONATION_SERVICE_ID}&date=ge{}&_sort=date",
            day(5)
        ),
    )
    .await
    .json();
    assert_eq!(drives["total"], 2);
    assert!(
        drives["entry"][0]["resource"]["planningHorizon"]["start"]
            .as_str()
            .unwrap()
            .starts_with(&day(10))
    );
}

#[tokio::test]
async fn paging_by_next_links_returns_every_match_once() {
    let app = app();
    let first = get(
        &app,
        &format!("/Slot?schedule=Schedule/{PAEDIATRICIAN_SCHEDULE_ID}&_count=37"),
    )
    .await
    .json();
    let total = first["total"].as_u64().unwrap() as usize;
    assert!(total > 200, "two weeks of slots: {total}");
    let mut seen = Vec::new();
    let mut page = first;
    let mut pages = 0;
    loop {
        pages += 1;
        let entries = page["entry"].as_array().unwrap();
        assert!(entries.len() <= 37);
        seen.extend(ids(&page, "match"));
        match link(&page, "next") {
            Some(next) => {
                assert!(next.starts_with(&format!("{BASE}?_getpages=")), "{next}");
                page = get(&app, &next).await.json();
                assert_eq!(page["total"], total);
            }
            None => break,
        }
    }
    assert_eq!(pages, total.div_ceil(37));
    assert_eq!(seen.len(), total);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), total);

    let only_total = get(&app, "/Slot?status=free&_count=0").await.json();
    assert!(only_total["total"].as_u64().unwrap() > 0);
    assert!(only_total.get("entry").is_none());
    assert!(link(&only_total, "next").is_none());

    let malformed = get(&app, "?_getpages=nonsense&_getpagesoffset=20").await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    let expired = get(
        &app,
        "?_getpages=0123456789abcdef0123456789abcdef&_getpagesoffset=20&_count=20",
    )
    .await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert_eq!(issue_code(&expired), "not-found");
}

#[tokio::test]
async fn unknown_parameters_are_ignored_unless_handling_is_strict() {
    let app = app();
    let lenient = get(
        &app,
        &format!("/Patient?identifier={MOTHER_CCCD}&hobby=chess"),
    )
    .await;
    assert_eq!(lenient.status, StatusCode::OK);
    let lenient = lenient.json();
    assert_eq!(lenient["total"], 1);
    let self_link = link(&lenient, "self").unwrap();
    assert!(!self_link.contains("hobby"), "{self_link}");
    assert!(self_link.contains("identifier"));

    let strict = call(
        &app,
        "GET",
        &format!("/Patient?identifier={MOTHER_CCCD}&hobby=chess"),
        &[("prefer", "handling=strict")],
        None,
    )
    .await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&strict), "not-supported");

    let bad_date = get(&app, "/Patient?birthdate=ge17-05-1990").await;
    assert_eq!(bad_date.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&bad_date), "invalid");
    let bad_modifier = get(&app, "/Patient?name:sounds-like=hoa").await;
    assert_eq!(bad_modifier.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&bad_modifier), "not-supported");

    let born = get(
        &app,
        "/Patient?birthdate=ge1985-01-01&birthdate=lt1991-01-01",
    )
    .await
    .json();
    let born: HashSet<String> = ids(&born, "match").into_iter().collect();
    assert_eq!(
        born,
        HashSet::from([MOTHER_ID.to_owned(), FATHER_ID.to_owned()])
    );

    let form = call(
        &app,
        "POST",
        "/Patient/_search",
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(format!(
            "identifier={}",
            encode(&format!("{CCCD_SYSTEM}|{FATHER_CCCD}"))
        )),
    )
    .await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(ids(&form.json(), "match"), vec![FATHER_ID]);
}

#[tokio::test]
async fn near_finds_locations_within_the_distance_nearest_first() {
    let app = app();
    let (lat, lon) = (16.4627, 107.5887);
    let bundle = get(
        &app,
        &format!("/Location?near={lat}|{lon}|2|km&_count=100&_include=Location:organization"),
    )
    .await
    .json();
    let matches: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"]["mode"] == "match")
        .collect();
    assert!(matches.len() >= 5, "{}", matches.len());
    assert_eq!(matches[0]["resource"]["id"], HUE_CENTRAL_HOSPITAL_ID);
    let distances: Vec<f64> = matches
        .iter()
        .map(|e| {
            let position = &e["resource"]["position"];
            let d = search::haversine(
                lat,
                lon,
                position["latitude"].as_f64().unwrap(),
                position["longitude"].as_f64().unwrap(),
            );
            let reported = e["search"]["extension"][0]["valueDistance"]["value"]
                .as_f64()
                .unwrap();
            assert!((reported - d).abs() < 1.0);
            d
        })
        .collect();
    assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{distances:?}");
    assert!(distances.iter().all(|d| *d <= 2_000.0));
    let found: Vec<String> = ids(&bundle, "match");
    assert!(!found.contains(&HUE_CENTRAL_HOSPITAL_SECOND_CAMPUS_ID.to_owned()));
    assert!(
        !found.contains(&KIM_LONG_STATION_ID.to_owned()),
        "3.5 km away"
    );
    assert!(ids(&bundle, "include").contains(&HUE_CENTRAL_HOSPITAL_ID.to_owned()));

    let in_metres = get(&app, &format!("/Location?near={lat}|{lon}|150|m"))
        .await
        .json();
    assert!(ids(&in_metres, "match").len() < matches.len());

    let pharmacies = get(&app, &format!("/Location?near={lat}|{lon}|3|km&type=PHARM"))
        .await
        .json();
    let pharmacies = ids(&pharmacies, "match");
    assert!(pharmacies.len() >= 3);
    assert!(
        pharmacies
            .iter()
            .all(|id| PHARMACY_IDS.contains(&id.as_str()))
    );

    for bad in ["16.46", "north|107.59|2|km", "16.46|107.59|2|parsecs"] {
        let refused = get(&app, &format!("/Location?near={bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(issue_code(&refused), "invalid");
    }
}

#[tokio::test]
async fn booking_gives_queue_numbers_by_schedule_day_and_each_slot_once() {
    let app = app();
    let free = free_slots(&app, PAEDIATRICIAN_SCHEDULE_ID).await;
    let mut by_day: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for slot in free {
        let day = slot["start"].as_str().unwrap()[..10].to_owned();
        by_day.entry(day).or_default().push(slot);
    }
    let (_, day_slots) = by_day.iter().find(|(_, s)| s.len() >= 3).unwrap();
    let (first, second, third) = (&day_slots[0], &day_slots[1], &day_slots[2]);

    let created = post(&app, "/Appointment", &booking(first, MOTHER_ID, "b-1"), &[]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let booked = created.json();
    let id = booked["id"].as_str().unwrap();
    assert_eq!(
        created.location(),
        format!("{BASE}/Appointment/{id}/_history/1")
    );
    assert_eq!(created.headers["etag"], "W/\"1\"");
    assert_eq!(queue_number(&booked), "1");
    assert_eq!(booked["meta"]["versionId"], "1");
    let slot = get(&app, &format!("/Slot/{}", first["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(slot["status"], "busy");

    let next = post(
        &app,
        "/Appointment",
        &booking(second, INFANT_ID, "b-2"),
        &[],
    )
    .await;
    assert_eq!(next.status, StatusCode::CREATED, "{}", next.body);
    assert_eq!(queue_number(&next.json()), "2");

    // The same slot again: taken.
    let taken = post(&app, "/Appointment", &booking(first, FATHER_ID, "b-3"), &[]).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(issue_code(&taken), "conflict");

    // A retry of the first booking: answered with it, nothing booked again.
    let condition = format!("identifier={BOOKING_SYSTEM}|b-1");
    let retried = post(
        &app,
        "/Appointment",
        &booking(first, MOTHER_ID, "b-1"),
        &[("if-none-exist", &condition)],
    )
    .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.json()["id"], id);
    assert_eq!(queue_number(&retried.json()), "1");
    let again = post(
        &app,
        "/Appointment",
        &booking(third, MOTHER_ID, "b-1"),
        &[("if-none-exist", &condition)],
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], id);
    let hers = get(&app, &format!("/Appointment?patient={MOTHER_ID}"))
        .await
        .json();
    assert_eq!(hers["total"], 1);
    let third_slot = get(&app, &format!("/Slot/{}", third["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(third_slot["status"], "free");

    // A new booking with its own id, on the third slot, is the day's third.
    let fresh = post(
        &app,
        "/Appointment",
        &booking(third, FATHER_ID, "b-4"),
        &[("if-none-exist", &format!("identifier={BOOKING_SYSTEM}|b-4"))],
    )
    .await;
    assert_eq!(fresh.status, StatusCode::CREATED);
    assert_eq!(queue_number(&fresh.json()), "3");

    // A slot the hospital's desk already gave away.
    let busy = get(
        &app,
        &format!("/Slot?schedule={PAEDIATRICIAN_SCHEDULE_ID}&status=busy&_count=1"),
    )
    .await
    .json();
    let busy = &busy["entry"][0]["resource"];
    let refused = post(&app, "/Appointment", &booking(busy, MOTHER_ID, "b-5"), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);

    // Another doctor's day has its own numbering.
    let other = free_slots(&app, CARDIOLOGIST_SCHEDULE_ID).await;
    let elsewhere = post(
        &app,
        "/Appointment",
        &booking(&other[0], MOTHER_ID, "b-6"),
        &[],
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED);
    assert_eq!(queue_number(&elsewhere.json()), "1");

    let found = get(
        &app,
        &format!(
            "/Appointment?identifier={}&_include=Appointment:slot",
            encode(&format!("{BOOKING_SYSTEM}|b-2"))
        ),
    )
    .await
    .json();
    assert_eq!(found["total"], 1);
    assert_eq!(ids(&found, "include"), vec![second["id"].as_str().unwrap()]);
}

#[tokio::test]
async fn cancelling_frees_the_slot_and_honours_if_match() {
    let app = app();
    let free = free_slots(&app, CARDIOLOGIST_SCHEDULE_ID).await;
    let (slot, other) = (&free[0], &free[1]);
    let slot_url = format!("/Slot/{}", slot["id"].as_str().unwrap());
    let booked = post(&app, "/Appointment", &booking(slot, FATHER_ID, "c-1"), &[])
        .await
        .json();
    let id = booked["id"].as_str().unwrap();
    let url = format!("/Appointment/{id}");

    let mut cancelled = booked.clone();
    cancelled["status"] = json!("cancelled");
    cancelled["identifier"] = json!([{ "system": BOOKING_SYSTEM, "value": "c-1" }]);
    let stale = call(
        &app,
        "PUT",
        &url,
        &[
            ("content-type", "application/fhir+json"),
            ("if-match", "W/\"7\""),
        ],
        Some(cancelled.to_string()),
    )
    .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(get(&app, &slot_url).await.json()["status"], "busy");

    let done = call(
        &app,
        "PUT",
        &url,
        &[
            ("content-type", "application/fhir+json"),
            ("if-match", "W/\"1\""),
        ],
        Some(cancelled.to_string()),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.headers["etag"], "W/\"2\"");
    let done = done.json();
    assert_eq!(done["status"], "cancelled");
    assert_eq!(queue_number(&done), "1", "the queue number is the server's");
    assert_eq!(get(&app, &slot_url).await.json()["status"], "free");
    let first_version = get(&app, &format!("{url}/_history/1")).await.json();
    assert_eq!(first_version["status"], "booked");

    let mut revived = done.clone();
    revived["status"] = json!("booked");
    let refused = call(
        &app,
        "PUT",
        &url,
        &[("content-type", "application/fhir+json")],
        Some(revived.to_string()),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(issue_code(&refused), "business-rule");

    // Cancelling by JSON Patch.
    let patched = post(&app, "/Appointment", &booking(other, FATHER_ID, "c-2"), &[])
        .await
        .json();
    let patch_url = format!("/Appointment/{}", patched["id"].as_str().unwrap());
    let patch = json!([
        { "op": "test", "path": "/status", "value": "booked" },
        { "op": "replace", "path": "/status", "value": "cancelled" },
    ]);
    let wrong_type = call(
        &app,
        "PATCH",
        &patch_url,
        &[("content-type", "application/json")],
        Some(patch.to_string()),
    )
    .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let applied = call(
        &app,
        "PATCH",
        &patch_url,
        &[
            ("content-type", "application/json-patch+json"),
            ("if-match", "W/\"1\""),
        ],
        Some(patch.to_string()),
    )
    .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(applied.json()["status"], "cancelled");
    let other_url = format!("/Slot/{}", other["id"].as_str().unwrap());
    assert_eq!(get(&app, &other_url).await.json()["status"], "free");

    // The freed slot can be booked again.
    let rebooked = post(&app, "/Appointment", &booking(slot, MOTHER_ID, "c-3"), &[]).await;
    assert_eq!(rebooked.status, StatusCode::CREATED);
    assert_eq!(queue_number(&rebooked.json()), "3");

    let unknown = call(
        &app,
        "PUT",
        "/Appointment/nope",
        &[("content-type", "application/fhir+json")],
        Some(json!({ "resourceType": "Appointment", "id": "nope" }).to_string()),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn an_invalid_appointment_is_refused_saying_where() {
    let app = app();
    let free = free_slots(&app, PAEDIATRICIAN_SCHEDULE_ID).await;
    let slot = &free[0];

    let mut no_status = booking(slot, MOTHER_ID, "i-1");
    no_status.as_object_mut().unwrap().remove("status");
    let refused = post(&app, "/Appointment", &no_status, &[]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    let outcome = refused.json();
    assert_eq!(outcome["issue"][0]["code"], "required");
    assert_eq!(
        outcome["issue"][0]["expression"],
        json!(["Appointment.status"])
    );
    assert_eq!(outcome["issue"][0]["severity"], "error");

    let mut bad_codes = booking(slot, MOTHER_ID, "i-2");
    bad_codes["status"] = json!("confirmed");
    bad_codes["participant"][0]["status"] = json!("yes");
    bad_codes["colour"] = json!("blue");
    let outcome = post(&app, "/Appointment", &bad_codes, &[]).await.json();
    let issues: HashSet<(String, String)> = outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_owned(),
                i["expression"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(issues.contains(&("code-invalid".into(), "Appointment.status".into())));
    assert!(issues.contains(&(
        "code-invalid".into(),
        "Appointment.participant[0].status".into()
    )));
    assert!(issues.contains(&("structure".into(), "Appointment.colour".into())));

    let no_participant = json!({ "resourceType": "Appointment", "status": "proposed" });
    let outcome = post(&app, "/Appointment", &no_participant, &[]).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        outcome.json()["issue"][0]["expression"],
        json!(["Appointment.participant"])
    );

    let no_times = appointment(slot["id"].as_str().unwrap(), MOTHER_ID, "i-3");
    let outcome = post(&app, "/Appointment", &no_times, &[]).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&outcome), "invariant");

    let patient = json!({ "resourceType": "Patient" });
    let wrong_type = post(&app, "/Appointment", &patient, &[]).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&wrong_type), "structure");

    let not_json = call(
        &app,
        "POST",
        "/Appointment",
        &[("content-type", "application/fhir+json")],
        Some("{\"resourceType\":".into()),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&not_json), "structure");

    let stranger = post(&app, "/Appointment", &booking(slot, "nobody", "i-4"), &[]).await;
    assert_eq!(stranger.status, StatusCode::UNPROCESSABLE_ENTITY);
    let outcome = stranger.json();
    assert_eq!(outcome["issue"][0]["code"], "processing");
    assert_eq!(
        outcome["issue"][0]["expression"],
        json!(["Appointment.participant[0].actor"])
    );

    let mut elsewhen = booking(slot, MOTHER_ID, "i-5");
    elsewhen["start"] = json!("2020-01-01T07:00:00+07:00");
    elsewhen["end"] = json!("2020-01-01T07:15:00+07:00");
    let outcome = post(&app, "/Appointment", &elsewhen, &[]).await;
    assert_eq!(outcome.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        outcome.json()["issue"][0]["expression"],
        json!(["Appointment.start"])
    );

    let no_slot = appointment("nowhere", MOTHER_ID, "i-6");
    let mut no_slot = no_slot;
    no_slot["start"] = slot["start"].clone();
    no_slot["end"] = slot["end"].clone();
    let outcome = post(&app, "/Appointment", &no_slot, &[]).await;
    assert_eq!(outcome.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Nothing above took the slot.
    let slot = get(&app, &format!("/Slot/{}", slot["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(slot["status"], "free");
}

#[tokio::test]
async fn reads_carry_versions_and_unknowns_are_outcomes() {
    let app = app();
    let read = get(&app, &format!("/Patient/{MOTHER_ID}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.headers["etag"], "W/\"1\"");
    assert!(read.headers.contains_key("last-modified"));
    let patient = read.json();
    assert_eq!(patient["meta"]["versionId"], "1");
    assert_eq!(patient["identifier"][0]["system"], CCCD_SYSTEM);
    assert_eq!(
        patient["generalPractitioner"][0]["reference"],
        format!("Organization/{PHU_HOI_STATION_ID}")
    );

    let unchanged = call(
        &app,
        "GET",
        &format!("/Patient/{MOTHER_ID}"),
        &[("if-none-match", "W/\"1\"")],
        None,
    )
    .await;
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);

    let missing = get(&app, "/Patient/nobody").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(issue_code(&missing), "not-found");
    let unsupported = get(&app, "/Observation/x").await;
    assert_eq!(unsupported.status, StatusCode::NOT_FOUND);
    assert_eq!(issue_code(&unsupported), "not-supported");
    let unsupported = get(&app, "/Observation?code=x").await;
    assert_eq!(issue_code(&unsupported), "not-supported");
    let delete = call(&app, "DELETE", &format!("/Patient/{MOTHER_ID}"), &[], None).await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
    let everything = get(&app, &format!("/Patient/{MOTHER_ID}/$everything")).await;
    assert_eq!(everything.status, StatusCode::BAD_REQUEST);
    assert_eq!(issue_code(&everything), "not-supported");
    let older = get(&app, &format!("/Patient/{MOTHER_ID}/_history/2")).await;
    assert_eq!(older.status, StatusCode::NOT_FOUND);

    for id in [
        HUE_CENTRAL_HOSPITAL_ID,
        UNIVERSITY_HOSPITAL_ID,
        INTERNATIONAL_HOSPITAL_ID,
        CITY_HEALTH_CENTRE_ID,
        PHU_HOI_STATION_ID,
        VY_DA_STATION_ID,
        KIM_LONG_STATION_ID,
        AN_CUU_STATION_ID,
        SOCIAL_SECURITY_ID,
        BLOOD_CENTRE_ID,
    ]
    .into_iter()
    .chain(PHARMACY_IDS)
    {
        assert_eq!(
            get(&app, &format!("/Organization/{id}")).await.status,
            StatusCode::OK,
            "{id}"
        );
        let location = get(&app, &format!("/Location/{id}")).await.json();
        assert_eq!(
            location["extension"][0]["url"], ACCEPTS_BHYT_EXTENSION,
            "{id}"
        );
    }
    for id in BLOOD_DRIVE_IDS {
        let drive = get(&app, &format!("/Location/{id}")).await.json();
        assert_eq!(drive["type"][0]["coding"][0]["code"], "MOBL");
    }
    for (kind, id) in [
        ("Practitioner", PAEDIATRICIAN_ID),
        ("PractitionerRole", PAEDIATRICIAN_ROLE_ID),
        ("Schedule", PAEDIATRICIAN_SCHEDULE_ID),
        ("Practitioner", CARDIOLOGIST_ID),
        ("PractitionerRole", CARDIOLOGIST_ROLE_ID),
        ("HealthcareService", PAEDIATRICS_SERVICE_ID),
        ("HealthcareService", CARDIOLOGY_SERVICE_ID),
        ("ImmunizationRecommendation", TODDLER_RECOMMENDATION_ID),
        ("Coverage", DAUGHTER_COVERAGE_ID),
        ("Coverage", TODDLER_COVERAGE_ID),
        ("RelatedPerson", MOTHER_OF_DAUGHTER_ID),
        ("Patient", UNINSURED_ID),
    ] {
        assert_eq!(
            get(&app, &format!("/{kind}/{id}")).await.status,
            StatusCode::OK,
            "{kind}/{id}"
        );
    }

    let roles = get(
        &app,
        &format!("/PractitionerRole?service=HealthcareService/{PAEDIATRICS_SERVICE_ID}&_include=PractitionerRole:practitioner"),
    )
    .await
    .json();
    assert_eq!(ids(&roles, "match"), vec![PAEDIATRICIAN_ROLE_ID]);
    assert_eq!(ids(&roles, "include"), vec![PAEDIATRICIAN_ID]);
    let schedules = get(
        &app,
        &format!("/Schedule?actor=PractitionerRole/{PAEDIATRICIAN_ROLE_ID}"),
    )
    .await
    .json();
    assert_eq!(ids(&schedules, "match"), vec![PAEDIATRICIAN_SCHEDULE_ID]);
}

#[tokio::test]
async fn slots_are_working_hours_in_hue_time_and_searchable_by_range() {
    let app = app();
    let tomorrow = (today() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let after = (today() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let range = get(
        &app,
        &format!(
            "/Slot?schedule={PAEDIATRICIAN_SCHEDULE_ID}&start=ge{tomorrow}T00:00:00%2B07:00&start=lt{after}&_sort=start&_count=100"
        ),
    )
    .await
    .json();
    let starts: Vec<String> = range["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["resource"]["start"].as_str().unwrap().to_owned())
        .collect();
    // Sundays have none; other days 16 morning and 12 afternoon slots.
    assert!(starts.is_empty() || starts.len() == 28, "{}", starts.len());
    if let (Some(first), Some(last)) = (starts.first(), starts.last()) {
        assert_eq!(first, &format!("{tomorrow}T07:00:00+07:00"));
        assert_eq!(last, &format!("{tomorrow}T16:15:00+07:00"));
        assert!(starts.contains(&format!("{tomorrow}T13:30:00+07:00")));
        assert!(!starts.contains(&format!("{tomorrow}T11:00:00+07:00")));
    }
    // A `+` sent unencoded arrives as a space and still reads as a zone.
    let unencoded = get(
        &app,
        &format!("/Slot?schedule={PAEDIATRICIAN_SCHEDULE_ID}&start=ge{tomorrow}T00:00:00+07:00&start=lt{after}&_count=0"),
    )
    .await
    .json();
    assert_eq!(unencoded["total"], starts.len());
}

#[tokio::test]
async fn faults_go_down_slow_and_garbled_then_back_to_normal() {
    let app = app();
    let fault = |body: Value| {
        let app = app.clone();
        async move {
            let answer = testing::post_json(&app, "/sandbox/fhir/faults", &body).await;
            assert_eq!(answer.status, StatusCode::NO_CONTENT);
        }
    };
    fault(json!({ "mode": "down", "times": 1 })).await;
    let down = get(&app, &format!("/Patient/{MOTHER_ID}")).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.headers["retry-after"], "30");
    assert_eq!(issue_code(&down), "transient");
    assert_eq!(
        get(&app, &format!("/Patient/{MOTHER_ID}")).await.status,
        StatusCode::OK
    );

    fault(json!({ "mode": "garbage" })).await;
    let garbage = get(&app, "/metadata").await;
    assert_eq!(garbage.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
    fault(json!({ "mode": null })).await;
    assert_eq!(
        get(&app, "/metadata").await.json()["resourceType"],
        "CapabilityStatement"
    );

    fault(json!({ "mode": "slow", "delay_ms": 200, "times": 1 })).await;
    let started = std::time::Instant::now();
    assert_eq!(get(&app, "/metadata").await.status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    get(&app, "/metadata").await;
    assert!(started.elapsed() < std::time::Duration::from_millis(200));
}

#[tokio::test]
async fn the_sandbox_router_serves_it_under_sandbox_fhir() {
    let app = crate::router();
    let answer = get(&app, "/metadata").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["implementation"]["url"], BASE);
}

/// SMART Backend Services: a signed assertion buys an access token once; a replay, another
/// client or another audience buys nothing, and the token then reads.
#[tokio::test]
async fn a_signed_assertion_buys_one_access_token() {
    let app = app();
    let token_endpoint = format!("{BASE}/auth/token");
    let assertion = |iss: &str, aud: &str, jti: &str| {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(smart::CLIENT_PRIVATE_KEY_PEM.as_bytes())
            .unwrap();
        let claims = json!({
            "iss": iss, "sub": iss, "aud": aud,
            "exp": chrono::Utc::now().timestamp() + 240, "jti": jti,
        });
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES384),
            &claims,
            &key,
        )
        .unwrap()
    };
    let ask = |assertion: String| {
        let app = app.clone();
        async move {
            let form = format!(
                "grant_type=client_credentials&scope={}&client_assertion_type={}&client_assertion={}",
                encode("system/*.rs"),
                encode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                assertion
            );
            call(
                &app,
                "POST",
                "/auth/token",
                &[("content-type", "application/x-www-form-urlencoded")],
                Some(form),
            )
            .await
        }
    };
    let first = assertion(smart::CLIENT_ID, &token_endpoint, "one");
    let granted = ask(first.clone()).await;
    assert_eq!(granted.status, StatusCode::OK, "{:?}", granted.json());
    let access = granted.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        ask(first).await.json()["error"],
        "invalid_grant",
        "a replay"
    );
    let stranger = ask(assertion("someone", &token_endpoint, "two")).await;
    assert_eq!(stranger.json()["error"], "invalid_client");
    let elsewhere = ask(assertion(
        smart::CLIENT_ID,
        "https://elsewhere/token",
        "three",
    ))
    .await;
    assert_eq!(elsewhere.json()["error"], "invalid_client");

    let request = Request::builder()
        .uri(format!("/sandbox/fhir/Patient/{MOTHER_ID}"))
        .header("host", HOST)
        .header("authorization", format!("Bearer {access}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(testing::send(&app, request).await.status, StatusCode::OK);
}
