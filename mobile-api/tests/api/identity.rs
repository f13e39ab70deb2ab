use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use identity::config::IdentityConfig;
use identity::config::SigningKeyConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Mode, TestApp, problem, random_phone};
use crate::in_both_modes;

/// A signing key the test knows, so it can forge tokens the way an attacker would try.
struct TestKey {
    pem: String,
    public_pem: String,
    kid: &'static str,
}

impl TestKey {
    fn new(kid: &'static str) -> TestKey {
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        use ed25519_dalek::pkcs8::EncodePublicKey;
        TestKey {
            pem: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            public_pem: key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
            kid,
        }
    }

    fn config(&self, signs_from: Option<chrono::DateTime<chrono::Utc>>) -> SigningKeyConfig {
        SigningKeyConfig {
            kid: Some(self.kid.to_owned()),
            private_key: Some(self.pem.clone().into()),
            private_key_file: None,
            signs_from,
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(self.kid.to_owned());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_ed_pem(self.pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

fn claims(account: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "citizen", "aud": "citizen-app", "sub": account, "iat": now, "exp": now + 600,
        "jti": uuid::Uuid::new_v4(), "sid": uuid::Uuid::new_v4(),
        "roles": ["resident"], "scope": {}, "acr": "basic",
    })
}

fn unsigned(header: Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

async fn forged_and_stale_tokens_are_refused(mode: Mode) {
    let key = TestKey::new("test-key");
    let signing = key.config(None);
    let app = TestApp::spawn_with(mode, move |c| {
        c.edit(|identity: &mut IdentityConfig| identity.signing_keys = vec![signing.clone()])
    })
    .await;
    let session = app.sign_in(&random_phone()).await;
    let account = session["account_id"].as_str().unwrap().to_owned();

    let good = key.sign(&claims(&account));
    let me = app.get_as("/v1/me", &good).await;
    assert_eq!(
        me.status(),
        200,
        "a token signed by the key with the right claims works"
    );

    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.typ = Some("at+jwt".to_owned());
    hs256.kid = Some("test-key".to_owned());
    let with = |change: &dyn Fn(&mut Value)| {
        let mut c = claims(&account);
        change(&mut c);
        key.sign(&c)
    };
    let valid_parts: Vec<&str> = good.split('.').collect();
    let mut raised = claims(&account);
    raised["roles"] = json!(["platform_admin"]);
    let tampered = format!(
        "{}.{}.{}",
        valid_parts[0],
        URL_SAFE_NO_PAD.encode(raised.to_string()),
        valid_parts[2]
    );

    let bad_tokens = [
        (
            "alg none",
            unsigned(
                json!({"alg": "none", "typ": "at+jwt", "kid": "test-key"}),
                &claims(&account),
            ),
        ),
        (
            "HS256 keyed with the public key",
            jsonwebtoken::encode(
                &hs256,
                &claims(&account),
                &EncodingKey::from_secret(key.public_pem.as_bytes()),
            )
            .unwrap(),
        ),
        ("wrong audience", with(&|c| c["aud"] = json!("another-app"))),
        ("wrong issuer", with(&|c| c["iss"] = json!("someone-else"))),
        (
            "expired",
            with(&|c| {
                c["iat"] = json!(chrono::Utc::now().timestamp() - 3600);
                c["exp"] = json!(chrono::Utc::now().timestamp() - 1800);
            }),
        ),
        (
            "longer than 15 minutes",
            with(&|c| c["exp"] = json!(chrono::Utc::now().timestamp() + 7200)),
        ),
        (
            "unknown kid",
            TestKey::new("unknown-key").sign(&claims(&account)),
        ),
        ("tampered claims", tampered),
        ("not a JWT", "not-a-token".to_owned()),
    ];
    for (what, token) in bad_tokens {
        let response = app.get_as("/v1/me", &token).await;
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\"",
            "{what}"
        );
        problem(response, 401, "invalid_token").await;
    }
    if let Some(identity) = app.service_addr("identity") {
        // The gateway refused them all: identity never saw one.
        let metrics = crate::helpers::client()
            .get(format!("http://{identity}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!metrics.contains("status=\"401\""), "{metrics}");
    }
    let anonymous = app.get("/v1/me").await;
    problem(anonymous, 401, "unauthenticated").await;
    app.stop().await;
}
in_both_modes!(forged_and_stale_tokens_are_refused);

async fn one_number_written_three_ways_is_one_account(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.otp.resend_cooldown_secs = 0)
    })
    .await;
    let national = random_phone();
    let spaced = format!("{} {} {}", &national[..4], &national[4..7], &national[7..]);
    let international = format!("+84{}", &national[1..]);
    let bare = format!("84{}", &national[1..]);
    let mut accounts = Vec::new();
    for phone in [spaced, international, bare] {
        accounts.push(app.sign_in(&phone).await["account_id"].clone());
    }
    assert_eq!(accounts[0], accounts[1]);
    assert_eq!(accounts[1], accounts[2]);

    let invalid = app
        .client
        .post(app.url("/v1/auth/otp"))
        .json(&json!({ "phone": "0241234567" }))
        .send()
        .await
        .unwrap();
    problem(invalid, 422, "invalid_phone").await;
    app.stop().await;
}
in_both_modes!(one_number_written_three_ways_is_one_account);

