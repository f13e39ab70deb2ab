//! Open311 GeoReport v2 through the gateway: each document in XML and JSON checked against the
//! spec's element names, nesting and types; a request filed by a third party reaches the
//! officer queue; errors, paging, updates and keys.

use identity::config::IdentityConfig;
use reports::config::ReportsConfig;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, problem};
use crate::in_both_modes;
use crate::reports::upload_photo;

/// The names of an element's child elements, in order.
fn children<'a>(node: roxmltree::Node<'a, 'a>) -> Vec<&'a str> {
    node.children()
        .filter(|c| c.is_element())
        .map(|c| c.tag_name().name())
        .collect()
}

fn child<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> roxmltree::Node<'a, 'a> {
    node.children()
        .find(|c| c.tag_name().name() == name)
        .unwrap_or_else(|| panic!("no <{name}>"))
}

fn text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> &'a str {
    child(node, name).text().unwrap_or("")
}

async fn xml(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "text/xml; charset=utf-8"
    );
    (status, response.text().await.unwrap())
}

async fn json_doc(app: &TestApp, path: &str) -> (u16, Json) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/json");
    (status, response.json().await.unwrap())
}

const SERVICE_FIELDS: [&str; 7] = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
];
const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

async fn documents_follow_the_spec(mode: Mode) {
    let app = TestApp::spawn(mode).await;

    let (status, body) = xml(&app, "/open311/v2/discovery.xml").await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "discovery");
    assert_eq!(
        children(root),
        ["changeset", "contact", "key_service", "endpoints"]
    );
    let endpoint = child(child(root, "endpoints"), "endpoint");
    assert_eq!(
        children(endpoint),
        ["specification", "url", "changeset", "type", "formats"]
    );
    assert_eq!(children(child(endpoint, "formats")), ["format", "format"]);
    assert!(text(endpoint, "url").ends_with("/open311/v2"));
    let (_, discovery) = json_doc(&app, "/open311/v2/discovery.json").await;
    assert_eq!(
        discovery["endpoints"][0]["formats"],
        json!(["text/xml", "application/json"])
    );

    // One service per category, each with the spec's seven fields in order.
    let (status, body) = xml(&app, "/open311/v2/services.xml").await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "services");
    let services: Vec<_> = root.children().filter(|c| c.is_element()).collect();
    assert_eq!(services.len(), 23);
    for service in &services {
        assert_eq!(service.tag_name().name(), "service");
        assert_eq!(children(*service), SERVICE_FIELDS);
        assert!(["true", "false"].contains(&text(*service, "metadata")));
        assert_eq!(text(*service, "type"), "realtime");
    }
    let pothole = services
        .iter()
        .find(|s| text(**s, "service_code") == "pothole")
        .unwrap();
    assert_eq!(text(*pothole, "metadata"), "true");
    assert_eq!(text(*pothole, "service_name"), "Ổ gà, hư hỏng mặt đường");
    let (_, services) = json_doc(&app, "/open311/v2/services.json").await;
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 23);
    for service in services {
        let keys: Vec<&str> = service
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = SERVICE_FIELDS.to_vec();
        expected.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, expected);
        assert!(service["service_code"].is_string());
        assert!(service["metadata"].is_boolean());
    }
    // English on request.
    let english: Json = app
        .client
        .get(app.url("/open311/v2/services.json"))
        .header("Accept-Language", "en")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        english
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["service_name"] == "Pothole or damaged road")
    );

    // A service's definition: its questions as attributes.
    let (status, body) = xml(&app, "/open311/v2/services/electric_hazard.xml").await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&body).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "service_definition");
    assert_eq!(children(root), ["service_code", "attributes"]);
    let attributes: Vec<_> = child(root, "attributes")
        .children()
        .filter(|c| c.is_element())
        .collect();
    assert!(!attributes.is_empty());
    for attribute in &attributes {
        assert_eq!(
            children(*attribute),
            [
                "variable",
                "code",
                "datatype",
                "required",
                "datatype_description",
                "order",
                "description",
                "values"
            ]
        );
    }
    let hazards = attributes
        .iter()
        .find(|a| text(**a, "code") == "hazard_types")
        .unwrap();
    assert_eq!(text(*hazards, "datatype"), "multivaluelist");
    let value = child(child(*hazards, "values"), "value");
    assert_eq!(children(value), ["key", "name"]);
    let (_, definition) = json_doc(&app, "/open311/v2/services/pothole.json").await;
    assert_eq!(definition["service_code"], "pothole");
    let size = &definition["attributes"][0];
    assert_eq!(size["code"], "size");
    assert_eq!(size["datatype"], "singlevaluelist");
    assert_eq!(size["required"], true);
    assert_eq!(size["order"], 1);
    assert!(size["values"][0]["key"].is_string());

    // Errors are the spec's list, in the format asked for.
    let (status, body) = xml(&app, "/open311/v2/services/nonexistent.xml").await;
    assert_eq!(status, 404);
    let doc = roxmltree::Document::parse(&body).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "errors");
    let error = child(doc.root_element(), "error");
    assert_eq!(children(error), ["code", "description"]);
    assert_eq!(text(error, "code"), "404");
    let (status, errors) = json_doc(&app, "/open311/v2/services/nonexistent.json").await;
    assert_eq!(status, 404);
    assert_eq!(errors[0]["code"], 404);
    assert!(errors[0]["description"].is_string());
    let (status, _) = json_doc(&app, "/open311/v2/services.json?jurisdiction_id=atlantis").await;
    assert_eq!(status, 404);
    app.stop().await;
}
in_both_modes!(documents_follow_the_spec);

