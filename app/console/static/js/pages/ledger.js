// 问题台账: every filter, keyset paging, export, import, batch 交办/催办, a new item.
import { api, cached, query, session } from '../api.js';
import { attachmentName, h, link, mount, saveBlob } from '../dom.js';
import { label, LIGHTS, SOURCES, t, TYPES } from '../i18n.js';
import { allStates, errorBox, field, lightBadge, runningDeadline, select, stateBadge, table, unitName } from '../ui.js';
import { batchBar, importPanel, newItemForm } from './ledger_tools.js';

const FILTERS = ['q', 'state', 'unit', 'source', 'type', 'campaign', 'tag', 'external_ref',
  'light', 'overdue', 'review_pending', 'was_overdue', 'due_after', 'due_before'];
const PAGE = 50;
let pageSize = PAGE;
let trail = { key: null, cursors: [] };

function filtersOf(params) {
  const f = {};
  for (const k of FILTERS) if (params.get(k)) f[k] = params.get(k);
  return f;
}

function go(filters, cursor) {
  const limit = pageSize === PAGE ? null : pageSize;
  location.hash = '#/items' + query({ ...filters, limit, cursor });
}

function filterForm(f, units) {
  const yesNo = (name) => select(name, [['true', t('yes')], ['false', t('no')]], f[name]);
  const text = (name, type = 'search') => h('input', { type, name, id: `f-${name}`, value: f[name] || '' });
  const form = h('form', { class: 'filters', id: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const out = {};
    for (const [k, v] of new FormData(form).entries()) if (v) out[k] = v;
    trail = { key: null, cursors: [] };
    go(out);
  } },
  field(t('keyword'), text('q')),
  field(t('state'), select('state', allStates(), f.state)),
  field(t('unit'), select('unit', units.map((u) => [u.code, u.name]), f.unit)),
  field(t('source'), select('source', SOURCES.map((s) => [s, label('src', s)]), f.source)),
  field(t('type'), select('type', TYPES.map((s) => [s, label('type', s)]), f.type)),
  field(t('campaign'), text('campaign')),
  field(t('tag'), text('tag')),
  field(t('external_ref'), text('external_ref')),
  field(t('light'), select('light', LIGHTS.map((s) => [s, label('light', s)]), f.light)),
  field(t('overdue'), yesNo('overdue')),
  field(t('review_pending'), yesNo('review_pending')),
  field(t('was_overdue'), yesNo('was_overdue')),
  field(t('due_after'), text('due_after', 'date')),
  field(t('due_before'), text('due_before', 'date')),
  h('div', { class: 'filter-buttons' },
    h('button', { type: 'submit', class: 'primary', id: 'search' }, t('search')),
    h('button', { type: 'button', onclick: () => { trail = { key: null, cursors: [] }; go({}); } }, t('reset'))));
  return form;
}

async function exportFile(filters, format) {
  const res = await api('/items/export' + query({ ...filters, format }), { raw: true, headers: { Accept: '*/*' } });
  saveBlob(await res.blob(), attachmentName(res, `ledger.${format}`));
}

/** The ledger; ``notice`` (``{batch}`` or ``{imported}``: a result's nodes) stays shown in
 * the re-rendered page. */
export async function ledgerPage(page, params, _match, notice) {
  const filters = filtersOf(params);
  const cursor = params.get('cursor') || null;
  pageSize = Math.min(500, Math.max(1, Number(params.get('limit')) || PAGE));
  const key = JSON.stringify(filters);
  if (trail.key !== key) trail = { key, cursors: [] };
  const { data: units } = await cached('/units');
  const editor = ['admin', 'supervisor'].includes(session.me.role);
  const status = h('div', { id: 'ledger-status' });
  let pageData;
  try {
    pageData = await api('/items' + query({ ...filters, limit: pageSize, cursor }));
  } catch (e) {
    pageData = { data: [], next_cursor: null };
    status.append(errorBox(e));
  }
  const chosen = new Set();
  const again = (kept) => ledgerPage(page, params, _match, kept);
  const batch = editor ? batchBar(chosen, units, (kept) => again({ batch: kept })) : null;
  if (batch && notice?.batch) batch.out.replaceChildren(...notice.batch);
  const check = (item) => h('input', { type: 'checkbox', class: 'pick', dataset: { id: item.id },
    onchange: (ev) => { ev.target.checked ? chosen.add(item.id) : chosen.delete(item.id); batch?.update(); } });
  const columns = [
    editor ? { title: '', cls: 'narrow', cell: check } : null,
    { title: t('number'), cls: 'nowrap', cell: (r) => link(`/items/${r.id}`, r.number) },
    { title: t('title'), cls: 'wide', cell: (r) => link(`/items/${r.id}`, r.title) },
    { title: t('unit'), cell: (r) => unitName(units, r.unit_code) },
    { title: t('source'), cell: (r) => label('src', r.source) },
    { title: t('state'), cell: stateBadge },
    { title: t('light'), cell: (r) => lightBadge(r.light) },
    { title: t('deadline_now'), cls: 'nowrap', cell: runningDeadline },
    { title: t('escalation_level'), cls: 'num', cell: (r) => r.escalation_level || '' },
  ].filter(Boolean);
  const pager = h('div', { class: 'pager' },
    h('button', { type: 'button', id: 'prev', disabled: cursor ? null : true, onclick: () => go(filters, trail.cursors.pop() || null) }, t('prev')),
    h('button', { type: 'button', id: 'next', disabled: pageData.next_cursor ? null : true, onclick: () => {
      trail.cursors.push(cursor); go(filters, pageData.next_cursor);
    } }, t('next')));
  const newBox = h('div', {});
  mount(page,
    h('div', { class: 'title-row' },
      h('h1', {}, t('ledger')),
      h('span', { class: 'spacer' }),
      editor ? h('button', { type: 'button', id: 'new-item', class: 'primary', onclick: () => mount(newBox, newItemForm()) }, t('new_item')) : null,
      h('button', { type: 'button', id: 'export-xlsx', onclick: () => exportFile(filters, 'xlsx').catch((e) => status.replaceChildren(errorBox(e))) }, t('export_xlsx')),
      h('button', { type: 'button', id: 'export-csv', onclick: () => exportFile(filters, 'csv').catch((e) => status.replaceChildren(errorBox(e))) }, t('export_csv'))),
    newBox,
    filterForm(filters, units),
    status,
    batch ? batch.node : null,
    h('div', { class: 'table-wrap', id: 'ledger' }, table(columns, pageData.data)),
    pager,
    editor ? importPanel((kept) => again({ imported: kept }), notice?.imported) : null);
}
