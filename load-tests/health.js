// Verified residents using health as the app does, against the VNeID and FHIR sandboxes: a
// parent looks up their BHYT card (GET /v1/health/insurance-card), their child's vaccinations
// (GET /v1/health/vaccinations?person=), the free slots of the paediatrics department on a day
// of the next two weeks (GET /v1/health/slots), books one for the child (POST
// /v1/health/appointments, a new Idempotency-Key each: 201 with the hospital's queue number, or
// 409 `slot_taken` when another virtual user took the slot first, both answers the app
// expects), lists their appointments, and cancels half of what they book (DELETE
// /v1/health/appointments/{id}), which frees the slot. Every other iteration is anonymous: the
// hospitals, clinics and pharmacies near a random point of Huế (GET /v1/health/facilities),
// now and then the blood drives coming up. `appointments_booked` counts bookings: its rate in
// the summary is bookings per second.
//
// Health finds a resident by the personal ID number (CCCD) VNeID gave identity, a CCCD
// verifies one account only, and the FHIR sandbox knows a few people (any other CCCD gets 404
// `no_health_record`). So setup() signs in the two parents of services/sandbox/src/fhir.rs
// (MOTHER_CCCD and FATHER_CCCD), each with a phone number of their own that is the same every
// run, verifies them through the VNeID sandbox unless an earlier run did, and the virtual users
// share their two sessions. Those access tokens live 15 minutes (auth.access_token_ttl_secs, at
// most 900), so a run lasts at most 14 minutes. Identity sends a phone one code a minute and 5
// an hour, so to run again within a minute, or more than 5 times an hour, lower those on the
// server:
//
//   CITIZEN_IDENTITY__OTP__RESEND_COOLDOWN_SECS=0 CITIZEN_IDENTITY__OTP__PER_PHONE_PER_HOUR=100000 \
//     target/release/citizen serve
//   BASE_URL=http://127.0.0.1:8080 VUS=8 DURATION=30s load-tests/run health
//
// The sandbox's paediatrician has about 300 free slots over the next two weeks, kept in the
// server's memory: once they are booked, the days show none (`free_slots` in the summary says
// how many each answer held) and the run measures the lookups alone. Restart the server for new
// slots.
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { BASE_URL, postJson, signIn } from './resident.js';

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// POST /v1/health/appointments alone; bookings made, and slots another virtual user took first.
const bookingDuration = new Trend('booking_duration', true);
const appointmentsBooked = new Counter('appointments_booked');
const slotsTaken = new Counter('slots_taken');
// Free slots per answer of /v1/health/slots, and facilities per answer of the near-me lookup.
const freeSlots = new Trend('free_slots');
const nearFacilities = new Trend('near_facilities');

// The parents of the FHIR sandbox (services/sandbox/src/fhir.rs, MOTHER_CCCD and FATHER_CCCD;
// their names and birth dates as in fhir/data.rs), each with a child under 16. Their phone
// numbers are this scenario's own.
const PARENTS = [
  { cccd: '046190001234', name: 'Nguyễn Thị Hoa', birthdate: '1990-05-17', phone: '0990001234' },
  { cccd: '046085009999', name: 'Lê Văn Bình', birthdate: '1985-11-08', phone: '0985009999' },
];

// Khoa Nhi of Huế Central Hospital (PAEDIATRICS_SERVICE_ID), with 15-minute slots.
const DEPARTMENT = 'bvtw-khoa-nhi';

// Where the sandbox's hospitals, health stations and pharmacies are: both banks of the Perfume
// River from Kim Long to Vỹ Dạ.
const BOX = { lat: [16.45, 16.48], lng: [107.56, 107.61] };
const FILTERS = ['', '&kind=hospital', '&kind=clinic', '&kind=pharmacy', '&accepts_bhyt=true'];

function between([low, high]) {
  return low + Math.random() * (high - low);
}

function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

function queryValue(url, name) {
  const match = url.match(new RegExp(`[?&]${name}=([^&]*)`));
  return match ? decodeURIComponent(match[1].replace(/\+/g, ' ')) : '';
}

function bearer(session) {
  return { Authorization: `Bearer ${session.access_token}` };
}

