// The officer's queue: open reports in their scope, soonest deadline first, filtered, on a list
// and a map; several accepted at once; the first page polled with its ETag for new reports.

import { call } from './api.js';
import { fill, h, when } from './dom.js';
import { lang, named, t } from './i18n.js';
import { publicList } from './lists.js';
import { L, createMap, fitTo, plain, reportMarker, wardLayer } from './map.js';

const POLL_MS = 10_000;
const OPEN_STATUSES = ['submitted', 'accepted', 'assigned', 'in_progress', 'reopened'];
const ACCEPTABLE = ['submitted', 'reopened'];

/** Shows the queue in `root` with the filters of `params`; answers a function that stops it. */
export function showQueue(root, { me, params }) {
  const jurisdiction = me.scope.jurisdiction || 'hue';
  const filters = {
    status: params.get('status') || '',
    category: params.get('category') || '',
    ward: params.get('ward') || '',
    overdue: params.get('overdue') === 'true',
    mine: params.get('mine') === 'true',
  };
  const selected = new Set();
  let reports = [];
  let known = null;
  let etag = null;
  let nextCursor = null;
  let stopped = false;

  const message = h('p', { class: 'message', role: 'status' });
  const list = h('ol', { class: 'reports', 'aria-label': t('queue') });
  const more = h('button', { hidden: true, onclick: () => load({ append: true }) }, t('more'));
  const acceptButton = h('button', { class: 'primary', disabled: true, onclick: acceptSelected }, t('accept_selected'));
  const mapElement = h('div', { class: 'map', id: 'queue-map' });

  const statusSelect = select('status', [['', t('any')], ...OPEN_STATUSES.map((s) => [s, t(`status.${s}`)])]);
  const categorySelect = select('category', [['', t('any')]]);
  const wardSelect = select('ward', [['', t('any')]]);
  const overdueBox = h('input', { type: 'checkbox', name: 'overdue', checked: filters.overdue, onchange: applyFilters });
  const mineBox = h('input', { type: 'checkbox', name: 'mine', checked: filters.mine, onchange: applyFilters });

  function select(name, options) {
    const element = h('select', { name, onchange: applyFilters });
    setOptions(element, options, filters[name]);
    return element;
  }

  function setOptions(element, options, value) {
    fill(element, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
  }

  function applyFilters() {
    const query = new URLSearchParams();
    if (statusSelect.value) query.set('status', statusSelect.value);
    if (categorySelect.value) query.set('category', categorySelect.value);
    if (wardSelect.value) query.set('ward', wardSelect.value);
    if (overdueBox.checked) query.set('overdue', 'true');
    if (mineBox.checked) query.set('mine', 'true');
    const text = query.toString();
    location.hash = `#/queue${text ? `?${text}` : ''}`;
  }

  fill(
    root,
    h(
      'section',
      { class: 'queue' },
      h(
        'form',
        { class: 'filters', onsubmit: (e) => e.preventDefault() },
        h('label', {}, t('status'), statusSelect),
        h('label', {}, t('category'), categorySelect),
        h('label', {}, t('ward'), wardSelect),
        h('label', { class: 'check' }, overdueBox, t('overdue_only')),
        h('label', { class: 'check' }, mineBox, t('mine_only')),
        h('button', { type: 'button', onclick: () => load() }, t('refresh')),
      ),
      message,
      h(
        'div',
        { class: 'split' },
        h('div', { class: 'list-pane' }, h('div', { class: 'bulk' }, acceptButton), list, more),
        mapElement,
      ),
    ),
  );

  const map = createMap(mapElement);
  const markers = L.featureGroup().addTo(map);

  publicList(`/v1/reports/categories?jurisdiction=${encodeURIComponent(jurisdiction)}`).then((answer) => {
    if (!answer || stopped) return;
    const options = answer.categories.map((c) => [c.code, named(c)]);
    setOptions(categorySelect, [['', t('any')], ...options], filters.category);
  });
  publicList(`/v1/reports/wards?jurisdiction=${encodeURIComponent(jurisdiction)}`).then((wards) => {
    if (!wards || stopped) return;
    const mine = me.scope.wards || [];
    const features = wards.features.filter((f) => mine.length === 0 || mine.includes(f.properties.id));
    setOptions(wardSelect, [['', t('any')], ...features.map((f) => [f.properties.id, named(f.properties)])], filters.ward);
    const outlines = wardLayer({ type: 'FeatureCollection', features }, named).addTo(map);
    outlines.bringToBack();
    // The officer's wards frame the map; the reports are in them.
    fitTo(map, outlines);
  });

  function queuePath(cursor) {
    const query = new URLSearchParams();
    for (const name of ['status', 'category', 'ward']) if (filters[name]) query.set(name, filters[name]);
    if (filters.overdue) query.set('overdue', 'true');
    if (filters.mine) query.set('mine', 'true');
    if (cursor) query.set('cursor', cursor);
    return `/v1/officer/reports?${query}`;
  }

  async function load({ append = false, poll = false } = {}) {
    try {
      const answer = await call('GET', queuePath(append ? nextCursor : null), {
        etag: poll ? etag : undefined,
      });
      if (stopped || answer.notModified) return;
      const page = answer.value;
      if (!append) etag = answer.etag;
      const arrived = known ? page.reports.filter((r) => !known.has(r.id)) : [];
      reports = append ? reports.concat(page.reports) : page.reports;
      nextCursor = page.next_cursor;
      known = new Set(reports.map((r) => r.id));
      render(new Set(arrived.map((r) => r.id)));
      if (poll && arrived.length) fill(message, t('new_reports'));
    } catch (error) {
      if (!stopped) fill(message, error.message || t('error'));
    }
  }

  function render(fresh) {
    for (const id of [...selected]) if (!known.has(id)) selected.delete(id);
    acceptButton.disabled = selected.size === 0;
    more.hidden = !nextCursor;
    markers.clearLayers();
    if (reports.length === 0) {
      fill(list, h('li', { class: 'empty' }, t('none_in_queue')));
      return;
    }
    fill(list, reports.map((report) => row(report, fresh.has(report.id))));
    for (const report of reports) {
      reportMarker(report, open)
        .bindTooltip(plain(`${named(report.category)} · ${named(report.ward)}`))
        .addTo(markers);
    }
  }

  function row(report, fresh) {
    const box = ACCEPTABLE.includes(report.status)
      ? h('input', {
          type: 'checkbox',
          'aria-label': t('accept'),
          checked: selected.has(report.id),
          onchange: (event) => {
            if (event.target.checked) selected.add(report.id);
            else selected.delete(report.id);
            acceptButton.disabled = selected.size === 0;
          },
        })
      : h('span', { class: 'no-box' });
    return h(
      'li',
      { class: `report${report.overdue ? ' overdue' : ''}${fresh ? ' fresh' : ''}`, 'data-id': report.id },
      box,
      h(
        'a',
        { href: `#/reports/${report.id}` },
        h('strong', {}, named(report.category)),
        h('span', { class: `status status-${report.status}` }, t(`status.${report.status}`)),
        report.overdue ? h('span', { class: 'badge overdue' }, t('overdue')) : null,
        report.urgent ? h('span', { class: 'badge urgent' }, t('urgent')) : null,
        h('span', { class: 'where' }, named(report.ward)),
        h('span', { class: 'due' }, `${t('due')}: ${when(report.sla_due_at, lang)}`),
        h('span', { class: 'summary' }, report.description.slice(0, 140)),
      ),
    );
  }

  function open(report) {
    location.hash = `#/reports/${report.id}`;
  }

  async function acceptSelected() {
    acceptButton.disabled = true;
    try {
      // The API takes at most 100 at once.
      const ids = [...selected];
      let accepted = 0;
      let skipped = 0;
      for (let start = 0; start < ids.length; start += 100) {
        const { value } = await call('POST', '/v1/officer/reports/accept', {
          json: { report_ids: ids.slice(start, start + 100) },
        });
        accepted += value.accepted.length;
        skipped += value.skipped.length;
      }
      selected.clear();
      const parts = [t('accepted_n', { n: accepted })];
      if (skipped) parts.push(t('skipped_n', { n: skipped }));
      await load();
      fill(message, parts.join(' '));
    } catch (error) {
      fill(message, error.message || t('error'));
      acceptButton.disabled = selected.size === 0;
    }
  }

  load();
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') load({ poll: true });
  }, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    map.remove();
  };
}
