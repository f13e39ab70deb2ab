use identity::config::IdentityConfig;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use identity::config::SmsProvider;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Mode, TestApp, TestDatabase, problem, random_phone};
use crate::in_both_modes;

const PASSWORD: &str = "correct horse battery staple";

async fn login(
    app: &TestApp,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/staff/login"))
        .json(&json!({ "username": username, "password": password, "totp_code": totp }))
        .send()
        .await
        .unwrap()
}

async fn token(app: &TestApp, username: &str) -> String {
    let response = login(app, username, PASSWORD, None).await;
    assert_eq!(response.status(), 200, "{username} signs in");
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The first admin of a deployment, made with `citizen staff create`.
fn create_platform_admin(database: &TestDatabase) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_citizen"));
    command
        .args([
            "staff",
            "create",
            "--username",
            "root.admin",
            "--role",
            "platform_admin",
            "--display-name",
            "Quản trị hệ thống",
        ])
        .env("CITIZEN_DATABASE__URL", &database.url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created staff root.admin"));
}

async fn create(app: &TestApp, admin: &str, body: Value) -> reqwest::Response {
    app.authed(Method::POST, "/v1/admin/staff", admin)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn admins_manage_staff_within_their_reach(mode: Mode) {
    let database = Arc::new(TestDatabase::create().await);
    create_platform_admin(&database);
    let app = TestApp::spawn_on(mode, database, |_| {}).await;
    let root = token(&app, "root.admin").await;

    let hue_admin = create(&app, &root, json!({
        "username": "hue.admin", "password": PASSWORD, "roles": ["jurisdiction_admin"], "scope": { "jurisdiction": "hue" }
    })).await;
    assert_eq!(hue_admin.status(), 201);
    let danang: Value = create(
        &app,
        &root,
        json!({
            "username": "danang.officer", "password": PASSWORD, "roles": ["ward_officer"],
            "scope": { "jurisdiction": "danang", "wards": ["hai-chau"] }
        }),
    )
    .await
    .json()
    .await
    .unwrap();
    problem(create(&app, &root, json!({ "username": "hue.admin", "password": PASSWORD, "roles": ["ward_officer"], "scope": { "jurisdiction": "hue" } })).await, 409, "username_taken").await;
    problem(create(&app, &root, json!({ "username": "weak", "password": "short", "roles": ["ward_officer"], "scope": { "jurisdiction": "hue" } })).await, 422, "invalid_staff").await;

    let hue = token(&app, "hue.admin").await;
    let officer: Value = create(
        &app,
        &hue,
        json!({
            "username": "phuxuan.officer", "password": PASSWORD, "display_name": "Trần Thị Bình",
            "roles": ["ward_officer"], "scope": { "jurisdiction": "hue", "wards": ["phu-xuan"] }
        }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(officer["scope"]["wards"], json!(["phu-xuan"]));
    let escalate = create(
        &app,
        &hue,
        json!({ "username": "sneaky", "password": PASSWORD, "roles": ["platform_admin"] }),
    )
    .await;
    problem(escalate, 403, "outside_your_scope").await;
    let elsewhere = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/staff/{}", danang["id"].as_str().unwrap()),
            &hue,
        )
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    problem(elsewhere, 404, "staff_not_found").await;
    let listed: Vec<Value> = app
        .get_as("/v1/admin/staff", &hue)
        .await
        .json()
        .await
        .unwrap();
    assert!(listed.iter().all(|s| s["scope"]["jurisdiction"] == "hue"));

    let officer_session: Value = login(&app, "phuxuan.officer", PASSWORD, None)
        .await
        .json()
        .await
        .unwrap();
    let officer_token = officer_session["access_token"].as_str().unwrap();
    let me: Value = app
        .get_as("/v1/me", officer_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["ward_officer"]));
    problem(
        app.get_as("/v1/admin/staff", officer_token).await,
        403,
        "admin_only",
    )
    .await;

    let rescoped = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/staff/{}", officer["id"].as_str().unwrap()),
            &hue,
        )
        .json(&json!({ "scope": { "jurisdiction": "hue", "wards": ["phu-xuan", "kim-long"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(rescoped.status(), 200);
    let disabled = app
        .authed(
            Method::PATCH,
            &format!("/v1/admin/staff/{}", officer["id"].as_str().unwrap()),
            &hue,
        )
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.json::<Value>().await.unwrap()["disabled"], true);
    problem(
        login(&app, "phuxuan.officer", PASSWORD, None).await,
        403,
        "account_disabled",
    )
    .await;
    let refresh = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({ "refresh_token": officer_session["refresh_token"] }))
        .send()
        .await
        .unwrap();
    problem(refresh, 401, "invalid_refresh_token").await;
    app.stop().await;
}
in_both_modes!(admins_manage_staff_within_their_reach);

async fn totp_is_a_second_factor_that_works_once(mode: Mode) {
    let database = Arc::new(TestDatabase::create().await);
    create_platform_admin(&database);
    let app = TestApp::spawn_on(mode, database, |_| {}).await;
    let root = token(&app, "root.admin").await;

    let enrolment: Value = app
        .authed(Method::POST, "/v1/me/totp", &root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        enrolment["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Citizen")
    );
    let totp = authenticator(&enrolment);
    let now = chrono::Utc::now().timestamp() as u64;
    let confirm = app
        .authed(Method::POST, "/v1/me/totp/confirm", &root)
        .json(&json!({ "code": totp.generate(now) }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 204);

    problem(
        login(&app, "root.admin", PASSWORD, None).await,
        401,
        "totp_required",
    )
    .await;
    // The confirming code is spent; the next time step's code works, once.
    let next = totp.generate(now + 30);
    assert_eq!(
        login(&app, "root.admin", PASSWORD, Some(&next))
            .await
            .status(),
        200
    );
    problem(
        login(&app, "root.admin", PASSWORD, Some(&next)).await,
        401,
        "totp_incorrect",
    )
    .await;
    app.stop().await;
}
in_both_modes!(totp_is_a_second_factor_that_works_once);

/// A TOTP generator for an enrolment answer, as an authenticator app makes one.
fn authenticator(enrolment: &Value) -> totp_rs::TOTP {
    let secret = totp_rs::Secret::Encoded(enrolment["secret"].as_str().unwrap().to_owned())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        None,
        String::new(),
    )
    .unwrap()
}

#[tokio::test]
async fn admins_act_as_admins_only_once_totp_is_on() {
    let database = Arc::new(TestDatabase::create().await);
    create_platform_admin(&database);
    let app = TestApp::spawn_on(Mode::AllInOne, database, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.admin_totp_required = true);
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true);
    })
    .await;

    // A password alone: the session carries no admin role, and the profile says why.
    let session: Value = login(&app, "root.admin", PASSWORD, None)
        .await
        .json()
        .await
        .unwrap();
    let password_only = session["access_token"].as_str().unwrap();
    problem(
        app.get_as("/v1/admin/staff", password_only).await,
        403,
        "admin_only",
    )
    .await;
    let me = app.get_json_as("/v1/me", password_only).await;
    assert_eq!(me["totp_required"], true);
    assert_eq!(me["roles"], json!(["platform_admin"]));

    // The same session enrols, confirms and, refreshed, administers.
    let enrolment: Value = app
        .authed(Method::POST, "/v1/me/totp", password_only)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let totp = authenticator(&enrolment);
    let now = chrono::Utc::now().timestamp() as u64;
    let confirm = app
        .authed(Method::POST, "/v1/me/totp/confirm", password_only)
        .json(&json!({ "code": totp.generate(now) }))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 204);
    let refreshed = app.refresh(&session).await;
    let admin = refreshed["access_token"].as_str().unwrap();
    assert_eq!(app.get_as("/v1/admin/staff", admin).await.status(), 200);
    let me = app.get_json_as("/v1/me", admin).await;
    assert_eq!(me["totp_required"], false);

    // A demo jurisdiction admin without TOTP is held back too; an officer is not.
    let hue = app.staff_token("hue.admin").await;
    problem(app.get_as("/v1/admin/staff", &hue).await, 403, "admin_only").await;
    let officer = app.staff_token("phuxuan.officer").await;
    let me = app.get_json_as("/v1/me", &officer).await;
    assert_eq!(me["roles"], json!(["ward_officer"]));
    assert_eq!(me["totp_required"], false);
    assert_eq!(
        app.get_as("/v1/officer/reports", &officer).await.status(),
        200
    );

    // A resident cannot enrol, whatever their token says.
    let resident = app.resident_token().await;
    problem(
        app.authed(Method::POST, "/v1/me/totp", &resident)
            .send()
            .await
            .unwrap(),
        403,
        "staff_only",
    )
    .await;
    app.stop().await;
}

