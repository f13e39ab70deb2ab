use crate::helpers::{Mode, TestApp};
use crate::in_both_modes;

async fn readiness_fails_while_the_database_is_down(mode: Mode) {
    let app = TestApp::spawn(mode).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);

    app.database.drop_now().await;

    let catalogue_ready = match mode {
        // The gateway alone has no database: its readiness does not follow its upstreams'.
        Mode::Split => {
            let catalogue = app.catalogue_addr().unwrap();
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
            .get(format!("http://{}/metrics", app.catalogue_addr().unwrap()))
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
