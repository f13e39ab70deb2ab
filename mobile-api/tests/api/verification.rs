use identity::config::IdentityConfig;
use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Mode, TestApp, client, problem, random_phone, start};
use crate::in_both_modes;

/// The VNeID sandbox on a port of its own, like the real provider elsewhere.
pub(crate) async fn sandbox() -> (mobile_api::App, String) {
    let app = start(platform::Config::default(), "sandbox").await;
    let issuer = format!("http://{}/sandbox/vneid", app.addr());
    (app, issuer)
}

async fn app_using(mode: Mode, issuer: &str) -> TestApp {
    app_with(mode, issuer, |_| {}).await
}

/// An app whose identity links VNeID at `issuer`, otherwise configured by `adjust`.
pub(crate) async fn app_with(
    mode: Mode,
    issuer: &str,
    adjust: impl Fn(&mut platform::Config),
) -> TestApp {
    let issuer = issuer.to_owned();
    TestApp::spawn_with(mode, move |c| {
        adjust(c);
        c.edit(|identity: &mut IdentityConfig| identity.vneid.issuer = Some(issuer.clone()));
        c.edit(|identity: &mut IdentityConfig| {
            identity.vneid.client_secret = Some(sandbox::vneid::CLIENT_SECRET.to_owned().into())
        });
        // The provider redirects the browser here; the test plays the browser.
        c.edit(|identity: &mut IdentityConfig| {
            identity.vneid.redirect_uri = "http://127.0.0.1:9/v1/auth/vneid/callback".to_owned()
        });
        c.edit(|identity: &mut IdentityConfig| identity.otp.resend_cooldown_secs = 0);
    })
    .await
}

fn query_of(url: &str) -> HashMap<String, String> {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed.query_pairs().into_owned().collect()
}

/// Starts verification, answers the provider's consent page as a person would, and follows the
/// redirect back to our callback. Returns where the callback sends the browser.
pub(crate) async fn verify(
    app: &TestApp,
    issuer: &str,
    token: &str,
    decision: &str,
    personal_id: &str,
) -> String {
    let started = app
        .authed(Method::POST, "/v1/me/verification/vneid", token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let authorization_url = started.json::<Value>().await.unwrap()["authorization_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(authorization_url.starts_with(&format!("{issuer}/authorize?")));
    let page = client().get(&authorization_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("VNeID"));

    let request = query_of(&authorization_url);
    assert_eq!(request["code_challenge_method"], "S256");
    let form = [
        ("client_id", request["client_id"].as_str()),
        ("redirect_uri", request["redirect_uri"].as_str()),
        ("state", request["state"].as_str()),
        ("nonce", request["nonce"].as_str()),
        ("code_challenge", request["code_challenge"].as_str()),
        ("scope", request["scope"].as_str()),
        ("decision", decision),
        ("personal_id", personal_id),
        ("name", "Nguyễn Thị Hoa"),
        ("birthdate", "1990-05-17"),
    ];
    let back = client()
        .post(format!("{issuer}/authorize/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(back.status().is_redirection());
    let location = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:9/v1/auth/vneid/callback?"));
    let callback = location.replace("http://127.0.0.1:9", "");
    let finished = app.get(&callback).await;
    assert_eq!(finished.status(), 303, "{callback}");
    let outcome = finished.headers()["location"].to_str().unwrap().to_owned();
    // A replayed callback finds nothing to finish.
    problem(app.get(&callback).await, 400, "verification_state_invalid").await;
    outcome
}

async fn linking_vneid_makes_the_account_verified(mode: Mode) {
    let (provider, issuer) = sandbox().await;
    let app = app_using(mode, &issuer).await;
    let session = app.sign_in(&random_phone()).await;
    let token = session["access_token"].as_str().unwrap();

    let outcome = verify(&app, &issuer, token, "approve", "046090001234").await;
    assert_eq!(outcome, "citizen://identity-verification?status=verified");

    let refreshed = app.refresh(&session).await;
    let verified_token = refreshed["access_token"].as_str().unwrap();
    let me: Value = app
        .get_as("/v1/me", verified_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["acr"], "verified");
    assert!(me["verified_at"].is_string());
    // The personal ID number is kept (state systems find citizens by it) but never shown in
    // the profile or carried in tokens; the person's own export has it.
    assert!(!me.to_string().contains("046090001234"));
    let payload = {
        use base64::Engine;
        let part = verified_token.split('.').nth(1).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap()
    };
    assert!(!String::from_utf8_lossy(&payload).contains("046090001234"));
    let export = app.get_json_as("/v1/me/export", verified_token).await;
    assert_eq!(export["national_id"], "046090001234");
    let again = app
        .authed(Method::POST, "/v1/me/verification/vneid", verified_token)
        .send()
        .await
        .unwrap();
    problem(again, 409, "already_verified").await;

    // The same person cannot verify a second account.
    let other = app.sign_in(&random_phone()).await;
    let outcome = verify(
        &app,
        &issuer,
        other["access_token"].as_str().unwrap(),
        "approve",
        "046090001234",
    )
    .await;
    assert_eq!(outcome, "citizen://identity-verification?status=failed");

    let third = app.sign_in(&random_phone()).await;
    let outcome = verify(
        &app,
        &issuer,
        third["access_token"].as_str().unwrap(),
        "decline",
        "",
    )
    .await;
    assert_eq!(outcome, "citizen://identity-verification?status=declined");
    let me: Value = app
        .get_as("/v1/me", third["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["acr"], "basic");
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(linking_vneid_makes_the_account_verified);

#[tokio::test]
async fn without_a_provider_verification_is_unavailable() {
    let app = TestApp::spawn(Mode::AllInOne).await;
    let token = app.resident_token().await;
    let response = app
        .authed(Method::POST, "/v1/me/verification/vneid", &token)
        .send()
        .await
        .unwrap();
    problem(response, 503, "verification_unavailable").await;
    app.stop().await;
}

/// An `https` issuer whose address answers in plain HTTP (TLS stripped by someone on the path)
/// is never spoken to in clear: no discovery, no code, no client secret; verification is
/// unavailable instead.
#[tokio::test]
async fn an_https_issuer_answered_in_plain_http_gets_no_plain_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("https://{}", listener.local_addr().unwrap());
    let received = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::<u8>::new()));
    let kept = received.clone();
    let discovery = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    })
    .to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let kept = kept.clone();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{discovery}",
                discovery.len()
            );
            tokio::spawn(async move {
                let mut buffer = [0u8; 8192];
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    kept.lock().await.extend_from_slice(&buffer[..n]);
                    let _ = socket.write_all(answer.as_bytes()).await;
                }
            });
        }
    });

    let app = app_using(Mode::AllInOne, &issuer).await;
    let token = app.resident_token().await;
    let response = app
        .authed(Method::POST, "/v1/me/verification/vneid", &token)
        .send()
        .await
        .unwrap();
    problem(response, 503, "verification_unavailable").await;

    let bytes = received.lock().await.clone();
    assert_eq!(bytes.first(), Some(&0x16), "only a TLS handshake arrives");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        !text.contains("GET ") && !text.contains("HTTP/1.1"),
        "{text}"
    );
    assert!(!text.contains(sandbox::vneid::CLIENT_SECRET));
    app.stop().await;
}