/// A sign-in from `address`, as the ingress (a trusted proxy) reports it.
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/staff/login"))
        .header("x-forwarded-for", address)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

/// Behind an ingress on this machine, as a deployment behind Kubernetes' ingress is.
fn behind_ingress(config: &mut platform::Config) {
    config.gateway.trusted_proxies = vec!["127.0.0.1/32".into(), "::1/128".into()];
}

async fn wrong_passwords_lock_out_only_the_address_they_came_from(mode: Mode) {
    let database = Arc::new(TestDatabase::create().await);
    create_platform_admin(&database);
    let app = TestApp::spawn_on(mode, database, behind_ingress).await;
    let attacker = "203.0.113.66";
    for username in ["root.admin", "nobody.here"] {
        for _ in 0..5 {
            problem(
                login_from(&app, attacker, username, "not the password").await,
                401,
                "invalid_credentials",
            )
            .await;
        }
        // Known and unknown usernames are locked alike, for the attacker's address only.
        let locked = login_from(&app, attacker, username, PASSWORD).await;
        assert!(locked.headers().contains_key("retry-after"));
        problem(locked, 429, "account_locked").await;
    }
    // The officer, elsewhere, still signs in.
    assert_eq!(
        login_from(&app, "198.51.100.7", "root.admin", PASSWORD)
            .await
            .status(),
        200
    );
    app.stop().await;
}
in_both_modes!(wrong_passwords_lock_out_only_the_address_they_came_from);

