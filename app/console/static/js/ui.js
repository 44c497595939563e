// Shared pieces: badges, tables, notices, the workflows' labels.
import { ApiError, cached, session, unavailable } from './api.js';
import { h } from './dom.js';
import { fieldLabel, label, t } from './i18n.js';

let workflows = null;

/** Labels and action definitions of every loaded workflow, by name. */
export async function loadWorkflows() {
  if (workflows) return workflows;
  const list = await cached('/workflows');
  workflows = {};
  for (const wf of list.data) {
    workflows[wf.name] = {
      raw: wf,
      states: Object.fromEntries(wf.states.map((s) => [s.name, s.label])),
      actions: Object.fromEntries(wf.actions.map((a) => [a.name, a])),
    };
  }
  return workflows;
}

function pick(lbl) {
  if (!lbl) return null;
  return typeof lbl === 'string' ? lbl : lbl[session.lang] || lbl.zh;
}

/** Every state of every workflow, labelled by the default workflow first (for filters, counts). */
export function allStates() {
  const seen = new Map();
  const ordered = Object.entries(workflows || {}).sort(([a], [b]) => (b === 'rectification') - (a === 'rectification'));
  for (const [, wf] of ordered) {
    for (const [name, lbl] of Object.entries(wf.states)) if (!seen.has(name)) seen.set(name, pick(lbl));
  }
  return [...seen.entries()];
}

export function stateLabel(state, wfName) {
  const wf = workflows && (workflows[wfName] || Object.values(workflows)[0]);
  for (const w of [wf, ...Object.values(workflows || {})]) {
    if (w && w.states[state]) return pick(w.states[state]);
  }
  return state;
}

export function actionLabel(action, wfName) {
  const wf = workflows && workflows[wfName || 'rectification'];
  if (wf && wf.actions[action]) return pick(wf.actions[action].label);
  for (const w of Object.values(workflows || {})) if (w.actions[action]) return pick(w.actions[action].label);
  return label('act', action);
}

/** The item's workflow and its current state's definition (``state`` null while the
 * workflows are not loaded or the state is unknown to them). */
function stateOf(item) {
  const wf = workflows && workflows[item.workflow?.name];
  return { wf, state: (wf && wf.raw.states.find((s) => s.name === item.state)) || null };
}

/** Where an item stands in its workflow: ``final`` (closed), ``settled`` (closure asked for or
 * granted: no deadline runs and it is past its first state), as the server's measure rules read it. */
export function standing(item) {
  const { wf, state } = stateOf(item);
  const final = state ? !!state.final : !!item.closed_at;
  const settled = final || (state ? !state.deadline && item.state !== wf.raw.initial : item.state === 'verified');
  return { final, settled };
}

/** Whether ``code`` is the caller's unit or below it (a unit key acts for its subtree). */
export function myUnit(units, code) {
  const mine = session.me.unit_code;
  if (!mine || !code) return false;
  const parent = Object.fromEntries(units.map((u) => [u.code, u.parent_code]));
  for (let c = code, n = 0; c && n < 50; c = parent[c], n += 1) if (c === mine) return true;
  return false;
}

export function actionDef(action, wfName) {
  const wf = workflows && workflows[wfName];
  return (wf && wf.actions[action]) || null;
}

/** The deadline that runs now: the sign-off date (签收时限) while the item waits to be
 * accepted, the rectification date (整改时限) otherwise; the light follows it. */
export function runningDeadline(item) {
  const { state } = stateOf(item);
  const accepting = state ? state.deadline === 'accept' : item.state === 'assigned';
  if (accepting && item.accept_due_date) {
    return h('span', { class: 'deadline deadline-accept', title: t('accept_due_date') },
      item.accept_due_date, ' ', h('span', { class: 'tag' }, t('sign_off')));
  }
  return item.due_date || '—';
}

export function lightBadge(light) {
  return h('span', { class: `light light-${light}` }, label('light', light));
}

export function stateBadge(item) {
  return h('span', { class: `state state-${item.state}` }, stateLabel(item.state, item.workflow?.name));
}

export function table(columns, rows, { empty = t('empty'), rowClass } = {}) {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.cls }, c.title)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: rowClass ? rowClass(r) : null },
      columns.map((c) => h('td', { class: c.cls }, c.cell(r)))))));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

export function notAvailable() {
  return h('p', { class: 'muted unavailable' }, t('not_available'));
}

const CJK = /[\u3400-\u9fff]/;

/** The headline of a problem, in the console's language: by its status, and its type where
 * that tells more (a 409 of a state vs. of a duplicate). */
