// The parts of an item's page: evidence, measures, extensions, the history timeline.
import { api, session } from '../api.js';
import { dt, formData, h, mount, saveBlob } from '../dom.js';
import { label, t } from '../i18n.js';
import { actionLabel, clickOnce, errorBox, lightBadge, myUnit, select, standing, stateLabel, submitOnce, table, unitName } from '../ui.js';

const SUPERVISING = ['admin', 'supervisor'];

function kb(n) { return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KB`; }

export async function evidencePanel(item, reload) {
  const { data } = await api(`/items/${item.id}/evidence`);
  const out = h('div', {});
  const download = async (ev) => {
    try {
      const res = await api(`/items/${item.id}/evidence/${ev.id}`, { raw: true, headers: { Accept: '*/*' } });
      saveBlob(await res.blob(), ev.filename);
    } catch (e) { mount(out, errorBox(e)); }
  };
  const file = h('input', { type: 'file', name: 'file', id: 'evidence-file', required: true });
  const upload = h('form', { class: 'row', id: 'evidence-form', onsubmit: submitOnce(async (key) => {
    const body = new FormData();
    body.append('file', file.files[0]);
    try {
      await api(`/items/${item.id}/evidence`, { method: 'POST', form: body, key });
      await reload();
    } catch (err) { mount(out, errorBox(err)); }
  }) }, file, h('button', { type: 'submit', id: 'evidence-upload' }, t('upload')));
  return [
    table([
      { title: t('name'), cls: 'wide', cell: (r) => r.filename },
      { title: '', cls: 'num', cell: (r) => kb(r.size) },
      { title: '', cell: (r) => dt(r.uploaded_at) },
      { title: '', cell: (r) => h('button', { type: 'button', class: 'link', onclick: () => download(r) }, t('download')) },
    ], data),
    session.me.role === 'viewer' ? null : upload,
    out,
  ];
}

function progressBar(m) {
  const p = typeof m.latest_progress === 'string' ? { comment: m.latest_progress } : m.latest_progress;
  const percent = m.status === 'open' ? (p?.percent ?? 0) : 100;
  const fill = h('span', { class: 'fill' });
  fill.style.width = `${Math.max(0, Math.min(100, percent))}%`;
  return h('div', { class: 'progress-cell' }, h('span', { class: 'bar' }, fill),
    h('span', { class: 'muted' }, `${percent}%${p?.comment ? ' · ' + p.comment : ''}`));
}

/** What the caller may do with measures here, as the server decides it (plans/service.py). */
function measureRights(item, units) {
  const role = session.me.role;
  const supervising = SUPERVISING.includes(role);
  const { final, settled } = standing(item);
  const lead = role === 'unit' && myUnit(units, item.unit_code);
  const ours = (m) => lead || (role === 'unit' && myUnit(units, m.unit_code));
  const asked = settled || item.review_pending;  // closure asked for: no new or reopened measures
  return {
    add: !asked && (supervising || (lead && ['assigned', 'rectifying'].includes(item.state))),
    progress: (m) => !final && !settled && m.status === 'open' && (supervising || ours(m)),
    complete: (m) => !final && !settled && m.status === 'open' && (role === 'admin' || ours(m)),
    reopen: (m) => !asked && m.status !== 'open' && supervising,
  };
}

function measureForms(item, m, rights, reload, out) {
  const post = (path, body) => api(`/items/${item.id}/measures/${m.id}/${path}`, { method: 'POST', body })
    .then(reload, (e) => mount(out, errorBox(e)));
  const comment = h('input', { placeholder: t('comment'), class: 'short', dataset: { measure: m.seq } });
  const needComment = () => {
    if (comment.value.trim()) return comment.value.trim();
    mount(out, h('p', { class: 'error' }, t('comment_required')));
    comment.focus();
    return null;
  };
  if (rights.reopen(m)) {
    return h('span', { class: 'row' }, comment,
      h('button', { type: 'button', class: 'link', id: `measure-reopen-${m.seq}`, onclick: clickOnce(async () => {
        const text = needComment();
        if (text) await post('reopen', { comment: text });
      }) }, t('reopen_measure')));
  }
  const progress = rights.progress(m);
  const complete = rights.complete(m);
  if (!progress && !complete) return null;
  const percent = h('input', { type: 'number', min: 0, max: 100, class: 'tiny', placeholder: '%' });
  return h('span', { class: 'row' }, comment, progress ? percent : null,
    progress ? h('button', { type: 'button', class: 'link', onclick: clickOnce(() => post('progress', { comment: comment.value, percent: percent.value ? Number(percent.value) : undefined })) }, t('progress')) : null,
    complete ? h('button', { type: 'button', class: 'link', onclick: clickOnce(() => post('complete', { comment: comment.value || t('done') })) }, t('done')) : null);
}

export async function measuresPanel(item, units, reload) {
  const { data } = await api(`/items/${item.id}/measures`);
  const out = h('div', {});
  const rights = measureRights(item, units);
  const add = h('form', { class: 'row', id: 'measure-form', onsubmit: submitOnce(async (key) => {
    try {
      await api(`/items/${item.id}/measures`, { method: 'POST', body: formData(add), key });
      await reload();
    } catch (err) { mount(out, errorBox(err)); }
  }) },
  h('input', { name: 'title', placeholder: t('measures'), required: true }),
  select('kind', ['immediate', 'deadline', 'long_term'].map((k) => [k, label('kind', k)]), 'deadline', { any: false }),
  select('unit_code', [item.unit_code, ...(item.co_unit_codes || [])].filter(Boolean).map((c) => [c, unitName(units, c)]), ''),
  h('input', { type: 'date', name: 'due_date' }),
  h('button', { type: 'submit' }, t('create')));
  const acting = data.some((m) => rights.progress(m) || rights.complete(m) || rights.reopen(m));
  return [
    table([
      { title: '#', cls: 'num', cell: (m) => m.seq },
      { title: t('measures'), cls: 'wide', cell: (m) => m.title },
      { title: t('unit'), cell: (m) => unitName(units, m.unit_code) },
      { title: t('kind'), cell: (m) => label('kind', m.kind) },
      { title: t('due_date'), cell: (m) => m.due_date || '—' },
      { title: t('status'), cell: (m) => [label('ms', m.status), ' ', lightBadge(m.light)] },
      { title: t('progress'), cell: progressBar },
      acting ? { title: '', cell: (m) => measureForms(item, m, rights, reload, out) } : null,
    ].filter(Boolean), data),
    rights.add ? add : null,
    out,
  ];
}

/** Approve or reject an extension with the supervisor's own comment (required to reject). */
export function decisionControls(decide, id) {
  const comment = h('input', { class: 'short', placeholder: t('comment'), id: id ? `ext-comment-${id}` : null });
  const out = h('span', { class: 'error' });
  const go = (verdict) => clickOnce(async () => {
    const text = comment.value.trim();
    if (verdict === 'reject' && !text) {
      out.textContent = t('reject_reason_required');
      comment.focus();
      return;
    }
    out.textContent = '';
    await decide(verdict, text || t('approved'));
  });
  return h('span', { class: 'row decide' }, comment,
    h('button', { type: 'button', class: 'primary', id: id ? `ext-approve-${id}` : null, onclick: go('approve') }, t('approve')),
    h('button', { type: 'button', id: id ? `ext-reject-${id}` : null, onclick: go('reject') }, t('reject')), out);
}

export async function extensionsPanel(item, reload) {
  const { data } = await api(`/items/${item.id}/extensions`);
  const out = h('div', {});
  const decide = (ext) => async (verdict, comment) => {
    try {
      await api(`/items/${item.id}/extensions/${ext.id}/${verdict}`, { method: 'POST', body: { comment } });
      await reload();
    } catch (e) { mount(out, errorBox(e)); }
  };
  const deciding = SUPERVISING.includes(session.me.role);
  return [table([
    { title: t('new_due_date'), cell: (x) => `${x.previous_due_date || '—'} → ${x.due_date}` },
    { title: t('reason'), cls: 'wide', cell: (x) => x.reason },
    { title: t('status'), cell: (x) => t(x.status) },
    { title: '', cell: (x) => (deciding && x.status === 'pending' ? decisionControls(decide(x), x.id) : x.comment || '') },
  ], data), out];
}

function entryData(e) {
  const d = e.data || {};
  const parts = [];
  if (d.seq !== undefined && d.measure_id !== undefined) parts.push(t('measure_no', d.seq));
  if (d.due_date) parts.push(`${t('due_date')} ${d.due_date}`);
  if (d.accept_due_date) parts.push(`${t('accept_due_date')} ${d.accept_due_date}`);
  if (d.unit_code) parts.push(`${t('unit')} ${d.unit_code}`);
  if (d.filename) parts.push(d.filename);
  if (d.level !== undefined) parts.push(`${t('level')} ${d.level}`);
  return parts.join(' · ');
}

export async function historyPanel(item) {
  const [{ data }, check] = await Promise.all([
    api(`/items/${item.id}/history`), api(`/items/${item.id}/history/verify`),
  ]);
  const badge = check.ok
    ? h('span', { class: 'badge ok', id: 'chain-badge' }, '✓ ', t('chain_ok', check.entries))
    : h('span', { class: 'badge bad', id: 'chain-badge' }, '✗ ', t('chain_broken', check.broken_seq ?? '?'));
  const wf = item.workflow.name;
  return [badge, h('ol', { class: 'timeline', id: 'timeline' }, data.slice().reverse().map((e) => h('li', {},
    h('div', { class: 'when' }, dt(e.at), ' · ', e.actor),
    h('div', { class: 'what' }, h('strong', {}, actionLabel(e.action, wf)),
      e.from_state && e.to_state && e.from_state !== e.to_state
        ? ` ${stateLabel(e.from_state, wf)} → ${stateLabel(e.to_state, wf)}` : '',
      h('span', { class: 'muted' }, ' ', entryData(e))),
    e.comment ? h('div', { class: 'comment' }, e.comment) : null)))];
}
