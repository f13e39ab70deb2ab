//! Education through the gateway, against the OneRoster and exam sandboxes on a port of their
//! own (like the department's systems elsewhere) and VNeID's sandbox for verification.

use education::config::{EducationConfig, OneRosterServer};
use reqwest::Method;
use sandbox::{exams, oneroster};
use serde_json::{Value, json};

use crate::health::verified;
use crate::helpers::{Mode, TestApp, client, poll_until, post_json, problem};
use crate::in_both_modes;
use crate::verification::{app_with, sandbox};

/// The app with the sandboxes at `provider` as Huế's school system and exam results, adjusted
/// by `adjust`; NATS between the processes when split.
async fn app_with_schools(
    mode: Mode,
    provider: &mobile_api::App,
    adjust: impl Fn(&mut EducationConfig) + Clone + Send + Sync + 'static,
) -> TestApp {
    let issuer = format!("http://{}/sandbox/vneid", provider.addr());
    let base = format!("http://{}/sandbox", provider.addr());
    let unique = uuid::Uuid::new_v4().simple().to_string();
    app_with(mode, &issuer, move |c| {
        // Education asks identity for the resident's jurisdiction and sends SMS through it.
        c.internal.service_token = Some("test-service-token".to_owned().into());
        // Erasures happen at once, every second.
        c.edit(|identity: &mut identity::config::IdentityConfig| {
            identity.erasure_grace_days = 0;
            identity.erasure_interval_secs = 1;
        });
        if matches!(mode, Mode::Split) {
            // New scores reach notifications as events, through NATS.
            crate::helpers::use_nats(c, &unique);
        }
        let (base, adjust) = (base.clone(), adjust.clone());
        c.edit(move |education: &mut EducationConfig| {
            education.systems.insert(
                "hue".to_owned(),
                OneRosterServer {
                    base_url: format!("{base}/oneroster"),
                    token_url: format!("{base}/oneroster/token"),
                    client_id: oneroster::CLIENT_ID.to_owned(),
                    client_secret: oneroster::CLIENT_SECRET.to_owned().into(),
                },
            );
            education
                .exam_results
                .insert("2026".to_owned(), format!("{base}/exams/2026/results.csv"));
            education.timeout_ms = 4_000;
            education.results_poll_ms = 200;
            education.exam_refresh_secs = 1;
            adjust(education);
        });
    })
    .await
}

/// Links the pupil with `code` to the parent holding `token`, reading the code from the SMS
/// the school's recorded `phone` received; the child's id.
async fn link(app: &TestApp, token: &str, code: &str, phone: &str) -> String {
    let started = post_json(
        app,
        "/v1/education/children/link",
        Some(token),
        &json!({ "student_code": code }),
    )
    .await;
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    let sms = app.last_code(phone).await;
    let confirmed = post_json(
        app,
        "/v1/education/children/link/confirm",
        Some(token),
        &json!({ "challenge_id": started["challenge_id"], "code": sms }),
    )
    .await;
    assert_eq!(confirmed.status(), 201);
    let child: Value = confirmed.json().await.unwrap();
    child["id"].as_str().unwrap().to_owned()
}

/// A subject of a semester in a grade report, by code.
fn subject<'a>(semester: &'a Value, code: &str) -> &'a Value {
    semester["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {semester}"))
}