/// A form POST of Open311 fields to `requests`.
async fn post(app: &TestApp, format: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    post_to(app, &format!("requests.{format}"), fields).await
}

/// A form POST of Open311 fields to a document.
async fn post_to(app: &TestApp, document: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    app.client
        .post(app.url(&format!("/open311/v2/{document}")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

async fn issue_key(app: &TestApp, admin: &str, per_hour: i32) -> Json {
    let issued = app
        .authed(
            Method::POST,
            "/v1/admin/jurisdictions/hue/open311-clients",
            admin,
        )
        .json(&json!({ "name": "FixMyStreet Huế", "requests_per_hour": per_hour }))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 201);
    issued.json().await.unwrap()
}

async fn a_request_filed_through_open311_is_handled_like_any_other(mode: Mode) {
    let app = TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true)
    })
    .await;
    let admin = app.staff_token("hue.admin").await;
    let client = issue_key(&app, &admin, 2).await;
    let key = client["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("o311_"));
    let listed = app
        .get_json_as("/v1/admin/jurisdictions/hue/open311-clients", &admin)
        .await;
    assert_eq!(listed[0]["name"], "FixMyStreet Huế");
    assert!(listed[0].get("api_key").is_none(), "keys are shown once");
    let resident = app.resident_token().await;
    problem(
        app.authed(
            Method::POST,
            "/v1/admin/jurisdictions/hue/open311-clients",
            &resident,
        )
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap(),
        404,
        "route_not_found",
    )
    .await;

    let lat = PHU_XUAN.0.to_string();
    let long = PHU_XUAN.1.to_string();
    let pothole = [
        ("service_code", "pothole"),
        ("lat", lat.as_str()),
        ("long", long.as_str()),
        ("attribute[size]", "large"),
        ("address_string", "12 Lê Lợi, Phú Xuân"),
        ("description", "Ổ gà sâu trước số 12 Lê Lợi"),
        ("email", "an.nguyen@example.vn"),
        ("first_name", "An"),
        ("last_name", "Nguyễn"),
        ("phone", "+84905123456"),
    ];
    // No key, or a wrong one: 403.
    let refused = post(&app, "json", &pothole).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<Json>().await.unwrap()[0]["code"], 403);
    let mut wrong = pothole.to_vec();
    wrong.push(("api_key", "o311_wrong"));
    assert_eq!(post(&app, "json", &wrong).await.status(), 403);

    let mut keyed = pothole.to_vec();
    keyed.push(("api_key", &key));
    let created = post(&app, "json", &keyed).await;
    assert_eq!(created.status(), 201);
    let created: Json = created.json().await.unwrap();
    let first = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(created[0]["service_notice"].is_string());
    assert!(created[0].get("account_id").is_none(), "none was given");

    // A multi-valued attribute, answered in XML.
    let hazard = [
        ("api_key", key.as_str()),
        ("jurisdiction_id", "hue"),
        ("service_code", "electric_hazard"),
        ("lat", lat.as_str()),
        ("long", long.as_str()),
        ("attribute[hazard_types][]", "fallen_wire"),
        ("attribute[hazard_types][]", "sparking"),
        ("description", "Dây điện rơi"),
    ];
    let created = post(&app, "xml", &hazard).await;
    assert_eq!(created.status(), 201);
    let body = created.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "service_requests");
    let request = child(doc.root_element(), "request");
    assert_eq!(children(request), ["service_request_id", "service_notice"]);
    let second = text(request, "service_request_id").to_owned();

    // The ward's officer has both in their queue, like any other report.
    let officer = app.staff_token("phuxuan.officer").await;
    let queue = app.get_json_as("/v1/officer/reports", &officer).await;
    let queued: Vec<&str> = queue["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(queued.contains(&first.as_str()) && queued.contains(&second.as_str()));

    // Read back: the spec's fields, and never who filed it.
    let (status, found) = json_doc(&app, &format!("/open311/v2/requests/{first}.json")).await;
    assert_eq!(status, 200);
    let found = &found.as_array().unwrap()[..];
    assert_eq!(found.len(), 1);
    let mut keys: Vec<&str> = found[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    let mut expected = REQUEST_FIELDS.to_vec();
    expected.sort();
    assert_eq!(keys, expected);
    assert_eq!(found[0]["status"], "open");
    assert_eq!(found[0]["service_code"], "pothole");
    assert_eq!(found[0]["address"], "12 Lê Lợi, Phú Xuân");
    assert!(found[0]["lat"].is_number() && found[0]["long"].is_number());
    assert!(
        found[0]["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+07:00")
    );
    let everything = serde_json::to_string(&found).unwrap();
    assert!(!everything.contains("an.nguyen") && !everything.contains("905123456"));

    let (status, body) = xml(
        &app,
        &format!("/open311/v2/requests.xml?service_request_id={first},{second}"),
    )
    .await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&body).unwrap();
    let requests: Vec<_> = doc
        .root_element()
        .children()
        .filter(|c| c.is_element())
        .collect();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.tag_name().name(), "request");
        assert_eq!(children(*request), REQUEST_FIELDS);
    }

    // Filters, paging and the extensions.
    let (_, potholes) = json_doc(
        &app,
        "/open311/v2/requests.json?service_code=pothole&status=open",
    )
    .await;
    assert_eq!(potholes.as_array().unwrap().len(), 1);
    let (_, closed) = json_doc(&app, "/open311/v2/requests.json?status=closed").await;
    assert_eq!(closed, json!([]));
    let (_, page1) = json_doc(&app, "/open311/v2/requests.json?page_size=1&page=1").await;
    let (_, page2) = json_doc(&app, "/open311/v2/requests.json?page_size=1&page=2").await;
    assert_eq!(page1.as_array().unwrap().len(), 1);
    assert_ne!(
        page1[0]["service_request_id"],
        page2[0]["service_request_id"]
    );
    let (_, extended) = json_doc(
        &app,
        &format!("/open311/v2/requests/{second}.json?extensions=true"),
    )
    .await;
    assert_eq!(
        extended[0]["attributes"]["hazard_types"],
        "fallen_wire,sparking"
    );
    assert_eq!(extended[0]["extended_attributes"]["ward"], "phu-xuan");
    let (status, errors) = json_doc(&app, "/open311/v2/requests.json?start_date=yesterday").await;
    assert_eq!(status, 400);
    assert_eq!(errors[0]["code"], 400);
    let (status, _) = json_doc(&app, &format!("/open311/v2/tokens/{first}.json")).await;
    assert_eq!(status, 200);

    // An officer's public note shows in mySociety's updates.
    let accepted = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{first}/accept"),
            &officer,
        )
        .json(&json!({ "public_note": "Đội 2 sẽ đến trong hôm nay" }))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let (status, updates) = json_doc(&app, "/open311/v2/servicerequestupdates.json").await;
    assert_eq!(status, 200);
    let update = &updates[0];
    assert_eq!(update["service_request_id"], first.as_str());
    assert_eq!(update["status"], "INVESTIGATING");
    assert_eq!(update["description"], "Đội 2 sẽ đến trong hôm nay");
    let (_, body) = xml(&app, "/open311/v2/servicerequestupdates.xml").await;
    let doc = roxmltree::Document::parse(&body).unwrap();
    assert_eq!(
        doc.root_element().tag_name().name(),
        "service_request_updates"
    );
    assert_eq!(
        children(child(doc.root_element(), "request_update")),
        [
            "update_id",
            "service_request_id",
            "status",
            "updated_datetime",
            "description",
            "media_url",
            "external_status_code"
        ]
    );

    // Bad requests: no position, an unknown service; the key's hourly limit; a revoked key.
    let mut nowhere = keyed.clone();
    nowhere.retain(|(k, _)| *k != "lat" && *k != "long");
    nowhere.push(("address_string", "12 Lê Lợi"));
    assert_eq!(post(&app, "json", &nowhere).await.status(), 400);
    let mut unknown = keyed.clone();
    unknown[0] = ("service_code", "teleportation");
    assert_eq!(post(&app, "json", &unknown).await.status(), 404);
    let limited = post(&app, "json", &keyed).await;
    assert_eq!(limited.status(), 429, "two an hour");
    assert_eq!(limited.json::<Json>().await.unwrap()[0]["code"], 429);
    let revoked = app
        .authed(
            Method::DELETE,
            &format!(
                "/v1/admin/jurisdictions/hue/open311-clients/{}",
                client["id"].as_str().unwrap()
            ),
            &admin,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(post(&app, "json", &keyed).await.status(), 403);
    app.stop().await;
}
in_both_modes!(a_request_filed_through_open311_is_handled_like_any_other);

