//! The operations centre's KPIs and heatmaps, checked against figures worked out by hand on a
//! fixed set of reports, and against direct counts.

use identity::config::IdentityConfig;
use reqwest::Method;
use serde_json::{Value as Json, json};

use crate::helpers::{Mode, PHU_XUAN, TestApp, problem};
use crate::in_both_modes;

const THUAN_HOA: (f64, f64) = (16.458, 107.592);

async fn file(app: &TestApp, token: &str, category: &str, at: (f64, f64)) -> String {
    let answers = match category {
        "pothole" => json!({ "size": "small" }),
        _ => json!({ "light_state": "off" }),
    };
    let report = json!({ "category": category, "latitude": at.0, "longitude": at.1,
                         "description": "KPI", "answers": answers });
    app.file_report_id(token, &report).await
}

/// A report's history, in hours after 2026-11-01 08:00 in Huế.
struct History {
    status: &'static str,
    created: f64,
    accepted: Option<f64>,
    resolved: Option<f64>,
    overdue: bool,
    reopened: i32,
    rating: Option<i16>,
}

/// Moves a report's history to fixed times.
async fn rewrite(db: &sqlx::PgPool, id: &str, history: History) {
    sqlx::query(
        r#"UPDATE reports SET status = $2,
               created_at = '2026-11-01T01:00:00Z'::timestamptz + make_interval(secs => $3 * 3600),
               accepted_at = '2026-11-01T01:00:00Z'::timestamptz + make_interval(secs => $4 * 3600),
               first_resolved_at = '2026-11-01T01:00:00Z'::timestamptz + make_interval(secs => $5 * 3600),
               overdue_at = CASE WHEN $6 THEN '2026-11-05T00:00:00Z'::timestamptz END,
               reopen_count = $7, rating = $8
           WHERE id = $1::uuid"#,
    )
    .bind(id)
    .bind(history.status)
    .bind(history.created)
    .bind(history.accepted)
    .bind(history.resolved)
    .bind(history.overdue)
    .bind(history.reopened)
    .bind(history.rating)
    .execute(db)
    .await
    .unwrap();
}

const WINDOW: &str = "from=2026-11-01T00:00:00Z&to=2026-11-11T00:00:00Z";

async fn kpis_match_figures_worked_out_by_hand(mode: Mode) {
    let app = TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true)
    })
    .await;
    let resident = app.resident_token().await;
    let r1 = file(&app, &resident, "pothole", PHU_XUAN).await;
    let r2 = file(&app, &resident, "pothole", PHU_XUAN).await;
    let r3 = file(&app, &resident, "street_light", PHU_XUAN).await;
    let r4 = file(&app, &resident, "pothole", THUAN_HOA).await;
    let r5 = file(&app, &resident, "pothole", PHU_XUAN).await;

    // The workflow records the first acceptance.
    let officer = app.staff_token("phuxuan.officer").await;
    let accepted = app
        .authed(
            Method::POST,
            &format!("/v1/officer/reports/{r3}/accept"),
            &officer,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let db = app.schema_pool("reports").await;
    let recorded: bool =
        sqlx::query_scalar("SELECT accepted_at IS NOT NULL FROM reports WHERE id = $1::uuid")
            .bind(&r3)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(recorded);

    // Closed in 10 h, accepted in 2 h, never late, rated 5.
    rewrite(
        &db,
        &r1,
        History {
            status: "closed",
            created: 0.0,
            accepted: Some(2.0),
            resolved: Some(10.0),
            overdue: false,
            reopened: 0,
            rating: Some(5),
        },
    )
    .await;
    // Accepted in 4 h, resolved in 30 h but late, then reopened.
    rewrite(
        &db,
        &r2,
        History {
            status: "reopened",
            created: 24.0,
            accepted: Some(28.0),
            resolved: Some(54.0),
            overdue: true,
            reopened: 1,
            rating: None,
        },
    )
    .await;
    // Accepted in 6 h, not resolved.
    rewrite(
        &db,
        &r3,
        History {
            status: "accepted",
            created: 24.0,
            accepted: Some(30.0),
            resolved: None,
            overdue: false,
            reopened: 0,
            rating: None,
        },
    )
    .await;
    // In Thuận Hóa, untouched.
    rewrite(
        &db,
        &r4,
        History {
            status: "submitted",
            created: 48.0,
            accepted: None,
            resolved: None,
            overdue: false,
            reopened: 0,
            rating: None,
        },
    )
    .await;
    // Before the window.
    rewrite(
        &db,
        &r5,
        History {
            status: "closed",
            created: -120.0,
            accepted: Some(1.0),
            resolved: Some(2.0),
            overdue: false,
            reopened: 0,
            rating: Some(1),
        },
    )
    .await;

    let admin = app.staff_token("hue.admin").await;
    let report = app
        .get_json_as(&format!("/v1/ops/kpis?{WINDOW}&group_by=ward"), &admin)
        .await;
    let total = &report["total"];
    assert_eq!(total["received"], 4, "{report}");
    assert_eq!(
        total["by_status"],
        json!({ "submitted": 1, "accepted": 1, "assigned": 0, "in_progress": 0, "resolved": 0,
                "closed": 1, "rejected": 0, "reopened": 1 })
    );
    assert_eq!(total["resolved"], 2);
    // 2, 4 and 6 hours: the median is 4; the 90th percentile interpolates to 5.6.
    assert_eq!(
        total["time_to_accept"],
        json!({ "median_hours": 4.0, "p90_hours": 5.6 })
    );
    // 10 and 30 hours.
    assert_eq!(
        total["time_to_resolve"],
        json!({ "median_hours": 20.0, "p90_hours": 28.0 })
    );
    assert_eq!(total["sla_compliance_pct"], 50.0);
    assert_eq!(total["reopen_rate_pct"], 50.0);
    assert_eq!(total["average_rating"], 5.0);
    assert_eq!(total["ratings"], 1);
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["key"], "phu-xuan");
    assert_eq!(groups[0]["received"], 3);
    assert_eq!(groups[1]["key"], "thuan-hoa");
    assert_eq!(groups[1]["received"], 1);
    assert_eq!(groups[1]["time_to_accept"]["median_hours"], Json::Null);
    // Days in Huế: 1 November 08:00 and 18:00, 2 November twice, 3 November twice.
    assert_eq!(
        report["per_day"],
        json!([
            { "date": "2026-11-01", "received": 1, "resolved": 1 },
            { "date": "2026-11-02", "received": 2, "resolved": 0 },
            { "date": "2026-11-03", "received": 1, "resolved": 1 },
        ])
    );

    // By category, and as CSV.
    let by_category = app
        .get_json_as(&format!("/v1/ops/kpis?{WINDOW}&group_by=category"), &admin)
        .await;
    let keys: Vec<&str> = by_category["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["pothole", "street_light"]);
    let csv = app
        .get_as(
            &format!("/v1/ops/kpis?{WINDOW}&group_by=ward&format=csv"),
            &admin,
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("key,received,submitted,accepted,"));
    assert_eq!(lines[3], "total,4,1,1,0,0,0,1,0,1,2,4,5.6,20,28,50,50,5,1");

    // A ward officer sees their ward; a resident nothing.
    let theirs = app
        .get_json_as(&format!("/v1/ops/kpis?{WINDOW}"), &officer)
        .await;
    assert_eq!(theirs["total"]["received"], 3);
    problem(
        app.get_as(&format!("/v1/ops/kpis?{WINDOW}"), &resident)
            .await,
        404,
        "route_not_found",
    )
    .await;
    problem(
        app.get_as("/v1/ops/kpis?jurisdiction=da-nang", &officer)
            .await,
        404,
        "route_not_found",
    )
    .await;
    problem(
        app.get_as(
            "/v1/ops/kpis?from=2026-11-10T00:00:00Z&to=2026-11-01T00:00:00Z",
            &admin,
        )
        .await,
        400,
        "invalid_window",
    )
    .await;
    app.stop().await;
}
in_both_modes!(kpis_match_figures_worked_out_by_hand);