/// Sign-ins are throttled per address whatever username they try, and per username whatever
/// address they come from.
#[tokio::test]
async fn sign_ins_are_throttled_per_address_and_per_username() {
    let app = TestApp::spawn_with(Mode::AllInOne, |config| {
        behind_ingress(config);
        config.edit(|identity: &mut IdentityConfig| {
            identity.staff_sign_in.per_address_per_minute = 3
        });
        config.edit(|identity: &mut IdentityConfig| {
            identity.staff_sign_in.per_username_per_minute = 4
        });
    })
    .await;
    for n in 0..3 {
        let response = login_from(&app, "2001:db8:7:7::1", &format!("user{n}"), "x").await;
        assert_eq!(response.status(), 401);
    }
    // Another address of the same /64 is the same client.
    problem(
        login_from(&app, "2001:db8:7:7::2", "user9", "x").await,
        429,
        "too_many_sign_ins",
    )
    .await;
    for n in 0..4 {
        let address = format!("198.51.100.{n}");
        assert_eq!(
            login_from(&app, &address, "target", "x").await.status(),
            401
        );
    }
    problem(
        login_from(&app, "198.51.100.200", "target", "x").await,
        429,
        "too_many_sign_ins",
    )
    .await;
    app.stop().await;
}

/// A flood of sign-ins with made-up usernames waits for a bounded number of hashing slots
/// (each hash takes 19 MiB); those that find none answer 429 with Retry-After, none fails.
#[tokio::test]
async fn a_flood_of_sign_ins_is_bounded_by_the_hashing_slots() {
    let app = TestApp::spawn_with(Mode::AllInOne, |config| {
        behind_ingress(config);
        config.edit(|identity: &mut IdentityConfig| identity.staff_sign_in.hashing_concurrency = 1);
    })
    .await;
    let attempts = (0..150).map(|n| {
        let app = &app;
        async move {
            let address = format!("10.{}.{}.1", n / 200, n % 200);
            let response = login_from(app, &address, &format!("nobody{n}"), "guess").await;
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body: serde_json::Value = response.json().await.unwrap();
            (
                status,
                retry_after,
                body["code"].as_str().unwrap_or("").to_owned(),
            )
        }
    });
    let answers = futures::future::join_all(attempts).await;
    assert!(
        answers.iter().all(
            |(status, _, code)| (*status == 401 && code == "invalid_credentials")
                || (*status == 429 && code == "sign_in_busy")
        ),
        "{answers:?}"
    );
    let busy: Vec<_> = answers
        .iter()
        .filter(|(status, ..)| *status == 429)
        .collect();
    assert!(
        !busy.is_empty(),
        "one slot cannot hash 150 passwords in a second"
    );
    assert!(busy.iter().all(|(_, retry_after, _)| *retry_after));
    app.stop().await;
}