async fn every_client_address_has_its_share_per_minute(mode: Mode) {
    let app = TestApp::spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.open311_requests_per_minute = 5);
    })
    .await;
    for _ in 0..5 {
        assert_eq!(app.get("/open311/v2/services.json").await.status(), 200);
    }
    let refused = app.get("/open311/v2/requests.xml").await;
    assert_eq!(refused.status(), 429);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait));
    let body = refused.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "errors");
    assert_eq!(text(child(doc.root_element(), "error"), "code"), "429");
    app.stop().await;
}
in_both_modes!(every_client_address_has_its_share_per_minute);

async fn get_from(app: &TestApp, forwarded_for: &str, proto: &str) -> reqwest::Response {
    app.client
        .get(app.url("/open311/v2/services.json"))
        .header("x-forwarded-for", forwarded_for)
        .header("x-forwarded-proto", proto)
        .send()
        .await
        .unwrap()
}

/// A client that makes up `X-Forwarded-For` is still itself; behind a trusted ingress each
/// client is counted apart, an IPv6 client per /64.
async fn only_a_trusted_proxy_is_believed_about_the_client(mode: Mode) {
    let direct = TestApp::spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.open311_requests_per_minute = 3);
    })
    .await;
    for n in 0..3 {
        let response = get_from(&direct, &format!("203.0.113.{n}"), "https").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        // Not over TLS by its own word: no HSTS.
        assert!(!response.headers().contains_key("strict-transport-security"));
    }
    assert_eq!(
        get_from(&direct, "203.0.113.99", "https").await.status(),
        429
    );
    direct.stop().await;

    let behind = TestApp::spawn_with(mode, |config| {
        config.edit(|reports: &mut ReportsConfig| reports.open311_requests_per_minute = 3);
        config.gateway.trusted_proxies = vec!["127.0.0.0/8".into(), "::1/128".into()];
    })
    .await;
    for n in 0..5 {
        let response = get_from(&behind, &format!("203.0.113.{n}"), "https").await;
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["strict-transport-security"]
                .to_str()
                .unwrap()
                .starts_with("max-age=")
        );
    }
    for n in 0..3 {
        let address = format!("2001:db8:5:5::{n}");
        assert_eq!(get_from(&behind, &address, "https").await.status(), 200);
    }
    assert_eq!(
        get_from(&behind, "2001:db8:5:5:ffff::1", "https")
            .await
            .status(),
        429
    );
    behind.stop().await;
}
in_both_modes!(only_a_trusted_proxy_is_believed_about_the_client);

