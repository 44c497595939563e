// Editing an item: its description, co-units and responsible people (PATCH /items/{id}).
import { api, session } from '../api.js';
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { errorBox, field, myUnit, standing, submitOnce } from '../ui.js';

const PEOPLE = ['responsible_person', 'responsible_leader'];

/** The fields the caller may change (API.md): a supervisor or admin all of these, the
 * lead unit the two people; nobody once the item is closed. */
export function editableFields(item, units) {
  if (standing(item).final) return [];
  if (['admin', 'supervisor'].includes(session.me.role)) {
    return ['title', 'description', 'co_unit_codes', ...PEOPLE];
  }
  return session.me.role === 'unit' && myUnit(units, item.unit_code) ? PEOPLE : [];
}

function control(name, item, units) {
  const id = `e-${name}`;
  if (name === 'description') return h('textarea', { name, id, rows: 3 }, item.description || '');
  if (name === 'co_unit_codes') {
    const chosen = new Set(item.co_unit_codes || []);
    return h('select', { name, id, multiple: true, size: 5 },
      units.filter((u) => u.code !== item.unit_code).map((u) =>
        h('option', { value: u.code, selected: chosen.has(u.code) ? true : null }, u.name)));
  }
  return h('input', { name, id, value: item[name] || '', required: name === 'title' ? true : null });
}

/** The body of the PATCH: only what the form changed. */
function changes(form, item, fields) {
  const body = {};
  for (const name of fields) {
    const el = form.elements[name];
    if (name === 'co_unit_codes') {
      const picked = [...el.selectedOptions].map((o) => o.value);
      const was = item.co_unit_codes || [];
      if (picked.length !== was.length || picked.some((c) => !was.includes(c))) body[name] = picked;
    } else if (el.value.trim() !== (item[name] || '').trim()) {
      body[name] = el.value.trim();
    }
  }
  return body;
}

/** An 编辑 button that opens the form in place; null when the caller may change nothing. */
export function editPanel(item, units, reload) {
  const fields = editableFields(item, units);
  if (!fields.length) return null;
  const box = h('div', { id: 'edit-box' });
  const open = () => {
    const out = h('div', {});
    const form = h('form', { class: 'stack', id: 'edit-form', onsubmit: submitOnce(async () => {
      const body = changes(form, item, fields);
      if (!Object.keys(body).length) { box.replaceChildren(); return; }
      try {
        await api(`/items/${item.id}`, { method: 'PATCH', body, headers: { 'If-Match': `"${item.version}"` } });
        await reload();
      } catch (e) {
        mount(out, errorBox(e, item.workflow.name));
      }
    }) },
    fields.map((name) => field(t(name === 'co_unit_codes' ? 'co_units' : name), control(name, item, units))),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'primary', id: 'save-edit' }, t('save')),
      h('button', { type: 'button', onclick: () => box.replaceChildren() }, t('cancel'))),
    out);
    mount(box, form);
  };
  return [h('button', { type: 'button', id: 'edit-item', onclick: open }, t('edit')), box];
}
