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
            "all, catalogue, identity, media, reports, notifications, payments, health, education, administration, environment, alerts, places, mobility, community, mobile-api, sandbox"
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

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn load(file: Option<&std::path::Path>, pairs: &[(&str, &str)]) -> platform::Config {
    platform::Config::load(file, env(pairs), &mobile_api::modules::config_sections()).unwrap()
}

#[test]
fn the_kubernetes_configuration_file_loads_and_may_start_in_production() {
    use identity::config::{IdentityConfig, SmsProvider};
    use payments::config::PaymentsConfig;
    use platform::config::{DeploymentProfile, LogFormat};

    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s/base/citizen.toml");
    // The deployments give the providers' secrets as files; their values stand in here.
    let mut config = load(
        Some(&file),
        &[
            ("CITIZEN_PAYMENTS__VNPAY__HASH_SECRET", "vnpay-secret"),
            ("CITIZEN_PAYMENTS__MOMO__SECRET_KEY", "momo-secret"),
            ("CITIZEN_HEALTH__SYSTEMS__HUE__BEARER_TOKEN", "fhir-token"),
            (
                "CITIZEN_EDUCATION__SYSTEMS__HUE__CLIENT_SECRET",
                "oneroster-secret",
            ),
            (
                "CITIZEN_ADMINISTRATION__ONE_STOP__HUE__CLIENT_SECRET",
                "one-stop-secret",
            ),
            (
                "CITIZEN_ADMINISTRATION__SOCIAL_INSURANCE__CLIENT_SECRET",
                "bhxh-secret",
            ),
            ("CITIZEN_ENVIRONMENT__AIR_QUALITY__API_KEY", "openaq-key"),
        ],
    );
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.profile, DeploymentProfile::Production);
    assert!(config.redis.url.is_some() && !config.gateway.trusted_proxies.is_empty());
    let payments: PaymentsConfig = config.section().unwrap();
    assert_eq!(
        payments.vnpay.as_ref().map(|v| v.tmn_code.as_str()),
        Some("HUES0001")
    );
    let health: health::config::HealthConfig = config.section().unwrap();
    let hue = &health.systems["hue"];
    assert!(hue.base_url.starts_with("https://"));
    assert!(hue.bearer_token.is_some());
    let education: education::config::EducationConfig = config.section().unwrap();
    assert!(education.systems["hue"].base_url.starts_with("https://"));
    let administration: administration::config::AdministrationConfig = config.section().unwrap();
    assert!(
        administration.one_stop["hue"]
            .token_url
            .starts_with("https://")
    );
    assert!(administration.social_insurance.is_some());
    assert_eq!(administration.planning["hue"].len(), 2);
    let identity: IdentityConfig = config.section().unwrap();
    assert_eq!(identity.sms.provider, SmsProvider::Http);
    assert_eq!(identity.signing_keys.len(), 1);

    // With the OTP secret its deployment mounts, every service may start in production.
    let sections = mobile_api::modules::config_sections();
    config.edit(|identity: &mut IdentityConfig| identity.otp_secret = Some("mounted".into()));
    assert_eq!(
        config.profile_problems(&sections, false),
        Vec::<String>::new()
    );
    config.edit(|identity: &mut IdentityConfig| identity.admin_totp_required = false);
    assert_eq!(
        config.profile_problems(&sections, false),
        ["identity.admin_totp_required = false: admins sign in with a password alone"],
        "production refuses admins without a second factor"
    );
}

#[test]
fn development_wires_the_sandboxes_in_and_production_nothing() {
    use identity::config::IdentityConfig;
    use notifications::config::NotificationsConfig;
    use payments::config::PaymentsConfig;

    let development = load(None, &[("CITIZEN_LISTEN", "127.0.0.1:9999")]);
    let identity: IdentityConfig = development.section().unwrap();
    assert!(identity.dev_seed_staff && !identity.admin_totp_required);
    assert_eq!(
        identity.vneid.issuer.as_deref(),
        Some("http://127.0.0.1:9999/sandbox/vneid")
    );
    let notifications: NotificationsConfig = development.section().unwrap();
    assert_eq!(
        notifications.fcm.unwrap().base_url,
        "http://127.0.0.1:9999/sandbox/fcm"
    );
    let payments: PaymentsConfig = development.section().unwrap();
    assert_eq!(
        payments.biller_url.as_deref(),
        Some("http://127.0.0.1:9999/sandbox/biller")
    );
    assert!(payments.vnpay.is_some() && payments.momo.is_some());
    // What the file or environment says still wins.
    let told = load(None, &[("CITIZEN_IDENTITY__DEV_SEED_STAFF", "false")]);
    assert!(!told.section::<IdentityConfig>().unwrap().dev_seed_staff);

    let production = load(None, &[("CITIZEN_PROFILE", "production")]);
    let identity: IdentityConfig = production.section().unwrap();
    assert!(!identity.dev_seed_staff && identity.admin_totp_required);
    assert!(identity.vneid.issuer.is_none());
    assert!(
        production
            .section::<NotificationsConfig>()
            .unwrap()
            .fcm
            .is_none()
    );
    assert!(
        production
            .section::<PaymentsConfig>()
            .unwrap()
            .vnpay
            .is_none()
    );
}

#[tokio::test]
async fn a_start_that_fails_midway_leaves_nothing_running() {
    use crate::helpers::{TestDatabase, admin_database_url, poll_until, test_config};
    use notifications::config::{FcmConfig, NotificationsConfig};

    let database = TestDatabase::create().await;
    let mut config = test_config(&database);
    // Notifications starts after identity, media and reports have started their jobs; a
    // service account that is not one stops it.
    config.edit(|notifications: &mut NotificationsConfig| {
        notifications.fcm = Some(FcmConfig {
            service_account: "not a key".to_owned().into(),
            base_url: "http://127.0.0.1:9/sandbox/fcm".to_owned(),
            concurrency: 1,
        })
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = mobile_api::App::start(config, "all", listener)
        .await
        .err()
        .expect("the start fails");
    assert!(
        format!("{error:#}").contains("notifications.fcm.service_account"),
        "{error:#}"
    );
    // The services started before it stopped their jobs, and with them their connections.
    let admin = sqlx::PgPool::connect(&admin_database_url()).await.unwrap();
    let connections = poll_until(
        || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(&database.name)
                .fetch_one(&admin)
                .await
                .unwrap()
        },
        |count| *count == 0,
    )
    .await;
    assert_eq!(
        connections, 0,
        "connections left open by jobs still running"
    );
}
