//! The FCM emulator driven by Google's own client, the firebase-admin SDK from PyPI
//! (`services/sandbox/tests/firebase_admin_send.py`), so the emulator cannot drift from what
//! Google's SDK sends and what real FCM accepts.

use serde_json::Value;
use tokio::process::Command;

use crate::helpers::start;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A Python with firebase-admin, installed on first use (python3 and PyPI are required: without
/// them the test fails).
async fn python_with_firebase_admin() -> String {
    let output = Command::new(format!("{WORKSPACE}/scripts/firebase-admin-python"))
        .arg(concat!(env!("CARGO_TARGET_TMPDIR"), "/firebase-admin-venv"))
        .output()
        .await
        .expect("scripts/firebase-admin-python runs");
    assert!(
        output.status.success(),
        "installing firebase-admin failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Starts the sandbox, runs the script's `scenario` against its FCM emulator and returns the
/// script's report and what the emulator recorded as delivered.
async fn firebase_admin(scenario: &str) -> (Value, Vec<Value>) {
    let python = python_with_firebase_admin().await;
    let sandbox = start(platform::Config::default(), "sandbox").await;
    let base = format!("http://{}/sandbox/fcm", sandbox.addr());
    let output = Command::new(python)
        .arg(format!(
            "{WORKSPACE}/services/sandbox/tests/firebase_admin_send.py"
        ))
        .args([&base, scenario])
        // The emulator is on loopback: no proxy may stand between.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "firebase-admin failed: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}\n{stderr}", String::from_utf8_lossy(&output.stdout)));
    let deliveries = reqwest::get(format!("{base}/deliveries"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (report, deliveries)
}

fn name(outcome: &Value) -> &str {
    outcome["name"]
        .as_str()
        .unwrap_or_else(|| panic!("refused: {outcome}"))
}

/// The delivery FCM named `name`, or none.
fn delivered<'a>(deliveries: &'a [Value], outcome: &Value) -> Option<&'a Value> {
    let name = name(outcome);
    deliveries
        .iter()
        .find(|d| d["name"] == name)
        .map(|d| &d["message"])
}

#[tokio::test]
async fn googles_firebase_admin_sdk_sends_to_tokens_installations_topics_and_conditions() {
    let (report, deliveries) = firebase_admin("send").await;

    // The SDK signed in with the cloud-platform scope and its token message arrived whole.
    let token = delivered(&deliveries, &report["token"]).expect("the token message");
    assert_eq!(token["token"], "dGVzdC1kZXZpY2UtdG9rZW4tMDAx:APA91bHc1");
    assert_eq!(token["notification"]["title"], "Phản ánh đã được xử lý");
    assert_eq!(token["data"]["report_id"], "0193");
    assert_eq!(token["android"]["bandwidth_constrained_ok"], true);
    assert_eq!(token["android"]["restricted_satellite_ok"], false);
    assert_eq!(token["android"]["ttl"], "86400s");

    let fid = delivered(&deliveries, &report["fid"]).expect("the installation message");
    assert_eq!(fid["fid"], "cK6Dap9aQ3yDk0iEnNJ_xA");
    let topic = delivered(&deliveries, &report["topic"]).expect("the topic message");
    assert_eq!(topic["topic"], "ward-phu-hoi");
    let condition = delivered(&deliveries, &report["condition"]).expect("the condition message");
    assert_eq!(
        condition["condition"],
        "'ward-phu-hoi' in topics && ('flood' in topics || 'storm' in topics)"
    );

    // send_each_for_multicast: one message per device, each delivered.
    let multicast = report["multicast"].as_array().unwrap();
    assert_eq!(multicast.len(), 3);
    let targets: Vec<&Value> = multicast
        .iter()
        .map(|outcome| {
            let message = delivered(&deliveries, outcome).expect("each multicast message");
            assert_eq!(message["data"]["broadcast_id"], "42");
            message.get("token").or(message.get("fid")).unwrap()
        })
        .collect();
    assert_eq!(
        targets,
        [
            "dGVzdC1kZXZpY2UtdG9rZW4tMDAx:APA91bHc1",
            "cK6Dap9aQ3yDk0iEnNJ_xA",
            "dL7Eb_0bR4zEl1jFoOK-yB"
        ]
    );

    // 4,000 bytes of data fit, though the request is larger than 4,096 bytes.
    let full = delivered(&deliveries, &report["full_payload"]).expect("the full payload");
    assert_eq!(full["data"]["blob"].as_str().unwrap().len(), 4000);

    // A dry run is validated and named, never delivered.
    assert!(delivered(&deliveries, &report["dry_run"]).is_none());
    assert_eq!(deliveries.len(), 8);
}

#[tokio::test]
async fn googles_firebase_admin_sdk_reports_bad_conditions_and_oversized_payloads_as_fcm_refuses_them()
 {
    let (report, deliveries) = firebase_admin("refuse").await;

    for key in [
        "not_operator",
        "dangling_operator",
        "unbalanced",
        "six_topics",
    ] {
        let refused = &report[key];
        assert_eq!(refused["error"], "InvalidArgumentError", "{key}: {refused}");
        assert_eq!(refused["status"], 400);
        let error = &refused["response"]["error"];
        assert_eq!(error["status"], "INVALID_ARGUMENT");
        assert_eq!(
            error["details"][0]["@type"],
            "type.googleapis.com/google.rpc.BadRequest"
        );
        assert_eq!(
            error["details"][0]["fieldViolations"][0]["field"],
            "message.condition"
        );
        assert_eq!(
            error["details"][1]["errorCode"], "INVALID_ARGUMENT",
            "{key}"
        );
    }
    for key in ["too_big", "too_big_for_a_topic"] {
        let refused = &report[key];
        assert_eq!(refused["error"], "InvalidArgumentError", "{key}: {refused}");
        assert!(
            refused["response"]["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Message is too big"),
            "{refused}"
        );
    }
    assert!(deliveries.is_empty(), "{deliveries:?}");
}
