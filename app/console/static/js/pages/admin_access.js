// Keys (the token shown once) and webhooks (secret once, deliveries, attempts, redeliver).
import { api, cached } from '../api.js';
import { dt, formData, h, mount } from '../dom.js';
import { ROLES, t } from '../i18n.js';
import { errorBox, field, rendered, section, select, submitOnce, table, unitName } from '../ui.js';

function once(text, value, id) {
  return h('div', { class: 'once', id }, h('p', {}, text), h('code', { class: 'secret' }, value));
}

export async function keysPage(page) {
  const [{ data: keys }, { data: units }] = await Promise.all([api('/keys'), cached('/units')]);
  const out = h('div', { id: 'key-result' });
  const reload = () => keysPage(page);
  const form = h('form', { class: 'grid-form', id: 'key-create', onsubmit: submitOnce(async (key0) => {
    try {
      const key = await api('/keys', { method: 'POST', body: formData(form), key: key0 });
      await keysPage(page);
      page.querySelector('#key-result').replaceChildren(once(t('token_once'), key.token, 'new-token'));
    } catch (e) { mount(out, errorBox(e)); }
  }) },
  field(t('name'), h('input', { name: 'name', id: 'k-name', required: true })),
  field(t('role'), select('role', ROLES.map((r) => [r, t('role_' + r)]), 'supervisor', { any: false, id: 'k-role' })),
  field(t('unit'), select('unit_code', units.map((u) => [u.code, `${u.name}（${u.code}）`]), '', { id: 'k-unit' })),
  h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'k-create' }, t('create'))));
  const revoke = async (k) => {
    try { await api(`/keys/${k.id}`, { method: 'DELETE' }); reload(); } catch (e) { mount(out, errorBox(e)); }
  };
  mount(page, h('h1', {}, t('keys')),
    section(t('create'), form, out),
    section(t('keys'), h('div', { class: 'table-wrap', id: 'key-list' }, table([
      { title: 'ID', cls: 'num', cell: (k) => k.id },
      { title: t('name'), cls: 'wide', cell: (k) => k.name },
      { title: t('role'), cell: (k) => t('role_' + k.role) },
      { title: t('unit'), cell: (k) => unitName(units, k.unit_code) },
      { title: t('created_at'), cell: (k) => dt(k.created_at) },
      { title: '', cell: (k) => h('button', { type: 'button', class: 'link danger', onclick: () => revoke(k) }, t('revoke')) },
    ], keys))));
  rendered();
}

async function deliveries(sub, box) {
  const { data } = await api(`/webhooks/${sub.id}/deliveries?limit=50`);
  const detail = h('div', { id: 'attempts' });
  const redeliver = async (d) => {
    try { await api(`/webhooks/${sub.id}/deliveries/${d.id}/redeliver`, { method: 'POST' }); await deliveries(sub, box); } catch (e) { mount(detail, errorBox(e)); }
  };
  const attempts = async (d) => {
    try {
      const full = await api(`/webhooks/${sub.id}/deliveries/${d.id}`);
      mount(detail, h('h3', {}, `#${d.id} ${d.event_type}`), table([
        { title: t('date'), cell: (a) => dt(a.at) },
        { title: t('last_status'), cls: 'num', cell: (a) => a.status_code ?? '—' },
        { title: t('last_error'), cls: 'wide', cell: (a) => a.error || '' },
        { title: 'ms', cls: 'num', cell: (a) => a.duration_ms },
      ], full.attempt_log));
    } catch (e) { mount(detail, errorBox(e)); }
  };
  mount(box, h('h3', {}, `${t('deliveries')} · ${sub.url}`), table([
    { title: 'ID', cls: 'num', cell: (d) => d.id },
    { title: t('events'), cell: (d) => d.event_type },
    { title: t('status'), cell: (d) => h('span', { class: `delivery-${d.status}` }, d.status) },
    { title: t('attempts'), cls: 'num', cell: (d) => h('button', { type: 'button', class: 'link', onclick: () => attempts(d) }, d.attempts) },
    { title: t('last_status'), cls: 'num', cell: (d) => d.last_status_code ?? '—' },
    { title: t('last_error'), cell: (d) => d.last_error || '' },
    { title: t('created_at'), cell: (d) => dt(d.created_at) },
    { title: '', cell: (d) => h('button', { type: 'button', class: 'link', dataset: { delivery: d.id }, onclick: () => redeliver(d) }, t('redeliver')) },
  ], data), detail);
}

export async function webhooksPage(page) {
  const [{ data: subs }, { data: units }] = await Promise.all([api('/webhooks'), cached('/units')]);
  const out = h('div', { id: 'webhook-result' });
  const deliveryBox = h('div', { id: 'deliveries' });
  const act = async (fn) => { try { await fn(); await webhooksPage(page); } catch (e) { mount(out, errorBox(e)); } };
  const form = h('form', { class: 'grid-form', id: 'webhook-create', onsubmit: submitOnce(async (key) => {
    const body = formData(form);
    body.events = (body.events || '*').split(/[,，\s]+/).filter(Boolean);
    try {
      const sub = await api('/webhooks', { method: 'POST', body, key });
      await webhooksPage(page);
      page.querySelector('#webhook-result').replaceChildren(once(t('secret_once'), sub.secret, 'new-secret'));
    } catch (e) { mount(out, errorBox(e)); }
  }) },
  field(t('url'), h('input', { name: 'url', id: 'w-url', type: 'url', required: true, placeholder: 'https://' })),
  field(t('events'), h('input', { name: 'events', id: 'w-events', value: '*' })),
  field(t('unit'), select('unit_code', units.map((u) => [u.code, u.name]), '', { id: 'w-unit' })),
  field(t('description'), h('input', { name: 'description', id: 'w-description' })),
  h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'w-create' }, t('create'))));
  mount(page, h('h1', {}, t('webhooks')),
    section(t('create'), form, out),
    section(t('webhooks'), h('div', { class: 'table-wrap', id: 'webhook-list' }, table([
      { title: 'ID', cls: 'num', cell: (s) => s.id },
      { title: t('url'), cls: 'wide', cell: (s) => s.url },
      { title: t('events'), cell: (s) => s.events.join(', ') },
      { title: t('unit'), cell: (s) => unitName(units, s.unit_code) },
      { title: t('status'), cell: (s) => (s.enabled ? t('enabled') : `${t('disabled')} ${s.disabled_reason || ''}`) },
      { title: '', cell: (s) => h('span', { class: 'row' },
        h('button', { type: 'button', class: 'link', onclick: () => deliveries(s, deliveryBox).catch((e) => mount(deliveryBox, errorBox(e))) }, t('deliveries')),
        h('button', { type: 'button', class: 'link', onclick: () => act(() => api(`/webhooks/${s.id}/test`, { method: 'POST' })) }, t('send_test')),
        h('button', { type: 'button', class: 'link', onclick: () => act(() => api(`/webhooks/${s.id}`, { method: 'PATCH', body: { enabled: !s.enabled } })) }, s.enabled ? t('disable') : t('enable')),
        h('button', { type: 'button', class: 'link danger', onclick: () => act(() => api(`/webhooks/${s.id}`, { method: 'DELETE' })) }, t('delete'))) },
    ], subs)), deliveryBox));
  rendered();
}
