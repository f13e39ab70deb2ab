// A resident's morning, as the app spends it before leaving the house, against the Open-Meteo,
// OpenAQ and SensorThings sandboxes: the forecast where she is (GET /v1/environment/weather,
// somewhere in Huế), the air at the stations near her (GET /v1/environment/air-quality), and
// the rivers against their flood alarm levels (GET /v1/environment/rivers), and the alerts in
// force where she is (GET /v1/alerts), the public toilets near her (GET /v1/places), the bus
// stops near her (GET /v1/transit/stops) and the next buses from the nearest (GET
// /v1/transit/hue/stops/{id}/departures), now and then a station's or a gauge's own page. No
// account: all of it is public.
//
// Forecasts are kept in memory per 2 km cell for 10 minutes (environment.forecast_cache_secs),
// so positions are drawn over the whole city: some answers come from memory, the others from
// the forecast source. `weather_duration`, `air_duration`, `rivers_duration`, `alerts_duration`
// and `departures_duration` time each.
//
//   BASE_URL=http://127.0.0.1:8080 VUS=8 DURATION=30s load-tests/run morning
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Trend } from 'k6/metrics';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
};

const weatherDuration = new Trend('weather_duration', true);
const airDuration = new Trend('air_duration', true);
const riversDuration = new Trend('rivers_duration', true);
const alertsDuration = new Trend('alerts_duration', true);
const departuresDuration = new Trend('departures_duration', true);

// Huế and its wards, roughly: 16.35-16.60 N, 107.45-107.75 E.
function somewhereInHue() {
  return {
    lat: (16.35 + Math.random() * 0.25).toFixed(4),
    lng: (107.45 + Math.random() * 0.3).toFixed(4),
  };
}

export default function () {
  const { lat, lng } = somewhereInHue();

  const weather = http.get(`${BASE_URL}/v1/environment/weather?lat=${lat}&lng=${lng}`, {
    tags: { name: 'weather' },
  });
  weatherDuration.add(weather.timings.duration);
  check(weather, {
    'forecast 200': (r) => r.status === 200,
    'forecast of 48 hours and 7 days': (r) =>
      r.status === 200 && r.json('hourly').length === 48 && r.json('daily').length === 7,
  });

  const air = http.get(`${BASE_URL}/v1/environment/air-quality?lat=${lat}&lng=${lng}`, {
    tags: { name: 'air-quality' },
  });
  airDuration.add(air.timings.duration);
  check(air, {
    'air 200': (r) => r.status === 200,
    // A station shows an index or says why it has none: never an empty answer.
    'every station has an index or says it has no data': (r) =>
      r.status === 200 &&
      r.json('stations').every((s) => (s.hourly && s.hourly.index >= 0) || s.no_data),
  });

  const rivers = http.get(`${BASE_URL}/v1/environment/rivers`, { tags: { name: 'rivers' } });
  riversDuration.add(rivers.timings.duration);
  check(rivers, {
    'rivers 200': (r) => r.status === 200,
    'gauges with alarm levels': (r) =>
      r.status === 200 && r.json('gauges').every((g) => g.alarm_levels_m.length === 3),
  });

  const alerts = http.get(`${BASE_URL}/v1/alerts?lat=${lat}&lng=${lng}`, { tags: { name: 'alerts' } });
  alertsDuration.add(alerts.timings.duration);
  check(alerts, {
    'alerts 200': (r) => r.status === 200,
    'alerts in force, in both languages': (r) =>
      r.status === 200 && r.json('alerts').every((a) => a.headline.vi && a.headline.en),
  });

  const toilets = http.get(`${BASE_URL}/v1/places?layer=toilets&lat=${lat}&lng=${lng}&radius_m=5000`, {
    tags: { name: 'places' },
  });
  check(toilets, { 'toilets near me 200': (r) => r.status === 200 });

  const stops = http.get(`${BASE_URL}/v1/transit/stops?lat=${lat}&lng=${lng}&radius_m=1000`, {
    tags: { name: 'bus-stops' },
  });
  check(stops, { 'bus stops near me 200': (r) => r.status === 200 });
  // Out in the country there is no stop within a walk: she takes the bus from the market.
  const near = stops.status === 200 ? stops.json('stops') : [];
  const [jurisdiction, nearest] = near.length > 0 ? [near[0].jurisdiction, near[0].id] : ['hue', 'DONG_BA'];
  const departures = http.get(`${BASE_URL}/v1/transit/${jurisdiction}/stops/${encodeURIComponent(nearest)}/departures`, {
    tags: { name: 'departures' },
  });
  departuresDuration.add(departures.timings.duration);
  check(departures, {
    'departures 200': (r) => r.status === 200,
    'departures soonest first': (r) => {
      const times = r.status === 200 ? r.json('departures').map((d) => Date.parse(d.departs_at)) : [];
      return times.every((t, i) => i === 0 || times[i - 1] <= t);
    },
  });

  if (Math.random() < 0.2) {
    const station = http.get(`${BASE_URL}/v1/environment/air-quality/stations/le-loi`, {
      tags: { name: 'air-station' },
    });
    check(station, { 'station 200': (r) => r.status === 200 });
    const gauge = http.get(`${BASE_URL}/v1/environment/rivers/kim-long`, {
      tags: { name: 'river-gauge' },
    });
    check(gauge, { 'gauge 200': (r) => r.status === 200 });
  }
  sleep(0.2);
}
