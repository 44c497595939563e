// An item's page: fields, units, deadlines, actions as buttons, and its parts.
import { api, cached, session } from '../api.js';
import { dt, formData, h, mount } from '../dom.js';
import { label, t } from '../i18n.js';
import { actionDef, errorBox, field, guarded, lightBadge, rendered, select, stateBadge, submitOnce, unitName } from '../ui.js';
import { editPanel } from './item_edit.js';
import { evidencePanel, extensionsPanel, historyPanel, measuresPanel } from './item_parts.js';

const SATISFACTION = ['satisfied', 'basically_satisfied', 'dissatisfied', 'unreachable'];
/** Actions that take ``co_unit_codes`` (API.md), though the workflow file lists only ``due_date``. */
const CO_UNITS_TAKEN = ['assign', 'reassign'];

function dl(pairs) {
  return h('dl', { class: 'fields' }, pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h('dt', {}, t(k)), h('dd', {}, v ?? '—')]));
}

function input(name, units, required) {
  const req = required ? true : null;
  if (name === 'unit_code') return select(name, units.map((u) => [u.code, `${u.name}（${u.code}）`]), '', { any: !required, id: `a-${name}` });
  if (name === 'co_unit_codes') {
    return h('select', { name, id: `a-${name}`, multiple: true, size: 4 }, units.map((u) => h('option', { value: u.code }, u.name)));
  }
  if (name === 'due_date') return h('input', { type: 'date', name, id: `a-${name}`, required: req });
  if (name === 'into') return h('input', { type: 'number', name, id: `a-${name}`, min: 1, required: req });
  if (name === 'level') return h('input', { type: 'number', name, id: `a-${name}`, min: 1, max: 10 });
  if (name === 'satisfaction') return select(name, SATISFACTION.map((s) => [s, label('sat', s)]), '', { any: false, id: `a-${name}` });
  if (name === 'comment' || name === 'reason') return h('textarea', { name, id: `a-${name}`, rows: 3, required: req });
  return h('input', { name, id: `a-${name}`, required: req });
}

/** The form an action needs: its required fields, its optional ones, always a comment. */
function actionForm(item, action, units, done) {
  const extension = action.name === 'request_extension';
  const escalate = action.name === 'escalate';
  const special = extension || escalate;
  const def = actionDef(action.name, item.workflow.name) || {};
  const required = action.requires || [];
  const optional = escalate ? ['level'] : special ? [] : (def.optional || []).filter((f) => !required.includes(f));
  if (CO_UNITS_TAKEN.includes(action.name) && !optional.includes('co_unit_codes')) optional.push('co_unit_codes');
  const names = [...required, ...optional];
  if (!special && !names.includes('comment')) names.push('comment');
  const out = h('div', {});
  const form = h('form', { class: 'stack action-form', id: `form-${action.name}`, onsubmit: submitOnce(async (key) => {
    const body = formData(form);
    if (body.into) body.into = Number(body.into);
    const co = form.querySelector('[name=co_unit_codes]');
    if (co) {
      const picked = [...co.selectedOptions].map((o) => o.value);
      if (picked.length) body.co_unit_codes = picked; else delete body.co_unit_codes;
    }
    try {
      if (extension) {
        await api(`/items/${item.id}/extensions`, { method: 'POST', body, key });
      } else if (escalate) {
        if (body.level) body.level = Number(body.level);
        await api(`/admin/items/${item.id}/escalate`, { method: 'POST', body });
      } else {
        await api(`/items/${item.id}/transitions`, {
          method: 'POST', body: { action: action.name, ...body }, headers: { 'If-Match': `"${item.version}"` },
        });
      }
      await done();
    } catch (e) {
      mount(out, errorBox(e, item.workflow.name));
    }
  }) },
  names.map((n) => field(t(n === 'due_date' && extension ? 'new_due_date' : n) + (required.includes(n) ? ' *' : ''), input(n, units, required.includes(n)))),
  h('div', { class: 'row' },
    h('button', { type: 'submit', class: 'primary', id: `confirm-${action.name}` }, `${t('confirm')}：${action.label}`),
    h('button', { type: 'button', onclick: () => form.remove() }, t('cancel'))),
  out);
  return form;
}

