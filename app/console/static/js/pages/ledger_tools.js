// The ledger's tools: batch 交办/催办, import with per-row errors, a new item.
import { api, ApiError, query, unavailable } from '../api.js';
import { formData, h, link, mount } from '../dom.js';
import { fieldLabel, label, SEVERITIES, SOURCES, t } from '../i18n.js';
import { clickOnce, errorBox, field, notAvailable, problemLine, problemText, select, submitOnce, table } from '../ui.js';

export function batchBar(chosen, units, reload) {
  const out = h('div', { id: 'batch-result' });
  const count = h('strong', { id: 'batch-count' }, '0');
  const unit = select('unit_code', units.map((u) => [u.code, u.name]), '', { id: 'batch-unit' });
  unit.required = true;
  const due = h('input', { type: 'date', name: 'due_date', id: 'batch-due' });
  const comment = h('input', { type: 'text', name: 'comment', id: 'batch-comment', placeholder: t('comment') });
  async function run(action, fields) {
    if (!chosen.size) return;
    if (action === 'assign' && !fields.unit_code) {
      mount(out, h('p', { class: 'error' }, t('unit_required')));
      unit.focus();
      return;
    }
    try {
      const res = await api('/items/batch', { method: 'POST', body: { action, ids: [...chosen], ...fields } });
      const failed = res.results.filter((r) => r.problem || r.status >= 400 || ['failed', 'error'].includes(r.status));
      mount(out, h('p', { class: failed.length ? 'error' : 'ok' }, t('batch_result', res.succeeded, res.failed)),
        failed.length ? table([
          { title: 'ID', cell: (r) => link(`/items/${r.id}`, r.id) },
          { title: t('message'), cell: (r) => (r.problem ? problemLine(r.problem.status || r.status, r.problem) : r.status) },
        ], failed) : null);
      if (res.succeeded) await reload([...out.childNodes]);  // the list as it is now; the result line stays
    } catch (e) {
      mount(out, unavailable(e) ? notAvailable() : errorBox(e));
    }
  }
  const node = h('div', { class: 'batch panel' },
    h('span', {}, t('selected'), ' ', count),
    unit, due,
    h('button', { type: 'button', id: 'batch-assign', onclick: clickOnce(() => {
      const f = { unit_code: unit.value || undefined, due_date: due.value || undefined };
      return run('assign', f);
    }) }, t('batch_assign')),
    comment,
    h('button', { type: 'button', id: 'batch-urge', onclick: clickOnce(() => run('urge', { comment: comment.value || undefined })) }, t('batch_urge')),
    out);
  return { node, out, update: () => { count.textContent = String(chosen.size); } };
}

/** What an import did (or, a dry run, would do), in words: its counts that are not zero. */
export function importSummary(res) {
  const counts = res.dry_run
    ? [['would_create', res.would_create], ['would_update', res.would_update], ['would_assign', res.would_assign]]
    : [['created', res.created], ['updated', res.updated], ['unchanged', res.unchanged], ['assigned', res.assigned]];
  const some = counts.filter(([, n]) => n);  // the counts that are not zero, or the first
  const said = (some.length ? some : counts.slice(0, 1)).map(([k, n]) => t(`imp_${k}`, n ?? 0));
  return `${t(res.dry_run ? 'import_checked' : 'import_ok')}：${said.join('，')}`;
}

/** Import a ledger file: new items, or (``mode=upsert``) reconcile by 外部编号; a source
 * for every row when the file has no 来源 column. ``reload(kept)`` re-renders the list
 * after rows were written, ``notice`` (the kept result) shown again there. */
export function importPanel(reload, notice) {
  const out = h('div', { id: 'import-result' });
  if (notice) out.replaceChildren(...notice);
  const file = h('input', { type: 'file', name: 'file', id: 'import-file', accept: '.xlsx,.csv', required: true });
  const mode = select('mode', [['create', t('import_mode_create')], ['upsert', t('import_mode_upsert')]],
    'create', { any: false, id: 'import-mode' });
  const source = h('select', { name: 'source', id: 'import-source' },
    h('option', { value: '' }, t('import_source_file')),
    SOURCES.map((s) => h('option', { value: s }, label('src', s))));
  const dry = h('input', { type: 'checkbox', name: 'dry_run', id: 'import-dry' });
  const form = h('form', { class: 'row', onsubmit: submitOnce(async (key) => {
    const body = new FormData();
    body.append('file', file.files[0]);
    const params = {
      mode: mode.value === 'upsert' ? 'upsert' : undefined,
      source: source.value || undefined,
      dry_run: dry.checked ? 'true' : undefined,
    };
    try {
      const res = await api('/items/import' + query(params), { method: 'POST', form: body, key });
      mount(out, h('p', { class: 'ok', id: 'import-summary' }, importSummary(res)));
      if (!res.dry_run && reload) await reload([...out.childNodes]);
    } catch (e) {
      const rows = e instanceof ApiError ? e.problem.errors || [] : [];
      mount(out, h('p', { class: 'error' }, rows.length ? t('import_errors') : problemText(e)),
        rows.length ? table([
          { title: t('row'), cls: 'num', cell: (r) => r.row ?? '' },
          { title: t('field'), cell: (r) => (r.field ? fieldLabel(r.field) : '') },
          { title: t('message'), cls: 'wide', cell: (r) => r.message },
        ], rows) : null);
    }
  }) },
  file, mode, source, h('label', { class: 'inline' }, dry, t('dry_run')),
  h('button', { type: 'submit', id: 'import' }, t('import')));
  return h('section', { class: 'panel' }, h('h2', {}, t('import')), form, out);
}

export function newItemForm() {
  const out = h('div', {});
  const form = h('form', { class: 'grid-form', id: 'new-item-form', onsubmit: submitOnce(async (key) => {
    const body = formData(form);
    if (body.tags) body.tags = body.tags.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
    try {
      const item = await api('/items', { method: 'POST', body, key });
      location.hash = `#/items/${item.id}`;
    } catch (e) {
      mount(out, errorBox(e));
    }
  }) },
  field(t('title'), h('input', { name: 'title', id: 'n-title', required: true, maxlength: 500 })),
  field(t('source'), select('source', SOURCES.map((s) => [s, label('src', s)]), 'other', { any: false, id: 'n-source' })),
  field(t('severity'), select('severity', SEVERITIES.map((s) => [s, label('sev', s)]), 'normal', { any: false, id: 'n-severity' })),
  field(t('category'), h('input', { name: 'category', id: 'n-category' })),
  field(t('campaign'), h('input', { name: 'campaign', id: 'n-campaign' })),
  field(t('external_ref'), h('input', { name: 'external_ref', id: 'n-external-ref' })),
  field(t('tags'), h('input', { name: 'tags', id: 'n-tags' })),
  h('label', { class: 'field span-2' }, h('span', {}, t('description')), h('textarea', { name: 'description', id: 'n-description', rows: 3 })),
  h('div', { class: 'span-2 row' },
    h('button', { type: 'submit', class: 'primary', id: 'n-create' }, t('create')),
    h('button', { type: 'button', onclick: () => form.parentElement.replaceChildren() }, t('cancel'))),
  out);
  return h('section', { class: 'panel' }, h('h2', {}, t('new_item')), form);
}