function headline(status, problem) {
  const slug = String(problem.type || '').split('/').pop();
  if (status === 409 && slug === 'conflict') return t('err_conflict');
  if ([400, 401, 403, 404, 409, 412, 413, 422, 503].includes(status)) return t(`err_${status}`);
  return status >= 500 ? t('err_500') : t('err_other');
}

/** A problem (RFC 9457) as the console shows it: ``main`` (a Chinese headline, or the server's
 * detail when that is Chinese already), the field errors with their labels, the actions allowed
 * now, and the server's detail once as the precise reason. */
export function problemParts(status, problem = {}, wfName = null) {
  const detail = (problem.detail || problem.title || '').trim();
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  const own = session.lang !== 'en' && CJK.test(detail);
  const fields = errors.map((e) => `${fieldLabel(e.field)}：${e.message}`);
  const allowed = (problem.allowed_actions || []).map((a) => actionLabel(a, wfName));
  const repeated = errors.some((e) => e.message === detail);
  return {
    main: own ? detail : headline(status, problem),
    fields,
    allowed: allowed.length ? t('allowed_now', allowed.join(session.lang === 'en' ? ', ' : '、')) : null,
    detail: own || repeated || !detail ? null : detail,
  };
}

function partsOf(err, wfName) {
  if (err instanceof ApiError) return problemParts(err.status, err.problem, wfName);
  return { main: t('err_network'), fields: [], allowed: null, detail: err.message || String(err) };
}

/** One line: for a table cell or a plain message. */
export function problemText(err) {
  const p = partsOf(err);
  return [p.main, ...p.fields, p.allowed, p.detail].filter(Boolean).join('；');
}

/** One line for a problem embedded in a result (a batch's per-item answer). */
export function problemLine(status, problem) {
  const p = problemParts(status, problem || {});
  return [p.main, ...p.fields, p.detail].filter(Boolean).join('；');
}

/** A refusal shown where it happened; ``wfName`` labels the actions it says are allowed. */
export function errorBox(err, wfName) {
  const p = partsOf(err, wfName);
  return h('div', { class: 'error problem', role: 'alert' },
    h('p', { class: 'headline' }, p.main),
    p.fields.length ? h('ul', { class: 'plain field-errors' }, p.fields.map((f) => h('li', {}, f))) : null,
    p.allowed ? h('p', { class: 'allowed' }, p.allowed) : null,
    p.detail ? h('p', { class: 'detail' }, p.detail) : null);
}

/** A fresh Idempotency-Key for one submission: a random UUID (v4). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();  // secure contexts only
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A form's submit handler that runs one request at a time: its submit buttons stay disabled
 * while ``run(key)`` is in flight (a double click sends once); ``key`` is new per submission. */
export function submitOnce(run) {
  return async (ev) => {
    ev.preventDefault();
    const form = ev.currentTarget;
    if (form.dataset.busy) return;
    form.dataset.busy = 'true';
    const buttons = [...form.querySelectorAll('button[type=submit]')];
    for (const b of buttons) b.disabled = true;
    try {
      await run(newKey());
    } finally {
      delete form.dataset.busy;
      for (const b of buttons) b.disabled = false;
    }
  };
}

/** The same for a button outside a form. */
export function clickOnce(run) {
  return async (ev) => {
    const button = ev.currentTarget;
    if (button.disabled) return;
    button.disabled = true;
    try { await run(newKey()); } finally { button.disabled = false; }
  };
}

/** Render ``load()`` into ``box``; a 404/405 from a contract endpoint not served yet shows quietly. */
export async function guarded(box, load) {
  try {
    const node = await load();
    box.replaceChildren(...(Array.isArray(node) ? node : [node]).filter(Boolean));
  } catch (e) {
    box.replaceChildren(unavailable(e) ? notAvailable() : errorBox(e));
  }
}

export function select(name, options, value, { any = true, id } = {}) {
  return h('select', { name, id: id || `f-${name}` },
    any ? h('option', { value: '' }, t('any')) : null,
    options.map(([v, l]) => h('option', { value: v, selected: String(v) === String(value ?? '') ? true : null }, l)));
}

export function field(labelText, control) {
  return h('label', { class: 'field' }, h('span', {}, labelText), control);
}

export function unitName(units, code) {
  if (!code) return '—';
  const u = units.find((x) => x.code === code);
  return u ? u.name : code;
}

/** Count a page's (re-)renders, so a test or a script can wait for the next one. */
export function rendered() {
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}
