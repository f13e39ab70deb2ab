"""Measures commit-to-push latency against a running Citizen with the FCM emulator (see
load-tests/push-latency, which starts one)."""
import re
import statistics
import sys
import time
import uuid
from datetime import datetime

from citizen import Citizen

base, count = sys.argv[1], int(sys.argv[2])
citizen = Citizen(base)
call = citizen.call


phone = "09" + str(uuid.uuid4().int % 10**8).zfill(8)
call("POST", "/v1/auth/otp", {"phone": phone})
code = re.search(r"\b\d{6}\b", call("GET", f"/v1/dev/sms?phone={phone}")[-1]).group()
resident = call("POST", "/v1/auth/otp/verify", {"phone": phone, "code": code})["access_token"]
device = f"latency-{uuid.uuid4().hex}:APA91b"
call("POST", "/v1/me/devices", {"platform": "android", "push_token": device}, resident)
officer = citizen.staff_token("phuxuan.officer")


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


latencies = []
for n in range(count):
    report = call("POST", "/v1/reports", {
        "category": "pothole", "latitude": 16.49 + (n % 50) * 0.0002, "longitude": 107.58,
        "description": "latency", "answers": {"size": "small"},
    }, resident, {"Idempotency-Key": str(uuid.uuid4())})["report"]
    accepted = call("POST", f"/v1/officer/reports/{report['id']}/accept", {}, officer)
    written = parse(accepted["timeline"][-1]["created_at"])
    for _ in range(2000):
        received = [d for d in call("GET", f"/sandbox/fcm/deliveries?token={device}")
                    if d["message"]["data"].get("report_id") == report["id"]]
        if received:
            break
        time.sleep(0.002)
    latencies.append((parse(received[0]["received_at"]) - written).total_seconds() * 1000)

latencies.sort()
p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
print(f"{count} status changes: commit-to-push median {statistics.median(latencies):.1f} ms, "
      f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms")
