// A parent's evening, as the app spends it, against the OneRoster, exam, one-stop and VNeID
// sandboxes: the parent opens her linked children (GET /v1/education/children), each child's
// results this school year (GET /v1/education/children/{id}/grades), now and then last
// year's, looks up a graduation exam result by candidate number and birth date (POST
// /v1/education/exam-results) and the schools near Quốc Học (GET /v1/education/schools); then
// a dossier by its receipt, anonymously (POST /v1/administration/dossiers/lookup with the code
// and the phone's last four digits), and an appointment at the city's public-service centre
// for land and housing: the slots of the next open day (GET
// /v1/administration/centres/{centre}/slots, day after day from tomorrow until one has a free
// place), one booked (POST /v1/administration/appointments, a new Idempotency-Key each) and
// cancelled at once (DELETE /v1/administration/appointments/{id}: 204), so that her account,
// which every virtual user shares, never holds more than its 3 upcoming appointments
// (administration.max_upcoming_appointments).
//
// Answers the app expects, not failures: 429 `too_many_exam_lookups` and 429
// `too_many_dossier_lookups` once the address has made its 10 lookups of the minute (every
// virtual user asks from the same address, so most lookups meet the limits), and 409
// `booking_slot_full` (the last place of the slot went to another virtual user),
// `already_booked` (another virtual user holds the account's booking of that day) or
// `too_many_bookings` (the other virtual users hold the account's 3 places between their
// booking and its cancellation). The counters say how many of each; `grades_duration` times
// the grade reports alone (each is read from the school system and computed by the
// circulars), `dossier_lookup_duration` the answered lookups (each is read from the one-stop
// system), `booking_duration` the bookings made.
//
// Grades are for residents verified with VNeID, and a parent sees a child once she has
// confirmed a code sent to the phone the school records for the pupil's parent. So setup()
// signs in Phan Thị Thu Hằng, the mother of two pupils of services/sandbox/src/oneroster.rs
// (PUPIL1_CODE and PUPIL2_CODE, PARENT_PHONE), with that phone as her account's, verifies her
// through the VNeID sandbox unless an earlier run did, links each child not linked yet (the
// code read back from the development SMS sink, as the tests do), and the virtual users share
// her session. The access token lives 15 minutes (auth.access_token_ttl_secs, at most 900),
// so a run lasts at most 14 minutes. Identity sends a phone one code a minute and 5 an hour,
// and education sends an account 5 link codes an hour (a fresh database links two children
// once; later runs find them linked), so to run again within a minute, or more than 5 times
// an hour, lower those on the server:
//
//   CITIZEN_IDENTITY__OTP__RESEND_COOLDOWN_SECS=0 CITIZEN_IDENTITY__OTP__PER_PHONE_PER_HOUR=100000 \
//     target/release/citizen serve
//   BASE_URL=http://127.0.0.1:8080 VUS=8 DURATION=30s load-tests/run evening
//
// A booking is cancelled in the iteration that made it; setup() cancels any an interrupted
// run left behind, as far as GET /v1/administration/appointments shows them: it lists 100 at
// most, the cancelled ones too, by start, so after many runs on one database the ones left
// behind may not be listed, every booking meets `too_many_bookings`, and the `bookings_made`
// threshold fails the run. Use a fresh database then.
import http from 'k6/http';
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { BASE_URL, postJson, signIn } from './resident.js';

