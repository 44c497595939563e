// 督办: the escalation list and the circular (通报); extension requests to decide.
import { api, cached, query, session } from '../api.js';
import { dt, h, link, mount } from '../dom.js';
import { label, t } from '../i18n.js';
import { decisionControls } from './item_parts.js';
import { errorBox, field, guarded, lightBadge, runningDeadline, section, select, stateBadge, table, unitName } from '../ui.js';

const LEVELS = [1, 2, 3].map((l) => [String(l), `${l} · ${label('lvl', l)}`]);

async function circular(minLevel, units) {
  const { data } = await api('/reports/circular' + query({ min_level: minLevel }));
  return table([
    { title: t('unit'), cell: (r) => link('/items' + query({ unit: r.unit_code }), r.name || unitName(units, r.unit_code)) },
    { title: t('item'), cls: 'wide', cell: (r) => h('ul', { class: 'plain' }, r.items.map((i) =>
      h('li', {}, link(`/items/${i.id}`, i.number), ' ', i.title, h('span', { class: 'muted' },
        ` · ${t('due_date')} ${i.due_date || '—'} · ${t('workdays_overdue')} ${i.workdays_overdue} · ${t('level')} ${i.level}`)))) },
  ], data);
}

export async function escalationsPage(page, params) {
  const level = params.get('level') || '2';
  const unit = params.get('unit') || '';
  const cursor = params.get('cursor') || null;
  const { data: units } = await cached('/units');
  const list = await api('/admin/escalations' + query({ level, unit, cursor, limit: 50 }));
  const form = h('form', { class: 'filters', onsubmit: (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = '#/escalations' + query({ level: f.get('level'), unit: f.get('unit') });
  } },
  field(t('level'), select('level', LEVELS, level, { any: false, id: 'esc-level' })),
  field(t('unit'), select('unit', units.map((u) => [u.code, u.name]), unit, { id: 'esc-unit' })),
  h('div', { class: 'filter-buttons' }, h('button', { type: 'submit', class: 'primary' }, t('search'))));
  const circularBox = h('div', { id: 'circular' });
  mount(page,
    h('h1', {}, t('escalations')),
    form,
    section(`${t('escalations')}（${t('level')} ≥ ${level}）`, h('div', { class: 'table-wrap' }, table([
      { title: t('number'), cell: (r) => link(`/items/${r.id}`, r.number) },
      { title: t('title'), cls: 'wide', cell: (r) => link(`/items/${r.id}`, r.title) },
      { title: t('unit'), cell: (r) => unitName(units, r.unit_code) },
      { title: t('state'), cell: stateBadge },
      { title: t('light'), cell: (r) => lightBadge(r.light) },
      { title: t('deadline_now'), cls: 'nowrap', cell: runningDeadline },
      { title: t('level'), cls: 'num', cell: (r) => `${r.escalation_level} · ${label('lvl', Math.min(r.escalation_level, 3))}` },
    ], list.data)),
    list.next_cursor ? h('div', { class: 'pager' }, link('/escalations' + query({ level, unit, cursor: list.next_cursor }), t('next'))) : null),
    section(`${t('circular')}（${t('min_level')} ${level}）`, circularBox));
  await guarded(circularBox, () => circular(level, units));
}

/** Pending requests: the feed's extension.requested events minus the decided ones. */
async function pendingExtensions() {
  const requested = new Map();
  let after = null;
  for (let i = 0; i < 50; i += 1) {
    const page = await api('/events' + query({ type: 'extension.requested,extension.decided', after, limit: 500 }));
    for (const ev of page.data) {
      const ext = ev.data.extension;
      if (ev.type === 'extension.requested') requested.set(ext.id, ev.data);
      else requested.delete(ext.id);
    }
    after = page.next_cursor;
    if (page.data.length < 500) break;
  }
  return [...requested.values()];
}

export async function extensionsPage(page) {
  const deciding = ['admin', 'supervisor'].includes(session.me.role);
  const { data: units } = await cached('/units');
  const out = h('div', {});
  const box = h('div', { id: 'extension-list' }, h('p', { class: 'muted' }, t('loading')));
  const decide = (d) => async (verdict, comment) => {
    try {
      await api(`/items/${d.item.id}/extensions/${d.extension.id}/${verdict}`, { method: 'POST', body: { comment } });
      await extensionsPage(page);
    } catch (e) { mount(out, errorBox(e)); }
  };
  mount(page, h('h1', {}, t('extensions')), out, section(t('pending'), box));
  await guarded(box, async () => table([
    { title: t('item'), cls: 'wide', cell: (d) => [link(`/items/${d.item.id}`, d.item.number), ' ', d.item.title] },
    { title: t('unit'), cell: (d) => unitName(units, d.item.unit_code) },
    { title: t('new_due_date'), cell: (d) => `${d.extension.previous_due_date || '—'} → ${d.extension.due_date}` },
    { title: t('reason'), cell: (d) => d.extension.reason },
    { title: t('requested_by'), cell: (d) => `${d.extension.requested_by} · ${dt(d.extension.requested_at)}` },
    { title: '', cell: (d) => (deciding ? decisionControls(decide(d), d.extension.id) : t('pending')) },
  ], await pendingExtensions()));
}
