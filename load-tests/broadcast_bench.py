"""Sends one area broadcast to a running Citizen with the FCM emulator and reports its fan-out
rate (see load-tests/broadcast-bench, which starts one and seeds the residents)."""
import json
import subprocess
import sys
import time
import uuid

from citizen import Citizen

base, db_url, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
citizen = Citizen(base)
call = citizen.call


def sql(query):
    return subprocess.run(["psql", "-qtA", db_url, "-c", query], check=True,
                          capture_output=True, text=True).stdout.strip()


admin = citizen.staff_token("hue.admin")
started = time.monotonic()
broadcast = call("POST", "/v1/admin/broadcasts", {
    "jurisdiction": "hue",
    "area": {"wards": ["phu-xuan"]},
    "title_vi": "Cảnh báo ngập lụt",
    "body_vi": "Nước sông Hương đang lên nhanh. Hãy di chuyển đồ đạc lên cao.",
    "title_en": "Flood warning",
    "body_en": "The Perfume River is rising fast. Move belongings to higher ground.",
    "urgent": True,
}, admin, {"Idempotency-Key": str(uuid.uuid4())})
id = broadcast["id"]
while broadcast["status"] not in ("completed", "cancelled"):
    time.sleep(0.5)
    broadcast = call("GET", f"/v1/admin/broadcasts/{id}", token=admin)
    print(f"{time.monotonic() - started:6.1f} s  {broadcast['status']:<11} "
          f"fanned out {broadcast['fanned_out']:>7}/{broadcast['recipients']}  "
          f"sent {broadcast['pushes']['sent']:>7}  dropped {broadcast['pushes']['dropped']}  "
          f"failed {broadcast['pushes']['failed']}", flush=True)

timing = sql(f"""
  SELECT extract(epoch FROM b.fanned_out_at - b.created_at),
         extract(epoch FROM min(p.sent_at) - b.created_at),
         extract(epoch FROM max(p.sent_at) - b.created_at),
         count(*)
  FROM notifications.broadcasts b
  JOIN notifications.notices n ON n.event_id = b.id
  JOIN notifications.pushes p ON p.notice_id = n.id AND p.status = 'sent'
  WHERE b.id = '{id}' GROUP BY b.id""").split("|")
fanned_out, first, last, sent = float(timing[0]), float(timing[1]), float(timing[2]), int(timing[3])
deliveries = call("GET", "/sandbox/fcm/deliveries")
received = sum(1 for d in deliveries if d["message"]["data"].get("broadcast_id") == id)
print(json.dumps({
    "devices": expected,
    "pushes_sent": sent,
    "emulator_received": received,
    "recipients_fanned_out_s": round(fanned_out, 2),
    "first_push_s": round(first, 3),
    "last_push_s": round(last, 2),
    "messages_per_s_end_to_end": round(sent / last),
    "messages_per_s_while_sending": round(sent / (last - first)),
}, indent=2))
if sent != expected or received != expected:
    sys.exit(f"expected {expected} pushes, sent {sent}, received {received}")