export const options = {
  vus: Number(__ENV.VUS || 8),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    // Refusals alone would measure nothing: the account must still be able to book.
    bookings_made: ['count>0'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

// GET /v1/education/children/{id}/grades alone; exam lookups answered and refused by the
// per-address limit; schools per answer of the near-me lookup.
const gradesDuration = new Trend('grades_duration', true);
const examLookupsAnswered = new Counter('exam_lookups_answered');
const examLookupsLimited = new Counter('exam_lookups_limited');
const nearSchools = new Trend('near_schools');
// Dossier lookups answered (and their time) and refused by the per-address limit; bookings
// made (and their time), refused (a full slot, the account's limit) and cancelled; days asked
// for slots before one had a free place.
const dossierLookupDuration = new Trend('dossier_lookup_duration', true);
const dossierLookupsAnswered = new Counter('dossier_lookups_answered');
const dossierLookupsLimited = new Counter('dossier_lookups_limited');
const bookingDuration = new Trend('booking_duration', true);
const bookingsMade = new Counter('bookings_made');
const bookingsSlotFull = new Counter('bookings_slot_full');
const bookingsAtLimit = new Counter('bookings_at_limit');
const bookingsCancelled = new Counter('bookings_cancelled');
const slotDaysAsked = new Trend('slot_days_asked');

// Phan Thị Thu Hằng (services/sandbox/src/oneroster.rs, PARENT_ID), whose phone the school
// records for both her children (PARENT_PHONE) and is her account's here. The VNeID sandbox
// takes any 12-digit personal ID number: this one is this scenario's own (the FHIR sandbox
// does not know it, and health.js's parents keep theirs).
const PARENT = {
  cccd: '046183005678',
  name: 'Phan Thị Thu Hằng',
  birthdate: '1983-09-21',
  phone: '0905111222',
};
// Her daughter Lê Ngọc Hân (grade 7, Circular 22) and son Lê Minh Khôi (grade 4, Circular
// 27): PUPIL1_CODE and PUPIL2_CODE.
const STUDENT_CODES = ['4601203417', '4601706254'];

// Nguyễn Văn An's graduation exam (services/sandbox/src/exams.rs, CANDIDATE_NUMBER).
const CANDIDATE = { candidate_number: '33000123', birth_date: '2008-03-15' };
const CANDIDATE_NAME = 'Nguyễn Văn An';

// Beside Quốc Học, 12 Lê Lợi.
const SCHOOLS_NEAR = '/v1/education/schools?lat=16.4617&lng=107.5878';
const SCHOOL_FILTERS = ['', '&level=primary', '&level=lower_secondary', '&radius_m=5000'];

// Nguyễn Thị Hoa's building permit, followed with its receipt (services/sandbox/src/one_stop.rs,
// BUILDING_PERMIT_CODE and the last four digits of APPLICANT_PHONE): in progress, shown with the
// applicant's initials.
const DOSSIER = { code: 'H57.22-260112-0001', phone_last_digits: '1222' };
const DOSSIER_APPLICANT = 'N. T. Hoa';

// The city's public-service centre (services/administration/data/centres.toml): land and
// housing, 4 counters, 30-minute slots, weekdays and Saturday mornings.
const CENTRE = 'hue-public-service-centre';
const COUNTER_SERVICE = 'land';
// Days asked for slots, from tomorrow (the booking horizon is 30 days).
const SLOT_DAYS = 14;

function pick(items) {
  return items[Math.floor(Math.random() * items.length)];
}

function queryValue(url, name) {
  const match = url.match(new RegExp(`[?&]${name}=([^&]*)`));
  return match ? decodeURIComponent(match[1].replace(/\+/g, ' ')) : '';
}

// The day `days` after today in Việt Nam (UTC+7, no daylight saving), `YYYY-MM-DD`.
function vietnamDay(days) {
  return new Date(Date.now() + 7 * 3600 * 1000 + days * 86400 * 1000).toISOString().slice(0, 10);
}

function bearer(session) {
  return { Authorization: `Bearer ${session.access_token}` };
}

// Links the signed-in account to `parent`'s CCCD as a person does in a browser: the consent
// page of the VNeID sandbox, approved, then back through our callback. The outcome the callback
// tells the app: `verified`, `declined` or `failed`. (As health.js does.)
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

// The last six-digit code the development SMS sink holds for `phone`.
function lastCode(phone) {
  const sms = http.get(`${BASE_URL}/v1/dev/sms?phone=${encodeURIComponent(phone)}`, { tags: { name: 'dev-sms' } });
  const messages = sms.status === 200 ? sms.json() : [];
  const code = messages.length ? (messages[messages.length - 1].match(/\d{6}/) || [])[0] : undefined;
  if (!code) exec.test.abort(`no code in the development SMS sink for ${phone}: ${sms.status} ${sms.body}`);
  return code;
}

// Links the pupil with `studentCode` as the app does: a code sent to the phone the school
// records (her own here), read back and confirmed.
function link(studentCode, auth) {
  const started = postJson('/v1/education/children/link', { student_code: studentCode }, 'link', auth);
  if (started.status !== 202) {
    exec.test.abort(`POST /v1/education/children/link ${studentCode}: ${started.status} ${started.body} (5 link codes an hour per account; see the header)`);
  }
  const code = lastCode(PARENT.phone);
  const confirmed = postJson('/v1/education/children/link/confirm', {
    challenge_id: started.json('challenge_id'),
    code,
  }, 'link-confirm', auth);
  if (confirmed.status !== 201) {
    exec.test.abort(`POST /v1/education/children/link/confirm: ${confirmed.status} ${confirmed.body}`);
  }
}

function linkedChildren(auth) {
  const listed = http.get(`${BASE_URL}/v1/education/children`, { headers: auth, tags: { name: 'children' } });
  if (listed.status !== 200) exec.test.abort(`GET /v1/education/children: ${listed.status} ${listed.body}`);
  return listed.json('children') || [];
}

export function setup() {
  let session = signIn(PARENT.phone);
  const me = http.get(`${BASE_URL}/v1/me`, { headers: bearer(session), tags: { name: 'me' } });
  if (me.status !== 200) exec.test.abort(`GET /v1/me: ${me.status} ${me.body}`);
  if (me.json('acr') !== 'verified') {
    const outcome = verify(PARENT, bearer(session));
    if (outcome !== 'verified') {
      exec.test.abort(`${PARENT.name}: VNeID verification ${outcome} (does another account of this database have CCCD ${PARENT.cccd}?)`);
    }
    // The access token says what the account was when it was made: a new one says verified.
    const refreshed = postJson('/v1/auth/refresh', { refresh_token: session.refresh_token }, 'refresh');
    if (refreshed.status !== 200) exec.test.abort(`POST /v1/auth/refresh: ${refreshed.status} ${refreshed.body}`);
    session = refreshed.json();
  }
  const auth = bearer(session);

  const linked = linkedChildren(auth).map((child) => child.student_code);
  for (const code of STUDENT_CODES.filter((c) => !linked.includes(c))) link(code, auth);
  const children = linkedChildren(auth).filter((child) => STUDENT_CODES.includes(child.student_code));
  if (children.length !== STUDENT_CODES.length) {
    exec.test.abort(`${PARENT.name}'s children are not all linked: ${JSON.stringify(children)}`);
  }

  // The exam results file and the schools are copied by jobs that start with the server.
  for (let waited = 0; ; waited++) {
    const published = http.get(`${BASE_URL}/v1/education/exam-results`, { tags: { name: 'exam-years' } });
    const schools = http.get(`${BASE_URL}${SCHOOLS_NEAR}`, { tags: { name: 'schools' } });
    const ready = published.status === 200 && (published.json('years') || []).length > 0
      && schools.status === 200 && (schools.json('schools') || []).length > 0;
    if (ready) break;
    if (waited >= 60) {
      exec.test.abort(`no exam results or schools after a minute (is education pointed at the sandboxes?): ${published.body} ${schools.status}`);
    }
    sleep(1);
  }

  // An interrupted run may have left bookings behind: cancelled, so the account starts free.
  const mine = http.get(`${BASE_URL}/v1/administration/appointments`, { headers: auth, tags: { name: 'appointments' } });
  if (mine.status !== 200) exec.test.abort(`GET /v1/administration/appointments: ${mine.status} ${mine.body}`);
  for (const left of (mine.json('appointments') || []).filter((a) => a.status === 'booked' && Date.parse(a.starts_at) > Date.now())) {
    const cancelled = http.del(`${BASE_URL}/v1/administration/appointments/${left.id}`, null, { headers: auth, tags: { name: 'cancel' } });
    if (cancelled.status !== 204) exec.test.abort(`DELETE /v1/administration/appointments/${left.id}: ${cancelled.status} ${cancelled.body}`);
  }

  return {
    token: session.access_token,
    expiresAt: Date.now() + (session.expires_in - 60) * 1000,
    children: children.map((child) => child.id),
  };
}

function grades(auth, child, schoolYear) {
  const query = schoolYear ? `?school_year=${encodeURIComponent(schoolYear)}` : '';
  const report = http.get(`${BASE_URL}/v1/education/children/${child}/grades${query}`, {
    headers: auth,
    tags: { name: schoolYear ? 'grades-year' : 'grades' },
  });
  gradesDuration.add(report.timings.duration);
  const ok = check(report, {
    "grades: 200, the child's, by a circular": (r) => r.status === 200 && r.json('student_id') === child
      && /^(22\/2021|27\/2020)\/TT-BGDĐT$/.test(r.json('circular')) && Array.isArray(r.json('semesters')),
  });
  return ok ? report : null;
}

export default function (parent) {
  if (Date.now() > parent.expiresAt) {
    exec.test.abort("the parent's token from setup() expired: a run of this scenario lasts at most 14 minutes");
  }
  const auth = { Authorization: `Bearer ${parent.token}` };

  const children = http.get(`${BASE_URL}/v1/education/children`, { headers: auth, tags: { name: 'children' } });
  check(children, {
    'children: 200, both linked': (r) => r.status === 200
      && parent.children.every((id) => (r.json('children') || []).some((child) => child.id === id)),
  });

  for (const child of parent.children) {
    const report = grades(auth, child);
    // Now and then last year's, from the years the report lists.
    if (report && Math.random() < 0.25) {
      const years = report.json('school_years') || [];
      const current = report.json('school_year.id');
      const earlier = years.filter((year) => year.id !== current);
      if (earlier.length) grades(auth, child, earlier[earlier.length - 1].id);
    }
  }

  const lookup = http.post(`${BASE_URL}/v1/education/exam-results`, JSON.stringify(CANDIDATE), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'exam-lookup' },
    // The per-address limit is an answer the app expects, not a failure.
    responseCallback: http.expectedStatuses(200, 429),
  });
  check(lookup, {
    'exam lookup: 200, or 429 too_many_exam_lookups': (r) => (r.status === 200 && r.json('full_name') === CANDIDATE_NAME
      && r.json('graduation.graduates') === true)
      || (r.status === 429 && r.json('code') === 'too_many_exam_lookups' && Boolean(r.headers['Retry-After'])),
  });
  if (lookup.status === 200) examLookupsAnswered.add(1);
  else if (lookup.status === 429) examLookupsLimited.add(1);

  const near = http.get(`${BASE_URL}${SCHOOLS_NEAR}${pick(SCHOOL_FILTERS)}`, {
    headers: { 'Accept-Encoding': 'gzip' },
    tags: { name: 'schools' },
  });
  const ok = check(near, {
    'schools: 200 with schools': (r) => r.status === 200 && (r.json('schools') || []).length > 0,
  });
  if (ok) nearSchools.add(near.json('schools').length);

  lookUpDossier();
  bookAndCancel(auth);
}

