// The console's shell: sign-in, the header, and the pages by address (`#/queue`,
// `#/reports/<id>`, `#/ops`, `#/broadcasts`, `#/alerts`, `#/admin`, `#/account`), each page
// stopped (its timers, its map) when another is shown.

import { call, onSessionExpired, signOut, signedIn } from './api.js';
import { fill, h } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { loadSettings } from './map.js';
import { administers } from './roles.js';
import { showAccount } from './account.js';
import { showAdmin } from './admin.js';
import { showAlerts } from './alerts.js';
import { showBroadcasts } from './broadcasts.js';
import { showOps } from './ops.js';
import { showQueue } from './queue.js';
import { showReport } from './report.js';
import { showSignIn } from './signin.js';

const root = document.getElementById('app');
let me = null;
let stopPage = null;
let notice = '';

async function route() {
  stopPage?.();
  stopPage = null;
  document.documentElement.lang = lang;
  document.title = t('title');
  if (!signedIn()) {
    me = null;
    showSignIn(root, {
      notice,
      onSignedIn: () => {
        notice = '';
        route();
      },
    });
    return;
  }
  if (!me) {
    try {
      me = (await call('GET', '/v1/me')).value;
    } catch (error) {
      // An ended session shows sign-in by itself; anything else is said, with a way to retry.
      if (signedIn()) {
        fill(root, h('main', { class: 'centred' }, h('div', {}, h('p', { class: 'message' }, error.message || t('error')), h('button', { type: 'button', onclick: route }, t('refresh')))));
      }
      return;
    }
    if (me.kind !== 'staff') {
      await signOut();
      notice = t('not_staff');
      route();
      return;
    }
  }
  const main = h('main', {});
  // An admin's session carries admin rights only once TOTP is on.
  const totpNeeded = me.totp_required
    ? h('p', { class: 'message' }, t('enable_totp'), ' ', h('a', { href: '#/account' }, t('totp_start')))
    : null;
  fill(root, header(), totpNeeded, main);
  const [path, query = ''] = (location.hash || '#/queue').slice(1).split('?');
  const report = path.match(/^\/reports\/([0-9a-f-]{36})$/);
  if (report) {
    stopPage = showReport(main, { id: report[1], me });
  } else if (path === '/ops') {
    stopPage = showOps(main, { me });
  } else if (path === '/broadcasts' && administers(me)) {
    stopPage = showBroadcasts(main, { me });
  } else if (path === '/alerts' && administers(me)) {
    stopPage = showAlerts(main, { me });
  } else if (path === '/admin' && administers(me)) {
    stopPage = showAdmin(main, { me });
  } else if (path === '/account') {
    stopPage = showAccount(main, {
      me,
      onChanged: () => {
        me = null;
        route();
      },
    });
  } else {
    stopPage = showQueue(main, { me, params: new URLSearchParams(query) });
  }
}

function header() {
  return h(
    'header',
    { class: 'top' },
    h('a', { href: '#/queue', class: 'brand' }, t('title')),
    h(
      'nav',
      {},
      h('a', { href: '#/queue' }, t('queue')),
      h('a', { href: '#/ops' }, t('ops')),
      administers(me) ? h('a', { href: '#/broadcasts' }, t('broadcasts')) : null,
      administers(me) ? h('a', { href: '#/alerts' }, t('alerts_page')) : null,
      administers(me) ? h('a', { href: '#/admin' }, t('admin')) : null,
    ),
    h('a', { href: '#/account', class: 'who' }, me.display_name || me.username || ''),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => {
          setLang(lang === 'vi' ? 'en' : 'vi');
          route();
        },
      },
      t('language'),
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        name: 'sign-out',
        onclick: async () => {
          await signOut();
          route();
        },
      },
      t('sign_out'),
    ),
  );
}

onSessionExpired(() => {
  notice = t('session_expired');
  me = null;
  route();
});
window.addEventListener('hashchange', route);
loadSettings().finally(route);