/// The sandbox holds clients to the protocol: a code without its PKCE verifier is refused.
#[tokio::test]
async fn the_sandbox_provider_enforces_pkce_and_client_authentication() {
    let (provider, issuer) = sandbox().await;
    let verifier = "a".repeat(43);
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let redirect = "http://127.0.0.1:9/cb";
    let approve = |challenge: String| {
        client()
            .post(format!("{issuer}/authorize/decision"))
            .form(&[
                ("client_id", sandbox::vneid::CLIENT_ID),
                ("redirect_uri", redirect),
                ("state", "s"),
                ("nonce", "n"),
                ("code_challenge", &challenge),
                ("decision", "approve"),
                ("personal_id", "001200003456"),
                ("name", "Lê Văn Tám"),
                ("birthdate", "1985-01-02"),
            ])
            .send()
    };
    let code_of = |response: reqwest::Response| {
        query_of(response.headers()["location"].to_str().unwrap())["code"].clone()
    };
    let exchange = |code: String, verifier: String, secret: &'static str| {
        client()
            .post(format!("{issuer}/token"))
            .basic_auth(sandbox::vneid::CLIENT_ID, Some(secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ])
            .send()
    };

    let code = code_of(approve(challenge.clone()).await.unwrap());
    let wrong = exchange(code.clone(), "b".repeat(43), sandbox::vneid::CLIENT_SECRET)
        .await
        .unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    let reused = exchange(code, verifier.clone(), sandbox::vneid::CLIENT_SECRET)
        .await
        .unwrap();
    assert_eq!(
        reused.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "a code is spent by any attempt"
    );

    let code = code_of(approve(challenge.clone()).await.unwrap());
    let bad_client = exchange(code.clone(), verifier.clone(), "guess")
        .await
        .unwrap();
    assert_eq!(bad_client.status(), 401);
    let code = code_of(approve(challenge).await.unwrap());
    let good = exchange(code, verifier, sandbox::vneid::CLIENT_SECRET)
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    assert_eq!(good.headers()["cache-control"], "no-store");
    assert!(
        good.json::<Value>().await.unwrap()["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3
    );
    provider.stop().await.unwrap();
}
