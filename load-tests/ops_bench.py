"""Times the KPI and heatmap endpoints of a running Citizen (see load-tests/ops-bench)."""
import statistics
import sys
import time

from citizen import Citizen

base, count = sys.argv[1], int(sys.argv[2])
citizen = Citizen(base)
admin = citizen.staff_token("hue.admin")
year = "from=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 365 * 86400))
queries = {
    "kpis, 30 days, whole city": "/v1/ops/kpis",
    "kpis, 30 days, by ward": "/v1/ops/kpis?group_by=ward",
    "kpis, 365 days, by category": f"/v1/ops/kpis?group_by=category&{year}",
    "kpis, 365 days, CSV by ward": f"/v1/ops/kpis?group_by=ward&format=csv&{year}",
    "heatmap res 8, 30 days": "/v1/ops/heatmap?res=8",
    "heatmap res 10, 30 days": "/v1/ops/heatmap?res=10",
    "heatmap res 9, 365 days": f"/v1/ops/heatmap?res=9&{year}",
    "heatmap res 6, 365 days, potholes": f"/v1/ops/heatmap?res=6&category=pothole&{year}",
}
for name, path in queries.items():
    for _ in range(3):
        citizen.call("GET", path, token=admin, raw=True)
    times, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        size = len(citizen.call("GET", path, token=admin, raw=True))
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    print(f"{name:<36} median {statistics.median(times):7.1f} ms  p99 {p99:7.1f} ms  "
          f"({size / 1024:.0f} KiB)", flush=True)
