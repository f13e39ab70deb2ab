use crate::helpers::{Mode, TestApp};
use crate::in_both_modes;
use payments::config::PaymentsConfig;

async fn readiness_fails_while_the_database_is_down(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);

    app.database.drop_now().await;

    let catalogue_ready = match mode {
        // The gateway alone has no database: its readiness does not follow its upstreams'.
        Mode::Split => {
            let catalogue = app.service_addr("catalogue").unwrap();
            crate::helpers::client()
                .get(format!("http://{catalogue}/readyz"))
                .send()
                .await
                .unwrap()
        }
        Mode::AllInOne => app.get("/readyz").await,
    };
    assert_eq!(catalogue_ready.status(), 503);
    let body: serde_json::Value = catalogue_ready.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "alive all the same"
    );

    let listing = app.get("/v1/catalogue/services").await;
    assert!(listing.status().is_server_error());
    let body = listing.text().await.unwrap();
    assert!(
        !body.contains("citizen_test"),
        "no internals in 5xx: {body}"
    );
    app.stop().await;
}
in_both_modes!(readiness_fails_while_the_database_is_down);

async fn metrics_count_requests_by_route_template(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    app.get("/v1/catalogue/services/field-reports").await;
    app.get("/v1/catalogue/services/no-such").await;
    let metrics = match mode {
        Mode::AllInOne => app.get("/metrics").await.text().await.unwrap(),
        Mode::Split => crate::helpers::client()
            .get(format!(
                "http://{}/metrics",
                app.service_addr("catalogue").unwrap()
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    };
    let line = |status: &str| {
        format!(
            "citizen_http_requests_total{{service=\"catalogue\",method=\"GET\",route=\"/v1/catalogue/services/{{id}}\",status=\"{status}\"}} 1"
        )
    };
    assert!(metrics.contains(&line("200")), "{metrics}");
    assert!(metrics.contains(&line("404")), "{metrics}");
    assert!(metrics.contains("citizen_http_request_duration_seconds_bucket"));
    app.stop().await;
}
in_both_modes!(metrics_count_requests_by_route_template);

/// The production profile names every setting that would make it unsafe, and does not start.
#[tokio::test]
async fn production_refuses_development_settings_naming_each_key() {
    let database = crate::helpers::TestDatabase::create().await;
    let mut config = crate::helpers::test_config(&database);
    config.profile = platform::config::DeploymentProfile::Production;
    config.edit(|payments: &mut PaymentsConfig| {
        payments.momo = Some(payments::config::MomoConfig {
            partner_code: "MOMOTEST".into(),
            access_key: "key".into(),
            secret_key: "secret".to_owned().into(),
            endpoint: "https://payment.momo.vn".into(),
            fee_basis_points: 150,
        })
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = mobile_api::App::start(config, "all,sandbox", listener)
        .await
        .err()
        .expect("production does not start with development settings")
        .to_string();
    for key in [
        "sandbox",
        "identity.sms.provider",
        "identity.signing_keys",
        "identity.otp_secret",
        "reports.seed_demo_jurisdiction",
        "payments.public_url",
    ] {
        assert!(refused.contains(key), "{key} is not named: {refused}");
    }
}

/// Metrics are for operators: with `ops_listen` they are served there and not to the public.
#[tokio::test]
async fn metrics_are_served_on_the_ops_listener_not_the_public_one() {
    let database = crate::helpers::TestDatabase::create().await;
    let mut config = crate::helpers::test_config(&database);
    let ops = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ops_addr = ops.local_addr().unwrap();
    drop(ops);
    config.ops_listen = Some(ops_addr);
    let app = crate::helpers::start(config, "all").await;
    let public = crate::helpers::client()
        .get(format!("http://{}/metrics", app.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404);
    let private = crate::helpers::client()
        .get(format!("http://{ops_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(private.status(), 200);
    assert!(
        private.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    assert!(private.text().await.unwrap().trim_end().ends_with("# EOF"));
    app.stop().await.unwrap();
}

/// The outbox, inbox and Idempotency-Key tables of every schema have platform's one shape,
/// whether the service's early migrations made them or platform did.
#[tokio::test]
async fn shared_tables_have_one_shape_in_every_schema() {
    let database = crate::helpers::TestDatabase::create().await;
    let config = crate::helpers::test_config(&database);
    mobile_api::app::migrate(&config, "all").await.unwrap();
    let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
    for (table, flag) in [
        (
            "outbox",
            (|s| s.outbox) as fn(&platform::service::Service) -> bool,
        ),
        ("inbox", |s| s.consumes_events),
        ("idempotency_keys", |s| s.idempotency_keys),
    ] {
        let mut shapes = std::collections::BTreeMap::new();
        for service in mobile_api::modules::SERVICES.iter().filter(|s| flag(s)) {
            let columns: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
                r#"SELECT column_name::text, data_type::text, is_nullable::text, column_default::text
                   FROM information_schema.columns
                   WHERE table_schema = $1 AND table_name = $2 ORDER BY column_name"#,
            )
            .bind(service.schema)
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap();
            let indexes: Vec<String> = sqlx::query_scalar(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1",
            )
            .bind(service.schema)
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap();
            assert!(!columns.is_empty(), "{}.{table} is missing", service.schema);
            shapes.insert(service.schema, (columns, indexes));
        }
        let mut distinct: Vec<_> = shapes.values().collect();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            1,
            "{table} differs between schemas: {shapes:#?}"
        );
    }
    pool.close().await;
}
