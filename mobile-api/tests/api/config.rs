use std::process::Command;

fn citizen() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_citizen"));
    command.env_remove("DATABASE_URL");
    command
}

#[test]
fn an_unknown_configuration_key_stops_the_server_naming_the_key() {
    let output = citizen()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("CITIZEN_GATEWAY__BODY_LIMT", "1024")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown key `gateway.body_limt`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_in_the_config_file_is_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("citizen.toml");
    std::fs::write(&file, "[catalogue]\ndefault_jurisdicton = \"hue\"\n").unwrap();
    let output = citizen()
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown key `catalogue.default_jurisdicton`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_target_is_refused_with_the_known_ones() {
    let output = citizen()
        .args(["serve", "--target", "catalog", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown target `catalog`"), "{stderr}");
    assert!(
        stderr.contains(
            "all, catalogue, identity, media, reports, notifications, payments, mobile-api, sandbox"
        ),
        "{stderr}"
    );
}

#[test]
fn help_explains_every_command() {
    let output = citizen().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "migrate", "openapi"] {
        assert!(help.contains(command), "{help}");
    }
}

#[tokio::test]
async fn jurisdiction_import_loads_wards_and_refuses_bad_ones() {
    let database = crate::helpers::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let jurisdiction = dir.path().join("danang.json");
    let mut file: serde_json::Value =
        serde_json::from_str(reports::jurisdiction::DEMO_JURISDICTION).unwrap();
    file["id"] = "danang".into();
    file["routing"] = serde_json::json!([]);
    std::fs::write(&jurisdiction, file.to_string()).unwrap();
    let ward = |id: &str, west: f64| {
        serde_json::json!({ "type": "Feature", "properties": { "id": id, "name_vi": id, "name_en": id },
            "geometry": { "type": "MultiPolygon", "coordinates": [[[[west, 16.0], [west + 0.1, 16.0], [west + 0.1, 16.1], [west, 16.1], [west, 16.0]]]] } })
    };
    let import = |wards: serde_json::Value| {
        let path = dir.path().join("wards.geojson");
        std::fs::write(
            &path,
            serde_json::json!({ "type": "FeatureCollection", "features": wards }).to_string(),
        )
        .unwrap();
        citizen()
            .args(["jurisdiction", "import", "--file"])
            .arg(&jurisdiction)
            .arg("--wards")
            .arg(&path)
            .env("CITIZEN_DATABASE__URL", &database.url)
            .output()
            .unwrap()
    };
    let overlapping = import(serde_json::json!([ward("a", 108.0), ward("b", 108.05)]));
    assert!(!overlapping.status.success());
    let stderr = String::from_utf8_lossy(&overlapping.stderr);
    assert!(
        stderr.contains("invalid_jurisdiction_data") && stderr.contains("overlap"),
        "{stderr}"
    );

    let output = import(serde_json::json!([ward("a", 108.0), ward("b", 108.1)]));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("imported jurisdiction danang (2 wards)")
    );
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
        .await
        .unwrap();
    let wards: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM reports.wards WHERE jurisdiction_id = 'danang' ORDER BY id",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    assert_eq!(wards, ["a", "b"]);
}

#[tokio::test]
async fn migrate_applies_the_migrations_and_exits() {
    let database = crate::helpers::TestDatabase::create().await;
    let output = citizen()
        .args(["migrate", "--target", "catalogue"])
        .env("CITIZEN_DATABASE__URL", &database.url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&database.url)
        .await
        .unwrap();
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM catalogue._sqlx_migrations WHERE success")
            .fetch_one(&mut connection)
            .await
            .unwrap();
    assert!(applied >= 1);
}