async fn codes_work_once_and_allow_five_wrong_tries(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.otp.resend_cooldown_secs = 0)
    })
    .await;
    let phone = random_phone();
    let verify = |code: String| {
        app.client
            .post(app.url("/v1/auth/otp/verify"))
            .json(&json!({ "phone": phone, "code": code }))
            .send()
    };

    app.sign_in(&phone).await;
    let used = app.last_code(&phone).await;
    problem(verify(used).await.unwrap(), 400, "otp_expired").await;

    app.client
        .post(app.url("/v1/auth/otp"))
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .unwrap();
    let right = app.last_code(&phone).await;
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    }
    .to_owned();
    for attempt in 1..=5 {
        let response = verify(wrong.clone()).await.unwrap();
        let body = problem(response, 400, "otp_incorrect").await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(&(5 - attempt).to_string())
        );
    }
    let sixth = verify(right).await.unwrap();
    assert!(sixth.headers().contains_key("retry-after"));
    problem(sixth, 429, "otp_locked").await;
    app.stop().await;
}
in_both_modes!(codes_work_once_and_allow_five_wrong_tries);

async fn sending_codes_is_rate_limited(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let phone = random_phone();
    let send = |phone: String, device: &'static str| {
        app.client
            .post(app.url("/v1/auth/otp"))
            .json(&json!({ "phone": phone, "device_id": device }))
            .send()
    };
    assert_eq!(send(phone.clone(), "device-a").await.unwrap().status(), 202);
    let again = send(phone.clone(), "device-a").await.unwrap();
    let retry: u64 = again.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    problem(again, 429, "otp_cooldown").await;

    // One device asking for many numbers: SMS pumping. Ten an hour pass.
    for _ in 0..10 {
        assert_eq!(send(random_phone(), "pump").await.unwrap().status(), 202);
    }
    let pumped = send(random_phone(), "pump").await.unwrap();
    assert!(pumped.headers().contains_key("retry-after"));
    problem(pumped, 429, "otp_quota_exceeded").await;
    app.stop().await;
}
in_both_modes!(sending_codes_is_rate_limited);

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/auth/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

async fn a_reused_refresh_token_revokes_its_session(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.refresh_reuse_grace_secs = 0)
    })
    .await;
    let session = app.sign_in(&random_phone()).await;
    let first = session["refresh_token"].as_str().unwrap();

    // Apps often attach their (expired) access token to every call, the refresh included.
    let rotated: Value = app
        .client
        .post(app.url("/v1/auth/refresh"))
        .bearer_auth("an.expired.token")
        .json(&json!({ "refresh_token": first }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);

    problem(refresh(&app, first).await, 401, "invalid_refresh_token").await;
    problem(refresh(&app, second).await, 401, "invalid_refresh_token").await;
    app.stop().await;
}
in_both_modes!(a_reused_refresh_token_revokes_its_session);

async fn two_refreshes_racing_inside_the_grace_window_both_work(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let session = app.sign_in(&random_phone()).await;
    let token = session["refresh_token"].as_str().unwrap();
    let (a, b) = tokio::join!(refresh(&app, token), refresh(&app, token));
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    for tokens in [&a, &b] {
        let me = app
            .get_as("/v1/me", tokens["access_token"].as_str().unwrap())
            .await;
        assert_eq!(me.status(), 200);
        assert_eq!(
            refresh(&app, tokens["refresh_token"].as_str().unwrap())
                .await
                .status(),
            200
        );
    }
    app.stop().await;
}
in_both_modes!(two_refreshes_racing_inside_the_grace_window_both_work);