/// Demo staff, and one service token for every process (photos are attached across services).
async fn spawn_city(mode: Mode) -> TestApp {
    TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
        config.internal.service_token = Some("test-service-token".to_owned().into());
    })
    .await
}

/// Files a report through the app; its id.
async fn file_in_app(app: &TestApp, token: &str, body: Json) -> String {
    app.file_report_id(token, &body).await
}

/// Files a request through Open311 (JSON); its id.
async fn file_in_open311(app: &TestApp, fields: &[(&str, &str)]) -> String {
    let created = post(app, "json", fields).await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let created: Json = created.json().await.unwrap();
    created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// One request as Open311 shows it, with mySociety's extensions.
async fn extended(app: &TestApp, id: &str) -> Json {
    let (status, found) = json_doc(
        app,
        &format!("/open311/v2/requests/{id}.json?extensions=true"),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    found[0].clone()
}

async fn officer_act(app: &TestApp, token: &str, id: &str, action: &str, body: Json) -> Json {
    let response = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{id}/{action}"),
            token,
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn open311_and_the_app_show_the_public_only_the_answers_marked_public(mode: Mode) {
    let app = spawn_city(mode).await;
    let resident = app.resident_token().await;
    let stranger = app.resident_token().await;
    let (lat, lng) = PHU_XUAN;
    let pothole = file_in_app(
        &app,
        &resident,
        json!({ "category": "pothole", "latitude": lat, "longitude": lng,
                "description": "Ổ gà", "answers": { "size": "large", "depth_cm": 15 } }),
    )
    .await;
    let anonymous = file_in_app(
        &app,
        &resident,
        json!({ "category": "pothole", "latitude": lat + 0.001, "longitude": lng,
                "description": "Ổ gà", "anonymous": true,
                "answers": { "size": "large", "depth_cm": 15 } }),
    )
    .await;
    // A sensitive category: the owner's name and phone are in an answer.
    let lost_dog = file_in_app(
        &app,
        &resident,
        json!({ "category": "lost_animal", "latitude": lat, "longitude": lng + 0.001,
                "description": "Lạc chó",
                "answers": { "species": "dog",
                             "description": "Chó vàng tên Lu, chủ Trần Thị Bình 0905 111 222" } }),
    )
    .await;
    // A free-text answer is not marked public; the choice beside it is.
    let light = file_in_app(
        &app,
        &resident,
        json!({ "category": "street_light", "latitude": lat, "longitude": lng - 0.001,
                "description": "Đèn tắt",
                "answers": { "light_state": "off", "pole_number": "Nhà ông Bảy, số 12" } }),
    )
    .await;

    let expected = [
        (&pothole, json!({ "size": "large", "depth_cm": 15 })),
        (&anonymous, json!({})),
        (&lost_dog, json!({})),
        (&light, json!({ "light_state": "off" })),
    ];
    let feed: Json = app
        .get_json(&format!(
            "/v1/reports/near?lat={lat}&lng={lng}&radius_m=1000&status=all"
        ))
        .await;
    for (id, answers) in &expected {
        // The app's public view, the near feed and Open311 show the same answers.
        let public = app
            .get_json_as(&format!("/v1/reports/{id}"), &stranger)
            .await;
        assert_eq!(&public["answers"], answers, "{id}");
        let in_feed = feed["reports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id.as_str())
            .unwrap();
        assert_eq!(&in_feed["answers"], answers, "{id}");
        let request = extended(&app, id).await;
        let as_text: serde_json::Map<String, Json> = answers
            .as_object()
            .unwrap()
            .iter()
            .map(|(code, answer)| {
                let text = answer
                    .as_str()
                    .map_or_else(|| answer.to_string(), str::to_owned);
                (code.clone(), json!(text))
            })
            .collect();
        assert_eq!(request["attributes"], Json::Object(as_text), "{id}");
    }
    let (_, everything) = json_doc(&app, "/open311/v2/requests.json?extensions=true").await;
    let everything = everything.to_string();
    assert!(!everything.contains("0905 111 222") && !everything.contains("ông Bảy"));
    // Their reporter still reads every answer.
    let own = app
        .get_json_as(&format!("/v1/reports/{lost_dog}"), &resident)
        .await;
    assert_eq!(own["answers"]["species"], "dog");
    assert!(own["answers"]["description"].is_string());
    app.stop().await;
}
in_both_modes!(open311_and_the_app_show_the_public_only_the_answers_marked_public);

async fn a_rejected_request_stays_readable_through_open311_as_closed_with_its_reason(mode: Mode) {
    let app = spawn_city(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let resident = app.resident_token().await;
    let stranger = app.resident_token().await;
    let key = issue_key(&app, &admin, 100).await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (lat, lng) = PHU_XUAN;
    let (lat_text, lng_text) = (lat.to_string(), lng.to_string());
    let elsewhere = file_in_open311(
        &app,
        &[
            ("api_key", &key),
            ("service_code", "pothole"),
            ("lat", &lat_text),
            ("long", &lng_text),
            ("attribute[size]", "small"),
            ("description", "Ổ gà trong khuôn viên trường"),
        ],
    )
    .await;
    let original = file_in_app(
        &app,
        &resident,
        json!({ "category": "garbage", "latitude": lat, "longitude": lng,
                "description": "Rác", "answers": { "volume": "pile" } }),
    )
    .await;
    let duplicate = file_in_app(
        &app,
        &resident,
        json!({ "category": "garbage", "latitude": lat + 0.0001, "longitude": lng,
                "description": "Rác lần nữa", "answers": { "volume": "pile" } }),
    )
    .await;
    let spam = file_in_app(
        &app,
        &resident,
        json!({ "category": "garbage", "latitude": lat, "longitude": lng + 0.0001,
                "description": "Vay tiền nhanh, gọi 0999 999 999", "answers": { "volume": "bags" } }),
    )
    .await;

    officer_act(
        &app,
        &officer,
        &elsewhere,
        "reject",
        json!({ "reason": "not_responsible" }),
    )
    .await;
    let linked = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{duplicate}/duplicate-of"),
            &officer,
        )
        .json(&json!({ "original_id": original, "public_note": "Đã có phản ánh này" }))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200);
    officer_act(&app, &officer, &spam, "reject", json!({ "reason": "spam" })).await;

    // Closed, with why.
    let request = extended(&app, &elsewhere).await;
    assert_eq!(request["status"], "closed");
    assert_eq!(
        request["status_notes"],
        "Không thuộc trách nhiệm của thành phố."
    );
    assert_eq!(
        request["extended_attributes"]["reject_reason"],
        "not_responsible"
    );
    let request = extended(&app, &duplicate).await;
    assert_eq!(request["status"], "closed");
    assert_eq!(request["status_notes"], "Đã có phản ánh này");
    // What a rejected report said is no longer shown; that it was closed is.
    let request = extended(&app, &spam).await;
    assert_eq!(request["status"], "closed");
    assert_eq!(request["description"], "");
    assert_eq!(request["attributes"], json!({}));
    assert_eq!(request["media_url"], Json::Null);
    let (_, closed) = json_doc(&app, "/open311/v2/requests.json?status=closed").await;
    let closed: Vec<&str> = closed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    for id in [&elsewhere, &duplicate, &spam] {
        assert!(closed.contains(&id.as_str()), "{id}");
    }
    assert!(!serde_json::to_string(&closed).unwrap().contains("Vay tiền"));

    // mySociety's updates say how each ended.
    let (_, updates) = json_doc(&app, "/open311/v2/servicerequestupdates.json").await;
    let ending = |id: &str| {
        updates
            .as_array()
            .unwrap()
            .iter()
            .rfind(|u| u["service_request_id"] == id)
            .unwrap_or_else(|| panic!("no update of {id}"))
            .clone()
    };
    let update = ending(&elsewhere);
    assert_eq!(update["status"], "NOT_COUNCILS_RESPONSIBILITY");
    assert_eq!(update["external_status_code"], "not_responsible");
    assert_eq!(
        update["description"],
        "Không thuộc trách nhiệm của thành phố."
    );
    let update = ending(&duplicate);
    assert_eq!(update["status"], "DUPLICATE");
    assert_eq!(update["description"], "Đã có phản ánh này");
    assert_eq!(ending(&spam)["status"], "NO_FURTHER_ACTION");

    // The app's public feed still leaves them out.
    let feed: Json = app
        .get_json(&format!(
            "/v1/reports/near?lat={lat}&lng={lng}&radius_m=500&status=all"
        ))
        .await;
    let shown: Vec<&str> = feed["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(shown, [original.as_str()]);
    problem(
        app.get_as(&format!("/v1/reports/{spam}"), &stranger).await,
        404,
        "report_not_found",
    )
    .await;
    app.stop().await;
}
in_both_modes!(a_rejected_request_stays_readable_through_open311_as_closed_with_its_reason);

async fn repeated_attribute_keys_keep_every_value(mode: Mode) {
    let app = spawn_city(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let key = issue_key(&app, &admin, 100).await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (lat, lng) = (PHU_XUAN.0.to_string(), PHU_XUAN.1.to_string());
    let dumping = |values: [(&'static str, &'static str); 2]| {
        let mut fields = vec![
            ("api_key", key.clone()),
            ("service_code", "illegal_dumping".to_owned()),
            ("lat", lat.clone()),
            ("long", lng.clone()),
            ("description", "Đổ trộm xà bần".to_owned()),
        ];
        fields.extend(values.map(|(k, v)| (k, v.to_owned())));
        fields
    };
    // As FixMyStreet sends a list: the key once per value.
    let repeated = dumping([
        ("attribute[waste_types]", "household"),
        ("attribute[waste_types]", "construction"),
    ]);
    let bracketed = dumping([
        ("attribute[waste_types][]", "bulky"),
        ("attribute[waste_types][]", "hazardous"),
    ]);
    for (fields, expected) in [
        (repeated, ["household", "construction"]),
        (bracketed, ["bulky", "hazardous"]),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let id = file_in_open311(&app, &fields).await;
        let report = app
            .get_json_as(&format!("/v1/officer/reports/{id}"), &officer)
            .await;
        assert_eq!(report["answers"]["waste_types"], json!(expected));
        assert_eq!(
            extended(&app, &id).await["attributes"]["waste_types"],
            expected.join(",")
        );
    }
    app.stop().await;
}
in_both_modes!(repeated_attribute_keys_keep_every_value);

async fn a_follow_up_posted_through_open311_reaches_the_officer_once(mode: Mode) {
    let app = spawn_city(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let stranger = app.resident_token().await;
    let key = issue_key(&app, &admin, 100).await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (lat, lng) = (PHU_XUAN.0.to_string(), PHU_XUAN.1.to_string());
    let id = file_in_open311(
        &app,
        &[
            ("api_key", &key),
            ("service_code", "pothole"),
            ("lat", &lat),
            ("long", &lng),
            ("attribute[size]", "medium"),
            ("description", "Ổ gà"),
        ],
    )
    .await;
    let photo = "https://fixmystreet.example/photo/c/4242.full.jpeg";
    let update = [
        ("api_key", key.as_str()),
        ("jurisdiction_id", "hue"),
        ("service_request_id", id.as_str()),
        ("update_id", "fms-4242"),
        ("updated_datetime", "2026-11-27T09:00:00+07:00"),
        ("status", "OPEN"),
        ("description", "Ổ gà đã rộng gấp đôi, xe máy vừa ngã"),
        ("email", "an.nguyen@example.vn"),
        ("first_name", "An"),
        ("last_name", "Nguyễn"),
        ("media_url", photo),
    ];
    // mySociety's answer: the update's id, in the format asked for.
    let posted = post_to(&app, "servicerequestupdates.xml", &update).await;
    assert_eq!(posted.status(), 201);
    let body = posted.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).unwrap();
    assert_eq!(
        doc.root_element().tag_name().name(),
        "service_request_updates"
    );
    let answer = child(doc.root_element(), "request_update");
    assert_eq!(children(answer), ["update_id"]);
    let update_id = text(answer, "update_id").to_owned();
    assert!(!update_id.is_empty());
    // Posted again (FixMyStreet retries): the same update, once.
    let again = post_to(&app, "servicerequestupdates.json", &update).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Json>().await.unwrap()[0]["update_id"],
        update_id
    );

    // The officer reads it on the report's timeline.
    let report = app
        .get_json_as(&format!("/v1/officer/reports/{id}"), &officer)
        .await;
    let notes: Vec<&Json> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor_role"] == "open311" && e["kind"] == "comment")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["id"], update_id);
    assert_eq!(notes[0]["note"], "Ổ gà đã rộng gấp đôi, xe máy vừa ngã");
    assert_eq!(notes[0]["details"]["media_urls"], json!([photo]));
    assert_eq!(notes[0]["details"]["status"], "OPEN");
    // The public does not: neither the note nor who wrote it.
    let public = app
        .get_json_as(&format!("/v1/reports/{id}"), &stranger)
        .await
        .to_string();
    assert!(!public.contains("xe máy vừa ngã") && !public.contains("an.nguyen"));

    // The spec's errors.
    let with = |changes: &[(&'static str, &'static str)]| {
        let mut fields = update.to_vec();
        for (key, value) in changes {
            fields.retain(|(k, _)| k != key);
            if !value.is_empty() {
                fields.push((key, value));
            }
        }
        fields
    };
    let refused = post_to(
        &app,
        "servicerequestupdates.json",
        &with(&[("api_key", "o311_wrong")]),
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<Json>().await.unwrap()[0]["code"], 403);
    let nowhere = with(&[
        ("service_request_id", "0190b2c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d"),
        ("update_id", "fms-1"),
    ]);
    assert_eq!(
        post_to(&app, "servicerequestupdates.json", &nowhere)
            .await
            .status(),
        404
    );
    for bad in [
        with(&[("update_id", "")]),
        with(&[("update_id", "fms-2"), ("status", "MAYBE")]),
        with(&[
            ("update_id", "fms-3"),
            ("description", ""),
            ("media_url", ""),
        ]),
    ] {
        assert_eq!(
            post_to(&app, "servicerequestupdates.json", &bad)
                .await
                .status(),
            400
        );
    }
    app.stop().await;
}
in_both_modes!(a_follow_up_posted_through_open311_reaches_the_officer_once);

async fn open311_answers_follow_the_spec_schemas(mode: Mode) {
    let app = spawn_city(mode).await;
    let admin = app.staff_token("hue.admin").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let resident = app.resident_token().await;
    let key = issue_key(&app, &admin, 100).await["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (lat, lng) = (PHU_XUAN.0.to_string(), PHU_XUAN.1.to_string());
    let pothole = [
        ("api_key", key.as_str()),
        ("service_code", "pothole"),
        ("lat", lat.as_str()),
        ("long", lng.as_str()),
        ("attribute[size]", "large"),
        ("attribute[depth_cm]", "15"),
        ("description", "Ổ gà"),
    ];
    // The client's account id comes back when it gave one.
    let mut with_account = pothole.to_vec();
    with_account.push(("account_id", "fms-user-7"));
    let created: Json = post(&app, "json", &with_account)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(created[0]["account_id"], "fms-user-7");
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // No photo: `media_url` is null, not "" (the schema's URL or null); a whole number stays
    // whole.
    let request = extended(&app, &id).await;
    assert_eq!(request["media_url"], Json::Null);
    assert_eq!(request["attributes"]["depth_cm"], "15");
    let report = app
        .get_json_as(&format!("/v1/officer/reports/{id}"), &officer)
        .await;
    assert_eq!(report["answers"]["depth_cm"], 15);
    // A photo filed in the app: its URL.
    let photo = upload_photo(&app, &resident).await;
    let with_photo = file_in_app(
        &app,
        &resident,
        json!({ "category": "pothole", "latitude": PHU_XUAN.0, "longitude": PHU_XUAN.1,
                "description": "Ổ gà", "media_ids": [photo], "answers": { "size": "small" } }),
    )
    .await;
    assert!(
        extended(&app, &with_photo).await["media_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/media/{photo}/display"))
    );

    // A resolution's update carries its proof photo; an update without one, null.
    officer_act(
        &app,
        &officer,
        &id,
        "accept",
        json!({ "public_note": "Đã tiếp nhận" }),
    )
    .await;
    let proof = upload_photo(&app, &officer).await;
    officer_act(
        &app,
        &officer,
        &id,
        "resolve",
        json!({ "public_note": "Đã vá xong", "media_ids": [proof] }),
    )
    .await;
    let (_, updates) = json_doc(&app, "/open311/v2/servicerequestupdates.json").await;
    let updates: Vec<&Json> = updates
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["service_request_id"] == id.as_str())
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["status"], "INVESTIGATING");
    assert_eq!(updates[0]["media_url"], Json::Null);
    assert_eq!(updates[1]["status"], "FIXED");
    let proof_url = updates[1]["media_url"].as_str().unwrap();
    assert!(proof_url.starts_with("http://"));
    assert!(proof_url.ends_with(&format!("/v1/media/{proof}/display")));
    app.stop().await;
}
in_both_modes!(open311_answers_follow_the_spec_schemas);
