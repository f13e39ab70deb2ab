// The operations centre: the KPIs of a period (per ward, department or category, and per
// day, as a chart and as CSV), the H3 heatmap of where reports come from, and what is overdue.

import { fillAlertsInForce } from './alerts.js';
import { call } from './api.js';
import { fill, h, when } from './dom.js';
import { lang, named, t } from './i18n.js';
import { L, createMap, fitTo, plain, wardLayer } from './map.js';
import { publicList } from './lists.js';

const SVG = 'http://www.w3.org/2000/svg';

/** A date `days` from today in Vietnam, as `YYYY-MM-DD`. */
function vietnamDate(days) {
  const at = new Date(Date.now() + 7 * 3600_000 + days * 86_400_000);
  return at.toISOString().slice(0, 10);
}

/** Shows the dashboard in `root`; answers a function that stops it. */
export function showOps(root, { me }) {
  const jurisdiction = me.scope.jurisdiction || 'hue';
  let stopped = false;
  const message = h('p', { class: 'message', role: 'status' });
  const from = h('input', { type: 'date', name: 'from', value: vietnamDate(-29) });
  const to = h('input', { type: 'date', name: 'to', value: vietnamDate(0) });
  const groupBy = h(
    'select',
    { name: 'group_by' },
    ['ward', 'department', 'category'].map((g) => h('option', { value: g }, t(`group.${g}`))),
  );
  const resolution = h(
    'select',
    { name: 'res' },
    [6, 7, 8, 9, 10].map((r) => h('option', { value: r, selected: r === 8 }, String(r))),
  );
  const cards = h('div', { class: 'cards', id: 'kpi-cards' });
  const chart = h('div', { class: 'chart' });
  const table = h('table', { class: 'kpis' });
  const overdue = h('ol', { class: 'overdue-list' });
  const alerts = h('ol', { class: 'broadcasts', id: 'alerts' });
  const mapElement = h('div', { class: 'map', id: 'heatmap' });

  for (const control of [from, to, groupBy]) control.addEventListener('change', loadKpis);
  resolution.addEventListener('change', loadHeatmap);

  fill(
    root,
    h(
      'section',
      { class: 'ops' },
      h('h1', {}, t('ops')),
      h(
        'form',
        { class: 'filters', onsubmit: (e) => e.preventDefault() },
        h('label', {}, t('from'), from),
        h('label', {}, t('to'), to),
        h('label', {}, t('group_by'), groupBy),
        h('button', { type: 'button', name: 'csv', onclick: downloadCsv }, t('export_csv')),
      ),
      message,
      cards,
      h('div', { class: 'split' }, h('div', {}, h('h2', {}, t('per_day')), chart, table), h('div', {}, h('h2', {}, t('heatmap')), h('label', { class: 'inline' }, t('resolution'), resolution), mapElement)),
      h('div', { class: 'split' },
        h('div', {}, h('h2', {}, t('overdue_reports')), overdue),
        h('div', {}, h('h2', {}, t('alerts')), alerts)),
    ),
  );
  const map = createMap(mapElement);
  let heat = null;
  const names = { ward: new Map(), category: new Map() };

  publicList(`/v1/reports/wards?jurisdiction=${encodeURIComponent(jurisdiction)}`).then((wards) => {
    if (!wards || stopped) return;
    for (const f of wards.features) names.ward.set(f.properties.id, named(f.properties));
    const outlines = wardLayer(wards, named).addTo(map);
    outlines.bringToBack();
    fitTo(map, outlines);
  });
  publicList(`/v1/reports/categories?jurisdiction=${encodeURIComponent(jurisdiction)}`).then((answer) => {
    if (!answer || stopped) return;
    for (const c of answer.categories) names.category.set(c.code, named(c));
  });

  /** The period's query; throws when a date is missing. */
  function period() {
    if (!from.value || !to.value) throw new Error(`${t('from')} / ${t('to')}`);
    const query = new URLSearchParams({ jurisdiction });
    query.set('from', `${from.value}T00:00:00+07:00`);
    const end = new Date(`${to.value}T00:00:00+07:00`).getTime() + 86_400_000;
    query.set('to', new Date(end).toISOString());
    return query;
  }

  async function loadKpis() {
    try {
      const query = period();
      query.set('group_by', groupBy.value);
      const { value: report } = await call('GET', `/v1/ops/kpis?${query}`);
      if (stopped) return;
      fill(message);
      renderCards(report.total);
      renderChart(report.per_day);
      renderTable(report);
    } catch (error) {
      if (!stopped) fill(message, error.message || t('error'));
    }
  }

  function renderCards(total) {
    const hours = (value) => (value === null || value === undefined ? '–' : t('hours', { n: value.toFixed(1) }));
    const pct = (value) => (value === null || value === undefined ? '–' : `${value.toFixed(0)}%`);
    fill(
      cards,
      card('received', String(total.received)),
      card('resolved', String(total.resolved)),
      card('sla_compliance', pct(total.sla_compliance_pct)),
      card('median_resolve', hours(total.time_to_resolve.median_hours)),
      card('average_rating', total.average_rating ? total.average_rating.toFixed(1) : '–'),
    );
  }

  function card(key, value) {
    return h('div', { class: 'card', 'data-kpi': key }, h('span', { class: 'value' }, value), h('span', { class: 'label' }, t(key)));
  }

  /** Reports received (blue) and resolved (green) on each day of the period, as bars. */
  function renderChart(perDay) {
    const known = new Map(perDay.map((day) => [day.date, day]));
    const days = [];
    for (let at = new Date(`${from.value}T00:00:00Z`); at <= new Date(`${to.value}T00:00:00Z`) && days.length < 366; at = new Date(at.getTime() + 86_400_000)) {
      const date = at.toISOString().slice(0, 10);
      days.push(known.get(date) || { date, received: 0, resolved: 0 });
    }
    const width = 600;
    const height = 160;
    const most = Math.max(1, ...days.map((d) => Math.max(d.received, d.resolved)));
    const slot = width / Math.max(days.length, 1);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${width} ${height + 20}`);
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', t('per_day'));
    days.forEach((day, index) => {
      for (const [n, key, colour] of [[0, 'received', '#1f6feb'], [1, 'resolved', '#2da44e']]) {
        const bar = document.createElementNS(SVG, 'rect');
        const barHeight = (day[key] / most) * height;
        bar.setAttribute('x', String(index * slot + n * (slot / 2)));
        bar.setAttribute('y', String(height - barHeight));
        bar.setAttribute('width', String(Math.max(slot / 2 - 1, 1)));
        bar.setAttribute('height', String(barHeight));
        bar.setAttribute('fill', colour);
        const title = document.createElementNS(SVG, 'title');
        title.textContent = `${day.date}: ${t(key)} ${day[key]}`;
        bar.append(title);
        svg.append(bar);
      }
    });
    fill(chart, svg);
  }

  function renderTable(report) {
    const label = (key) => names[report.group_by]?.get(key) || key;
    fill(
      table,
      h('thead', {}, h('tr', {}, [t(`group.${report.group_by}`), t('received'), t('resolved'), t('sla_compliance'), t('median_resolve')].map((c) => h('th', {}, c)))),
      h(
        'tbody',
        {},
        report.groups.map((g) =>
          h(
            'tr',
            {},
            h('td', {}, label(g.key)),
            h('td', {}, String(g.received)),
            h('td', {}, String(g.resolved)),
            h('td', {}, g.sla_compliance_pct === null ? '–' : `${g.sla_compliance_pct.toFixed(0)}%`),
            h('td', {}, g.time_to_resolve.median_hours === null ? '–' : t('hours', { n: g.time_to_resolve.median_hours.toFixed(1) })),
          ),
        ),
      ),
    );
  }

  async function downloadCsv() {
    try {
      const query = period();
      query.set('group_by', groupBy.value);
      query.set('format', 'csv');
      const blob = await call('GET', `/v1/ops/kpis?${query}`, { blob: true });
      const url = URL.createObjectURL(blob);
      const link = h('a', { href: url, download: `kpis-${groupBy.value}-${from.value}-${to.value}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      fill(message, error.message || t('error'));
    }
  }

  async function loadHeatmap() {
    try {
      const query = period();
      query.set('res', resolution.value);
      const { value: cells } = await call('GET', `/v1/ops/heatmap?${query}`);
      if (stopped) return;
      heat?.remove();
      const most = Math.max(1, ...cells.features.map((f) => f.properties.count));
      heat = L.geoJSON(cells, {
        style: (feature) => ({
          color: '#b42318',
          weight: 1,
          fillColor: '#d92d20',
          fillOpacity: 0.15 + 0.6 * (feature.properties.count / most),
          className: 'heat-cell',
        }),
        onEachFeature: (feature, layer) => layer.bindTooltip(plain(`${feature.properties.count} · ${t('received')}`)),
      }).addTo(map);
    } catch (error) {
      if (!stopped) fill(message, error.message || t('error'));
    }
  }

  async function loadOverdue() {
    try {
      const { value: page } = await call('GET', '/v1/officer/reports?overdue=true&limit=20');
      if (stopped) return;
      if (page.reports.length === 0) {
        fill(overdue, h('li', {}, t('none')));
        return;
      }
      fill(
        overdue,
        page.reports.map((r) =>
          h('li', {}, h('a', { href: `#/reports/${r.id}` }, `${named(r.category)} · ${named(r.ward)} · ${t('due')}: ${when(r.sla_due_at, lang)}`)),
        ),
      );
    } catch (error) {
      if (!stopped) fill(overdue, h('li', {}, error.message || t('error')));
    }
  }

  for (const control of [from, to]) control.addEventListener('change', loadHeatmap);
  fillAlertsInForce(alerts, jurisdiction, { stopped: () => stopped });
  loadKpis();
  loadHeatmap();
  loadOverdue();
  return () => {
    stopped = true;
    map.remove();
  };
}