// Anonymous, as anyone holding the receipt.
function lookUpDossier() {
  const lookup = http.post(`${BASE_URL}/v1/administration/dossiers/lookup`, JSON.stringify(DOSSIER), {
    headers: { 'Content-Type': 'application/json' },
    tags: { name: 'dossier-lookup' },
    // The per-address limit is an answer the app expects, not a failure.
    responseCallback: http.expectedStatuses(200, 429),
  });
  check(lookup, {
    'dossier lookup: 200, or 429 too_many_dossier_lookups': (r) => (r.status === 200 && r.json('code') === DOSSIER.code
      && r.json('applicant') === DOSSIER_APPLICANT && typeof r.json('state') === 'string'
      && (r.json('steps') || []).length > 0)
      || (r.status === 429 && r.json('code') === 'too_many_dossier_lookups' && Boolean(r.headers['Retry-After'])),
  });
  if (lookup.status === 200) {
    dossierLookupsAnswered.add(1);
    dossierLookupDuration.add(lookup.timings.duration);
  } else if (lookup.status === 429) {
    dossierLookupsLimited.add(1);
  }
}

// A free place of the next open day: its start, or null when two weeks have none.
function freeSlot() {
  for (let day = 1; day <= SLOT_DAYS; day++) {
    const date = vietnamDay(day);
    const slots = http.get(`${BASE_URL}/v1/administration/centres/${CENTRE}/slots?service=${COUNTER_SERVICE}&date=${date}`, {
      tags: { name: 'slots' },
    });
    const ok = check(slots, {
      'slots: 200, the day asked': (r) => r.status === 200 && r.json('date') === date && Array.isArray(r.json('slots')),
    });
    if (!ok) return null;
    const free = slots.json('slots').filter((slot) => slot.free > 0);
    if (free.length) {
      slotDaysAsked.add(day);
      return pick(free).starts_at;
    }
  }
  return null;
}