async fn logout_ends_the_session_and_logout_all_ends_every_one(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.otp.resend_cooldown_secs = 0)
    })
    .await;
    let phone = random_phone();
    let phone_app = app.sign_in(&phone).await;
    let tablet = app.sign_in(&phone).await;

    let out = app
        .authed(
            Method::POST,
            "/v1/auth/logout",
            phone_app["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    problem(
        refresh(&app, phone_app["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let still: Value = refresh(&app, tablet["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();

    let all = app
        .authed(
            Method::POST,
            "/v1/auth/logout-all",
            still["access_token"].as_str().unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 204);
    problem(
        refresh(&app, still["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    app.stop().await;
}
in_both_modes!(logout_ends_the_session_and_logout_all_ends_every_one);

async fn residents_edit_their_profile_but_not_their_powers(mode: Mode) {
    // Identity checks the home ward with reports, over HTTP when split.
    let app = TestApp::spawn_with(mode, |config| {
        config.internal.service_token = Some("test-service-token".to_owned().into());
    })
    .await;
    let token = app.resident_token().await;
    let patch = |body: Value| {
        app.authed(Method::PATCH, "/v1/me", &token)
            .json(&body)
            .send()
    };

    let updated = patch(json!({
        "display_name": "Nguyễn Văn An", "language": "en",
        "home_ward": { "jurisdiction": "hue", "ward": "phu-xuan" }
    }))
    .await
    .unwrap();
    assert_eq!(updated.status(), 200);
    let profile: Value = updated.json().await.unwrap();
    assert_eq!(profile["display_name"], "Nguyễn Văn An");
    assert_eq!(
        profile["home_ward"],
        json!({ "jurisdiction": "hue", "ward": "phu-xuan" })
    );

    for raise in [
        json!({ "roles": ["platform_admin"] }),
        json!({ "acr": "verified" }),
        json!({ "scope": { "jurisdiction": "hue" } }),
        // Preferences live with notifications (`/v1/notifications/preferences`), once.
        json!({ "notification_preferences": { "announcements": false } }),
    ] {
        let response = patch(raise.clone()).await.unwrap();
        let body = problem(response, 400, "invalid_body").await;
        assert!(
            body["detail"].as_str().unwrap().contains("unknown field"),
            "{raise}: {body}"
        );
    }
    problem(
        patch(json!({ "language": "fr" })).await.unwrap(),
        422,
        "invalid_field",
    )
    .await;

    let me: Value = app.get_as("/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["roles"], json!(["resident"]));
    assert_eq!(me["acr"], "basic");
    assert_eq!(me["scope"], json!({}));
    app.stop().await;
}
in_both_modes!(residents_edit_their_profile_but_not_their_powers);

async fn a_device_belongs_to_one_account_and_others_see_404(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    let alice = app.resident_token().await;
    let bob = app.resident_token().await;
    let register = |token: &str| {
        app.authed(Method::POST, "/v1/me/devices", token)
            .json(&json!({ "platform": "android", "push_token": "fcm-token-shared-phone", "app_version": "3.2.1" }))
            .send()
    };
    let device: Value = register(&alice).await.unwrap().json().await.unwrap();
    let id = device["id"].as_str().unwrap().to_owned();

    let not_yours = app
        .authed(Method::DELETE, &format!("/v1/me/devices/{id}"), &bob)
        .send()
        .await
        .unwrap();
    problem(not_yours, 404, "device_not_found").await;

    // The phone changes hands: the token moves to Bob.
    assert_eq!(register(&bob).await.unwrap().status(), 201);
    let alices: Vec<Value> = app
        .get_as("/v1/me/devices", &alice)
        .await
        .json()
        .await
        .unwrap();
    assert!(alices.is_empty());
    let bobs: Vec<Value> = app
        .get_as("/v1/me/devices", &bob)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs.len(), 1);

    let web_without_keys = app
        .authed(Method::POST, "/v1/me/devices", &bob)
        .json(&json!({ "platform": "web", "push_token": "https://push.example/endpoint" }))
        .send()
        .await
        .unwrap();
    problem(web_without_keys, 422, "invalid_field").await;
    let gone = app
        .authed(
            Method::DELETE,
            &format!("/v1/me/devices/{}", bobs[0]["id"].as_str().unwrap()),
            &bob,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 204);
    app.stop().await;
}
in_both_modes!(a_device_belongs_to_one_account_and_others_see_404);

/// The app (re)started on `database` with these signing keys.
async fn with_keys(
    mode: Mode,
    database: &std::sync::Arc<crate::helpers::TestDatabase>,
    keys: Vec<SigningKeyConfig>,
) -> TestApp {
    TestApp::spawn_on(mode, database.clone(), move |c| {
        c.edit(|identity: &mut IdentityConfig| identity.signing_keys = keys.clone());
        c.edit(|identity: &mut IdentityConfig| identity.otp.resend_cooldown_secs = 0);
    })
    .await
}

async fn rotation_keeps_old_tokens_valid_until_they_expire(mode: Mode) {
    let old = TestKey::new("key-2026-a");
    let new = TestKey::new("key-2026-b");
    let database = std::sync::Arc::new(crate::helpers::TestDatabase::create().await);
    let phone = random_phone();

    let app = with_keys(mode, &database, vec![old.config(None)]).await;
    let before = app.sign_in(&phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.stop().await;

    // The new key signs from a minute ago: the old one is still published.
    let one_minute_ago = chrono::Utc::now() - chrono::Duration::minutes(1);
    let app = with_keys(
        mode,
        &database,
        vec![old.config(None), new.config(Some(one_minute_ago))],
    )
    .await;
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["key-2026-a", "key-2026-b"]);
    assert_eq!(app.get_as("/v1/me", &before).await.status(), 200);
    let after = app.sign_in(&phone).await;
    let header = jsonwebtoken::decode_header(after["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("key-2026-b"));
    app.stop().await;

    // Once the new key has signed for longer than any token lives, the old one is gone.
    let twenty_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(20);
    let app = with_keys(
        mode,
        &database,
        vec![old.config(None), new.config(Some(twenty_minutes_ago))],
    )
    .await;
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    problem(app.get_as("/v1/me", &before).await, 401, "invalid_token").await;
    app.stop().await;
}
in_both_modes!(rotation_keeps_old_tokens_valid_until_they_expire);

async fn export_and_erasure_work_end_to_end(mode: Mode) {
    let app = TestApp::spawn_with(mode, |c| {
        c.edit(|identity: &mut IdentityConfig| identity.erasure_grace_days = 0);
        c.edit(|identity: &mut IdentityConfig| identity.erasure_interval_secs = 1);
    })
    .await;
    let phone = random_phone();
    let session = app.sign_in(&phone).await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    app.authed(Method::POST, "/v1/me/devices", &token)
        .json(&json!({ "platform": "ios", "push_token": "apns-via-fcm-token" }))
        .send()
        .await
        .unwrap();

    let export = app.get_as("/v1/me/export", &token).await;
    assert_eq!(export.status(), 200);
    assert!(
        export.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export: Value = export.json().await.unwrap();
    assert_eq!(export["account"]["phone"], format!("+84{}", &phone[1..]));
    assert_eq!(export["devices"][0]["push_token"], "apns-via-fcm-token");
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(export["sign_in_codes"].as_array().unwrap().len(), 1);
    assert!(
        export["security_events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "account_created")
    );

    let erase = app
        .authed(Method::DELETE, "/v1/me", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(erase.status(), 202);
    problem(
        refresh(&app, session["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;

    // The erasure job runs every second here.
    let status = app.status_once_settled("/v1/me", &token, 404).await;
    assert_eq!(status, 404, "the account is erased");
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&app.database.url)
        .await
        .unwrap();
    let account_id: uuid::Uuid = session["account_id"].as_str().unwrap().parse().unwrap();
    let erased_event: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.outbox WHERE event_type = 'account.erased' AND aggregate_id = $1")
        .bind(account_id).fetch_one(&mut db).await.unwrap();
    assert_eq!(erased_event, 1, "other services are told");
    let left: i64 = sqlx::query_scalar("SELECT (SELECT count(*) FROM identity.devices) + (SELECT count(*) FROM identity.otp_challenges) + (SELECT count(*) FROM identity.audit_log WHERE ip IS NOT NULL AND account_id = $1)")
        .bind(account_id).fetch_one(&mut db).await.unwrap();
    assert_eq!(left, 0, "no personal data is left");
    app.stop().await;
}
in_both_modes!(export_and_erasure_work_end_to_end);
