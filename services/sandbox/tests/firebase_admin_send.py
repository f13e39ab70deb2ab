"""Drives the FCM emulator with Google's own client, the firebase-admin SDK from PyPI.

Usage: firebase_admin_send.py EMULATOR_BASE SCENARIO, where EMULATOR_BASE is the emulator's
`http://host:port/sandbox/fcm` and SCENARIO is `send` (messages FCM accepts) or `refuse` (messages
FCM refuses). Prints one JSON object: for each message sent, the name FCM gave it or the SDK's
error with the response it was built from. mobile-api/tests/api/firebase_admin.rs asserts on it.
"""

import json
import os
import sys
import warnings

import firebase_admin
from firebase_admin import credentials, exceptions, messaging

base, scenario = sys.argv[1], sys.argv[2]

# The emulator trusts the test service account; the SDK asks the emulator for its access token.
account_file = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "data", "fcm-test-service-account.json"
)
with open(account_file, encoding="utf-8") as file:
    account = json.load(file)
account["token_uri"] = f"{base}/token"
# firebase-admin has no setting for FCM's address: its messaging service formats this URL
# with the project ID when it is first used.
messaging._MessagingService.FCM_URL = base + "/v1/projects/{0}/messages:send"
firebase_admin.initialize_app(credentials.Certificate(account))
# Registration tokens still work; firebase-admin 7 prefers Firebase installation IDs.
warnings.simplefilter("ignore", DeprecationWarning)

TOKEN = "dGVzdC1kZXZpY2UtdG9rZW4tMDAx:APA91bHc1"
FIDS = ["cK6Dap9aQ3yDk0iEnNJ_xA", "dL7Eb_0bR4zEl1jFoOK-yB"]


def outcome(send):
    """The message's name, or the error the SDK raised and the answer it read it from."""
    try:
        return {"name": send()}
    except exceptions.FirebaseError as error:
        response = error.http_response
        return {
            "error": type(error).__name__,
            "code": error.code,
            "status": response.status_code if response is not None else None,
            "response": response.json() if response is not None else None,
        }


def batch(response):
    return [
        {"name": r.message_id} if r.success else {"error": type(r.exception).__name__}
        for r in response.responses
    ]


notification = messaging.Notification(
    title="Phản ánh đã được xử lý", body="Ổ gà trên đường Lê Lợi đã được vá."
)
report = {}

if scenario == "send":
    report["token"] = outcome(
        lambda: messaging.send(
            messaging.Message(
                token=TOKEN,
                notification=notification,
                data={"report_id": "0193", "kind": "report.status_changed"},
                android=messaging.AndroidConfig(
                    priority="high",
                    ttl=86400,
                    collapse_key="report-0193",
                    direct_boot_ok=True,
                    bandwidth_constrained_ok=True,
                    restricted_satellite_ok=False,
                ),
                apns=messaging.APNSConfig(
                    headers={"apns-priority": "10"},
                    payload=messaging.APNSPayload(aps=messaging.Aps(sound="default")),
                ),
                webpush=messaging.WebpushConfig(
                    fcm_options=messaging.WebpushFCMOptions(
                        link="https://hue-s.example/reports/0193"
                    )
                ),
            )
        )
    )
    report["fid"] = outcome(
        lambda: messaging.send(messaging.Message(fid=FIDS[0], data={"kind": "inbox"}))
    )
    report["topic"] = outcome(
        lambda: messaging.send(messaging.Message(topic="ward-phu-hoi", notification=notification))
    )
    report["condition"] = outcome(
        lambda: messaging.send(
            messaging.Message(
                condition="'ward-phu-hoi' in topics && ('flood' in topics || 'storm' in topics)",
                notification=notification,
            )
        )
    )
    report["multicast"] = batch(
        messaging.send_each_for_multicast(
            messaging.MulticastMessage(
                tokens=[TOKEN], fids=FIDS, data={"kind": "broadcast", "broadcast_id": "42"}
            )
        )
    )
    # 4,000 bytes of data in a request of more than 4,096: FCM counts keys and values.
    report["full_payload"] = outcome(
        lambda: messaging.send(messaging.Message(token=TOKEN, data={"blob": "x" * 4000}))
    )
    report["dry_run"] = outcome(
        lambda: messaging.send(messaging.Message(token=TOKEN, data={"dry": "run"}), dry_run=True)
    )
elif scenario == "refuse":
    for key, condition in {
        "not_operator": "!('weather' in topics)",
        "dangling_operator": "'weather' in topics &&",
        "unbalanced": "('weather' in topics",
        "six_topics": " || ".join(f"'t{i}' in topics" for i in range(6)),
    }.items():
        report[key] = outcome(
            lambda condition=condition: messaging.send(
                messaging.Message(condition=condition, data={"kind": "alert"})
            )
        )
    report["too_big"] = outcome(
        lambda: messaging.send(messaging.Message(token=TOKEN, data={"blob": "x" * 4096}))
    )
    report["too_big_for_a_topic"] = outcome(
        lambda: messaging.send(messaging.Message(topic="ward-phu-hoi", data={"blob": "x" * 2048}))
    )
else:
    sys.exit(f"unknown scenario {scenario!r}")

print(json.dumps(report))
