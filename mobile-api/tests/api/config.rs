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
        stderr.contains("all, catalogue, identity, media, reports, mobile-api, sandbox"),
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
