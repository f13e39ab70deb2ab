//! Payments end to end: a resident looks up a bill, pays it on the VNPay or MoMo sandbox's page
//! (which sends the IPN, twice, as real gateways may), gets a receipt and a notice; refunds,
//! idempotency, the providers' error codes, reconciliation of a lost IPN, and a ledger that
//! balances after every test, in both deployment shapes.

use payments::config::PaymentsConfig;
use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, TestApp, poll_until, problem};
use crate::in_both_modes;

struct Payments {
    app: TestApp,
    /// The sandbox's base URL (`http://127.0.0.1:port`).
    sandbox: String,
    /// A client that does not follow redirects, as a test of where they lead.
    browser: reqwest::Client,
}

/// The sandboxes on a port of their own; their base URL.
async fn sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, sandbox::router()).await.unwrap() });
    format!("http://{addr}")
}

async fn spawn(mode: Mode) -> Payments {
    spawn_with(mode, |_| {}).await
}

async fn spawn_with(mode: Mode, adjust: impl Fn(&mut platform::Config) + 'static) -> Payments {
    let sandbox = sandbox().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let base = sandbox.clone();
    let configure = move |config: &mut platform::Config| {
        config.edit(|payments: &mut payments::config::PaymentsConfig| {
            payments.biller_url = Some(format!("{base}/sandbox/biller"));
            payments.vnpay = Some(payments::config::VnpayConfig {
                tmn_code: sandbox::vnpay::DEMO_TMN_CODE.to_owned(),
                hash_secret: sandbox::vnpay::DEMO_HASH_SECRET.to_owned().into(),
                payment_url: format!("{base}/sandbox/vnpay/paymentv2/vpcpay.html"),
                api_url: format!("{base}/sandbox/vnpay/merchant_webapi/api/transaction"),
                fee_basis_points: 110,
            });
            payments.momo = Some(payments::config::MomoConfig {
                partner_code: sandbox::momo::DEMO_PARTNER_CODE.to_owned(),
                access_key: sandbox::momo::DEMO_ACCESS_KEY.to_owned(),
                secret_key: sandbox::momo::DEMO_SECRET_KEY.to_owned().into(),
                endpoint: format!("{base}/sandbox/momo"),
                fee_basis_points: 150,
            });
            payments.provider_timeout_ms = 2_000;
            payments.bill_lookups_per_minute = 1_000;
        });
        if matches!(mode, Mode::Split) {
            // The payer's notice crosses processes through NATS.
            crate::helpers::use_nats(config, &unique);
        }
        adjust(config);
    };
    let app = TestApp::spawn_with(mode, configure).await;
    // The merchant portal: VNPay sends this deployment's IPNs to its gateway.
    let registered = app
        .client
        .post(format!("{sandbox}/sandbox/vnpay/merchants"))
        .json(&json!({
            "tmn_code": sandbox::vnpay::DEMO_TMN_CODE,
            "hash_secret": sandbox::vnpay::DEMO_HASH_SECRET,
            "ipn_url": app.url("/v1/payments/ipn/vnpay"),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 204);
    Payments {
        app,
        sandbox,
        browser: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

impl Payments {
    /// An electricity code that owes at least one bill, and its first bill.
    async fn owed_bill(&self, token: &str) -> (String, Json) {
        for _ in 0..50 {
            let n = rand::random::<u32>() % 1_000_000;
            // Codes ending in 0 owe nothing and in 99 are unknown: skip both.
            let code = format!("PC05HU{n:06}7");
            let lookup = self.lookup(token, "electricity", &code).await;
            assert_eq!(lookup.status(), 200);
            let body: Json = lookup.json().await.unwrap();
            if let Some(bill) = body["bills"].as_array().and_then(|b| b.first()) {
                assert_eq!(body["code"], code);
                assert!(body["customer"]["name"].is_string(), "{body}");
                return (code, bill.clone());
            }
        }
        panic!("no code with a bill in 50 tries");
    }

    async fn lookup(&self, token: &str, service: &str, code: &str) -> reqwest::Response {
        self.app
            .authed(Method::GET, "/v1/payments/bills", token)
            .query(&[("service", service), ("code", code)])
            .send()
            .await
            .unwrap()
    }

    async fn pay(&self, token: &str, key: &str, body: &Json) -> reqwest::Response {
        self.app
            .authed(Method::POST, "/v1/payments", token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A new payment of an owed electricity bill through `provider`.
    async fn new_payment(&self, token: &str, provider: &str) -> Json {
        let (code, bill) = self.owed_bill(token).await;
        let response = self
            .pay(
                token,
                &uuid::Uuid::new_v4().to_string(),
                &order(&code, &bill, provider),
            )
            .await;
        assert_eq!(response.status(), 201);
        let payment: Json = response.json().await.unwrap();
        assert_eq!(payment["status"], "redirected", "{payment}");
        assert_eq!(payment["amount"], bill["amount"]);
        payment
    }

    /// The payer opens the provider's page and decides; where the browser is sent back to.
    async fn decide(&self, payment: &Json, decision: &str) -> String {
        let pay_url = payment["pay_url"].as_str().unwrap();
        let page = self.browser.get(pay_url).send().await.unwrap();
        assert_eq!(page.status(), 200, "{}", page.text().await.unwrap());
        let decided = match payment["provider"].as_str().unwrap() {
            "vnpay" => {
                self.browser
                    .post(format!("{}/sandbox/vnpay/paymentv2/decide", self.sandbox))
                    .form(&[
                        ("tmn_code", sandbox::vnpay::DEMO_TMN_CODE),
                        ("txn_ref", &vnpay_reference(payment)),
                        ("decision", decision),
                    ])
                    .send()
                    .await
            }
            _ => {
                self.browser
                    .post(format!("{pay_url}/decide"))
                    .form(&[("decision", decision)])
                    .send()
                    .await
            }
        }
        .unwrap();
        assert_eq!(decided.status(), 302);
        decided.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The payment once it reached `status` (checked every 100 ms, for 10 s at most).
    async fn payment_when(&self, token: &str, id: &str, status: &str) -> Json {
        let path = format!("/v1/payments/{id}");
        let payment = poll_until(
            || self.app.get_json_as(&path, token),
            |p: &Json| p["status"] == status,
        )
        .await;
        assert_eq!(
            payment["status"], status,
            "payment never reached {status}: {payment}"
        );
        payment
    }

    async fn switch(&self, provider: &str, key: &str, reference: &str, switch: Json) {
        let mut body = switch;
        body[key] = json!(reference);
        let set = self
            .app
            .client
            .post(format!("{}/sandbox/{provider}/switches", self.sandbox))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(set.status().is_success(), "{}", set.status());
    }

    /// The IPN attempts the sandbox made for `reference`, once there are `count`.
    async fn ipn_log(&self, provider: &str, key: &str, reference: &str, count: usize) -> Vec<Json> {
        let url = format!("{}/sandbox/{provider}/ipn-log", self.sandbox);
        poll_until(
            || async {
                let log: Vec<Json> = self
                    .app
                    .client
                    .get(&url)
                    .query(&[(key, reference)])
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                log
            },
            |log| log.len() >= count,
        )
        .await
    }

    async fn refund(&self, token: &str, id: &str, key: &str, amount: i64) -> reqwest::Response {
        self.app
            .authed(Method::POST, &format!("/v1/payments/{id}/refunds"), token)
            .header("idempotency-key", key)
            .json(&json!({ "amount": amount, "reason": "Thanh toán nhầm hóa đơn" }))
            .send()
            .await
            .unwrap()
    }

    /// Every ledger account's balance, after checking each transaction and the whole ledger
    /// sum to zero.
    async fn balanced_ledger(&self) -> HashMap<String, i64> {
        let db = self.app.schema_pool("payments").await;
        let unbalanced: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
            "SELECT transaction_id, sum(amount)::bigint FROM ledger_entries
             GROUP BY transaction_id HAVING sum(amount) <> 0 OR count(*) < 2",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(unbalanced.is_empty(), "{unbalanced:?}");
        let balances: Vec<(String, i64)> = sqlx::query_as(
            "SELECT account_code, sum(amount)::bigint FROM ledger_entries GROUP BY account_code",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert_eq!(balances.iter().map(|(_, b)| b).sum::<i64>(), 0);
        balances.into_iter().collect()
    }

    /// A platform admin's token (created as `citizen staff create` would).
    async fn platform_admin(&self) -> String {
        let config = crate::helpers::test_config(&self.app.database);
        let password = "finance-demo-password";
        mobile_api::app::create_staff(
            &config,
            &identity::NewStaff {
                username: "finance.admin".to_owned(),
                password: password.to_owned(),
                display_name: Some("Kế toán thành phố".to_owned()),
                roles: vec![platform::auth::Role::PlatformAdmin],
                scope: Default::default(),
            },
        )
        .await
        .unwrap();
        let signed_in: Json = self
            .app
            .client
            .post(self.app.url("/v1/auth/staff/login"))
            .json(&json!({ "username": "finance.admin", "password": password }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        signed_in["access_token"].as_str().unwrap().to_owned()
    }
}

fn order(code: &str, bill: &Json, provider: &str) -> Json {
    json!({
        "service": "electricity",
        "code": code,
        "bill_id": bill["bill_id"],
        "amount": bill["amount"],
        "provider": provider,
    })
}

/// Our reference at VNPay, read off the payment URL.
fn vnpay_reference(payment: &Json) -> String {
    query_value(payment["pay_url"].as_str().unwrap(), "vnp_TxnRef")
}

fn query_value(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// What the provider keeps, worked out here: basis points of the amount, rounded.
fn fee(amount: i64, basis_points: i64) -> i64 {
    ((amount * basis_points) as f64 / 10_000.0).round() as i64
}

async fn a_resident_pays_a_bill_with_vnpay_and_gets_a_receipt(mode: Mode) {
    let payments = spawn(mode).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    let payment = payments.new_payment(&resident, "vnpay").await;
    let id = payment["id"].as_str().unwrap();
    let amount = payment["amount"].as_i64().unwrap();
    let pay_url = payment["pay_url"].as_str().unwrap();
    assert_eq!(
        query_value(pay_url, "vnp_Amount"),
        (amount * 100).to_string()
    );
    assert_eq!(query_value(pay_url, "vnp_Version"), "2.1.0");

    let other = app.resident_token().await;
    let code = payment["customer_code"].as_str().unwrap();

    let back = payments.decide(&payment, "approve").await;
    assert!(
        back.starts_with(&app.url("/v1/payments/return/vnpay?")),
        "{back}"
    );
    // The browser's return says the payment is being confirmed, and settles nothing itself.
    let page = payments.browser.get(&back).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("xác nhận"));

    let paid = payments.payment_when(&resident, id, "succeeded").await;
    let receipt_number = paid["receipt_number"].as_str().unwrap();
    assert!(receipt_number.starts_with("BL"), "{paid}");
    // VNPay sent the IPN twice: confirmed the first time, already confirmed the second.
    let log = payments
        .ipn_log("vnpay", "txn_ref", &vnpay_reference(&payment), 2)
        .await;
    let codes: Vec<&str> = log
        .iter()
        .map(|a| a["rsp_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["00", "02"]);

    let receipt = app
        .get_json_as(&format!("/v1/payments/{id}/receipt"), &resident)
        .await;
    assert_eq!(receipt["receipt_number"], receipt_number);
    assert_eq!(receipt["amount"], amount);
    assert_eq!(receipt["vi"]["title"], "Biên lai thanh toán");
    assert_eq!(receipt["en"]["title"], "Payment receipt");
    let amount_line = |lang: &str, label: &str| {
        receipt[lang]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|line| line[0] == label)
            .map(|line| line[1].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        amount_line("vi", "Số tiền"),
        platform::lang::vnd(amount, platform::lang::Lang::Vi)
    );
    assert!(amount_line("en", "Amount").ends_with(" VND"));
    assert!(receipt["paid_at"].as_str().unwrap().ends_with("+07:00"));

    // The biller is told: the bill is no longer owed.
    let still_owed = poll_until(
        || async {
            let lookup: Json = payments
                .lookup(&resident, "electricity", code)
                .await
                .json()
                .await
                .unwrap();
            lookup["bills"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["bill_id"] == payment["bill_id"])
        },
        |owed| !owed,
    )
    .await;
    assert!(!still_owed, "the biller still lists the paid bill");

    // The payer hears of it in their inbox.
    let inbox = poll_until(
        || app.get_json_as("/v1/inbox", &resident),
        |inbox: &Json| inbox["notices"].as_array().is_some_and(|i| !i.is_empty()),
    )
    .await;
    assert_eq!(
        inbox["notices"][0]["title_vi"], "Thanh toán thành công",
        "{inbox}"
    );

    // A stranger sees none of it.
    problem(
        app.get_as(&format!("/v1/payments/{id}"), &other).await,
        404,
        "payment_not_found",
    )
    .await;
    problem(
        app.get_as(&format!("/v1/payments/{id}/receipt"), &other)
            .await,
        404,
        "payment_not_found",
    )
    .await;
    let mine = app.get_json_as("/v1/payments", &resident).await;
    assert_eq!(mine["payments"][0]["id"], id);
    assert_eq!(
        app.get_json_as("/v1/payments", &other).await["payments"],
        json!([])
    );

    let ledger = payments.balanced_ledger().await;
    let fee = fee(amount, 110);
    assert_eq!(ledger["provider_clearing:vnpay"], amount - fee);
    assert_eq!(ledger["provider_fees:vnpay"], fee);
    assert_eq!(ledger["biller_payable:evn-cpc-hue"], -amount);
    payments.app.stop().await;
}
in_both_modes!(a_resident_pays_a_bill_with_vnpay_and_gets_a_receipt);

async fn a_momo_payment_is_refunded_in_part_then_in_full(mode: Mode) {
    let payments = spawn(mode).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    let payment = payments.new_payment(&resident, "momo").await;
    let id = payment["id"].as_str().unwrap();
    let amount = payment["amount"].as_i64().unwrap();
    assert!(payment["deeplink"].as_str().unwrap().starts_with("momo://"));
    let back = payments.decide(&payment, "approve").await;
    assert!(
        back.starts_with(&app.url("/v1/payments/return/momo?")),
        "{back}"
    );
    payments.payment_when(&resident, id, "succeeded").await;
    let order_id = query_value(&back, "orderId");
    let log = payments.ipn_log("momo", "order_id", &order_id, 2).await;
    assert!(log.iter().all(|a| a["http_status"] == 204), "{log:?}");

    // Not the stranger's to refund, nor the payer's alone: the city's operators refund, and
    // never more than was paid.
    let stranger = app.resident_token().await;
    problem(
        payments.refund(&stranger, id, "r-0", 10_000).await,
        404,
        "payment_not_found",
    )
    .await;
    problem(
        payments.refund(&resident, id, "r-0", 10_000).await,
        403,
        "refund_needs_operator",
    )
    .await;
    let operator = payments.platform_admin().await;
    problem(
        payments.refund(&operator, id, "r-1", amount + 1).await,
        422,
        "refund_exceeds_payment",
    )
    .await;

    let part = 1_000;
    let refunded = payments.refund(&operator, id, "r-2", part).await;
    assert_eq!(refunded.status(), 201);
    let refunded: Json = refunded.json().await.unwrap();
    assert_eq!(refunded["refund"]["status"], "succeeded", "{refunded}");
    assert_eq!(refunded["payment"]["status"], "partially_refunded");
    assert_eq!(refunded["payment"]["refunded_amount"], part);
    // The same key again replays; more than what is left is refused.
    let replayed = payments.refund(&operator, id, "r-2", part).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    problem(
        payments
            .refund(&operator, id, "r-3", amount - part + 1)
            .await,
        422,
        "refund_exceeds_payment",
    )
    .await;
    let rest = payments.refund(&operator, id, "r-4", amount - part).await;
    let rest: Json = rest.json().await.unwrap();
    assert_eq!(rest["payment"]["status"], "refunded", "{rest}");
    assert_eq!(rest["payment"]["refunded_amount"], amount);
    // The payer sees it refunded on the receipt.
    let receipt = app
        .get_json_as(&format!("/v1/payments/{id}/receipt"), &resident)
        .await;
    assert_eq!(receipt["refunded_amount"], amount);

    let ledger = payments.balanced_ledger().await;
    let fee = fee(amount, 150);
    // Everything went back to the payer; what MoMo kept stays a cost.
    assert_eq!(ledger["resident_clearing"], 0);
    assert_eq!(ledger["biller_payable:evn-cpc-hue"], 0);
    assert_eq!(ledger["provider_clearing:momo"], -fee);
    assert_eq!(ledger["provider_fees:momo"], fee);
    payments.app.stop().await;
}
in_both_modes!(a_momo_payment_is_refunded_in_part_then_in_full);

#[tokio::test]
async fn the_same_key_sent_fifty_times_at_once_makes_one_payment() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    let (code, bill) = payments.owed_bill(&resident).await;
    let body = order(&code, &bill, "momo");

    problem(
        app.authed(Method::POST, "/v1/payments", &resident)
            .json(&body)
            .send()
            .await
            .unwrap(),
        400,
        "idempotency_key_required",
    )
    .await;

    let attempts = (0..50).map(|_| payments.pay(&resident, "pay-once", &body));
    let answers = futures::future::join_all(attempts).await;
    let mut ids = Vec::new();
    for answer in answers {
        match answer.status().as_u16() {
            201 => ids.push(answer.json::<Json>().await.unwrap()["id"].clone()),
            409 => {
                problem(answer, 409, "idempotency_key_in_use").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let db = app.schema_pool("payments").await;
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_intents")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(made, 1);

    // Once done, the key replays the first answer; with another body it is refused.
    let replay = payments.pay(&resident, "pay-once", &body).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed: Json = replay.json().await.unwrap();
    assert_eq!(replayed["id"], ids[0]);
    let mut other_body = body.clone();
    other_body["provider"] = json!("vnpay");
    problem(
        payments.pay(&resident, "pay-once", &other_body).await,
        422,
        "idempotency_key_reused",
    )
    .await;

    // Paid once, charged once.
    let back = payments.decide(&replayed, "approve").await;
    let order_id = query_value(&back, "orderId");
    payments
        .payment_when(&resident, replayed["id"].as_str().unwrap(), "succeeded")
        .await;
    let charges: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ledger_transactions WHERE external_id LIKE 'payment:%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(charges, 1);
    assert!(!order_id.is_empty());
    payments.balanced_ledger().await;
    payments.app.stop().await;
}

#[tokio::test]
async fn vnpay_notifications_are_answered_with_vnpays_codes() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    let ipn = |query: String| {
        let url = app.url(&format!("/v1/payments/ipn/vnpay?{query}"));
        async move {
            app.client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Json>()
                .await
                .unwrap()
        }
    };

    // A paid payment: its return link holds the same signed fields as the IPN.
    let paid = payments.new_payment(&resident, "vnpay").await;
    let back = payments.decide(&paid, "approve").await;
    payments
        .payment_when(&resident, paid["id"].as_str().unwrap(), "succeeded")
        .await;
    let signed = back.split_once('?').unwrap().1.to_owned();
    assert_eq!(
        ipn(signed.clone()).await["RspCode"],
        "02",
        "a replay changes nothing"
    );

    // A tampered amount breaks the signature.
    let amount = query_value(&back, "vnp_Amount");
    let tampered = signed.replace(
        &format!("vnp_Amount={amount}"),
        &format!("vnp_Amount={}", amount.parse::<i64>().unwrap() + 100),
    );
    assert_eq!(ipn(tampered).await["RspCode"], "97");

    // A reference we never made, signed properly.
    let mut params: Vec<(String, String)> = reqwest::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| k != "vnp_SecureHash" && k != "vnp_SecureHashType")
        .collect();
    for (k, v) in &mut params {
        if k == "vnp_TxnRef" {
            *v = "CZNOSUCHPAYMENT".to_owned();
        }
    }
    let hash = sandbox::vnpay::secure_hash(sandbox::vnpay::DEMO_HASH_SECRET, &params);
    let query: String = form_urlencoded_pairs(&params) + "&vnp_SecureHash=" + &hash;
    assert_eq!(ipn(query).await["RspCode"], "01");

    // The gateway reports another amount than asked: refused with 04, and the payment fails
    // for an operator, with nothing in the ledger.
    let wrong = payments.new_payment(&resident, "vnpay").await;
    let reference = vnpay_reference(&wrong);
    payments
        .switch(
            "vnpay",
            "txn_ref",
            &reference,
            json!({ "amount_delta": 1000 }),
        )
        .await;
    payments.decide(&wrong, "approve").await;
    let log = payments.ipn_log("vnpay", "txn_ref", &reference, 1).await;
    assert_eq!(log[0]["rsp_code"], "04");
    let failed = payments
        .payment_when(&resident, wrong["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(failed["failure_code"], "amount_mismatch");

    // A declined payment fails too.
    let declined = payments.new_payment(&resident, "vnpay").await;
    payments.decide(&declined, "decline").await;
    let declined = payments
        .payment_when(&resident, declined["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(declined["failure_code"], "vnpay_24");

    let db = app.schema_pool("payments").await;
    // The wrong amount pays no bill: it is held in suspense for an operator to return.
    let mut booked: Vec<String> = sqlx::query_scalar("SELECT external_id FROM ledger_transactions")
        .fetch_all(&db)
        .await
        .unwrap();
    booked.sort();
    assert_eq!(booked.len(), 2, "{booked:?}");
    assert_eq!(
        booked[0],
        format!("payment:{}", paid["id"].as_str().unwrap())
    );
    assert!(
        booked[1].starts_with(&format!("unmatched:{}:", wrong["id"].as_str().unwrap())),
        "{booked:?}"
    );
    let ledger = payments.balanced_ledger().await;
    assert_eq!(
        ledger["suspense"],
        -(wrong["amount"].as_i64().unwrap() + 1000)
    );

    // The day's report shows what the provider took and we did not book.
    let admin = payments.platform_admin().await;
    // The Huế day the payments were made.
    let today = chrono::DateTime::parse_from_rfc3339(paid["created_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
        .date_naive()
        .to_string();
    let report = app
        .authed(Method::POST, "/v1/admin/payments/reconciliations", &admin)
        .json(&json!({ "provider": "vnpay", "day": today }))
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), 200);
    let report: Json = report.json().await.unwrap();
    assert_eq!(report["payments_checked"], 3, "{report}");
    assert_eq!(report["matched"], 2, "{report}");
    assert_eq!(report["mismatches"][0]["kind"], "paid_only_at_provider");
    assert_eq!(report["mismatches"][0]["payment_id"], wrong["id"]);
    assert_eq!(
        report["mismatches"][0]["provider_amount"],
        wrong["amount"].as_i64().unwrap() + 1000
    );
    let kept = app
        .get_json_as(
            &format!("/v1/admin/payments/reconciliations/vnpay/{today}"),
            &admin,
        )
        .await;
    assert_eq!(kept["mismatches"], report["mismatches"]);
    // A day nobody reconciled has no report, under a code of its own (not a field report's).
    problem(
        app.get_as(
            "/v1/admin/payments/reconciliations/vnpay/2020-01-01",
            &admin,
        )
        .await,
        404,
        "reconciliation_not_found",
    )
    .await;
    // Residents see no ledger and no reports.
    problem(
        app.get_as("/v1/admin/payments/ledger", &resident).await,
        404,
        "route_not_found",
    )
    .await;
    let ledger = app.get_json_as("/v1/admin/payments/ledger", &admin).await;
    assert_eq!(ledger["total"], 0);
    assert_eq!(ledger["transactions"], 2);
    payments.app.stop().await;
}

fn form_urlencoded_pairs(params: &[(String, String)]) -> String {
    let mut out = reqwest::Url::parse("http://x/").unwrap();
    out.query_pairs_mut().extend_pairs(params);
    out.query().unwrap_or_default().to_owned()
}

async fn a_payment_whose_notification_never_comes_is_settled_by_reconciliation(mode: Mode) {
    let payments = spawn_with(mode, |config| {
        config.edit(|payments: &mut PaymentsConfig| payments.reconcile_after_secs = 0);
        config.edit(|payments: &mut PaymentsConfig| payments.reconcile_interval_ms = 200);
    })
    .await;
    let app = &payments.app;
    let resident = app.resident_token().await;

    // No IPN at all from VNPay.
    let lost = payments.new_payment(&resident, "vnpay").await;
    let reference = vnpay_reference(&lost);
    payments
        .switch("vnpay", "txn_ref", &reference, json!({ "ipn": "none" }))
        .await;
    payments.decide(&lost, "approve").await;
    let settled = payments
        .payment_when(&resident, lost["id"].as_str().unwrap(), "succeeded")
        .await;
    assert!(settled["receipt_number"].is_string());
    assert!(
        payments
            .ipn_log("vnpay", "txn_ref", &reference, 0)
            .await
            .is_empty(),
        "settled with no IPN"
    );

    // A late one from MoMo finds it settled already.
    let late = payments.new_payment(&resident, "momo").await;
    payments
        .switch(
            "momo",
            "order_id",
            "*",
            json!({ "ipn": "late", "late_ms": 3000 }),
        )
        .await;
    let back = payments.decide(&late, "approve").await;
    let order_id = query_value(&back, "orderId");
    payments
        .payment_when(&resident, late["id"].as_str().unwrap(), "succeeded")
        .await;
    let log = payments.ipn_log("momo", "order_id", &order_id, 2).await;
    assert!(log.iter().all(|a| a["http_status"] == 204), "{log:?}");

    // A refund whose answer never came (MoMo refunded, then was too slow to say so) is
    // resolved from MoMo's own record of it.
    let operator = payments.platform_admin().await;
    payments
        .switch("momo", "order_id", "*", json!({ "api_timeout_ms": 5000 }))
        .await;
    let late_id = late["id"].as_str().unwrap();
    let unanswered = payments
        .refund(&operator, late_id, "slow-refund", 5_000)
        .await;
    assert_eq!(unanswered.status(), 201);
    let unanswered: Json = unanswered.json().await.unwrap();
    assert_eq!(unanswered["refund"]["status"], "pending", "{unanswered}");
    assert_eq!(unanswered["payment"]["status"], "refund_pending");
    payments
        .switch("momo", "order_id", "*", json!({ "clear": true }))
        .await;
    let resolved = payments
        .payment_when(&resident, late_id, "partially_refunded")
        .await;
    assert_eq!(resolved["refunded_amount"], 5_000);

    // An abandoned payment expires: VNPay never heard of it once its time is over.
    let db = app.schema_pool("payments").await;
    let abandoned = payments.new_payment(&resident, "vnpay").await;
    sqlx::query(
        "UPDATE payment_intents SET expires_at = now() - interval '10 minutes' WHERE id = $1",
    )
    .bind(uuid::Uuid::parse_str(abandoned["id"].as_str().unwrap()).unwrap())
    .execute(&db)
    .await
    .unwrap();
    payments
        .payment_when(&resident, abandoned["id"].as_str().unwrap(), "expired")
        .await;
    // The payer still pays on VNPay's page: the money is held in suspense, not lost, and the
    // payment stays expired (its bill may have been paid another way since).
    payments.decide(&abandoned, "approve").await;
    let log = payments
        .ipn_log("vnpay", "txn_ref", &vnpay_reference(&abandoned), 2)
        .await;
    assert_eq!(log[0]["rsp_code"], "02", "{log:?}");
    let still = app
        .get_json_as(
            &format!("/v1/payments/{}", abandoned["id"].as_str().unwrap()),
            &resident,
        )
        .await;
    assert_eq!(still["status"], "expired");

    let ledger = payments.balanced_ledger().await;
    let (vnpay, momo, held) = (
        lost["amount"].as_i64().unwrap(),
        late["amount"].as_i64().unwrap(),
        abandoned["amount"].as_i64().unwrap(),
    );
    assert_eq!(ledger["suspense"], -held);
    assert_eq!(
        ledger["provider_clearing:vnpay"],
        vnpay - fee(vnpay, 110) + held - fee(held, 110)
    );
    assert_eq!(
        ledger["provider_clearing:momo"],
        momo - fee(momo, 150) - 5_000
    );
    assert_eq!(ledger["resident_clearing"], 0);
    payments.app.stop().await;
}
in_both_modes!(a_payment_whose_notification_never_comes_is_settled_by_reconciliation);

#[tokio::test]
async fn bad_input_and_dead_upstreams_get_clear_errors() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    problem(
        payments.lookup(&resident, "electricity", "PC05-nope").await,
        422,
        "invalid_customer_code",
    )
    .await;
    problem(
        payments
            .lookup(&resident, "electricity", "PC05HU0000099")
            .await,
        404,
        "customer_not_found",
    )
    .await;
    let unpaid: Json = payments
        .lookup(&resident, "water", "HW00000010")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        unpaid["bills"],
        json!([]),
        "a code ending in 0 owes nothing"
    );

    let (code, bill) = payments.owed_bill(&resident).await;
    let mut changed = order(&code, &bill, "vnpay");
    changed["amount"] = json!(bill["amount"].as_i64().unwrap() + 1);
    problem(
        payments.pay(&resident, "k1", &changed).await,
        409,
        "bill_changed",
    )
    .await;
    let mut unknown_bill = order(&code, &bill, "vnpay");
    unknown_bill["bill_id"] = json!("no-such-bill");
    problem(
        payments.pay(&resident, "k2", &unknown_bill).await,
        404,
        "bill_not_found",
    )
    .await;
    let mut bad_provider = order(&code, &bill, "vnpay");
    bad_provider["provider"] = json!("paypal");
    problem(
        payments.pay(&resident, "k3", &bad_provider).await,
        400,
        "invalid_body",
    )
    .await;

    // The biller down: a clear 503, and nothing made.
    let faulted = app
        .client
        .post(format!("{}/sandbox/biller/faults", payments.sandbox))
        .json(&json!({ "status": 503, "times": 1 }))
        .send()
        .await
        .unwrap();
    assert!(faulted.status().is_success());
    problem(
        payments
            .pay(&resident, "k4", &order(&code, &bill, "momo"))
            .await,
        503,
        "biller_unavailable",
    )
    .await;

    // MoMo too slow to answer: a clear 503; the retry with the same key pays the same payment.
    payments
        .switch("momo", "order_id", "*", json!({ "api_timeout_ms": 5000 }))
        .await;
    let slow = payments
        .pay(&resident, "k5", &order(&code, &bill, "momo"))
        .await;
    let body = problem(slow, 503, "provider_unreachable").await;
    assert!(!body.to_string().contains("momo"), "no internals: {body}");
    payments
        .switch("momo", "order_id", "*", json!({ "clear": true }))
        .await;
    // The key stays bound to its request, failed or not.
    problem(
        payments
            .pay(&resident, "k5", &order(&code, &bill, "vnpay"))
            .await,
        422,
        "idempotency_key_reused",
    )
    .await;
    let retried = payments
        .pay(&resident, "k5", &order(&code, &bill, "momo"))
        .await;
    assert_eq!(retried.status(), 201);
    let retried: Json = retried.json().await.unwrap();
    assert_eq!(retried["status"], "redirected");
    let db = app.schema_pool("payments").await;
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_intents")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(made, 1, "the retry found the payment the key names");
    payments.balanced_ledger().await;
    payments.app.stop().await;
}

#[tokio::test]
async fn the_ledger_refuses_unbalanced_or_changed_rows() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    let payment = payments.new_payment(&resident, "momo").await;
    payments.decide(&payment, "approve").await;
    payments
        .payment_when(&resident, payment["id"].as_str().unwrap(), "succeeded")
        .await;
    let db = app.schema_pool("payments").await;

    let changed = sqlx::query("UPDATE ledger_entries SET amount = amount + 1")
        .execute(&db)
        .await;
    assert!(changed.unwrap_err().to_string().contains("append-only"));
    let deleted = sqlx::query("DELETE FROM ledger_entries").execute(&db).await;
    assert!(deleted.unwrap_err().to_string().contains("append-only"));

    // An entry that does not balance is refused when its transaction commits.
    let mut tx = db.begin().await.unwrap();
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO ledger_transactions (id, external_id, description) VALUES ($1, 'test:1', 'x')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO ledger_entries (transaction_id, account_code, amount)
         VALUES ($1, 'biller_payable:evn-cpc-hue', 500), ($1, 'provider_clearing:momo', -400)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    let committed = tx.commit().await;
    assert!(
        committed
            .unwrap_err()
            .to_string()
            .contains("does not balance"),
        "an unbalanced transaction was kept"
    );
    payments.balanced_ledger().await;
    payments.app.stop().await;
}

#[tokio::test]
async fn an_operator_resolves_a_refund_vnpay_never_answered() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    let payment = payments.new_payment(&resident, "vnpay").await;
    let id = payment["id"].as_str().unwrap();
    let amount = payment["amount"].as_i64().unwrap();
    payments.decide(&payment, "approve").await;
    payments.payment_when(&resident, id, "succeeded").await;

    // VNPay takes the refund, then is too slow to say so.
    let operator = payments.platform_admin().await;
    payments
        .switch(
            "vnpay",
            "txn_ref",
            &vnpay_reference(&payment),
            json!({ "api_timeout_ms": 5000 }),
        )
        .await;
    let asked = payments.refund(&operator, id, "slow", 2_000).await;
    assert_eq!(asked.status(), 201);
    let asked: Json = asked.json().await.unwrap();
    assert_eq!(asked["refund"]["status"], "pending", "{asked}");
    assert_eq!(asked["payment"]["status"], "refund_pending");
    let refund_id = asked["refund"]["id"].as_str().unwrap();
    let resolve = |token: &str, body: Json| {
        app.authed(
            Method::POST,
            &format!("/v1/admin/payments/refunds/{refund_id}/resolve"),
            token,
        )
        .json(&body)
        .send()
    };

    problem(
        resolve(
            &resident,
            json!({ "outcome": "succeeded", "provider_transaction": "1" }),
        )
        .await
        .unwrap(),
        404,
        "route_not_found",
    )
    .await;
    problem(
        resolve(&operator, json!({ "outcome": "succeeded" }))
            .await
            .unwrap(),
        422,
        "invalid_refund_outcome",
    )
    .await;
    let resolved = resolve(
        &operator,
        json!({ "outcome": "succeeded", "provider_transaction": "14000099" }),
    )
    .await
    .unwrap();
    assert_eq!(resolved.status(), 200);
    let resolved: Json = resolved.json().await.unwrap();
    assert_eq!(resolved["refund"]["status"], "succeeded");
    assert_eq!(resolved["payment"]["status"], "partially_refunded");
    assert_eq!(resolved["payment"]["refunded_amount"], 2_000);
    problem(
        resolve(&operator, json!({ "outcome": "failed" }))
            .await
            .unwrap(),
        409,
        "refund_not_pending",
    )
    .await;

    let ledger = payments.balanced_ledger().await;
    assert_eq!(ledger["resident_clearing"], 0);
    assert_eq!(ledger["biller_payable:evn-cpc-hue"], -(amount - 2_000));
    payments.app.stop().await;
}

/// `Nguyễn Thị Hoa` as `N. T. H.`, as residents who do not know the customer see it.
fn initials_of(name: &str) -> String {
    name.split_whitespace()
        .map(|word| format!("{}.", word.chars().next().unwrap()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_customer_is_shown_masked_until_the_account_links_or_pays_the_code() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let owner = app.resident_token().await;
    let (code, bill) = payments.owed_bill(&owner).await;
    let customer_seen_by = |token: &str| {
        let (token, code) = (token.to_owned(), code.clone());
        let payments = &payments;
        async move {
            let lookup = payments.lookup(&token, "electricity", &code).await;
            assert_eq!(lookup.status(), 200);
            lookup.json::<Json>().await.unwrap()["customer"].clone()
        }
    };

    // Whoever types the code sees initials and the ward, never the name and address.
    let masked = customer_seen_by(&owner).await;
    assert_eq!(masked["masked"], true, "{masked}");
    assert!(masked["address"].is_null(), "{masked}");
    let ward = masked["ward"].as_str().unwrap().to_owned();
    let initials = masked["name"].as_str().unwrap().to_owned();
    assert!(
        initials
            .split(' ')
            .all(|word| word.chars().count() == 2 && word.ends_with('.')),
        "{initials}"
    );

    // Linking takes the contract number printed on the bill: a wrong one, or a code that does
    // not exist, is refused alike.
    let link = |token: &str, code: &str, number: &str| {
        app.authed(
            Method::PUT,
            &format!("/v1/payments/customer-links/electricity/{code}"),
            token,
        )
        .json(&json!({ "contract_number": number }))
        .send()
    };
    problem(
        link(&owner, &code, "0000000000").await.unwrap(),
        422,
        "customer_not_matched",
    )
    .await;
    problem(
        link(&owner, "PC05HU0000099", "0000000000").await.unwrap(),
        422,
        "customer_not_matched",
    )
    .await;
    let number = sandbox::biller::contract_number_on_bill("electricity", &code).unwrap();
    let linked = link(&owner, &code, &number).await.unwrap();
    assert_eq!(linked.status(), 200);
    let linked: Json = linked.json().await.unwrap();
    let full_name = linked["customer"]["name"].as_str().unwrap().to_owned();
    assert_eq!(initials_of(&full_name), initials);
    let known = customer_seen_by(&owner).await;
    assert_eq!(known["masked"], false, "{known}");
    assert_eq!(known["name"], full_name.as_str());
    assert!(
        known["address"].as_str().unwrap().contains(&ward),
        "{known}"
    );
    let links = app.get_json_as("/v1/payments/customer-links", &owner).await;
    assert_eq!(links["links"][0]["code"], code.as_str(), "{links}");

    // Unlinked, it is masked again.
    let unlinked = app
        .authed(
            Method::DELETE,
            &format!("/v1/payments/customer-links/electricity/{code}"),
            &owner,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(unlinked.status(), 204);
    assert_eq!(customer_seen_by(&owner).await["masked"], true);

    // Someone paying the code sees initials on the payment until it succeeds; having paid it,
    // they see the customer in full there, on the receipt and in lookups.
    let payer = app.resident_token().await;
    customer_seen_by(&payer).await;
    let made = payments
        .pay(&payer, "pay-for-a-neighbour", &order(&code, &bill, "momo"))
        .await;
    assert_eq!(made.status(), 201);
    let made: Json = made.json().await.unwrap();
    assert_eq!(made["customer_name"], initials.as_str(), "{made}");
    payments.decide(&made, "approve").await;
    let id = made["id"].as_str().unwrap();
    let paid = payments.payment_when(&payer, id, "succeeded").await;
    assert_eq!(paid["customer_name"], full_name.as_str());
    let receipt = app
        .get_json_as(&format!("/v1/payments/{id}/receipt"), &payer)
        .await;
    assert!(receipt["vi"]["lines"].to_string().contains(&full_name));
    assert_eq!(customer_seen_by(&payer).await["masked"], false);
    payments.app.stop().await;
}

#[tokio::test]
async fn paying_counts_as_a_lookup_and_tells_whoever_has_not_looked_the_code_up_nothing() {
    let payments = spawn_with(Mode::AllInOne, |config| {
        config.edit(|payments: &mut PaymentsConfig| payments.bill_lookups_per_minute = 6);
    })
    .await;
    let app = &payments.app;
    let owner = app.resident_token().await;
    let (code, bill) = payments.owed_bill(&owner).await;

    // A stranger who never looked the code up learns nothing from paying: a code that does not
    // exist, a bill that does not and a wrong amount get one answer.
    let stranger = app.resident_token().await;
    let mut unknown_code = order("PC05HU0000099", &bill, "momo");
    unknown_code["bill_id"] = json!("electricity-PC05HU0000099-2026-10");
    let mut unknown_bill = order(&code, &bill, "momo");
    unknown_bill["bill_id"] = json!(format!("electricity-{code}-1999-01"));
    let mut wrong_amount = order(&code, &bill, "momo");
    wrong_amount["amount"] = json!(bill["amount"].as_i64().unwrap() + 50);
    let mut answers = Vec::new();
    for (key, body) in [
        ("guess-1", &unknown_code),
        ("guess-2", &unknown_bill),
        ("guess-3", &wrong_amount),
    ] {
        let mut answer = problem(
            payments.pay(&stranger, key, body).await,
            404,
            "bill_not_found",
        )
        .await;
        answer.as_object_mut().unwrap().remove("instance");
        answers.push(answer);
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");

    // Having looked it up, they are told what is wrong, as the lookup showed them anyway.
    assert_eq!(
        payments
            .lookup(&stranger, "electricity", &code)
            .await
            .status(),
        200
    );
    problem(
        payments.pay(&stranger, "guess-4", &wrong_amount).await,
        409,
        "bill_changed",
    )
    .await;

    // Six uses of the bill gateway in a minute, paying or looking up: the seventh is refused.
    problem(
        payments.pay(&stranger, "guess-5", &wrong_amount).await,
        409,
        "bill_changed",
    )
    .await;
    problem(
        payments.pay(&stranger, "guess-6", &wrong_amount).await,
        429,
        "too_many_lookups",
    )
    .await;
    problem(
        payments.lookup(&stranger, "electricity", &code).await,
        429,
        "too_many_lookups",
    )
    .await;
    payments.app.stop().await;
}

#[tokio::test]
async fn a_strangers_abandoned_payment_does_not_hold_up_the_owner_and_a_second_success_is_held_in_suspense()
 {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let owner = app.resident_token().await;
    let (code, bill) = payments.owed_bill(&owner).await;
    let amount = bill["amount"].as_i64().unwrap();

    // A stranger starts paying the owner's bill on VNPay's page and walks away.
    let stranger = app.resident_token().await;
    payments.lookup(&stranger, "electricity", &code).await;
    let abandoned = payments
        .pay(&stranger, "not-mine", &order(&code, &bill, "vnpay"))
        .await;
    assert_eq!(abandoned.status(), 201);
    let abandoned: Json = abandoned.json().await.unwrap();

    // The owner pays all the same; only their own payment under way holds them up.
    let mine = payments
        .pay(&owner, "mine", &order(&code, &bill, "momo"))
        .await;
    assert_eq!(mine.status(), 201);
    let mine: Json = mine.json().await.unwrap();
    problem(
        payments
            .pay(&owner, "mine-again", &order(&code, &bill, "vnpay"))
            .await,
        409,
        "bill_payment_in_progress",
    )
    .await;
    payments.decide(&mine, "approve").await;
    let mine_id = mine["id"].as_str().unwrap();
    payments.payment_when(&owner, mine_id, "succeeded").await;
    let db = app.schema_pool("payments").await;
    let posted = || async {
        let posted: Vec<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM payment_intents WHERE biller_posted_at IS NOT NULL")
                .fetch_all(&db)
                .await
                .unwrap();
        posted
    };
    let told = poll_until(posted, |posted| !posted.is_empty()).await;
    assert_eq!(told, [uuid::Uuid::parse_str(mine_id).unwrap()]);

    // The stranger comes back and pays too: VNPay is told it is recorded, the money waits in
    // suspense for an operator to return, and the biller is not told of the bill again.
    payments.decide(&abandoned, "approve").await;
    let log = payments
        .ipn_log("vnpay", "txn_ref", &vnpay_reference(&abandoned), 1)
        .await;
    assert_eq!(log[0]["rsp_code"], "00", "{log:?}");
    let second = payments
        .payment_when(&stranger, abandoned["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(second["failure_code"], "bill_already_paid");
    assert!(second["receipt_number"].is_null());
    // The stranger is told their money comes back, not that they were never charged.
    let inbox = poll_until(
        || app.get_json_as("/v1/inbox", &stranger),
        |inbox: &Json| inbox["notices"].as_array().is_some_and(|n| !n.is_empty()),
    )
    .await;
    assert!(
        inbox["notices"][0]["body_vi"]
            .as_str()
            .unwrap()
            .contains("sẽ được hoàn lại"),
        "{inbox}"
    );
    let ledger = payments.balanced_ledger().await;
    assert_eq!(ledger["suspense"], -amount);
    assert_eq!(ledger["biller_payable:evn-cpc-hue"], -amount);
    assert_eq!(posted().await.len(), 1, "posted to the biller once");
    payments.app.stop().await;
}

#[tokio::test]
async fn a_wrong_amount_already_recorded_is_acknowledged_so_the_provider_stops_sending_it() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;

    // VNPay: refused with 04 the first time, then "already confirmed" (02), which stops it.
    let wrong = payments.new_payment(&resident, "vnpay").await;
    let reference = vnpay_reference(&wrong);
    payments
        .switch(
            "vnpay",
            "txn_ref",
            &reference,
            json!({ "amount_delta": 1000 }),
        )
        .await;
    payments.decide(&wrong, "approve").await;
    let log = payments.ipn_log("vnpay", "txn_ref", &reference, 3).await;
    let codes: Vec<&str> = log
        .iter()
        .map(|a| a["rsp_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["04", "02", "02"]);

    // MoMo: 422 the first time, then 204.
    let momo = payments.new_payment(&resident, "momo").await;
    payments
        .switch("momo", "order_id", "*", json!({ "amount_delta": 500 }))
        .await;
    let back = payments.decide(&momo, "approve").await;
    let order_id = query_value(&back, "orderId");
    let log = payments.ipn_log("momo", "order_id", &order_id, 3).await;
    let statuses: Vec<i64> = log
        .iter()
        .map(|a| a["http_status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [422, 204, 204]);

    // Each payment fails for an operator, its money held in suspense once.
    for payment in [&wrong, &momo] {
        let failed = payments
            .payment_when(&resident, payment["id"].as_str().unwrap(), "failed")
            .await;
        assert_eq!(failed["failure_code"], "amount_mismatch");
    }
    let ledger = payments.balanced_ledger().await;
    assert_eq!(
        ledger["suspense"],
        -(wrong["amount"].as_i64().unwrap() + 1000 + momo["amount"].as_i64().unwrap() + 500)
    );
    payments.app.stop().await;
}

#[tokio::test]
async fn a_billers_retry_after_is_passed_on_capped_at_a_minute() {
    let payments = spawn(Mode::AllInOne).await;
    let app = &payments.app;
    let resident = app.resident_token().await;
    for (asked, passed_on) in [(30, "30"), (86_400, "60")] {
        let faulted = app
            .client
            .post(format!("{}/sandbox/biller/faults", payments.sandbox))
            .json(&json!({ "status": 503, "times": 1, "retry_after_secs": asked }))
            .send()
            .await
            .unwrap();
        assert!(faulted.status().is_success());
        let refused = payments
            .lookup(&resident, "electricity", "PC05HU0012347")
            .await;
        assert_eq!(refused.headers()["retry-after"], passed_on);
        problem(refused, 503, "biller_unavailable").await;
    }
    payments.app.stop().await;
}
