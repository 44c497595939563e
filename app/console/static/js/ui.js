// Shared pieces: badges, tables, notices, the workflows' labels.
import { ApiError, cached, session, unavailable } from './api.js';
import { h } from './dom.js';
import { label, t } from './i18n.js';

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
  const wf = workflows && workflows[wfName];
  if (wf && wf.actions[action]) return pick(wf.actions[action].label);
  for (const w of Object.values(workflows || {})) if (w.actions[action]) return pick(w.actions[action].label);
  return label('act', action);
}

export function actionDef(action, wfName) {
  const wf = workflows && workflows[wfName];
  return (wf && wf.actions[action]) || null;
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

export function problemText(err) {
  if (!(err instanceof ApiError)) return err.message || String(err);
  const fields = (err.problem.errors || []).map((e) => `${e.field}: ${e.message}`);
  return [err.message, ...fields].join('；');
}

export function errorBox(err) {
  return h('p', { class: 'error' }, problemText(err));
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