// Links the signed-in account to `parent`'s CCCD as a person does in a browser: the consent
// page of the VNeID sandbox, approved, then back through our callback. The outcome the callback
// tells the app: `verified`, `declined` or `failed`.
function verify(parent, auth) {
  const started = http.post(`${BASE_URL}/v1/me/verification/vneid`, null, {
    headers: auth,
    tags: { name: 'vneid-start' },
  });
  if (started.status !== 200) exec.test.abort(`POST /v1/me/verification/vneid: ${started.status} ${started.body}`);
  const url = started.json('authorization_url');
  const page = http.get(url, { tags: { name: 'vneid-page' } });
  if (page.status !== 200) exec.test.abort(`VNeID's page ${url}: ${page.status}`);
  const form = { decision: 'approve', personal_id: parent.cccd, name: parent.name, birthdate: parent.birthdate };
  for (const field of ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'scope']) {
    form[field] = queryValue(url, field);
  }
  const issuer = url.slice(0, url.indexOf('/authorize?'));
  const decided = http.post(`${issuer}/authorize/decision`, form, { redirects: 0, tags: { name: 'vneid-decide' } });
  if (decided.status < 300 || decided.status > 399) {
    exec.test.abort(`VNeID's decision: ${decided.status} ${decided.body}`);
  }
  // Our callback sends the browser on to the app (citizen://...), which k6 cannot follow.
  const back = http.get(decided.headers.Location, { redirects: 0, tags: { name: 'vneid-callback' } });
  if (back.status !== 303) exec.test.abort(`the VNeID callback: ${back.status} ${back.body}`);
  return queryValue(back.headers.Location, 'status');
}

// `parent` signed in and verified, with their child's id at the health system; null when their
// CCCD is another account's (someone verified it by hand on this database).
function verifiedParent(parent) {
  let session = signIn(parent.phone);
  const me = http.get(`${BASE_URL}/v1/me`, { headers: bearer(session), tags: { name: 'me' } });
  if (me.status !== 200) exec.test.abort(`GET /v1/me: ${me.status} ${me.body}`);
  if (me.json('acr') !== 'verified') {
    const outcome = verify(parent, bearer(session));
    if (outcome !== 'verified') {
      console.warn(`${parent.name}: VNeID verification ${outcome} (does another account of this database have CCCD ${parent.cccd}?)`);
      return null;
    }
    // The access token says what the account was when it was made: a new one says verified.
    const refreshed = postJson('/v1/auth/refresh', { refresh_token: session.refresh_token }, 'refresh');
    if (refreshed.status !== 200) exec.test.abort(`POST /v1/auth/refresh: ${refreshed.status} ${refreshed.body}`);
    session = refreshed.json();
  }
  const people = http.get(`${BASE_URL}/v1/health/people`, { headers: bearer(session), tags: { name: 'people' } });
  if (people.status !== 200) {
    exec.test.abort(`GET /v1/health/people as ${parent.name}: ${people.status} ${people.body} (is health pointed at the FHIR sandbox?)`);
  }
  const child = (people.json('people') || []).find((person) => person.relationship === 'child');
  if (!child) exec.test.abort(`${parent.name} has no child in /v1/health/people: ${people.body}`);
  return {
    name: parent.name,
    token: session.access_token,
    expiresAt: Date.now() + (session.expires_in - 60) * 1000,
    child: child.id,
  };
}

export function setup() {
  const residents = PARENTS.map(verifiedParent).filter((resident) => resident);
  if (!residents.length) exec.test.abort('no parent could be verified: run against a fresh database');
  return residents;
}

// A day of the next two weeks but a Sunday (no clinic), in Việt Nam's time (UTC+7).
function bookingDay() {
  for (;;) {
    const days = 1 + Math.floor(Math.random() * 13);
    const day = new Date(Date.now() + 7 * 3600 * 1000 + days * 86400 * 1000);
    if (day.getUTCDay() !== 0) return day.toISOString().slice(0, 10);
  }
}

