// One report as staff see it: what the resident said and showed, where, its timeline and
// duplicates, and what the officer may do next (the workflow's own rules, as the API applies
// them: an action not allowed here is not offered).

import { ApiError, call } from './api.js';
import { fill, h, when } from './dom.js';
import { lang, named, t } from './i18n.js';
import { publicList } from './lists.js';
import { L, createMap, reportMarker } from './map.js';
import { administers } from './roles.js';

/** Where each action may be taken from (the API's workflow). */
const ACTIONS = {
  accept: ['submitted', 'reopened'],
  assign: ['accepted', 'assigned', 'in_progress', 'reopened'],
  start: ['accepted', 'assigned', 'reopened'],
  resolve: ['accepted', 'assigned', 'in_progress', 'reopened'],
  reject: ['submitted', 'accepted', 'assigned', 'in_progress', 'reopened'],
};
const REASONS = ['not_responsible', 'duplicate', 'invalid', 'spam'];

/** Shows report `id` in `root`; answers a function that stops it. */
export function showReport(root, { id, me }) {
  let stopped = false;
  let map = null;
  const objectUrls = [];
  const message = h('p', { class: 'message', role: 'status' });

  async function load(notice) {
    try {
      const { value: report } = await call('GET', `/v1/officer/reports/${encodeURIComponent(id)}`);
      if (stopped) return;
      render(report);
      if (notice) fill(message, notice);
    } catch (error) {
      if (stopped) return;
      fill(root, h('p', { class: 'message' }, error.message || t('error')), h('a', { href: '#/queue' }, t('back')));
    }
  }

  function render(report) {
    map?.remove();
    const mapElement = h('div', { class: 'map small', id: 'report-map' });
    fill(
      root,
      h(
        'article',
        { class: 'report-page', 'data-status': report.status },
        h('a', { href: '#/queue', class: 'back' }, `← ${t('back')}`),
        h(
          'header',
          {},
          h('h1', {}, named(report.category)),
          h('span', { class: `status status-${report.status}`, id: 'report-status' }, t(`status.${report.status}`)),
          report.overdue ? h('span', { class: 'badge overdue' }, t('overdue')) : null,
          report.urgent ? h('span', { class: 'badge urgent' }, t('urgent')) : null,
        ),
        message,
        h(
          'dl',
          { class: 'facts' },
          fact(t('ward'), named(report.ward)),
          fact(t('department'), named(report.department)),
          fact(t('filed'), when(report.created_at, lang)),
          fact(t('due'), when(report.sla_due_at, lang)),
        ),
        h('div', { class: 'split' }, h('div', {}, body(report)), mapElement),
        actions(report),
        timeline(report),
      ),
    );
    map = createMap(mapElement);
    const marker = reportMarker(report, () => {}).addTo(map);
    map.setView(marker.getLatLng(), 17);
  }

  function fact(label, value) {
    return [h('dt', {}, label), h('dd', {}, value)];
  }

  function body(report) {
    const answers = Object.entries(report.answers || {});
    return [
      h('h2', {}, t('description')),
      h('p', { class: 'description' }, report.description),
      answers.length ? [h('h2', {}, t('answers')), answerList(report, answers)] : null,
      report.media_ids.length ? [h('h2', {}, t('photos')), photos(report.media_ids)] : null,
      duplicates(report),
      nearby(report),
    ];
  }

  /**
   * The answers to the category's questions, by the questions' labels and the options' (as the
   * resident read them) once the categories are read; by their codes until then.
   */
  function answerList(report, answers) {
    const shown = (value) => (typeof value === 'string' ? value : JSON.stringify(value));
    const list = h('dl', { class: 'answers' }, answers.map(([code, value]) => fact(code, shown(value))));
    const label = (thing) => (lang === 'vi' ? thing.label_vi : thing.label_en) || thing.code;
    publicList(`/v1/reports/categories?jurisdiction=${encodeURIComponent(me.scope.jurisdiction || 'hue')}`).then((answer) => {
      const category = answer?.categories.find((c) => c.code === report.category.id);
      if (!category || stopped) return;
      fill(
        list,
        answers.map(([code, value]) => {
          const question = category.questions.find((q) => q.code === code);
          if (!question) return fact(code, shown(value));
          const option = (question.options || []).find((o) => o.code === value);
          return fact(label(question), option ? label(option) : shown(value));
        }),
      );
    });
    return list;
  }

  /**
   * Open reports within 50 m that are not linked to this one yet: perhaps the same pothole,
   * which the officer marks as a duplicate of this report.
   */
  function nearby(report) {
    const list = h('ul', { class: 'nearby', id: 'nearby' });
    const section = h('div', { hidden: true }, h('h2', {}, t('nearby')), list);
    if (!ACTIONS.reject.includes(report.status)) return section;
    const linked = new Set([report.id, report.duplicate_of, ...(report.duplicates || [])]);
    const query = new URLSearchParams({
      lat: report.position.latitude,
      lng: report.position.longitude,
      radius_m: 50,
      limit: 10,
    });
    fetch(`/v1/reports/near?${query}`, { headers: { 'Accept-Language': lang } })
      .then((response) => (response.ok ? response.json() : { reports: [] }))
      .then(({ reports }) => {
        const candidates = reports.filter((r) => !linked.has(r.id) && !r.duplicate_of && ACTIONS.reject.includes(r.status));
        if (stopped || candidates.length === 0) return;
        fill(
          list,
          candidates.map((other) => {
            const button = h('button', { type: 'button', name: 'mark-duplicate' }, t('mark_duplicate'));
            button.addEventListener(
              'click',
              guarded(button, async () => {
                await call('POST', `/v1/officer/reports/${other.id}/duplicate-of`, { json: { original_id: report.id } });
                await load(t('done'));
              }),
            );
            return h(
              'li',
              { 'data-id': other.id },
              h('a', { href: `#/reports/${other.id}` }, `${named(other.category)} · ${when(other.created_at, lang)}`),
              h('span', { class: 'summary' }, other.description.slice(0, 100)),
              button,
            );
          }),
        );
        section.hidden = false;
      })
      .catch(() => {});
    return section;
  }

  function photos(ids) {
    return h('div', { class: 'photos' }, ids.map(photo));
  }

  /** A photo in display size, fetched with the staff's token; the original on demand. */
  function photo(mediaId) {
    const image = h('img', { alt: t('photos'), class: 'photo', 'data-media': mediaId });
    const show = async (attempt) => {
      try {
        const blob = await call('GET', `/v1/media/${mediaId}/display`, { blob: true });
        if (stopped) return;
        const url = URL.createObjectURL(blob);
        objectUrls.push(url);
        image.src = url;
      } catch (error) {
        // 409: the display size is still being made.
        if (error instanceof ApiError && error.status === 409 && attempt < 5 && !stopped) {
          setTimeout(() => show(attempt + 1), 1500);
        }
      }
    };
    show(0);
    const original = h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: async () => {
          // Opened first, filled once the bytes are here: a window opened after a wait is blocked.
          const opened = window.open('', '_blank');
          try {
            const blob = await call('GET', `/v1/media/${mediaId}/original`, { blob: true });
            const url = URL.createObjectURL(blob);
            objectUrls.push(url);
            if (opened) opened.location.href = url;
          } catch (error) {
            opened?.close();
            fill(message, error.message || t('error'));
          }
        },
      },
      t('original'),
    );
    return h('figure', {}, image, h('figcaption', {}, original));
  }

  function duplicates(report) {
    const links = (report.duplicates || []).map((d) => h('li', {}, h('a', { href: `#/reports/${d}` }, d.slice(0, 8))));
    return [
      report.duplicate_of
        ? h('p', {}, `${t('duplicate_of')}: `, h('a', { href: `#/reports/${report.duplicate_of}` }, report.duplicate_of.slice(0, 8)))
        : null,
      links.length ? [h('h2', {}, t('duplicates')), h('ul', {}, links)] : null,
    ];
  }

  function timeline(report) {
    return h(
      'section',
      { class: 'timeline' },
      h('h2', {}, t('timeline')),
      h(
        'ol',
        {},
        (report.timeline || []).map((event) =>
          h(
            'li',
            { class: event.public ? '' : 'internal' },
            h('time', {}, when(event.created_at, lang)),
            h('strong', {}, t(`kind.${event.kind}`)),
            event.to_status ? h('span', { class: `status status-${event.to_status}` }, t(`status.${event.to_status}`)) : null,
            event.public ? null : h('span', { class: 'badge' }, t('internal')),
            event.note ? h('p', {}, event.note) : null,
            event.media_ids.length ? photos(event.media_ids) : null,
          ),
        ),
      ),
    );
  }

  function actions(report) {
    const allowed = (action) => ACTIONS[action].includes(report.status);
    const forms = [];
    if (allowed('accept')) forms.push(simpleAction(report, 'accept', t('accept')));
    if (allowed('assign') && report.assignee_id !== me.id) {
      forms.push(simpleAction(report, 'assign', t('assign_me'), { assignee_id: me.id }));
    }
    if (allowed('assign') && administers(me)) forms.push(assignForm(report));
    if (allowed('start')) forms.push(simpleAction(report, 'start', t('start')));
    if (allowed('resolve')) forms.push(resolveForm(report));
    if (allowed('reject')) forms.push(rejectForm(report));
    forms.push(commentForm(report));
    return h('section', { class: 'actions' }, forms);
  }

  async function act(report, action, json) {
    await call('POST', `/v1/officer/reports/${report.id}/${action}`, { json });
    await load(t('done'));
  }

  function guarded(button, work) {
    return async (event) => {
      event.preventDefault();
      button.disabled = true;
      try {
        await work();
      } catch (error) {
        fill(message, error.message || t('error'));
      } finally {
        button.disabled = false;
      }
    };
  }

  function simpleAction(report, action, label, extra = {}) {
    const button = h('button', { type: 'submit', name: action }, label);
    return h('form', { class: 'action', onsubmit: guarded(button, () => act(report, action, extra)) }, button);
  }

  /** Response templates suiting the report's category and `action`, as a select. */
  function templatePicker(report, action, note) {
    const picker = h('select', { name: 'template' }, h('option', { value: '' }, t('no_template')));
    const query = new URLSearchParams({ category: report.category.id, action });
    call('GET', `/v1/officer/response-templates?${query}`)
      .then(({ value }) => {
        for (const template of value) {
          picker.append(h('option', { value: template.id }, lang === 'vi' ? template.text_vi : template.text_en));
        }
      })
      .catch(() => {});
    picker.addEventListener('change', () => {
      note.placeholder = picker.selectedOptions[0]?.value ? picker.selectedOptions[0].textContent : '';
    });
    return picker;
  }

  function resolveForm(report) {
    const note = h('textarea', { name: 'public_note', rows: 3, maxlength: 2000 });
    const picker = templatePicker(report, 'resolve', note);
    const files = h('input', { type: 'file', name: 'proof', accept: 'image/jpeg,image/png,image/webp', multiple: true });
    const button = h('button', { type: 'submit', class: 'primary', name: 'resolve' }, t('resolve'));
    const work = async () => {
      if (files.files.length === 0) throw new Error(t('need_photo'));
      if (!note.value.trim() && !picker.value) throw new Error(t('need_note'));
      fill(message, t('uploading'));
      const mediaIds = [];
      for (const file of files.files) {
        const form = new FormData();
        form.append('file', file);
        const { value } = await call('POST', '/v1/media', { form });
        mediaIds.push(value.id);
      }
      const json = { media_ids: mediaIds };
      if (note.value.trim()) json.public_note = note.value.trim();
      else json.template = picker.value;
      await act(report, 'resolve', json);
    };
    return h(
      'form',
      { class: 'action wide', onsubmit: guarded(button, work) },
      h('h2', {}, t('resolve')),
      h('label', {}, t('template'), picker),
      h('label', {}, t('public_note'), note),
      h('label', {}, t('proof_photo'), files),
      button,
    );
  }

  /** An admin gives the report to one of the staff (the API checks they may work on it). */
  function assignForm(report) {
    const who = h('select', { name: 'assignee' });
    const button = h('button', { type: 'submit', name: 'assign' }, t('assign'));
    call('GET', `/v1/admin/staff?jurisdiction=${encodeURIComponent(me.scope.jurisdiction || 'hue')}`)
      .then(({ value: staff }) => {
        const workers = staff.filter((s) => !s.disabled && s.id !== report.assignee_id && !s.roles.includes('jurisdiction_admin'));
        fill(who, workers.map((s) => h('option', { value: s.id }, s.display_name || s.username)));
      })
      .catch(() => {});
    return h(
      'form',
      { class: 'action', onsubmit: guarded(button, () => act(report, 'assign', { assignee_id: who.value })) },
      h('label', {}, t('assign_to'), who),
      button,
    );
  }

  function rejectForm(report) {
    const reason = h('select', { name: 'reason' }, REASONS.map((r) => h('option', { value: r }, t(`reason.${r}`))));
    const note = h('textarea', { name: 'public_note', rows: 2, maxlength: 2000 });
    const button = h('button', { type: 'submit', class: 'danger', name: 'reject' }, t('reject'));
    const work = () => {
      const json = { reason: reason.value };
      if (note.value.trim()) json.public_note = note.value.trim();
      return act(report, 'reject', json);
    };
    return h(
      'form',
      { class: 'action wide', onsubmit: guarded(button, work) },
      h('h2', {}, t('reject')),
      h('label', {}, t('reason'), reason),
      h('label', {}, t('public_note'), note),
      button,
    );
  }

  function commentForm(report) {
    const note = h('textarea', { name: 'note', rows: 2, maxlength: 2000, required: true });
    const shown = h('input', { type: 'checkbox', name: 'public' });
    const button = h('button', { type: 'submit', name: 'comment' }, t('add_comment'));
    const work = async () => {
      await call('POST', `/v1/officer/reports/${report.id}/comments`, {
        json: { note: note.value.trim(), public: shown.checked },
      });
      await load(t('done'));
    };
    return h(
      'form',
      { class: 'action wide', onsubmit: guarded(button, work) },
      h('h2', {}, t('comment')),
      h('label', {}, t('internal_note'), note),
      h('label', { class: 'check' }, shown, t('comment_public')),
      button,
    );
  }

  load();
  return () => {
    stopped = true;
    map?.remove();
    for (const url of objectUrls) URL.revokeObjectURL(url);
  };
}