// Books a place for land and housing and cancels it at once.
function bookAndCancel(auth) {
  const startsAt = freeSlot();
  if (!check(startsAt, { 'a free slot within two weeks': (s) => Boolean(s) })) return;
  const key = `evening-${exec.vu.idInTest}-${exec.vu.iterationInScenario}-${Date.now()}`;
  const booked = http.post(`${BASE_URL}/v1/administration/appointments`, JSON.stringify({
    centre: CENTRE,
    service: COUNTER_SERVICE,
    starts_at: startsAt,
  }), {
    headers: Object.assign({ 'Content-Type': 'application/json', 'Idempotency-Key': key }, auth),
    tags: { name: 'book' },
    // A slot another virtual user filled first, or the account's limit while the others hold
    // its places: answers the app expects.
    responseCallback: http.expectedStatuses(201, 409),
  });
  check(booked, {
    'booking: 201 with a queue number, or 409 booking_slot_full / already_booked / too_many_bookings': (r) => (r.status === 201
      && r.json('status') === 'booked' && r.json('centre') === CENTRE && /^A\d{3,}$/.test(r.json('queue_number'))
      && r.json('qr_code') === `citizen:booking:${r.json('id')}`
      && Date.parse(r.json('starts_at')) === Date.parse(startsAt))
      || (r.status === 409
        && ['booking_slot_full', 'already_booked', 'too_many_bookings'].includes(r.json('code'))),
  });
  if (booked.status === 409) {
    if (booked.json('code') === 'booking_slot_full') bookingsSlotFull.add(1);
    else bookingsAtLimit.add(1);
    return;
  }
  if (booked.status !== 201) return;
  bookingsMade.add(1);
  bookingDuration.add(booked.timings.duration);

  const cancelled = http.del(`${BASE_URL}/v1/administration/appointments/${booked.json('id')}`, null, {
    headers: auth,
    tags: { name: 'cancel' },
  });
  if (check(cancelled, { 'cancel: 204': (r) => r.status === 204 })) bookingsCancelled.add(1);
}
