// A jurisdiction admin's page: the staff and their scopes, the Open311 clients and their keys,
// the moderation log, and new ward boundaries, seen on the map before they are saved.

import { call } from './api.js';
import { fill, h, when } from './dom.js';
import { lang, named, t } from './i18n.js';
import { forget, publicList } from './lists.js';
import { L, createMap, fitTo, plain } from './map.js';

const ROLES = ['ward_officer', 'department_staff', 'jurisdiction_admin'];

/** Shows the administration page in `root`; answers a function that stops it. */
export function showAdmin(root, { me }) {
  const jurisdiction = me.scope.jurisdiction || 'hue';
  const wardsPath = `/v1/reports/wards?jurisdiction=${encodeURIComponent(jurisdiction)}`;
  const base = `/v1/admin/jurisdictions/${encodeURIComponent(jurisdiction)}`;
  let stopped = false;
  let wardNames = new Map();
  const message = h('p', { class: 'message', role: 'status' });
  const staffTable = h('table', { class: 'kpis', id: 'staff' });
  const clientList = h('ol', { class: 'broadcasts', id: 'open311-clients' });
  const issued = h('p', { class: 'message', id: 'issued-key' });
  const log = h('ol', { class: 'broadcasts', id: 'moderation-log' });
  const mapElement = h('div', { class: 'map', id: 'wards-map' });
  const importNote = h('p', { class: 'audience', id: 'wards-read' });

  const say = (error) => fill(message, error.message || t('error'));

  // Staff: who they are, what they may do, where.
  const newStaff = {
    username: h('input', { name: 'username', required: true, maxlength: 64 }),
    display_name: h('input', { name: 'display_name', maxlength: 100 }),
    password: h('input', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' }),
    role: h('select', { name: 'role' }, ROLES.map((r) => h('option', { value: r }, t(`role.${r}`)))),
    wards: h('select', { name: 'wards', multiple: true, size: 4 }),
    departments: h('input', { name: 'departments' }),
  };
  const addButton = h('button', { type: 'submit', class: 'primary' }, t('add_staff'));

  async function loadStaff() {
    try {
      const { value: staff } = await call('GET', `/v1/admin/staff?jurisdiction=${encodeURIComponent(jurisdiction)}`);
      if (stopped) return;
      const heads = [t('username'), t('display_name'), t('roles'), t('scope'), t('totp_on'), ''];
      fill(
        staffTable,
        h('thead', {}, h('tr', {}, heads.map((c) => h('th', {}, c)))),
        h('tbody', {}, staff.map(staffRow)),
      );
    } catch (error) {
      say(error);
    }
  }

  function staffRow(member) {
    const places = [
      ...(member.scope.wards || []).map((id) => wardNames.get(id) || id),
      ...(member.scope.departments || []),
    ];
    const toggle = h(
      'button',
      {
        type: 'button',
        name: member.disabled ? 'enable' : 'disable',
        onclick: async () => {
          try {
            await call('PATCH', `/v1/admin/staff/${member.id}`, { json: { disabled: !member.disabled } });
            await loadStaff();
          } catch (error) {
            say(error);
          }
        },
      },
      member.disabled ? t('enable') : t('disable'),
    );
    const scopeCell = h('td', {}, places.join(', '));
    const edit = h('button', { type: 'button', name: 'edit-scope', onclick: () => editScope(member, scopeCell) }, t('edit_scope'));
    return h(
      'tr',
      { 'data-username': member.username, class: member.disabled ? 'disabled' : '' },
      h('td', {}, member.username),
      h('td', {}, member.display_name || ''),
      h('td', {}, member.roles.map((r) => t(`role.${r}`)).join(', ')),
      scopeCell,
      h('td', {}, member.totp_enabled ? '✓' : ''),
      h('td', {}, member.disabled ? h('span', { class: 'badge' }, t('disabled')) : null, ' ', toggle, ' ', edit),
    );
  }

  /** Moves a staff member to other wards or departments of the jurisdiction. */
  function editScope(member, cell) {
    const wards = h(
      'select',
      { name: 'scope_wards', multiple: true, size: 4 },
      [...wardNames].map(([id, name]) => h('option', { value: id, selected: (member.scope.wards || []).includes(id) }, name)),
    );
    const departments = h('input', { name: 'scope_departments', value: (member.scope.departments || []).join(', ') });
    const save = h('button', { type: 'submit', class: 'primary' }, t('save'));
    const submit = async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        await call('PATCH', `/v1/admin/staff/${member.id}`, {
          json: {
            scope: {
              jurisdiction,
              wards: [...wards.selectedOptions].map((o) => o.value),
              departments: departments.value.split(',').map((d) => d.trim()).filter(Boolean),
            },
          },
        });
        fill(message, t('saved'));
        await loadStaff();
      } catch (error) {
        say(error);
        save.disabled = false;
      }
    };
    fill(cell, h('form', { class: 'scope-form', onsubmit: submit }, h('label', {}, t('ward'), wards), h('label', {}, t('departments'), departments), save));
  }

  async function addStaff(event) {
    event.preventDefault();
    addButton.disabled = true;
    try {
      const departments = newStaff.departments.value.split(',').map((d) => d.trim()).filter(Boolean);
      await call('POST', '/v1/admin/staff', {
        json: {
          username: newStaff.username.value.trim(),
          display_name: newStaff.display_name.value.trim() || null,
          password: newStaff.password.value,
          roles: [newStaff.role.value],
          scope: {
            jurisdiction,
            wards: [...newStaff.wards.selectedOptions].map((o) => o.value),
            departments,
          },
        },
      });
      event.target.reset();
      fill(message, t('saved'));
      await loadStaff();
    } catch (error) {
      say(error);
    } finally {
      addButton.disabled = false;
    }
  }

  // Open311 clients: a key is shown once, when issued; only its hash is kept.
  const clientName = h('input', { name: 'client_name', required: true, maxlength: 100 });
  const perHour = h('input', { name: 'requests_per_hour', type: 'number', min: 1, value: 1000 });

  async function loadClients() {
    try {
      const { value: clients } = await call('GET', `${base}/open311-clients`);
      if (stopped) return;
      fill(
        clientList,
        clients.length
          ? clients.map((client) =>
              h(
                'li',
                { 'data-name': client.name },
                h('strong', {}, client.name),
                h('span', {}, `${t('per_hour')}: ${client.requests_per_hour}`),
                h('time', {}, when(client.created_at, lang)),
                client.revoked_at
                  ? h('span', { class: 'badge' }, t('revoked'))
                  : h('button', { type: 'button', name: 'revoke', onclick: () => revoke(client.id) }, t('revoke')),
              ),
            )
          : h('li', {}, t('none')),
      );
    } catch (error) {
      say(error);
    }
  }

  async function issue(event) {
    event.preventDefault();
    try {
      const { value: client } = await call('POST', `${base}/open311-clients`, {
        json: { name: clientName.value.trim(), requests_per_hour: Number(perHour.value) },
      });
      fill(issued, t('key_once'), ' ', h('code', {}, client.api_key));
      event.target.reset();
      await loadClients();
    } catch (error) {
      say(error);
    }
  }

  async function revoke(id) {
    try {
      await call('DELETE', `${base}/open311-clients/${id}`);
      fill(issued);
      await loadClients();
    } catch (error) {
      say(error);
    }
  }

  async function loadLog() {
    try {
      const { value: entries } = await call('GET', `${base}/moderation-log`);
      if (stopped) return;
      fill(
        log,
        entries.length
          ? entries.map((entry) =>
              h(
                'li',
                {},
                h('time', {}, when(entry.at, lang)),
                h('strong', {}, t(`moderation.${entry.action}`)),
                entry.report_id ? h('a', { href: `#/reports/${entry.report_id}` }, entry.report_id.slice(0, 8)) : null,
                entry.reason ? h('span', {}, entry.reason) : null,
              ),
            )
          : h('li', {}, t('none')),
      );
    } catch (error) {
      say(error);
    }
  }

  // New ward boundaries: read from the file, drawn over the map, saved only when asked.
  const wardsFile = h('input', { type: 'file', name: 'wards_file', accept: '.geojson,.json,application/geo+json,application/json' });
  const saveButton = h('button', { type: 'button', class: 'primary', name: 'save-wards', disabled: true }, t('save'));
  let candidate = null;
  let preview = null;
  let current = null;

  wardsFile.addEventListener('change', async () => {
    candidate = null;
    saveButton.disabled = true;
    preview?.remove();
    fill(importNote);
    const file = wardsFile.files[0];
    if (!file) return;
    const text = await file.text();
    let collection;
    try {
      collection = JSON.parse(text);
    } catch {
      collection = null;
    }
    if (collection?.type !== 'FeatureCollection' || !Array.isArray(collection.features)) {
      fill(importNote, t('not_geojson'));
      return;
    }
    preview = L.geoJSON(collection, {
      style: { color: '#b54708', weight: 2, dashArray: '4 4', fillOpacity: 0.1 },
      onEachFeature: (feature, layer) => layer.bindTooltip(plain(named(feature.properties || {})), { sticky: true }),
    }).addTo(map);
    fitTo(map, preview);
    candidate = text;
    saveButton.disabled = false;
    fill(
      importNote,
      t('wards_read', { n: collection.features.length }),
      h('ul', { class: 'ward-names' }, collection.features.map((f) => h('li', {}, named(f.properties || {})))),
    );
  });

  saveButton.addEventListener('click', async () => {
    saveButton.disabled = true;
    try {
      await call('PUT', `${base}/wards`, { body: candidate, contentType: 'application/geo+json' });
      forget(wardsPath);
      fill(importNote, t('saved'));
      preview?.remove();
      preview = null;
      await loadWards();
    } catch (error) {
      say(error);
      saveButton.disabled = false;
    }
  });

  fill(
    root,
    h(
      'section',
      { class: 'admin' },
      h('h1', {}, t('admin')),
      message,
      h('h2', {}, t('staff')),
      staffTable,
      h(
        'form',
        { class: 'action wide', onsubmit: addStaff },
        h('h2', {}, t('add_staff')),
        h('div', { class: 'row' },
          h('label', {}, t('username'), newStaff.username),
          h('label', {}, t('display_name'), newStaff.display_name),
          h('label', {}, t('password'), newStaff.password),
          h('label', {}, t('roles'), newStaff.role)),
        h('div', { class: 'row' },
          h('label', {}, t('ward'), newStaff.wards),
          h('label', {}, t('departments'), newStaff.departments)),
        addButton,
      ),
      h('h2', {}, t('open311_clients')),
      clientList,
      h(
        'form',
        { class: 'action wide', onsubmit: issue },
        h('div', { class: 'row' }, h('label', {}, t('name'), clientName), h('label', {}, t('per_hour'), perHour),
          h('button', { type: 'submit', name: 'issue' }, t('issue_key'))),
        issued,
      ),
      h('h2', {}, t('moderation_log')),
      log,
      h('h2', {}, t('wards_import')),
      h('div', { class: 'split' },
        h('div', { class: 'action wide' }, h('label', {}, t('wards_file'), wardsFile), importNote, saveButton),
        mapElement),
    ),
  );
  const map = createMap(mapElement);

  async function loadWards() {
    const wards = await publicList(wardsPath);
    if (!wards || stopped) return;
    wardNames = new Map(wards.features.map((f) => [f.properties.id, named(f.properties)]));
    fill(newStaff.wards, wards.features.map((f) => h('option', { value: f.properties.id }, named(f.properties))));
    current?.remove();
    current = L.geoJSON(wards, {
      style: { color: '#5b6b7a', weight: 1, fillOpacity: 0.04 },
      onEachFeature: (feature, layer) => layer.bindTooltip(plain(named(feature.properties)), { sticky: true }),
    }).addTo(map);
    current.bringToBack();
    if (!preview) fitTo(map, current);
  }

  loadWards().then(loadStaff);
  loadClients();
  loadLog();
  return () => {
    stopped = true;
    map.remove();
  };
}