#[tokio::test]
async fn the_demo_staff_of_hue_exist_only_when_asked_for() {
    let without = TestApp::spawn(Mode::AllInOne).await;
    problem(
        login(&without, "phuxuan.officer", "hue-demo-password", None).await,
        401,
        "invalid_credentials",
    )
    .await;
    without.stop().await;

    let with = TestApp::spawn_with(Mode::AllInOne, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true)
    })
    .await;
    let session: Value = login(&with, "phuxuan.officer", "hue-demo-password", None)
        .await
        .json()
        .await
        .unwrap();
    let me: Value = with
        .authed(
            Method::GET,
            "/v1/me",
            session["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["scope"],
        json!({ "jurisdiction": "hue", "wards": ["phu-xuan"] })
    );
    with.stop().await;
}

/// A local HTTP SMS gateway: records what it is sent, answers with `status`.
async fn sms_gateway(status: StatusCode) -> (String, Arc<Mutex<Vec<(HeaderMap, Value)>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let app = Router::new().route(
        "/send",
        post(
            move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push((headers, body));
                    status
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn codes_go_out_through_the_http_sms_gateway() {
    let (url, received) = sms_gateway(StatusCode::OK).await;
    let app = TestApp::spawn_with(Mode::AllInOne, move |c| {
        c.edit(|identity: &mut IdentityConfig| identity.sms.provider = SmsProvider::Http);
        c.edit(|identity: &mut IdentityConfig| identity.sms.url = Some(url.clone()));
        c.edit(|identity: &mut IdentityConfig| identity.sms.username = Some("citizen".to_owned()));
        c.edit(|identity: &mut IdentityConfig| {
            identity.sms.password = Some("s3cret".to_owned().into())
        });
        c.edit(|identity: &mut IdentityConfig| identity.sms.sender = Some("HUE-S".to_owned()));
    })
    .await;
    let phone = random_phone();
    let sent = app
        .client
        .post(app.url("/v1/auth/otp"))
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    let (headers, body) = received
        .lock()
        .unwrap()
        .pop()
        .expect("the gateway got the message");
    assert_eq!(headers["authorization"], "Basic Y2l0aXplbjpzM2NyZXQ=");
    assert_eq!(body["to"], format!("+84{}", &phone[1..]));
    assert_eq!(body["sender"], "HUE-S");
    let code = crate::helpers::six_digits(body["text"].as_str().unwrap()).unwrap();
    let verified = app
        .client
        .post(app.url("/v1/auth/otp/verify"))
        .json(&json!({ "phone": phone, "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    // No development sink in this configuration.
    problem(
        app.client
            .get(app.url("/v1/dev/sms"))
            .query(&[("phone", &phone)])
            .send()
            .await
            .unwrap(),
        404,
        "route_not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_failing_sms_gateway_gives_503_and_no_usable_code() {
    let (url, _) = sms_gateway(StatusCode::INTERNAL_SERVER_ERROR).await;
    let app = TestApp::spawn_with(Mode::AllInOne, move |c| {
        c.edit(|identity: &mut IdentityConfig| identity.sms.provider = SmsProvider::Http);
        c.edit(|identity: &mut IdentityConfig| identity.sms.url = Some(url.clone()));
    })
    .await;
    let sent = app
        .client
        .post(app.url("/v1/auth/otp"))
        .json(&json!({ "phone": random_phone() }))
        .send()
        .await
        .unwrap();
    problem(sent, 503, "sms_unavailable").await;
    app.stop().await;
}
