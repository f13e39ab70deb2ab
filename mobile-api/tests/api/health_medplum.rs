//! Health against a second, independent FHIR R4 server: Medplum's FHIR router on its in-memory
//! repository, from npm (`scripts/medplum-fhir-server`), seeded with one family
//! (`scripts/medplum-fhir-server/seed.json`), so that our client is held to more than the FHIR
//! sandbox we wrote ourselves. Node.js 20.19+ and npm are required: without them these tests
//! fail, never skip.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::health::{
    app_with_health_system, assert_a_hundred_day_old_infants_vaccinations, verified,
};
use crate::helpers::{Mode, client, problem};
use crate::in_both_modes;
use crate::verification::sandbox;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// The token the Medplum server is started with and asks for as `Authorization: Bearer`.
const TOKEN: &str = "citizen-medplum-test-token";

// The records of seed.json.
const MOTHER_CCCD: &str = "046192007777";
const MOTHER_ID: &str = "vo-thi-lan";
/// Her daughter, 100 days old.
const INFANT_ID: &str = "ho-bao-ngoc";
/// Her son of 17, who speaks for himself.
const SON_ID: &str = "ho-minh-khoa";
const MOTHER_BHYT: &str = "4602468013";
const PRIMARY_CLINIC: &str = "Trạm Y tế phường Thủy Xuân";

/// Medplum's FHIR server, a child process on a port of its own; killed when dropped (and gone
/// by itself when the test process is, as its standard input closes).
struct Medplum {
    base: String,
    _process: Child,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Medplum {
    async fn start() -> Medplum {
        let mut process = Command::new(format!("{WORKSPACE}/scripts/medplum-fhir-server/run"))
            .args(["0", TOKEN, "--until-stdin-closes"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // What it logs (and why it failed to start) goes with the test's output.
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("scripts/medplum-fhir-server/run starts");
        let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        // On first use it installs Medplum from the npm registry first.
        let first = tokio::time::timeout(Duration::from_secs(300), stdout.next_line())
            .await
            .expect("Medplum's FHIR server printed its port within 5 minutes")
            .unwrap();
        let Some(port) = first.and_then(|line| line.trim().parse::<u16>().ok()) else {
            let status = process.wait().await.unwrap();
            panic!(
                "Medplum's FHIR server did not start ({status}): it needs Node.js 20.19+ and \
                 npm, and the npm registry on first use; its stderr is above"
            );
        };
        Medplum {
            base: format!("http://127.0.0.1:{port}/fhir/R4"),
            _process: process,
            _stdout: stdout,
        }
    }
}

async fn a_parent_sees_her_card_and_her_young_childs_vaccinations_from_medplum(mode: Mode) {
    let medplum = Medplum::start().await;
    // It is a server that asks for its token, like a hospital's.
    let refused = client()
        .get(format!("{}/Patient/{MOTHER_ID}", medplum.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let (provider, issuer) = sandbox().await;
    let app = app_with_health_system(mode, &issuer, &medplum.base, TOKEN).await;
    let token = verified(&app, &provider, MOTHER_CCCD).await;

    let people = app.get_json_as("/v1/health/people", &token).await;
    let people = people["people"].as_array().unwrap();
    assert_eq!(people.len(), 2, "{people:?}");
    assert_eq!(people[0]["id"], MOTHER_ID);
    assert_eq!(people[0]["relationship"], "self");
    assert_eq!(people[0]["name"], "Võ Thị Lan");
    assert_eq!(people[1]["id"], INFANT_ID);
    assert_eq!(people[1]["relationship"], "child");
    assert_eq!(people[1]["name"], "Hồ Bảo Ngọc");

    let mine = app.get_json_as("/v1/health/insurance-card", &token).await;
    assert_eq!(mine["person"]["id"], MOTHER_ID);
    let card = &mine["card"];
    assert_eq!(card["number"], MOTHER_BHYT);
    assert_eq!(card["social_insurance_number"], MOTHER_BHYT);
    assert_eq!(card["benefit_level"], 4);
    assert_eq!(card["pays_percent"], 80);
    assert_eq!(card["state"], "valid", "{card}");
    assert_eq!(card["valid_from"], crate::health::today().to_string());
    assert_eq!(card["five_years_continuous_from"], "2020-01-01");
    assert_eq!(card["primary_clinic"]["id"], "tyt-thuy-xuan");
    assert_eq!(card["primary_clinic"]["name"], PRIMARY_CLINIC, "{card}");
    assert!(
        card["primary_clinic"]["address"]
            .as_str()
            .unwrap()
            .contains("Lê Ngô Cát")
    );
    // The payor reference has no display and Medplum's in-memory repository ignores
    // `_include=Coverage:payor` (as a server may): the Organization is read for its name.
    assert!(
        card["payor"].as_str().unwrap().contains("Bảo hiểm xã hội"),
        "{card}"
    );

    let shots = app
        .get_json_as(
            &format!("/v1/health/vaccinations?person={INFANT_ID}"),
            &token,
        )
        .await;
    assert_eq!(shots["person"]["id"], INFANT_ID);
    let given = shots["given"].as_array().unwrap();
    assert_eq!(given.len(), 4, "{given:?}");
    // Newest first, as Medplum sorted them (`_sort=-date`).
    let dates: Vec<&str> = given.iter().map(|g| g["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    assert!(
        given.iter().all(|g| g["place"] == PRIMARY_CLINIC),
        "the Location each references, read: {given:?}"
    );
    assert_a_hundred_day_old_infants_vaccinations(&shots);

    // Her son of 17 speaks for himself.
    for path in ["insurance-card", "vaccinations"] {
        let answer = app
            .get_as(&format!("/v1/health/{path}?person={SON_ID}"), &token)
            .await;
        problem(answer, 404, "person_not_found").await;
    }
    app.stop().await;
    provider.stop().await.unwrap();
}
in_both_modes!(a_parent_sees_her_card_and_her_young_childs_vaccinations_from_medplum);