async function actionsPanel(item, units, reload) {
  const { actions } = await api(`/items/${item.id}/actions?lang=${session.lang}`);
  if (['admin', 'supervisor'].includes(session.me.role) && (item.due_date || item.accept_due_date) && !item.closed_at) {
    actions.push({ name: 'escalate', label: t('escalate'), requires: ['reason'] });
  }
  const formBox = h('div', { id: 'action-form' });
  if (!actions.length) return h('p', { class: 'muted', id: 'no-actions' }, t('no_actions'));
  return [h('div', { class: 'actions' }, actions.map((a) => {
    const blocked = a.enabled === false;
    return h('div', { class: 'action' },
      h('button', {
        type: 'button', id: `action-${a.name}`, class: blocked ? 'blocked' : 'primary', disabled: blocked ? true : null,
        title: blocked ? a.reason : null,
        onclick: () => mount(formBox, actionForm(item, a, units, reload)),
      }, a.label),
      blocked && a.reason ? h('span', { class: 'reason' }, a.reason) : null);
  })), formBox];
}

export async function itemPage(page, params, match) {
  const id = match[1];
  const [item, { data: units }] = await Promise.all([api(`/items/${id}`), cached('/units')]);
  const reload = () => itemPage(page, params, match);
  const box = () => h('div', {}, h('p', { class: 'muted' }, t('loading')));
  const actionsBox = box(); const evidenceBox = box(); const measuresBox = box();
  const historyBox = box(); const extBox = box();
  const co = item.co_unit_codes;
  mount(page,
    h('div', { class: 'title-row' },
      h('h1', { id: 'item-title' }, h('span', { class: 'muted' }, item.number), ' ', item.title),
      h('span', { class: 'spacer' }), stateBadge(item), lightBadge(item.light),
      item.review_pending ? h('span', { class: 'tag' }, t('review_pending')) : null),
    h('div', { class: 'grid-2' },
      h('div', {},
        h('section', { class: 'panel' }, h('h2', {}, t('actions')), actionsBox),
        h('section', { class: 'panel' }, h('h2', {}, t('details')), editPanel(item, units, reload), dl([
          ['description', item.description || '—'],
          ['source', label('src', item.source)],
          ['type', item.type === undefined ? undefined : label('type', item.type)],
          ['severity', label('sev', item.severity)],
          ['category', item.category],
          ['campaign', item.campaign],
          ['tags', item.tags.join('、') || '—'],
          ['external_ref', item.external_ref],
          ['lead_unit', unitName(units, item.unit_code)],
          ['co_units', co === undefined ? undefined : co.map((c) => unitName(units, c)).join('、') || '—'],
          ['responsible_person', item.responsible_person],
          ['responsible_leader', item.responsible_leader],
          ['resolution', item.resolution ? label('res', item.resolution) : '—'],
          ['satisfaction', item.satisfaction === undefined ? undefined : label('sat', item.satisfaction)],
          ['created_at', dt(item.created_at)],
          ['closed_at', dt(item.closed_at)],
        ])),
        h('section', { class: 'panel' }, h('h2', {}, t('deadlines')), dl([
          ['light', lightBadge(item.light)],
          ['accept_due_date', item.accept_due_date],
          ['due_date', item.due_date],
          ['escalation_level', item.escalation_level ? `${item.escalation_level}（${label('lvl', Math.min(item.escalation_level, 3))}）` : '0'],
          ['was_overdue', item.was_overdue === undefined ? undefined : t(item.was_overdue ? 'yes' : 'no')],
        ])),
        h('section', { class: 'panel' }, h('h2', {}, t('extensions')), extBox)),
      h('div', {},
        h('section', { class: 'panel' }, h('h2', {}, t('measures')), measuresBox),
        h('section', { class: 'panel' }, h('h2', {}, t('evidence')), evidenceBox),
        h('section', { class: 'panel' }, h('h2', {}, t('history')), historyBox))));
  await Promise.all([
    guarded(actionsBox, () => actionsPanel(item, units, reload)),
    guarded(evidenceBox, () => evidencePanel(item, reload)),
    guarded(measuresBox, () => measuresPanel(item, units, reload)),
    guarded(historyBox, () => historyPanel(item)),
    guarded(extBox, () => extensionsPanel(item, reload)),
  ]);
  rendered();
}
