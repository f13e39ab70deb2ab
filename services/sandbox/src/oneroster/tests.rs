use std::collections::{BTreeMap, HashSet};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use super::*;
use crate::gateway::testing::{self, Answer};

const HOST: &str = "sandbox.test";
const ROSTERING: &str = "/ims/oneroster/rostering/v1p2";
const GRADEBOOK: &str = "/ims/oneroster/gradebook/v1p2";

fn app() -> Router {
    Router::new().nest("/sandbox/oneroster", router())
}

/// A request to `path` (after `/sandbox/oneroster`, or a full `http://sandbox.test/...` URL).
async fn call(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Answer {
    let uri = match path.strip_prefix(&format!("http://{HOST}")) {
        Some(rest) => rest.to_owned(),
        None => format!("/sandbox/oneroster{path}"),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", HOST);
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

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

async fn ask_token(app: &Router, authorization: &str, form: &[(&str, &str)]) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    call(
        app,
        "POST",
        "/token",
        &[
            ("authorization", authorization),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Some(body),
    )
    .await
}

/// An access token for `scopes` (every scope when empty).
async fn token(app: &Router, scopes: &[&str]) -> String {
    let scope = scopes.join(" ");
    let mut form = vec![("grant_type", "client_credentials")];
    if !scopes.is_empty() {
        form.push(("scope", &scope));
    }
    let answer = ask_token(app, &basic(CLIENT_ID, CLIENT_SECRET), &form).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.json()["access_token"].as_str().unwrap().to_owned()
}

async fn get(app: &Router, token: &str, path: &str) -> Answer {
    let bearer = format!("Bearer {token}");
    call(app, "GET", path, &[("authorization", &bearer)], None).await
}

async fn put(app: &Router, token: &str, path: &str, body: &Value) -> Answer {
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    call(app, "PUT", path, &headers, Some(body.to_string())).await
}

fn code_minor(answer: &Answer) -> String {
    let status = answer.json();
    assert_eq!(status["imsx_codeMajor"], "failure", "{}", answer.body);
    assert_eq!(status["imsx_severity"], "error");
    let field = &status["imsx_CodeMinor"]["imsx_codeMinorField"][0];
    assert_eq!(field["imsx_codeMinorFieldName"], "TargetEndSystem");
    field["imsx_codeMinorFieldValue"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn ids(answer: &Answer, key: &str) -> Vec<String> {
    answer.json()[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {}", answer.body))
        .iter()
        .map(|o| o["sourcedId"].as_str().unwrap().to_owned())
        .collect()
}

/// The `Link` header's targets by relation.
fn links(answer: &Answer) -> BTreeMap<String, String> {
    let header = answer.headers["link"].to_str().unwrap();
    header
        .split(", <")
        .map(|link| {
            let (target, rel) = link.split_once(">; rel=").unwrap();
            (
                rel.trim_matches('"').to_owned(),
                target.trim_start_matches('<').to_owned(),
            )
        })
        .collect()
}

fn total(answer: &Answer) -> usize {
    answer.headers["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn the_token_endpoint_takes_only_the_registered_client_and_known_scopes() {
    let app = app();
    let grant = [("grant_type", "client_credentials")];

    let wrong = ask_token(&app, &basic(CLIENT_ID, "not-the-secret"), &grant).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.json()["error"], "invalid_client");
    assert!(
        wrong.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let anonymous = call(
        &app,
        "POST",
        "/token",
        &[],
        Some("grant_type=client_credentials".into()),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["error"], "invalid_client");

    let client = basic(CLIENT_ID, CLIENT_SECRET);
    let password = ask_token(&app, &client, &[("grant_type", "password")]).await;
    assert_eq!(password.status, StatusCode::BAD_REQUEST);
    assert_eq!(password.json()["error"], "unsupported_grant_type");
    let unknown = [
        ("grant_type", "client_credentials"),
        (
            "scope",
            "https://purl.imsglobal.org/spec/or/v1p2/scope/everything",
        ),
    ];
    let unknown = ask_token(&app, &client, &unknown).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["error"], "invalid_scope");

    let all = ask_token(&app, &client, &grant).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.headers["cache-control"], "no-store");
    let granted = all.json();
    assert_eq!(granted["token_type"], "bearer");
    assert_eq!(granted["expires_in"], 3600);
    let scopes: HashSet<&str> = granted["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(
        scopes,
        HashSet::from([
            SCOPE_ROSTER_CORE_READONLY,
            SCOPE_ROSTER_READONLY,
            SCOPE_GRADEBOOK_READONLY,
            SCOPE_GRADEBOOK_CREATEPUT,
        ])
    );
    let some = [
        ("grant_type", "client_credentials"),
        ("scope", SCOPE_ROSTER_READONLY),
    ];
    let some = ask_token(&app, &client, &some).await.json();
    assert_eq!(some["scope"], SCOPE_ROSTER_READONLY);
    assert_ne!(some["access_token"], granted["access_token"]);
}

#[tokio::test]
async fn calls_without_a_live_bearer_token_are_unauthorised() {
    let app = app();
    let bare = call(&app, "GET", &format!("{ROSTERING}/schools"), &[], None).await;
    assert_eq!(bare.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code_minor(&bare), "unauthorisedrequest");
    assert!(
        bare.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let made_up = get(&app, "made-up", &format!("{GRADEBOOK}/results")).await;
    assert_eq!(made_up.status, StatusCode::UNAUTHORIZED);
    assert_eq!(code_minor(&made_up), "unauthorisedrequest");
    assert!(
        made_up.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    // Another sandbox's token is no good here either.
    let other = self::app();
    let elsewhere = token(&other, &[]).await;
    let foreign = get(&app, &elsewhere, &format!("{ROSTERING}/schools")).await;
    assert_eq!(foreign.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_is_good_only_for_its_scopes() {
    let app = app();
    let roster = token(&app, &[SCOPE_ROSTER_READONLY]).await;
    assert_eq!(
        get(&app, &roster, &format!("{ROSTERING}/users"))
            .await
            .status,
        StatusCode::OK
    );
    let results = get(&app, &roster, &format!("{GRADEBOOK}/results")).await;
    assert_eq!(results.status, StatusCode::FORBIDDEN);
    assert_eq!(code_minor(&results), "forbidden");
    assert!(
        results.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );

    let core = token(&app, &[SCOPE_ROSTER_CORE_READONLY]).await;
    assert_eq!(
        get(&app, &core, &format!("{ROSTERING}/schools"))
            .await
            .status,
        StatusCode::OK
    );
    let people = get(&app, &core, &format!("{ROSTERING}/students")).await;
    assert_eq!(people.status, StatusCode::FORBIDDEN);
    assert_eq!(code_minor(&people), "forbidden");

    let reader = token(&app, &[SCOPE_GRADEBOOK_READONLY]).await;
    assert_eq!(
        get(&app, &reader, &format!("{GRADEBOOK}/results"))
            .await
            .status,
        StatusCode::OK
    );
    let write = json!({ "result": { "scoreStatus": "fully graded" } });
    let refused = put(&app, &reader, &format!("{GRADEBOOK}/results/x"), &write).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn collections_page_with_a_total_count_and_links() {
    let app = app();
    let token = token(&app, &[]).await;
    let first = get(&app, &token, &format!("{ROSTERING}/users?limit=3")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(total(&first), 10, "3 pupils, 2 parents, 5 teachers");
    assert_eq!(ids(&first, "users").len(), 3);
    let base = format!("http://{HOST}/sandbox/oneroster{ROSTERING}/users");
    let relations = links(&first);
    assert_eq!(relations["first"], format!("{base}?limit=3&offset=0"));
    assert_eq!(relations["next"], format!("{base}?limit=3&offset=3"));
    assert_eq!(relations["last"], format!("{base}?limit=3&offset=9"));
    assert!(!relations.contains_key("prev"));

    let mut seen = ids(&first, "users");
    let mut next = relations.get("next").cloned();
    let mut pages = 1;
    while let Some(url) = next {
        let page = get(&app, &token, &url).await;
        assert_eq!(total(&page), 10);
        seen.extend(ids(&page, "users"));
        next = links(&page).get("next").cloned();
        pages += 1;
        if next.is_none() {
            assert_eq!(ids(&page, "users").len(), 1, "the last page has the tenth");
            assert!(links(&page).contains_key("prev"));
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 10);

    // The other parameters stay in the links; a limit over 1000 is 1000.
    let filter = format!("class='{PUPIL1_MATH_CLASS_2026}'");
    let filtered = get(
        &app,
        &token,
        &format!(
            "{GRADEBOOK}/lineItems?filter={}&limit=4&offset=4",
            encode(&filter)
        ),
    )
    .await;
    assert_eq!(
        total(&filtered),
        14,
        "5 + 2 in semester I, 4 + 2 and a duplicate in II"
    );
    let next = &links(&filtered)["next"];
    assert!(
        next.contains(&format!("filter={}", encode(&filter))),
        "{next}"
    );
    assert!(next.ends_with("limit=4&offset=8"), "{next}");
    assert!(links(&filtered)["prev"].ends_with("limit=4&offset=0"));
    let big = get(&app, &token, &format!("{GRADEBOOK}/lineItems?limit=5000")).await;
    assert!(ids(&big, "lineItems").len() > 100);
    assert!(links(&big)["last"].ends_with("limit=1000&offset=0"));
    assert!(!links(&big).contains_key("next"));
    let beyond = get(&app, &token, &format!("{ROSTERING}/users?offset=50")).await;
    assert!(ids(&beyond, "users").is_empty());
    assert_eq!(total(&beyond), 10);

    for bad in ["limit=0", "limit=-1", "limit=ten", "offset=-3"] {
        let refused = get(&app, &token, &format!("{ROSTERING}/users?{bad}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code_minor(&refused), "invalid_data");
    }
}

#[tokio::test]
async fn a_pupil_is_found_by_her_ministry_code() {
    let app = app();
    let token = token(&app, &[SCOPE_ROSTER_READONLY]).await;
    let filter = encode(&format!("identifier='{PUPIL1_CODE}'"));
    let found = get(
        &app,
        &token,
        &format!("{ROSTERING}/students?filter={filter}"),
    )
    .await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(ids(&found, "users"), vec![PUPIL1_ID]);
    assert_eq!(total(&found), 1);
    let han = &found.json()["users"][0];
    assert_eq!(han["familyName"], "Lê");
    assert_eq!(han["middleName"], "Ngọc");
    assert_eq!(han["givenName"], "Hân");
    assert_eq!(han["grades"], json!(["07"]));
    assert_eq!(han["roles"][0]["role"], "student");
    assert_eq!(han["roles"][0]["org"]["sourcedId"], PUPIL1_SCHOOL_ID);
    assert_eq!(
        han["roles"][0]["org"]["href"],
        format!("http://{HOST}/sandbox/oneroster{ROSTERING}/orgs/{PUPIL1_SCHOOL_ID}")
    );
    assert_eq!(han["agents"][0]["sourcedId"], PARENT_ID);
    assert!(han["dateLastModified"].as_str().unwrap().ends_with(".000Z"));

    let nobody = encode("identifier='4609999999'");
    let nobody = get(
        &app,
        &token,
        &format!("{ROSTERING}/students?filter={nobody}"),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert!(ids(&nobody, "users").is_empty());
    assert_eq!(total(&nobody), 0);

    // Students are users whose role is student; the parent is a user but no student.
    let parent = get(&app, &token, &format!("{ROSTERING}/students/{PARENT_ID}")).await;
    assert_eq!(parent.status, StatusCode::NOT_FOUND);
    assert_eq!(code_minor(&parent), "unknownobject");
    let user = get(&app, &token, &format!("{ROSTERING}/users/{PARENT_ID}")).await;
    assert_eq!(user.json()["user"]["phone"], PARENT_PHONE);
}

#[tokio::test]
async fn the_mother_has_two_children_at_two_schools() {
    let app = app();
    let token = token(&app, &[]).await;
    let mother = get(&app, &token, &format!("{ROSTERING}/users/{PARENT_ID}"))
        .await
        .json();
    let mother = &mother["user"];
    assert_eq!(mother["phone"], PARENT_PHONE);
    let children: Vec<&str> = mother["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sourcedId"].as_str().unwrap())
        .collect();
    assert_eq!(children, vec![PUPIL1_ID, PUPIL2_ID]);
    let roles: Vec<(&str, &str)> = mother["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["roleType"].as_str().unwrap(),
                r["org"]["sourcedId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            ("primary", PUPIL1_SCHOOL_ID),
            ("secondary", PUPIL2_SCHOOL_ID)
        ]
    );
    let khoi = get(&app, &token, &format!("{ROSTERING}/students/{PUPIL2_ID}"))
        .await
        .json();
    assert_eq!(khoi["user"]["identifier"], PUPIL2_CODE);
    assert_eq!(khoi["user"]["agents"][0]["sourcedId"], PARENT_ID);

    let father = encode(&format!("phone='{OTHER_PARENT_PHONE}'"));
    let father = get(&app, &token, &format!("{ROSTERING}/users?filter={father}")).await;
    assert_eq!(ids(&father, "users"), vec![OTHER_PARENT_ID]);
    assert_eq!(
        father.json()["users"][0]["agents"][0]["sourcedId"],
        PUPIL3_ID
    );
}

#[tokio::test]
async fn filters_sorts_and_selections_are_checked() {
    let app = app();
    let token = token(&app, &[]).await;
    let users = |query: String| {
        let (app, token) = (app.clone(), token.clone());
        async move { get(&app, &token, &format!("{ROSTERING}/users?{query}")).await }
    };

    for malformed in [
        "identifier=4601203417",
        "identifier='4601203417",
        "'4601203417'",
        "identifier=='4601203417'",
        "nickname='x'",
        "familyName='Lê' AND givenName='Hân' AND middleName='Ngọc'",
        "familyName='Lê' XOR givenName='Hân'",
        "dateLastModified>'yesterday'",
    ] {
        let refused = users(format!("filter={}", encode(malformed))).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{malformed}");
        assert_eq!(code_minor(&refused), "invalid_filter_field", "{malformed}");
    }

    let both = users(format!(
        "filter={}",
        encode("familyName='Lê' AND givenName='Khôi'")
    ))
    .await;
    assert_eq!(ids(&both, "users"), vec![PUPIL2_ID]);
    let either = users(format!(
        "filter={}&sort=givenName",
        encode("givenName='Khôi' OR givenName='Phúc'")
    ))
    .await;
    assert_eq!(ids(&either, "users"), vec![PUPIL2_ID, PUPIL3_ID]);
    let contains = users(format!("filter={}", encode("familyName~'lê'"))).await;
    assert_eq!(total(&contains), 3, "two pupils and a teacher");
    let not = users(format!("filter={}", encode("familyName!='Lê'"))).await;
    assert_eq!(total(&not), 7);
    let by_grade = users(format!("filter={}", encode("grades='11'"))).await;
    assert_eq!(ids(&by_grade, "users"), vec![PUPIL3_ID]);
    let by_role_org = users(format!(
        "filter={}",
        encode(&format!("primaryOrg='{PUPIL2_SCHOOL_ID}'"))
    ))
    .await;
    assert_eq!(total(&by_role_org), 3, "Khôi and his two teachers");

    let sorted = users("sort=familyName&orderBy=desc".to_owned())
        .await
        .json();
    let names: Vec<&str> = sorted["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["familyName"].as_str().unwrap())
        .collect();
    let mut expected = names.clone();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(names, expected);
    let unknown_sort = users("sort=nickname".to_owned()).await;
    assert_eq!(unknown_sort.status, StatusCode::BAD_REQUEST);
    assert_eq!(code_minor(&unknown_sort), "invalid_sort_field");

    let selected = users(format!(
        "fields=sourcedId,givenName&filter={}",
        encode(&format!("sourcedId='{PUPIL1_ID}'"))
    ))
    .await
    .json();
    assert_eq!(
        selected["users"][0],
        json!({ "sourcedId": PUPIL1_ID, "givenName": "Hân" })
    );
    let one = get(
        &app,
        &token,
        &format!("{ROSTERING}/users/{PUPIL1_ID}?fields=identifier"),
    )
    .await
    .json();
    assert_eq!(one, json!({ "user": { "identifier": PUPIL1_CODE } }));
    let unknown_field = users("fields=sourcedId,nickname".to_owned()).await;
    assert_eq!(unknown_field.status, StatusCode::BAD_REQUEST);
    assert_eq!(code_minor(&unknown_field), "invalid_selection_field");

    // Numbers compare as numbers, dates as dates.
    let scores = get(
        &app,
        &token,
        &format!(
            "{GRADEBOOK}/results?filter={}",
            encode(&format!("student='{PUPIL1_ID}' AND score>='9.5'"))
        ),
    )
    .await
    .json();
    let high: Vec<f64> = scores["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["score"].as_f64().unwrap())
        .collect();
    assert!(
        !high.is_empty() && high.iter().all(|s| *s >= 9.5),
        "{high:?}"
    );
    let terms = get(
        &app,
        &token,
        &format!(
            "{ROSTERING}/terms?filter={}",
            encode("startDate>='2026-01-01'")
        ),
    )
    .await;
    assert_eq!(
        ids(&terms, "academicSessions"),
        vec!["2025-2026-hk2", "2026-2027-hk1", "2026-2027-hk2"]
    );
}

#[tokio::test]
async fn results_are_polled_by_date_last_modified() {
    let app = app();
    let token = token(&app, &[SCOPE_GRADEBOOK_READONLY]).await;
    let all = get(&app, &token, &format!("{GRADEBOOK}/results?limit=1000")).await;
    let all = all.json()["results"].as_array().unwrap().clone();
    let now = chrono::Utc::now();
    let week_ago = instant(now - chrono::Duration::days(7));
    let in_the_week: Vec<&Value> = all
        .iter()
        .filter(|r| r["dateLastModified"].as_str().unwrap() > week_ago.as_str())
        .collect();
    assert!(!in_the_week.is_empty());

    let filter = encode(&format!("dateLastModified>'{week_ago}'"));
    let recent = get(
        &app,
        &token,
        &format!("{GRADEBOOK}/results?filter={filter}"),
    )
    .await;
    assert_eq!(recent.status, StatusCode::OK);
    assert_eq!(total(&recent), in_the_week.len());
    for result in recent.json()["results"].as_array().unwrap() {
        let modified = result["dateLastModified"].as_str().unwrap();
        assert!(modified > week_ago.as_str() && modified < instant(now).as_str());
    }

    // The semester in progress: distinct dates within the last four weeks, no finals yet.
    let month_ago = instant(now - chrono::Duration::days(29));
    let in_progress: Vec<&Value> = all
        .iter()
        .filter(|r| {
            r["lineItem"]["sourcedId"]
                .as_str()
                .unwrap()
                .contains("2026-2027-")
        })
        .collect();
    assert!(in_progress.len() > 30);
    let dates: HashSet<&str> = in_progress
        .iter()
        .map(|r| r["dateLastModified"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), in_progress.len());
    assert!(dates.iter().all(|d| *d > month_ago.as_str()));
    assert!(in_progress.iter().all(|r| {
        r["lineItem"]["sourcedId"]
            .as_str()
            .unwrap()
            .contains("-hk1-")
    }));
    assert!(!in_progress.iter().any(|r| {
        r["lineItem"]["sourcedId"]
            .as_str()
            .unwrap()
            .ends_with("-ck")
    }));
    // A zone's `+`, unencoded, arrives as a space and still reads as an instant.
    let local = (now - chrono::Duration::days(7))
        .with_timezone(&local_offset())
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
    let unencoded = encode(&format!("dateLastModified>'{local}'")).replace("%2B", "+");
    let same = get(
        &app,
        &token,
        &format!("{GRADEBOOK}/results?filter={unencoded}"),
    )
    .await;
    assert_eq!(same.status, StatusCode::OK, "{}", same.body);
    assert_eq!(total(&same), in_the_week.len());
}

#[tokio::test]
async fn a_students_classes_span_both_school_years() {
    let app = app();
    let token = token(&app, &[SCOPE_ROSTER_READONLY]).await;
    let classes = get(
        &app,
        &token,
        &format!("{ROSTERING}/students/{PUPIL1_ID}/classes"),
    )
    .await;
    assert_eq!(classes.status, StatusCode::OK);
    let classes = classes.json()["classes"].as_array().unwrap().clone();
    assert_eq!(classes.len(), 26, "a homeroom and 12 subjects, each year");
    let homerooms: Vec<&str> = classes
        .iter()
        .filter(|c| c["classType"] == "homeroom")
        .map(|c| c["sourcedId"].as_str().unwrap())
        .collect();
    assert_eq!(homerooms, vec![PUPIL1_HOMEROOM_2026, PUPIL1_HOMEROOM_2027]);
    let math = classes
        .iter()
        .find(|c| c["sourcedId"] == PUPIL1_MATH_CLASS_2026)
        .unwrap();
    assert_eq!(math["title"], "Toán 6/2");
    assert_eq!(math["classType"], "scheduled");
    assert_eq!(math["grades"], json!(["06"]));
    assert_eq!(math["subjectCodes"], json!(["toan"]));
    assert_eq!(math["metadata"]["assessment"], "scored");
    assert_eq!(math["metadata"]["periodsPerYear"], 140);
    let terms: Vec<&str> = math["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["sourcedId"].as_str().unwrap())
        .collect();
    assert_eq!(terms, vec!["2025-2026-hk1", "2025-2026-hk2"]);
    let pe = classes
        .iter()
        .find(|c| c["sourcedId"] == "ntp-2026-2027-7-2-gdtc")
        .unwrap();
    assert_eq!(pe["metadata"]["assessment"], "comment");
    assert_eq!(pe["title"], "Giáo dục thể chất 7/2");

    let core = token_for_core(&app).await;
    let course = get(
        &app,
        &core,
        &format!(
            "{ROSTERING}/courses/{}",
            math["course"]["sourcedId"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(course.json()["course"]["title"], "Toán 6");

    let primary = get(
        &app,
        &token,
        &format!("{ROSTERING}/students/{PUPIL2_ID}/classes"),
    )
    .await
    .json();
    let tested: Vec<&str> = primary["classes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metadata"]["tested"] == true && c["grades"][0] == "03")
        .map(|c| c["subjectCodes"][0].as_str().unwrap())
        .collect();
    assert_eq!(
        tested,
        vec!["tieng_viet", "toan", "tieng_anh", "tin_hoc_cong_nghe"]
    );

    let nobody = get(
        &app,
        &token,
        &format!("{ROSTERING}/students/nobody/classes"),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert_eq!(code_minor(&nobody), "unknownobject");
}

async fn token_for_core(app: &Router) -> String {
    token(app, &[SCOPE_ROSTER_CORE_READONLY]).await
}

#[tokio::test]
async fn schools_carry_citizens_profile() {
    let app = app();
    let token = token_for_core(&app).await;
    let schools = get(&app, &token, &format!("{ROSTERING}/schools")).await;
    let schools = schools.json()["orgs"].as_array().unwrap().clone();
    assert_eq!(schools.len(), 15);
    let wards: HashSet<&str> = data::WARDS.into_iter().collect();
    let mut levels = HashSet::new();
    for school in &schools {
        assert_eq!(school["type"], "school");
        assert_eq!(school["parent"]["sourcedId"], DEPARTMENT_ID);
        let meta = &school["metadata"];
        assert!(wards.contains(meta["ward"].as_str().unwrap()), "{school}");
        let enrols = meta["enrolmentWards"].as_array().unwrap();
        assert!(enrols.iter().all(|w| wards.contains(w.as_str().unwrap())));
        let lat = meta["latitude"].as_f64().unwrap();
        let lng = meta["longitude"].as_f64().unwrap();
        assert!((16.3..16.6).contains(&lat) && (107.4..107.8).contains(&lng));
        assert!(meta["phone"].as_str().unwrap().starts_with("+84"));
        assert_eq!(school["identifier"].as_str().unwrap().len(), 8);
        if meta["ownership"] == "private" {
            assert!(enrols.is_empty());
        }
        levels.extend(
            meta["levels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(levels.len(), 4);
    assert!(
        schools
            .iter()
            .any(|s| s["metadata"]["levels"].as_array().unwrap().len() == 2)
    );
    let quoc_hoc = get(
        &app,
        &token,
        &format!("{ROSTERING}/schools/{PUPIL3_SCHOOL_ID}"),
    )
    .await
    .json();
    assert_eq!(quoc_hoc["org"]["metadata"]["ward"], "thuan-hoa");
    assert_eq!(quoc_hoc["org"]["metadata"]["latitude"], 16.4617);

    let department = get(&app, &token, &format!("{ROSTERING}/orgs/{DEPARTMENT_ID}"))
        .await
        .json();
    assert_eq!(department["org"]["type"], "district");
    assert_eq!(department["org"]["children"].as_array().unwrap().len(), 15);
    let not_a_school = get(
        &app,
        &token,
        &format!("{ROSTERING}/schools/{DEPARTMENT_ID}"),
    )
    .await;
    assert_eq!(not_a_school.status, StatusCode::NOT_FOUND);

    let their_classes = get(
        &app,
        &token,
        &format!("{ROSTERING}/schools/{PUPIL2_SCHOOL_ID}/classes"),
    )
    .await;
    assert_eq!(total(&their_classes), 2 + 10 + 11);

    let years = get(
        &app,
        &token,
        &format!(
            "{ROSTERING}/academicSessions?filter={}",
            encode("type='schoolYear'")
        ),
    )
    .await;
    assert_eq!(
        ids(&years, "academicSessions"),
        vec![SCHOOL_YEAR_2026, SCHOOL_YEAR_2027]
    );
    let term = get(&app, &token, &format!("{ROSTERING}/terms/2026-2027-hk2"))
        .await
        .json();
    let term = &term["academicSession"];
    assert_eq!(term["title"], "Học kì II");
    assert_eq!(term["parent"]["sourcedId"], SCHOOL_YEAR_2027);
    assert_eq!(term["metadata"]["semester"], 2);
    assert_eq!(term["endDate"], "2027-05-31");
}

/// `result` for `line_item` and `student`.
fn result(line_item: &str, student: &str, mark: Value) -> Value {
    let mut result = json!({
        "lineItem": { "sourcedId": line_item, "type": "lineItem" },
        "student": { "sourcedId": student, "type": "student" },
        "scoreStatus": "fully graded",
    });
    for (key, value) in mark.as_object().unwrap() {
        result[key] = value.clone();
    }
    json!({ "result": result })
}

#[tokio::test]
async fn a_published_result_is_found_by_the_next_poll() {
    let app = app();
    let token = token(&app, &[]).await;
    let line_item = "ntp-2026-2027-7-2-toan-hk1-tx4";
    let id = format!("{line_item}-{PUPIL1_ID}");
    let before = instant(chrono::Utc::now());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let body = result(
        line_item,
        PUPIL1_ID,
        json!({ "score": 9.5, "comment": "Bài kiểm tra 15 phút làm tốt." }),
    );
    let created = put(&app, &token, &format!("{GRADEBOOK}/results/{id}"), &body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let stored = created.json()["result"].clone();
    assert_eq!(stored["sourcedId"], id.as_str());
    assert_eq!(stored["score"], 9.5);
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["class"]["sourcedId"], "ntp-2026-2027-7-2-toan");
    assert!(stored["dateLastModified"].as_str().unwrap() > before.as_str());
    assert!(stored["scoreDate"].as_str().unwrap().len() == 10);

    let filter = encode(&format!("dateLastModified>'{before}'"));
    let polled = get(
        &app,
        &token,
        &format!("{GRADEBOOK}/results?filter={filter}"),
    )
    .await;
    assert_eq!(ids(&polled, "results"), vec![id.clone()]);
    assert_eq!(
        polled.json()["results"][0]["comment"],
        "Bài kiểm tra 15 phút làm tốt."
    );

    // A correction replaces it, newer still.
    let corrected = result(line_item, PUPIL1_ID, json!({ "score": 9.0 }));
    let replaced = put(
        &app,
        &token,
        &format!("{GRADEBOOK}/results/{id}"),
        &corrected,
    )
    .await;
    assert_eq!(replaced.status, StatusCode::OK);
    let read = get(&app, &token, &format!("{GRADEBOOK}/results/{id}")).await;
    assert_eq!(read.json()["result"]["score"], 9.0);
    assert!(read.json()["result"].get("comment").is_none());
    let theirs = get(
        &app,
        &token,
        &format!("{GRADEBOOK}/classes/ntp-2026-2027-7-2-toan/students/{PUPIL1_ID}/results"),
    )
    .await;
    assert_eq!(
        total(&theirs),
        5,
        "three regular scores, the midterm and the new one"
    );

    // Marked in words: a comment-only subject, a primary level.
    let gddp = "ntp-2026-2027-7-2-gddp-hk1-tx2";
    let text = result(gddp, PUPIL1_ID, json!({ "textScore": "Đ" }));
    let text = put(
        &app,
        &token,
        &format!("{GRADEBOOK}/results/{gddp}-{PUPIL1_ID}"),
        &text,
    )
    .await;
    assert_eq!(text.status, StatusCode::CREATED, "{}", text.body);
    let test = "leloi-2026-2027-4-1-toan-hk1-ck";
    let whole = result(test, PUPIL2_ID, json!({ "score": 10 }));
    let whole = put(
        &app,
        &token,
        &format!("{GRADEBOOK}/results/{test}-{PUPIL2_ID}"),
        &whole,
    )
    .await;
    assert_eq!(whole.status, StatusCode::CREATED, "{}", whole.body);
}

#[tokio::test]
async fn results_that_break_the_rules_are_refused() {
    let app = app();
    let token = token(&app, &[]).await;
    let line_item = "ntp-2026-2027-7-2-toan-hk1-tx4";
    let path = format!("{GRADEBOOK}/results/{line_item}-{PUPIL1_ID}");
    let refused = |body: Value, field: &'static str| {
        let (app, token, path) = (app.clone(), token.clone(), path.clone());
        async move {
            let answer = put(&app, &token, &path, &body).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{field}: {}",
                answer.body
            );
            assert_eq!(code_minor(&answer), "invalid_data");
            let description = answer.json()["imsx_description"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(description.contains(field), "{field}: {description}");
        }
    };
    refused(
        result(line_item, PUPIL1_ID, json!({ "score": 11.0 })),
        "result.score",
    )
    .await;
    refused(
        result(line_item, PUPIL1_ID, json!({ "score": -0.5 })),
        "result.score",
    )
    .await;
    refused(
        result(line_item, PUPIL1_ID, json!({ "score": "9" })),
        "result.score",
    )
    .await;
    refused(result(line_item, PUPIL1_ID, json!({})), "result.score").await;
    refused(
        result(line_item, PUPIL3_ID, json!({ "score": 8.0 })),
        "result.student",
    )
    .await;
    refused(
        result(line_item, PARENT_ID, json!({ "score": 8.0 })),
        "result.student",
    )
    .await;
    refused(
        result("no-such-item", PUPIL1_ID, json!({ "score": 8.0 })),
        "result.lineItem",
    )
    .await;
    refused(
        result(
            line_item,
            PUPIL1_ID,
            json!({ "score": 8.0, "scoreStatus": "done" }),
        ),
        "result.scoreStatus",
    )
    .await;
    refused(
        result(
            line_item,
            PUPIL1_ID,
            json!({ "score": 8.0, "sourcedId": "other" }),
        ),
        "result.sourcedId",
    )
    .await;
    refused(
        result(
            line_item,
            PUPIL1_ID,
            json!({ "score": 8.0, "class": { "sourcedId": "ntp-2026-2027-7-2-khtn" } }),
        ),
        "result.class",
    )
    .await;
    refused(
        result(
            line_item,
            PUPIL1_ID,
            json!({ "score": 8.0, "scoreDate": "07/12/2026" }),
        ),
        "result.scoreDate",
    )
    .await;
    refused(
        result(line_item, PUPIL1_ID, json!({ "score": 8.0, "grade": "A" })),
        "result.grade",
    )
    .await;
    refused(json!({ "score": 8.0 }), "result").await;

    let gddp = "ntp-2026-2027-7-2-gddp-hk1-tx2";
    let path = format!("{GRADEBOOK}/results/{gddp}-{PUPIL1_ID}");
    for body in [
        result(gddp, PUPIL1_ID, json!({ "textScore": "A" })),
        result(gddp, PUPIL1_ID, json!({ "textScore": "Đ", "score": 8.0 })),
    ] {
        let answer = put(&app, &token, &path, &body).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
        assert_eq!(code_minor(&answer), "invalid_data");
    }
    let test = "leloi-2026-2027-4-1-toan-hk1-ck";
    let half = result(test, PUPIL2_ID, json!({ "score": 8.5 }));
    let half = put(
        &app,
        &token,
        &format!("{GRADEBOOK}/results/{test}-{PUPIL2_ID}"),
        &half,
    )
    .await;
    assert_eq!(half.status, StatusCode::BAD_REQUEST);
    assert_eq!(code_minor(&half), "invalid_data");

    let not_json = call(
        &app,
        "PUT",
        &path,
        &[("authorization", &format!("Bearer {token}"))],
        Some("score=8".to_owned()),
    )
    .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(code_minor(&not_json), "invalid_data");

    // Nothing of it was stored.
    let all = get(
        &app,
        &token,
        &format!("{GRADEBOOK}/results/{line_item}-{PUPIL1_ID}"),
    )
    .await;
    assert_eq!(all.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_objects_and_paths_are_unknown() {
    let app = app();
    let token = token(&app, &[]).await;
    for path in [
        format!("{ROSTERING}/classes/nope"),
        format!("{ROSTERING}/orgs/nope"),
        format!("{GRADEBOOK}/lineItems/nope"),
        format!("{GRADEBOOK}/results/nope"),
        format!("{GRADEBOOK}/classes/nope/lineItems"),
        format!("{GRADEBOOK}/classes/{PUPIL1_MATH_CLASS_2026}/students/nope/results"),
        format!("{ROSTERING}/demographics"),
        "/ims/oneroster/rostering/v1p1/orgs".to_owned(),
    ] {
        let answer = get(&app, &token, &path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(code_minor(&answer), "unknownobject", "{path}");
    }
    let bearer = format!("Bearer {token}");
    let delete = call(
        &app,
        "DELETE",
        &format!("{ROSTERING}/orgs/{DEPARTMENT_ID}"),
        &[("authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn faults_go_down_slow_and_garbled_then_back_to_normal() {
    let app = app();
    let token = token(&app, &[]).await;
    let fault = |body: Value| {
        let app = app.clone();
        async move {
            let answer = testing::post_json(&app, "/sandbox/oneroster/faults", &body).await;
            assert_eq!(answer.status, StatusCode::NO_CONTENT);
        }
    };
    let schools = format!("{ROSTERING}/schools");
    fault(json!({ "mode": "down", "times": 1 })).await;
    let down = get(&app, &token, &schools).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(down.headers["retry-after"], "30");
    assert_eq!(code_minor(&down), "server_busy");
    assert_eq!(get(&app, &token, &schools).await.status, StatusCode::OK);

    fault(json!({ "mode": "down", "retry_after_secs": 5, "method": "PUT" })).await;
    assert_eq!(get(&app, &token, &schools).await.status, StatusCode::OK);
    let body = result("x", PUPIL1_ID, json!({ "score": 8.0 }));
    let refused = put(&app, &token, &format!("{GRADEBOOK}/results/x"), &body).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers["retry-after"], "5");
    fault(json!({ "mode": null, "method": "PUT" })).await;

    fault(json!({ "mode": "garbage" })).await;
    let garbage = get(&app, &token, &schools).await;
    assert_eq!(garbage.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&garbage.body).is_err());
    fault(json!({ "mode": null })).await;
    assert_eq!(
        get(&app, &token, &schools).await.json()["orgs"]
            .as_array()
            .unwrap()
            .len(),
        15
    );

    fault(json!({ "mode": "slow", "delay_ms": 200, "times": 1 })).await;
    let started = std::time::Instant::now();
    assert_eq!(get(&app, &token, &schools).await.status, StatusCode::OK);
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    get(&app, &token, &schools).await;
    assert!(started.elapsed() < std::time::Duration::from_millis(200));
}

// --- The rules, recomputed from what is served ---

/// A score in tenths.
fn tenths(score: f64) -> u64 {
    (score * 10.0).round() as u64
}

fn shown(tenths: u64) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// `numerator / denominator`, half up.
fn half_up(numerator: u64, denominator: u64) -> u64 {
    (2 * numerator + denominator) / (2 * denominator)
}

/// One class's active marks for a student: (semester, category, line item title, result).
async fn marks(app: &Router, token: &str, class: &str, student: &str) -> Vec<(u8, String, Value)> {
    let items = get(
        app,
        token,
        &format!("{GRADEBOOK}/classes/{class}/lineItems?limit=1000"),
    )
    .await
    .json();
    let items: Vec<Value> = items["lineItems"].as_array().unwrap().clone();
    let results = get(
        app,
        token,
        &format!("{GRADEBOOK}/classes/{class}/students/{student}/results?limit=1000"),
    )
    .await
    .json();
    results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "active")
        .filter_map(|r| {
            let item = items.iter().find(|i| {
                i["sourcedId"] == r["lineItem"]["sourcedId"] && i["status"] == "active"
            })?;
            let semester = if item["gradingPeriod"]["sourcedId"]
                .as_str()
                .unwrap()
                .ends_with("hk1")
            {
                1
            } else {
                2
            };
            let category = item["category"]["sourcedId"].as_str().unwrap().to_owned();
            Some((semester, category, r.clone()))
        })
        .collect()
}

/// Circular 22's learning level from scored averages (tenths) and comment-only results.
fn level(averages: &[u64], comments_passed: &[bool]) -> &'static str {
    let failed = comments_passed.iter().filter(|p| !**p).count();
    let all_at_least = |floor| averages.iter().all(|a| *a >= floor);
    let six_at_least = |upper| averages.iter().filter(|a| **a >= upper).count() >= 6;
    if failed == 0 && all_at_least(65) && six_at_least(80) {
        "Tốt"
    } else if failed == 0 && all_at_least(50) && six_at_least(65) {
        "Khá"
    } else if failed <= 1 && all_at_least(35) && six_at_least(50) {
        "Đạt"
    } else {
        "Chưa đạt"
    }
}

#[tokio::test]
async fn pupil_ones_served_marks_give_the_documented_averages_and_levels() {
    let app = app();
    let token = token(&app, &[]).await;
    let classes = get(
        &app,
        &token,
        &format!(
            "{ROSTERING}/students/{PUPIL1_ID}/classes?filter={}",
            encode(&format!("terms='{SCHOOL_YEAR_2026}-hk1'"))
        ),
    )
    .await
    .json();
    let classes = classes["classes"].as_array().unwrap().clone();
    assert_eq!(classes.len(), 13);

    // (subject, [S1, S2] averages) and comment-only subjects' [S1, S2] results.
    let mut averages: Vec<(String, [u64; 2])> = Vec::new();
    let mut comments: Vec<[bool; 2]> = Vec::new();
    let mut conduct = Vec::new();
    for class in &classes {
        let id = class["sourcedId"].as_str().unwrap();
        let marks = marks(&app, &token, id, PUPIL1_ID).await;
        let periods = class["metadata"]["periodsPerYear"].as_u64().unwrap_or(0);
        let required = match periods {
            0..=35 => 2,
            36..=70 => 3,
            _ => 4,
        };
        let of = |semester: u8, category: &str| -> Vec<&Value> {
            marks
                .iter()
                .filter(|(s, c, _)| *s == semester && c == category)
                .map(|(_, _, r)| r)
                .collect()
        };
        match class["metadata"]["assessment"].as_str() {
            Some("scored") => {
                let mut both = [0; 2];
                for semester in [1, 2] {
                    let score = |r: &&Value| tenths(r["score"].as_f64().unwrap());
                    let regular: Vec<u64> = of(semester, "tx").iter().map(score).collect();
                    let (midterm, last) = (of(semester, "gk"), of(semester, "ck"));
                    assert!(regular.len() >= required, "{id}");
                    assert_eq!((midterm.len(), last.len()), (1, 1), "{id}");
                    let sum =
                        regular.iter().sum::<u64>() + 2 * score(&midterm[0]) + 3 * score(&last[0]);
                    both[usize::from(semester - 1)] = half_up(sum, regular.len() as u64 + 5);
                }
                let code = class["subjectCodes"][0].as_str().unwrap().to_owned();
                averages.push((code, both));
            }
            Some("comment") => {
                let mut both = [false; 2];
                for semester in [1, 2] {
                    let passed = |r: &&Value| r["textScore"] == "Đ";
                    let regular = of(semester, "tx");
                    let (midterm, last) = (of(semester, "gk"), of(semester, "ck"));
                    assert!(regular.len() >= required, "{id}");
                    let all: Vec<&Value> = regular
                        .iter()
                        .chain(&midterm)
                        .chain(&last)
                        .copied()
                        .collect();
                    let ok = all.iter().filter(|r| passed(r)).count();
                    both[usize::from(semester - 1)] = passed(&last[0]) && 3 * ok >= 2 * all.len();
                    if id.ends_with("-hdtn") && semester == 1 {
                        assert_eq!((ok, all.len()), (4, 6), "exactly 2/3 Đạt, the final Đạt");
                    }
                }
                comments.push(both);
            }
            _ => {
                for semester in [1, 2] {
                    conduct.push(of(semester, "ren-luyen")[0]["textScore"].clone());
                }
            }
        }
    }
    assert_eq!(averages.len(), 8);
    assert_eq!(comments.len(), 4);
    assert_eq!(conduct, PUPIL1_2026_CONDUCT.map(Value::from).to_vec());

    let math = averages.iter().find(|(code, _)| code == "toan").unwrap().1;
    assert_eq!(shown(math[0]), PUPIL1_2026_MATH_S1);
    assert_eq!(shown(math[1]), PUPIL1_2026_MATH_S2);
    assert_eq!(
        shown(half_up(math[0] + 2 * math[1], 3)),
        PUPIL1_2026_MATH_YEAR
    );
    // The half-up case: 76.5 / 10 exactly, which half-even or truncating would make 7.6.
    let math_marks = marks(&app, &token, PUPIL1_MATH_CLASS_2026, PUPIL1_ID).await;
    let (mut weighted, mut regulars) = (0, 0);
    for (_, category, result) in math_marks.iter().filter(|(s, _, _)| *s == 1) {
        let weight = match category.as_str() {
            "tx" => {
                regulars += 1;
                1
            }
            "gk" => 2,
            _ => 3,
        };
        weighted += weight * tenths(result["score"].as_f64().unwrap());
    }
    assert_eq!(
        (weighted, regulars + 5),
        (765, 10),
        "five regular scores, midterm, final"
    );
    assert_eq!(half_up(765, 10), 77);

    let first: Vec<u64> = averages.iter().map(|(_, a)| a[0]).collect();
    let second: Vec<u64> = averages.iter().map(|(_, a)| a[1]).collect();
    let year: Vec<u64> = averages
        .iter()
        .map(|(_, a)| half_up(a[0] + 2 * a[1], 3))
        .collect();
    let passed = |semester: usize| -> Vec<bool> { comments.iter().map(|c| c[semester]).collect() };
    assert!(passed(0).iter().chain(&passed(1)).all(|p| *p));
    assert_eq!(level(&first, &passed(0)), PUPIL1_2026_S1_LEVEL);
    assert_eq!(level(&second, &passed(1)), PUPIL1_2026_S2_LEVEL);
    // The year: scored subjects by their year averages, comment-only ones by semester II.
    assert_eq!(level(&year, &passed(1)), PUPIL1_2026_YEAR_LEVEL);

    // The duplicate entered by mistake is served, as tobedeleted.
    let all = get(
        &app,
        &token,
        &format!(
            "{GRADEBOOK}/results?filter={}",
            encode("status='tobedeleted'")
        ),
    )
    .await;
    assert_eq!(total(&all), 1);
    assert_eq!(all.json()["results"][0]["score"], 5.0);
}

#[tokio::test]
async fn pupil_twos_year_is_completed_well() {
    let app = app();
    let token = token(&app, &[]).await;
    let classes = get(
        &app,
        &token,
        &format!(
            "{ROSTERING}/students/{PUPIL2_ID}/classes?filter={}",
            encode(&format!("terms='{SCHOOL_YEAR_2026}-hk2'"))
        ),
    )
    .await
    .json();
    let classes = classes["classes"].as_array().unwrap().clone();
    assert_eq!(classes.len(), 11);
    let (mut levels, mut tests, mut traits) = (Vec::new(), Vec::new(), Vec::new());
    for class in &classes {
        let id = class["sourcedId"].as_str().unwrap();
        let marks = marks(&app, &token, id, PUPIL2_ID).await;
        for (semester, category, result) in marks.into_iter().filter(|(s, _, _)| *s == 2) {
            assert_eq!(semester, 2);
            match category.as_str() {
                "muc-dat" => levels.push(result["textScore"].as_str().unwrap().to_owned()),
                "ck" => tests.push(result["score"].as_f64().unwrap()),
                "pham-chat" | "nang-luc" => {
                    traits.push(result["textScore"].as_str().unwrap().to_owned());
                }
                other => panic!("{other} in {id}"),
            }
        }
    }
    assert_eq!(levels.len(), 10);
    assert_eq!(tests.len(), 4);
    assert_eq!(traits.len(), 15);
    let all_well = levels.iter().all(|l| l == "T") && traits.iter().all(|t| t == "T");
    let result = if all_well && tests.iter().all(|t| *t >= 9.0) {
        "Hoàn thành xuất sắc"
    } else if all_well && tests.iter().all(|t| *t >= 7.0) {
        "Hoàn thành tốt"
    } else {
        "Hoàn thành or less"
    };
    assert_eq!(result, PUPIL2_2026_YEAR_RESULT);
}

#[tokio::test]
async fn the_sandbox_router_serves_it_under_sandbox_oneroster() {
    let app = crate::router();
    let token = token(&app, &[SCOPE_ROSTER_CORE_READONLY]).await;
    let orgs = get(&app, &token, &format!("{ROSTERING}/orgs")).await;
    assert_eq!(orgs.status, StatusCode::OK);
    assert_eq!(total(&orgs), 16);
}
