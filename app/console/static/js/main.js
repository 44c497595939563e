// The shell: sign-in, navigation by role, hash routing to the pages.
import { cached, session, whenUnauthorized } from './api.js';
import { finishOidc, loadConfig, loadMe, signInPage, signOut } from './auth.js';
import { h, mount } from './dom.js';
import { setLang, t } from './i18n.js';
import { adminUnitsPage } from './pages/admin_units.js';
import { calendarPage, clockPage } from './pages/admin_system.js';
import { keysPage, webhooksPage } from './pages/admin_access.js';
import { dashboardPage } from './pages/dashboard.js';
import { itemPage } from './pages/item.js';
import { ledgerPage } from './pages/ledger.js';
import { escalationsPage, extensionsPage } from './pages/supervision.js';
import { errorBox, loadWorkflows } from './ui.js';

const SUPERVISING = ['admin', 'supervisor'];
const NAV = [
  ['/dashboard', 'dashboard', null],
  ['/items', 'ledger', null],
  ['/escalations', 'escalations', SUPERVISING],
  ['/extensions', 'extensions', null],
  ['/admin/units', 'units', ['admin']],
  ['/admin/keys', 'keys', ['admin']],
  ['/admin/webhooks', 'webhooks', ['admin']],
  ['/admin/calendar', 'calendar', ['admin']],
  ['/admin/clock', 'clock', ['admin']],
];
const ROUTES = [
  [/^\/dashboard$/, dashboardPage],
  [/^\/items$/, ledgerPage],
  [/^\/items\/(\d+)$/, itemPage],
  [/^\/escalations$/, escalationsPage],
  [/^\/extensions$/, extensionsPage],
  [/^\/admin\/units$/, adminUnitsPage],
  [/^\/admin\/keys$/, keysPage],
  [/^\/admin\/webhooks$/, webhooksPage],
  [/^\/admin\/calendar$/, calendarPage],
  [/^\/admin\/clock$/, clockPage],
];

const root = document.getElementById('app');
const configReady = loadConfig();
let main;
let nav;

function shell() {
  const me = session.me;
  nav = h('nav', { class: 'side' }, NAV
    .filter(([, , roles]) => !roles || roles.includes(me.role))
    .map(([route, key]) => h('a', { href: '#' + route, dataset: { route } }, t(key))));
  main = h('main', { id: 'main' });
  mount(root,
    h('header', { class: 'top' },
      h('a', { class: 'brand', href: '#/dashboard' }, t('app')),
      h('span', { class: 'spacer' }),
      h('span', { class: 'who', id: 'who' }, `${me.name} · ${t('role_' + me.role)}${me.unit_code ? ' · ' + me.unit_code : ''}`),
      h('button', { type: 'button', class: 'link', id: 'lang', onclick: () => setLang(session.lang === 'en' ? 'zh' : 'en') },
        session.lang === 'en' ? '中文' : 'English'),
      h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: () => { signOut(); start(); } }, t('sign_out'))),
    h('div', { class: 'body' }, nav, main));
}

async function route() {
  delete document.body.dataset.ready;
  if (!session.me) return;
  const [path, qs] = (location.hash.slice(1) || '/dashboard').split('?');
  const params = new URLSearchParams(qs || '');
  for (const a of nav.querySelectorAll('a')) {
    a.classList.toggle('active', path === a.dataset.route || path.startsWith(a.dataset.route + '/'));
  }
  const found = ROUTES.find(([re]) => re.test(path));
  if (!found) { location.hash = '#/dashboard'; return; }
  const page = h('div', { class: 'page' }, h('p', { class: 'muted' }, t('loading')));
  mount(main, page);
  try {
    await found[1](page, params, path.match(found[0]));
  } catch (e) {
    mount(page, errorBox(e));
  }
  document.body.dataset.ready = path;
  performance.mark('rectify:ready ' + path);
}

async function start(error) {
  delete document.body.dataset.ready;
  if (!session.token) {
    await configReady;
    signInPage(root, start, error);
    return;
  }
  try {
    cached('/units').catch(() => {});  // nearly every page names units: fetch them alongside
    await Promise.all([loadMe(), loadWorkflows()]);
  } catch (e) {
    signOut();
    await configReady;
    signInPage(root, start, e.message);
    return;
  }
  shell();
  await route();
}

whenUnauthorized(() => { signOut(); start(t('bad_key')); });
window.addEventListener('hashchange', route);
document.title = t('app');

(async () => {
  let error = null;
  const back = new URLSearchParams(location.search);
  if (back.has('code') || back.has('error')) {
    await configReady;
    try { await finishOidc(); } catch (e) { error = e.message; }
  }
  await start(error);
})();