async fn heatmap_counts_equal_a_direct_count(mode: Mode) {
    let app = TestApp::spawn_with(mode, |config| {
        config.edit(|identity: &mut IdentityConfig| identity.dev_seed_staff = true)
    })
    .await;
    let resident = app.resident_token().await;
    for n in 0..6 {
        let at = (PHU_XUAN.0 + f64::from(n) * 0.0015, PHU_XUAN.1);
        file(&app, &resident, "pothole", at).await;
    }
    file(&app, &resident, "street_light", THUAN_HOA).await;
    file(&app, &resident, "pothole", THUAN_HOA).await;
    let admin = app.staff_token("hue.admin").await;
    let db = app.schema_pool("reports").await;

    for (res, column) in [(9, "h3_res9"), (7, "h3_res7")] {
        let map = app
            .get_as(&format!("/v1/ops/heatmap?res={res}"), &admin)
            .await;
        assert_eq!(map.headers()["content-type"], "application/geo+json");
        let map: Json = map.json().await.unwrap();
        let mut counted: Vec<(String, i64)> = map["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
                assert_eq!(ring.first(), ring.last(), "a closed hexagon");
                assert!(ring.len() >= 7);
                (
                    f["properties"]["cell"].as_str().unwrap().to_owned(),
                    f["properties"]["count"].as_i64().unwrap(),
                )
            })
            .collect();
        counted.sort();
        let mut direct: Vec<(String, i64)> = sqlx::query_as(&format!(
            "SELECT to_hex({column}), count(*) FROM reports GROUP BY 1 ORDER BY 1"
        ))
        .fetch_all(&db)
        .await
        .unwrap();
        direct.sort();
        assert_eq!(counted, direct, "res {res}");
        assert_eq!(counted.iter().map(|c| c.1).sum::<i64>(), 8);
    }
    let lights: Json = app
        .get_json_as("/v1/ops/heatmap?res=9&category=street_light", &admin)
        .await;
    assert_eq!(lights["features"].as_array().unwrap().len(), 1);
    let officer = app.staff_token("thuanhoa.officer").await;
    let theirs: Json = app.get_json_as("/v1/ops/heatmap?res=6", &officer).await;
    let total: i64 = theirs["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 2, "only Thuận Hóa's");
    problem(
        app.get_as("/v1/ops/heatmap?res=11", &admin).await,
        400,
        "invalid_resolution",
    )
    .await;
    problem(
        app.get_as("/v1/ops/heatmap?status=lost", &admin).await,
        400,
        "invalid_status",
    )
    .await;
    app.stop().await;
}
in_both_modes!(heatmap_counts_equal_a_direct_count);