// Anyone's map: facilities near a point, and now and then the blood drives.
function nearMe() {
  const lat = between(BOX.lat).toFixed(6);
  const lng = between(BOX.lng).toFixed(6);
  const near = http.get(`${BASE_URL}/v1/health/facilities?lat=${lat}&lng=${lng}&radius_m=2000${pick(FILTERS)}`, {
    headers: { 'Accept-Encoding': 'gzip' },
    tags: { name: 'facilities' },
  });
  const ok = check(near, {
    'facilities: 200 with facilities': (r) => r.status === 200 && Array.isArray(r.json('facilities')),
  });
  if (ok) nearFacilities.add(near.json('facilities').length);
  if (Math.random() < 0.25) {
    const drives = http.get(`${BASE_URL}/v1/health/blood-drives?lat=${lat}&lng=${lng}`, {
      headers: { 'Accept-Encoding': 'gzip' },
      tags: { name: 'blood-drives' },
    });
    check(drives, { 'blood drives: 200 with drives': (r) => r.status === 200 && Array.isArray(r.json('drives')) });
  }
}

export default function (residents) {
  if (__ITER % 2 === 1) {
    nearMe();
    return;
  }
  const resident = residents[__VU % residents.length];
  if (Date.now() > resident.expiresAt) {
    exec.test.abort(`${resident.name}'s token from setup() expired: a run of this scenario lasts at most 14 minutes`);
  }
  const auth = { Authorization: `Bearer ${resident.token}` };

  const card = http.get(`${BASE_URL}/v1/health/insurance-card`, { headers: auth, tags: { name: 'insurance-card' } });
  check(card, { 'insurance card: 200 with a number': (r) => r.status === 200 && Boolean(r.json('card.number')) });

  const vaccinations = http.get(`${BASE_URL}/v1/health/vaccinations?person=${resident.child}`, {
    headers: auth,
    tags: { name: 'vaccinations' },
  });
  check(vaccinations, {
    "vaccinations: 200, the child's": (r) => r.status === 200 && r.json('person.id') === resident.child
      && Array.isArray(r.json('given')) && Array.isArray(r.json('due')),
  });

  const date = bookingDay();
  const slots = http.get(`${BASE_URL}/v1/health/slots?department=${DEPARTMENT}&date=${date}`, {
    headers: auth,
    tags: { name: 'slots' },
  });
  if (!check(slots, { 'slots: 200': (r) => r.status === 200 && Array.isArray(r.json('slots')) })) return;
  const free = slots.json('slots');
  freeSlots.add(free.length);

  let booking = null;
  if (free.length) {
    const slot = pick(free);
    const key = `k6-${__VU}-${__ITER}-${Date.now()}-${Math.random()}`;
    const booked = http.post(`${BASE_URL}/v1/health/appointments`, JSON.stringify({ slot: slot.id, person: resident.child }), {
      headers: Object.assign({ 'Content-Type': 'application/json', 'Idempotency-Key': key }, auth),
      tags: { name: 'book' },
      // A slot taken first by another virtual user is an answer, not a failure.
      responseCallback: http.expectedStatuses(201, 409),
    });
    bookingDuration.add(booked.timings.duration);
    check(booked, {
      'book: 201, or 409 slot_taken': (r) => r.status === 201 || (r.status === 409 && r.json('code') === 'slot_taken'),
    });
    if (booked.status === 201) {
      appointmentsBooked.add(1);
      check(booked, {
        'booked: a queue number': (r) => /^[1-9][0-9]*$/.test(r.json('queue_number')),
        "booked: the child's, at the slot's time": (r) => r.json('status') === 'booked'
          && r.json('person.id') === resident.child && Date.parse(r.json('start')) === Date.parse(slot.start),
      });
      booking = booked.json('id');
    } else if (booked.status === 409) {
      slotsTaken.add(1);
    }
  }

  const mine = http.get(`${BASE_URL}/v1/health/appointments`, { headers: auth, tags: { name: 'appointments' } });
  check(mine, { 'appointments: 200': (r) => r.status === 200 && Array.isArray(r.json('appointments')) });

  if (booking && Math.random() < 0.5) {
    const cancelled = http.del(`${BASE_URL}/v1/health/appointments/${booking}`, null, {
      headers: auth,
      tags: { name: 'cancel' },
    });
    check(cancelled, { 'cancel: 200 cancelled': (r) => r.status === 200 && r.json('status') === 'cancelled' });
  }
}
