// Units: the tree, creating and editing one, its aliases.
import { api, dropCache, query } from '../api.js';
import { formData, h, link, mount } from '../dom.js';
import { t } from '../i18n.js';
import { errorBox, field, notAvailable, section, select, submitOnce } from '../ui.js';

function tree(units, parent, onPick) {
  const children = units.filter((u) => (u.parent_code || null) === parent);
  if (!children.length) return null;
  return h('ul', { class: 'tree' }, children.map((u) => h('li', {},
    h('button', { type: 'button', class: 'link', dataset: { code: u.code }, onclick: () => onPick(u) }, u.name),
    h('span', { class: 'muted' }, ` ${u.code}`, u.aliases?.length ? ` · ${u.aliases.join('、')}` : ''),
    tree(units, u.code, onPick))));
}

function editor(unit, units, done) {
  const out = h('div', {});
  const hasAliases = Array.isArray(unit.aliases);
  const form = h('form', { class: 'grid-form', id: 'unit-edit', onsubmit: submitOnce(async () => {
    const f = formData(form);
    const body = { name: f.name, parent_code: f.parent_code || null };
    if (hasAliases) body.aliases = (f.aliases || '').split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
    try {
      await api(`/units/${encodeURIComponent(unit.code)}`, { method: 'PATCH', body });
      done();
    } catch (e) { mount(out, errorBox(e)); }
  }) },
  field(t('code'), h('input', { value: unit.code, disabled: true })),
  field(t('name'), h('input', { name: 'name', value: unit.name, required: true })),
  field(t('parent'), select('parent_code', units.filter((u) => u.code !== unit.code).map((u) => [u.code, u.name]), unit.parent_code, { id: 'e-parent' })),
  field(`${t('aliases')}（${t('aliases_hint')}）`, hasAliases
    ? h('input', { name: 'aliases', id: 'e-aliases', value: unit.aliases.join('，') }) : notAvailable()),
  h('div', { class: 'span-2 row' },
    h('button', { type: 'submit', class: 'primary' }, t('save')),
    link('/items' + query({ unit: unit.code }), t('ledger'))),
  out);
  return section(`${unit.name}（${unit.code}）`, form);
}

export async function adminUnitsPage(page) {
  const { data: units } = await api('/units');
  const editBox = h('div', { id: 'unit-editor' });
  const out = h('div', {});
  const reload = () => { dropCache(); adminUnitsPage(page); };
  const create = h('form', { class: 'grid-form', id: 'unit-create', onsubmit: submitOnce(async (key) => {
    try {
      await api('/units', { method: 'POST', body: formData(create), key });
      reload();
    } catch (e) { mount(out, errorBox(e)); }
  }) },
  field(t('code'), h('input', { name: 'code', id: 'u-code', required: true })),
  field(t('name'), h('input', { name: 'name', id: 'u-name', required: true })),
  field(t('parent'), select('parent_code', units.map((u) => [u.code, u.name]), '', { id: 'u-parent' })),
  h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'u-create' }, t('create'))),
  out);
  mount(page, h('h1', {}, t('units')),
    h('div', { class: 'grid-2' },
      section(`${t('units')}（${units.length}）`, h('div', { class: 'tree-box' },
        tree(units, null, (u) => mount(editBox, editor(u, units, reload))))),
      h('div', {}, section(t('create'), create), editBox)));
}