fn semester(report: &Value, n: u64) -> &Value {
    report["semesters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["semester"] == n)
        .unwrap_or_else(|| panic!("no semester {n} in {report}"))
}

async fn a_parent_links_her_children_and_sees_their_results_by_the_circulars(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(mode, &provider, |_| {}).await;
    let token = verified(&app, &provider, "046190001234").await;

    // An account not verified with VNeID links no one.
    let basic = app.resident_token().await;
    let refused = post_json(
        &app,
        "/v1/education/children/link",
        Some(&basic),
        &json!({ "student_code": oneroster::PUPIL1_CODE }),
    )
    .await;
    problem(refused, 403, "verification_required").await;

    // A code nobody has; none at all, or one that could break out of the filter's quotes.
    let start = |code: &'static str| {
        let (app, token) = (&app, &token);
        async move {
            post_json(
                app,
                "/v1/education/children/link",
                Some(token),
                &json!({ "student_code": code }),
            )
            .await
        }
    };
    problem(start("4609999999").await, 404, "student_not_found").await;
    for code in ["", "46' OR '1'='1"] {
        problem(start(code).await, 422, "invalid_student_code").await;
    }

    // The code goes to the phone the school records, masked in the answer; a wrong code does
    // not link.
    let started = post_json(
        &app,
        "/v1/education/children/link",
        Some(&token),
        &json!({ "student_code": oneroster::PUPIL1_CODE }),
    )
    .await;
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    assert_eq!(started["sent_to"], "+8490****222");
    let sms = app.last_code(oneroster::PARENT_PHONE).await;
    let wrong = if sms == "000000" { "000001" } else { "000000" };
    let answer = post_json(
        &app,
        "/v1/education/children/link/confirm",
        Some(&token),
        &json!({ "challenge_id": started["challenge_id"], "code": wrong }),
    )
    .await;
    problem(answer, 422, "wrong_link_code").await;
    // Another account cannot use her challenge, even with the right code.
    let stranger = verified(&app, &provider, "046085009999").await;
    let answer = post_json(
        &app,
        "/v1/education/children/link/confirm",
        Some(&stranger),
        &json!({ "challenge_id": started["challenge_id"], "code": sms }),
    )
    .await;
    problem(answer, 404, "link_code_expired").await;
    let confirmed = post_json(
        &app,
        "/v1/education/children/link/confirm",
        Some(&token),
        &json!({ "challenge_id": started["challenge_id"], "code": sms }),
    )
    .await;
    assert_eq!(confirmed.status(), 201);
    let child: Value = confirmed.json().await.unwrap();
    assert_eq!(child["id"], oneroster::PUPIL1_ID);
    assert_eq!(child["name"], "Lê Ngọc Hân");
    // Used up.
    let again = post_json(
        &app,
        "/v1/education/children/link/confirm",
        Some(&token),
        &json!({ "challenge_id": started["challenge_id"], "code": sms }),
    )
    .await;
    problem(again, 404, "link_code_expired").await;

    // Her grade-6 year, by Circular 22: semester averages rounded half up, the year's average
    // weighted 1:2, the levels, and the conduct the form teacher gave.
    let path = format!(
        "/v1/education/children/{}/grades?school_year={}",
        oneroster::PUPIL1_ID,
        oneroster::SCHOOL_YEAR_2026
    );
    let report = app.get_json_as(&path, &token).await;
    assert_eq!(report["circular"], "22/2021/TT-BGDĐT", "{report}");
    assert_eq!(report["school_year"]["id"], oneroster::SCHOOL_YEAR_2026);
    assert_eq!(report["school_year"]["title"], "Năm học 2025-2026");
    let years: Vec<&Value> = report["school_years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| &y["id"])
        .collect();
    assert_eq!(
        years,
        [oneroster::SCHOOL_YEAR_2026, oneroster::SCHOOL_YEAR_2027]
    );
    let first = semester(&report, 1);
    let math = subject(first, "toan");
    assert_eq!(math["name"]["vi"], "Toán");
    assert_eq!(math["name"]["en"], "Mathematics");
    assert_eq!(
        math["average"].to_string(),
        oneroster::PUPIL1_2026_MATH_S1,
        "{math}"
    );
    assert!(math["missing"].is_null());
    assert!(math["marks"].as_array().unwrap().len() >= 7, "{math}");
    assert_eq!(
        subject(semester(&report, 2), "toan")["average"].to_string(),
        oneroster::PUPIL1_2026_MATH_S2,
        "a line item marked for deletion does not count"
    );
    assert_eq!(first["level"]["vi"], oneroster::PUPIL1_2026_S1_LEVEL);
    assert_eq!(first["level"]["code"], "kha");
    assert_eq!(
        semester(&report, 2)["level"]["vi"],
        oneroster::PUPIL1_2026_S2_LEVEL
    );
    assert_eq!(first["conduct"], oneroster::PUPIL1_2026_CONDUCT[0]);
    let pe = subject(first, "gdtc");
    assert_eq!(pe["assessment"], "comment");
    assert_eq!(pe["result"]["code"], "dat");
    assert!(pe["average"].is_null());
    let year_math = report["year"]["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "toan")
        .unwrap();
    assert_eq!(
        year_math["average"].to_string(),
        oneroster::PUPIL1_2026_MATH_YEAR
    );
    assert_eq!(
        report["year"]["level"]["vi"],
        oneroster::PUPIL1_2026_YEAR_LEVEL
    );
    assert_eq!(report["year"]["level"]["en"], "Very good");

    // This year, by default: semester I under way, so no averages and no level yet, and what
    // is missing said.
    let now = app
        .get_json_as(
            &format!("/v1/education/children/{}/grades", oneroster::PUPIL1_ID),
            &token,
        )
        .await;
    assert_eq!(now["school_year"]["id"], oneroster::SCHOOL_YEAR_2027);
    assert_eq!(now["class"], "Lớp 7/2");
    let math = subject(semester(&now, 1), "toan");
    assert!(math["average"].is_null());
    assert_eq!(math["missing"]["final"], true, "{math}");
    assert!(semester(&now, 1)["level"].is_null());

    // Her brother at primary school, by Circular 27.
    let brother = link(
        &app,
        &token,
        oneroster::PUPIL2_CODE,
        oneroster::PARENT_PHONE,
    )
    .await;
    let report = app
        .get_json_as(
            &format!(
                "/v1/education/children/{brother}/grades?school_year={}",
                oneroster::SCHOOL_YEAR_2026
            ),
            &token,
        )
        .await;
    assert_eq!(report["circular"], "27/2020/TT-BGDĐT");
    assert_eq!(
        report["year"]["result"]["vi"],
        oneroster::PUPIL2_2026_YEAR_RESULT
    );
    assert_eq!(report["year"]["result"]["code"], "hoan_thanh_tot");
    let last = semester(&report, 2);
    let vietnamese = subject(last, "tieng_viet");
    assert_eq!(vietnamese["result"]["code"], "T");
    assert!(
        vietnamese["test_score"]
            .as_u64()
            .is_some_and(|s| (7..=10).contains(&s))
    );
    assert_eq!(last["qualities"].as_array().unwrap().len(), 5, "{last}");
    assert!(!last["competencies"].as_array().unwrap().is_empty());

    let children = app.get_json_as("/v1/education/children", &token).await;
    let ids: Vec<&str> = children["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [oneroster::PUPIL1_ID, oneroster::PUPIL2_ID]);

    // Someone else's child, or anything that is not a child of hers, is no one.
    for id in [oneroster::PUPIL3_ID, "..%2Fusers", "no-such-pupil"] {
        let answer = app
            .get_as(&format!("/v1/education/children/{id}/grades"), &token)
            .await;
        problem(answer, 404, "child_not_found").await;
    }
    let answer = app
        .get_as(
            &format!("/v1/education/children/{}/grades", oneroster::PUPIL1_ID),
            &stranger,
        )
        .await;
    problem(answer, 404, "child_not_found").await;
    let answer = app
        .get_as(
            &format!(
                "/v1/education/children/{}/grades?school_year=2019-2020",
                oneroster::PUPIL1_ID
            ),
            &token,
        )
        .await;
    problem(answer, 404, "school_year_not_found").await;

    // Unlinked, she sees his results no more.
    let unlinked = app
        .authed(
            Method::DELETE,
            &format!("/v1/education/children/{brother}"),
            &token,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unlinked.status(), 204);
    let answer = app
        .get_as(&format!("/v1/education/children/{brother}/grades"), &token)
        .await;
    problem(answer, 404, "child_not_found").await;
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_parent_links_her_children_and_sees_their_results_by_the_circulars);

/// A teacher's system publishing a new score: the parent who linked the pupil is told once,
/// in Vietnamese and English; a parent of another pupil is not.
async fn a_new_score_reaches_the_parent_once(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(mode, &provider, |_| {}).await;
    let token = verified(&app, &provider, "046190001234").await;
    let other = verified(&app, &provider, "046085009999").await;
    link(
        &app,
        &token,
        oneroster::PUPIL1_CODE,
        oneroster::PARENT_PHONE,
    )
    .await;
    link(
        &app,
        &other,
        oneroster::PUPIL3_CODE,
        oneroster::OTHER_PARENT_PHONE,
    )
    .await;
    // Let the feed's first round start it: the past is not news.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    let sandbox_base = format!("http://{}/sandbox/oneroster", provider.addr());
    let granted: Value = client()
        .post(format!("{sandbox_base}/token"))
        .basic_auth(oneroster::CLIENT_ID, Some(oneroster::CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", oneroster::SCOPE_GRADEBOOK_CREATEPUT),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let teacher = granted["access_token"].as_str().unwrap();
    let class = format!("{}-toan", oneroster::PUPIL1_HOMEROOM_2027);
    let item = format!("{class}-hk1-ck");
    let put = client()
        .put(format!(
            "{sandbox_base}/ims/oneroster/gradebook/v1p2/results/{item}-{}",
            oneroster::PUPIL1_ID
        ))
        .bearer_auth(teacher)
        .json(&json!({ "result": {
            "sourcedId": format!("{item}-{}", oneroster::PUPIL1_ID),
            "status": "active",
            "lineItem": { "sourcedId": item, "type": "lineItem", "href": "" },
            "student": { "sourcedId": oneroster::PUPIL1_ID, "type": "user", "href": "" },
            "class": { "sourcedId": class, "type": "class", "href": "" },
            "scoreStatus": "fully graded",
            "score": 9.5,
            "scoreDate": "2026-12-07",
        }}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());

    let told = || async {
        let inbox = app.get_json_as("/v1/inbox", &token).await;
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "education.score_published")
            .cloned()
            .collect::<Vec<Value>>()
    };
    let notices = poll_until(told, |found| !found.is_empty()).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    let notice = &notices[0];
    assert_eq!(notice["title_vi"], "Kết quả học tập mới của Lê Ngọc Hân");
    assert!(
        notice["body_vi"].as_str().unwrap().starts_with("Toán"),
        "{notice}"
    );
    assert!(
        notice["body_vi"].as_str().unwrap().ends_with("9,5"),
        "{notice}"
    );
    assert!(
        notice["body_en"]
            .as_str()
            .unwrap()
            .starts_with("Mathematics"),
        "{notice}"
    );
    assert_eq!(notice["data"]["student"], oneroster::PUPIL1_ID);
    // Later rounds read it again and tell nothing more; the other parent hears nothing.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(told().await.len(), 1);
    let inbox = app.get_json_as("/v1/inbox", &other).await;
    assert!(
        !inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "education.score_published"),
        "{inbox}"
    );
    // And her report shows it.
    let report = app
        .get_json_as(
            &format!("/v1/education/children/{}/grades", oneroster::PUPIL1_ID),
            &token,
        )
        .await;
    let math = subject(semester(&report, 1), "toan");
    assert!(
        math["marks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "final" && m["score"] == 9.5),
        "{math}"
    );
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_new_score_reaches_the_parent_once);

/// A school system that is down, slow or garbled is an honest 503 with `Retry-After`, naming
/// nothing of ours; when it is back, so are the grades.
#[tokio::test]
async fn a_school_system_down_slow_or_garbled_is_a_503_and_then_recovers() {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(Mode::AllInOne, &provider, |_| {}).await;
    let token = verified(&app, &provider, "046190001234").await;
    link(
        &app,
        &token,
        oneroster::PUPIL1_CODE,
        oneroster::PARENT_PHONE,
    )
    .await;
    let path = format!("/v1/education/children/{}/grades", oneroster::PUPIL1_ID);
    let faults = format!("http://{}/sandbox/oneroster/faults", provider.addr());
    for fault in [
        json!({ "mode": "down" }),
        json!({ "mode": "slow", "delay_ms": 8_000 }),
        json!({ "mode": "garbage" }),
    ] {
        let set = client().post(&faults).json(&fault).send().await.unwrap();
        assert!(set.status().is_success());
        let answer = app.get_as(&path, &token).await;
        assert!(answer.headers().contains_key("retry-after"), "{fault}");
        let body = problem(answer, 503, "upstream_unavailable").await;
        let text = body.to_string();
        assert!(
            !text.contains("sandbox") && !text.contains("127.0.0.1"),
            "{text}"
        );
    }
    let set = client()
        .post(&faults)
        .json(&json!({ "mode": null }))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    // The breaker may hold the door a while after the failures: wait it out.
    let status = app.status_once_settled(&path, &token, 200).await;
    assert!(status == 200 || status == 503, "{status}");
    app.stop().await;
    provider.stop().await.unwrap();
}

async fn exam_results(app: &TestApp, body: &Value) -> reqwest::Response {
    post_json(app, "/v1/education/exam-results", None, body).await
}

/// Anyone looks up a candidate's results with the number and birth date: the subjects, the
/// combinations' totals and the graduation score; a wrong birth date and an unknown number
/// answer alike.
async fn exam_results_by_candidate_number_and_birth_date(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(mode, &provider, |_| {}).await;
    let published = poll_until(
        || app.get_json("/v1/education/exam-results"),
        |p: &Value| p["years"].as_array().is_some_and(|y| !y.is_empty()),
    )
    .await;
    assert_eq!(published["years"][0]["year"], 2026, "{published}");
    assert_eq!(
        published["years"][0]["candidates"],
        exams::GENERATED_CANDIDATES
    );

    let result: Value = exam_results(
        &app,
        &json!({ "candidate_number": exams::CANDIDATE_NUMBER, "birth_date": exams::CANDIDATE_BIRTH_DATE }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(result["full_name"], exams::CANDIDATE_NAME, "{result}");
    assert_eq!(result["council"], 33);
    let scores: Vec<(&str, f64)> = result["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["code"].as_str().unwrap(), s["score"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        scores,
        [
            ("toan", 8.25),
            ("ngu_van", 7.5),
            ("vat_li", 6.75),
            ("ngoai_ngu", 9.0)
        ]
    );
    assert_eq!(result["subjects"][3]["name"]["vi"], "Tiếng Anh");
    assert_eq!(
        result["combinations"],
        json!([{ "code": "A01", "total": 24.0 }, { "code": "D01", "total": 24.75 }])
    );
    assert_eq!(result["graduation"]["score"], exams::GRADUATION_SCORE);
    assert_eq!(result["graduation"]["graduates"], true);

    let eliminated: Value = exam_results(
        &app,
        &json!({ "candidate_number": exams::ELIMINATED_CANDIDATE_NUMBER, "birth_date": exams::ELIMINATED_BIRTH_DATE }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(eliminated["graduation"]["graduates"], false, "{eliminated}");
    assert!(
        eliminated["graduation"]["reasons"][0]["vi"]
            .as_str()
            .unwrap()
            .contains("Lịch sử"),
        "{eliminated}"
    );

    let wrong_birth = exam_results(
        &app,
        &json!({ "candidate_number": exams::CANDIDATE_NUMBER, "birth_date": "2008-03-16" }),
    )
    .await;
    let unknown = exam_results(
        &app,
        &json!({ "candidate_number": "33999999", "birth_date": "2008-03-15" }),
    )
    .await;
    let (a, b) = (
        problem(wrong_birth, 404, "exam_result_not_found").await,
        problem(unknown, 404, "exam_result_not_found").await,
    );
    assert_eq!(a["detail"], b["detail"], "no oracle of who sat the exam");
    // A year asked for by name: one not published yet says so (and is no guess).
    let by_year = |year: i32| {
        let app = &app;
        async move {
            exam_results(
                app,
                &json!({ "candidate_number": exams::CANDIDATE_NUMBER, "birth_date": exams::CANDIDATE_BIRTH_DATE, "year": year }),
            )
            .await
        }
    };
    problem(by_year(2025).await, 404, "exam_year_not_published").await;
    assert_eq!(by_year(2026).await.status(), 200);
    for bad in ["3300012", "330001234", "3300012a"] {
        let answer = exam_results(
            &app,
            &json!({ "candidate_number": bad, "birth_date": "2008-03-15" }),
        )
        .await;
        problem(answer, 422, "invalid_candidate_number").await;
    }
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(exam_results_by_candidate_number_and_birth_date);

/// Lookups are limited per address, and guessing a candidate's birth date locks the number
/// for everyone, the right birth date included, for a while.
#[tokio::test]
async fn exam_lookups_are_limited_and_birth_date_guesses_lock_the_number() {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(Mode::AllInOne, &provider, |e| {
        e.exam_lookups_per_minute = 8;
        e.exam_lookups_per_candidate_hour = 3;
    })
    .await;
    poll_until(
        || app.get_json("/v1/education/exam-results"),
        |p: &Value| p["years"].as_array().is_some_and(|y| !y.is_empty()),
    )
    .await;
    for day in 1..=3 {
        let answer = exam_results(
            &app,
            &json!({ "candidate_number": exams::CANDIDATE_NUMBER, "birth_date": format!("2008-01-{day:02}") }),
        )
        .await;
        problem(answer, 404, "exam_result_not_found").await;
    }
    let right = exam_results(
        &app,
        &json!({ "candidate_number": exams::CANDIDATE_NUMBER, "birth_date": exams::CANDIDATE_BIRTH_DATE }),
    )
    .await;
    assert!(right.headers().contains_key("retry-after"));
    problem(right, 429, "candidate_lookups_locked").await;
    // Another candidate still answers, until the address's own limit.
    let other = exam_results(
        &app,
        &json!({ "candidate_number": exams::ELIMINATED_CANDIDATE_NUMBER, "birth_date": exams::ELIMINATED_BIRTH_DATE }),
    )
    .await;
    assert_eq!(other.status(), 200);
    let mut last = None;
    for _ in 0..5 {
        last = Some(
            exam_results(
                &app,
                &json!({ "candidate_number": exams::ELIMINATED_CANDIDATE_NUMBER, "birth_date": exams::ELIMINATED_BIRTH_DATE }),
            )
            .await,
        );
    }
    problem(last.unwrap(), 429, "too_many_exam_lookups").await;
    app.stop().await;
    provider.stop().await.unwrap();
}

/// A re-marked score reaches the lookup with the next file; a file cut off midway changes
/// nothing.
#[tokio::test]
async fn a_remarked_score_is_imported_and_a_broken_file_is_not() {
    let (provider, _) = sandbox().await;
    // The test looks the candidate up as often as it takes.
    let app = app_with_schools(Mode::AllInOne, &provider, |education| {
        education.exam_lookups_per_minute = 10_000;
        education.exam_lookups_per_candidate_hour = 10_000;
    })
    .await;
    let lookup = json!({ "candidate_number": exams::CANDIDATE_NUMBER, "birth_date": exams::CANDIDATE_BIRTH_DATE });
    let score_of = |result: &Value, code: &str| {
        result["subjects"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["code"] == code))
            .map(|s| s["score"].as_f64().unwrap())
    };
    let before = poll_until(
        || async {
            exam_results(&app, &lookup)
                .await
                .json::<Value>()
                .await
                .unwrap()
        },
        |r: &Value| r["subjects"].is_array(),
    )
    .await;
    assert_eq!(score_of(&before, "ngu_van"), Some(7.5));

    let base = format!("http://{}/sandbox/exams", provider.addr());
    let garbage = client()
        .post(format!("{base}/faults"))
        .json(&json!({ "mode": "garbage" }))
        .send()
        .await
        .unwrap();
    assert!(garbage.status().is_success());
    let corrected = client()
        .post(format!("{base}/2026/corrections"))
        .json(&json!({ "candidate_number": exams::CANDIDATE_NUMBER, "subject": "ngu_van", "score": 8.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(corrected.status(), 204);
    // Wait until the importer has read the broken file and refused it.
    let education = app.schema_pool("education").await;
    poll_until(
        || async {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT refusal FROM exam_imports WHERE source LIKE '%/2026/results.csv'",
            )
            .fetch_optional(&education)
            .await
            .unwrap()
            .flatten()
        },
        Option::is_some,
    )
    .await;
    let during = exam_results(&app, &lookup)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        score_of(&during, "ngu_van"),
        Some(7.5),
        "the broken file changed nothing"
    );

    let healed = client()
        .post(format!("{base}/faults"))
        .json(&json!({ "mode": null }))
        .send()
        .await
        .unwrap();
    assert!(healed.status().is_success());
    let after = poll_until(
        || async {
            exam_results(&app, &lookup)
                .await
                .json::<Value>()
                .await
                .unwrap()
        },
        |r: &Value| score_of(r, "ngu_van") == Some(8.0),
    )
    .await;
    assert_eq!(score_of(&after, "ngu_van"), Some(8.0), "{after}");
    // 8.25 + 8.0 + 6.75 + 9.0 = 32.0: 4.0 + 4.15.
    assert_eq!(after["graduation"]["score"], 8.15);
    app.stop().await;
    provider.stop().await.unwrap();
}

/// Schools near a point, nearest first, filtered by level and ownership; the schools that enrol
/// a ward's children.
async fn schools_near_me_and_enrolment_zones(mode: Mode) {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(mode, &provider, |_| {}).await;
    // Beside Quốc Học, 12 Lê Lợi.
    let near = "/v1/education/schools?lat=16.4617&lng=107.5878&radius_m=3000";
    let found = poll_until(
        || app.get_json(near),
        |f: &Value| f["schools"].as_array().is_some_and(|s| !s.is_empty()),
    )
    .await;
    let schools = found["schools"].as_array().unwrap();
    assert_eq!(schools[0]["id"], oneroster::PUPIL3_SCHOOL_ID, "{found}");
    assert!(schools[0]["distance_m"].as_f64().unwrap() < 100.0);
    assert!(
        schools
            .windows(2)
            .all(|w| w[0]["distance_m"].as_f64() <= w[1]["distance_m"].as_f64())
    );
    assert!(
        schools
            .iter()
            .all(|s| s["distance_m"].as_f64().unwrap() <= 3000.0)
    );

    let primary = app.get_json(&format!("{near}&level=primary")).await;
    let primary = primary["schools"].as_array().unwrap();
    assert!(!primary.is_empty());
    assert!(primary.iter().all(|s| {
        s["levels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "primary")
    }));
    let wide = "/v1/education/schools?lat=16.4617&lng=107.5878&radius_m=10000";
    let private = app.get_json(&format!("{wide}&ownership=private")).await;
    let private = private["schools"].as_array().unwrap();
    assert!(!private.is_empty(), "the sandbox lists a private school");
    assert!(private.iter().all(
        |s| s["ownership"] == "private" && s["enrolment_wards"].as_array().unwrap().is_empty()
    ));

    let answer = app.get("/v1/education/schools?lat=91&lng=107.5").await;
    problem(answer, 422, "invalid_position").await;
    let answer = app.get("/v1/education/schools?lat=16.46").await;
    problem(answer, 400, "invalid_query").await;

    let zone = app
        .get_json("/v1/education/enrolment-zones/thuan-hoa")
        .await;
    let zone_schools = zone["schools"].as_array().unwrap();
    assert!(!zone_schools.is_empty(), "{zone}");
    assert!(zone_schools.iter().all(|s| {
        s["enrolment_wards"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "thuan-hoa")
            && s["ownership"] == "public"
    }));
    let answer = app.get("/v1/education/enrolment-zones/no-such-ward").await;
    problem(answer, 404, "ward_not_found").await;
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(schools_near_me_and_enrolment_zones);

/// An erased account's linked children and codes go with it.
#[tokio::test]
async fn an_erased_account_leaves_no_links() {
    let (provider, _) = sandbox().await;
    let app = app_with_schools(Mode::AllInOne, &provider, |_| {}).await;
    let token = verified(&app, &provider, "046190001234").await;
    link(
        &app,
        &token,
        oneroster::PUPIL1_CODE,
        oneroster::PARENT_PHONE,
    )
    .await;
    let pool = app.schema_pool("education").await;
    let links = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM guardianships")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(links().await, 1);
    let erased = app
        .authed(Method::DELETE, "/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
    let left = poll_until(links, |n| *n == 0).await;
    assert_eq!(left, 0);
    app.stop().await;
    provider.stop().await.unwrap();
}
