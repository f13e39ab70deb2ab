use catalogue::config::CatalogueConfig;
use serde_json::Value;

use crate::helpers::{Mode, TestApp, problem};
use crate::in_both_modes;

fn ids(body: &Value) -> Vec<String> {
    body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn search_finds_services_without_diacritics(mode: Mode) {
    let app = TestApp::spawn(mode).await;

    let response = app.get("/v1/catalogue/services?q=phan%20anh").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["services"][0]["id"], "field-reports");
    assert_eq!(body["services"][0]["name"], "Phản ánh hiện trường");

    let with_accents: Value = app
        .get_json("/v1/catalogue/services?q=Ph%E1%BA%A3n%20%C3%A1nh")
        .await;
    assert_eq!(ids(&with_accents), ids(&body));

    let tuition: Value = app.get_json("/v1/catalogue/services?q=hoc%20phi").await;
    assert_eq!(tuition["services"][0]["category"], "payments");
    assert!(ids(&tuition).len() < 5, "a precise query stays precise");

    let nothing: Value = app.get_json("/v1/catalogue/services?q=xyzzy%20plugh").await;
    assert_eq!(nothing["services"], Value::Array(vec![]));
    app.stop().await;
}
in_both_modes!(search_finds_services_without_diacritics);

async fn accept_language_picks_english_or_vietnamese(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let english = app
        .client
        .get(app.url("/v1/catalogue/services/field-reports"))
        .header("accept-language", "en-GB,en;q=0.9,vi;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(english.status(), 200);
    assert_eq!(english.headers()["content-language"], "en");
    assert!(
        english.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Accept-Language")
    );
    let english: Value = english.json().await.unwrap();
    assert_eq!(english["name"], "Field reports");

    let default = app.get("/v1/catalogue/services/field-reports").await;
    assert_eq!(default.headers()["content-language"], "vi");
    let default: Value = default.json().await.unwrap();
    assert_eq!(default["name"], "Phản ánh hiện trường");

    let categories: Value = app
        .client
        .get(app.url("/v1/catalogue/categories"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = &categories["categories"][0];
    assert_eq!(first["id"], "citizen-interaction");
    assert_eq!(first["name"], "Citizen interaction");
    assert!(first["service_count"].as_i64().unwrap() > 0);
    app.stop().await;
}
in_both_modes!(accept_language_picks_english_or_vietnamese);

async fn an_unchanged_list_is_answered_with_304(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let first = app.get("/v1/catalogue/services").await;
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );

    let again = app
        .client
        .get(app.url("/v1/catalogue/services"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().await.unwrap().is_empty());

    let english = app
        .client
        .get(app.url("/v1/catalogue/services"))
        .header("if-none-match", &etag)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    assert_eq!(
        english.status(),
        200,
        "another language is another representation"
    );
    assert_ne!(english.headers()["etag"], etag.as_str());
    app.stop().await;
}
in_both_modes!(an_unchanged_list_is_answered_with_304);

async fn filters_narrow_the_list_and_bad_ones_are_refused(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let payments: Value = app
        .get_json("/v1/catalogue/services?category=payments")
        .await;
    let services = payments["services"].as_array().unwrap();
    assert!(services.len() >= 6);
    assert!(services.iter().all(|s| s["category"] == "payments"));

    let links: Value = app.get_json("/v1/catalogue/services?kind=link").await;
    let links = links["services"].as_array().unwrap();
    assert!(!links.is_empty());
    assert!(
        links
            .iter()
            .all(|s| s["kind"] == "link" && s["url"].is_string())
    );

    let bad_kind = app.get("/v1/catalogue/services?kind=hologram").await;
    problem(bad_kind, 400, "invalid_query").await;

    let long = format!("/v1/catalogue/services?q={}", "a".repeat(101));
    problem(app.get(&long).await, 400, "query_too_long").await;

    let elsewhere = app
        .get("/v1/catalogue/services?jurisdiction=atlantis")
        .await;
    problem(elsewhere, 404, "jurisdiction_not_found").await;
    app.stop().await;
}
in_both_modes!(filters_narrow_the_list_and_bad_ones_are_refused);

async fn only_published_services_are_shown(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let all: Value = app.get_json("/v1/catalogue/services").await;
    let listed = ids(&all);
    assert!(
        (45..=55).contains(&listed.len()),
        "about 50: {}",
        listed.len()
    );
    for hidden in ["citizen-wallet", "health-declaration"] {
        assert!(
            !listed.contains(&hidden.to_owned()),
            "{hidden} is not published"
        );
        let response = app.get(&format!("/v1/catalogue/services/{hidden}")).await;
        problem(response, 404, "service_not_found").await;
    }
    app.stop().await;
}
in_both_modes!(only_published_services_are_shown);

async fn an_unknown_service_is_a_404_problem_naming_the_request(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let response = app
        .client
        .get(app.url("/v1/catalogue/services/no-such-service"))
        .header("x-request-id", "test-req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "test-req-42");
    let body = problem(response, 404, "service_not_found").await;
    assert_eq!(body["instance"], "urn:citizen:request:test-req-42");
    assert!(body["detail"].as_str().unwrap().contains("no-such-service"));

    let generated = app.get("/v1/catalogue/services/no-such-service").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());
    let body = problem(generated, 404, "service_not_found").await;
    assert_eq!(body["instance"], format!("urn:citizen:request:{id}"));
    app.stop().await;
}
in_both_modes!(an_unknown_service_is_a_404_problem_naming_the_request);

/// The seed is idempotent: a second start over the same database neither duplicates nor fails.
#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let app = TestApp::spawn(Mode::AllInOne).await;
    let before: Value = app.get_json("/v1/catalogue/services").await;
    let config = crate::helpers::test_config(&app.database);
    let second = crate::helpers::start(config, "catalogue").await;
    let after: Value = crate::helpers::client()
        .get(format!("http://{}/v1/catalogue/services", second.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(before, after);
    second.stop().await.unwrap();
    app.stop().await;
}

/// Running servers keep rendered responses in memory; a re-seed by any process must reach them.
async fn a_reseeded_catalogue_reaches_running_servers(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let path = "/v1/catalogue/services/field-reports";
    let before: Value = app.get_json(path).await;
    assert_eq!(before["name"], "Phản ánh hiện trường");
    let etag = app.get(path).await.headers()["etag"].clone();

    let (_, hue) = catalogue::BUILT_IN[0];
    let edited = hue.replacen(
        "name_vi = \"Phản ánh hiện trường\"",
        "name_vi = \"Phản ánh hiện trường và góp ý\"",
        1,
    );
    assert_ne!(edited, hue);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hue.toml");
    std::fs::write(&file, edited).unwrap();
    let mut config = crate::helpers::test_config(&app.database);
    config.edit(|catalogue: &mut CatalogueConfig| catalogue.seed_files = vec![file]);
    let reseeder = crate::helpers::start(config, "catalogue").await;

    // The change arrives by NOTIFY, asynchronously: wait for it, within reason.
    let mut seen = Value::Null;
    for _ in 0..100 {
        let response = app
            .client
            .get(app.url(path))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            seen = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen["name"], "Phản ánh hiện trường và góp ý");
    reseeder.stop().await.unwrap();
    app.stop().await;
}
in_both_modes!(a_reseeded_catalogue_reaches_running_servers);

/// The catalogue never promises what the API does not do: every published entry the app opens
/// on its own screens names an entry point that answers a signed-in resident (a refusal of a
/// missing search term is an answer; no route, or a failure, is not). The demo city's
/// catalogue has nothing left coming soon.
async fn every_published_entry_opens_an_api_that_answers(mode: Mode) {
    // The demo city, as development runs it: its bus timetable imported.
    let app = TestApp::spawn_with(mode, |c| {
        c.edit(|mobility: &mut mobility::config::MobilityConfig| {
            mobility.demo_feed = Some("hue".to_owned());
        });
    })
    .await;
    let token = app.resident_token().await;
    let catalogue = app.get_json("/v1/catalogue/services").await;
    let mut opened = Vec::new();
    for service in catalogue["services"].as_array().unwrap() {
        let id = service["id"].as_str().unwrap();
        let opens_api = matches!(service["kind"].as_str(), Some("native" | "lookup"));
        match service["status"].as_str().unwrap() {
            "published" if opens_api => {
                let api = service["api"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{id} is published and names no api"));
                let status = app.get_as(api, &token).await.status().as_u16();
                assert!(
                    status < 500 && status != 404 && status != 405,
                    "{id} opens {api}, which answers {status}"
                );
                opened.push(id);
            }
            "published" => assert!(service.get("api").is_none(), "{id}"),
            other => panic!("{id} is listed as {other}"),
        }
    }
    assert!(opened.contains(&"field-reports"), "{opened:?}");
    assert!(opened.contains(&"electricity-bills"), "{opened:?}");
    assert!(opened.contains(&"vaccination-records"), "{opened:?}");
    assert!(opened.contains(&"school-grades"), "{opened:?}");
    assert!(opened.contains(&"dossier-tracking"), "{opened:?}");
    assert!(opened.contains(&"air-quality"), "{opened:?}");
    assert!(opened.contains(&"water-quality"), "{opened:?}");
    assert!(opened.contains(&"bus-routes"), "{opened:?}");
    assert!(opened.contains(&"events-calendar"), "{opened:?}");
    assert!(opened.contains(&"lost-and-found"), "{opened:?}");
    assert!(opened.contains(&"ask-government"), "{opened:?}");
    app.stop().await;
}
in_both_modes!(every_published_entry_opens_an_api_that_answers);
