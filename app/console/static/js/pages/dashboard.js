// 看板: counts by state and light, overdue and escalated, rates, the county chart.
import { all, api, cached, query, session, unavailable } from '../api.js';
import { attachmentName, h, mount, pct, saveBlob, svg, today } from '../dom.js';
import { label, t } from '../i18n.js';
import { allStates, errorBox, guarded, section } from '../ui.js';

const items = (params) => '/items' + query(params);

function figure(value, caption, route, cls = '') {
  return h('a', { class: `figure ${cls}`, href: '#' + route },
    h('span', { class: 'value' }, value), h('span', { class: 'caption' }, caption));
}

async function count(params) {
  const rows = await all('/items', params, 1000);
  return rows.length >= 1000 ? '1000+' : rows.length;
}

/** Lights by count, from the summary's ``by_light`` (one grouped query); a server
 * without it is asked through the lists. ``paused``: a closure request under review. */
async function lights(summaryP) {
  const queries = [['red', { light: 'red' }], ['yellow', { light: 'yellow' }],
    ['green', { light: 'green' }], ['paused', { review_pending: 'true' }]];
  const summary = await summaryP;
  const byLight = summary.by_light;
  const counts = await Promise.all(queries.map(async ([l, q]) =>
    [l, q, byLight ? byLight[l] : l === 'red' ? summary.overdue : await count(q)]));
  return h('div', { class: 'figures' }, counts.map(([l, q, n]) =>
    figure(n, label('light', l), items(q), `light-${l}`)));
}

async function escalatedCount() {
  if (!['admin', 'supervisor'].includes(session.me.role)) return null;
  const rows = await all('/admin/escalations', { level: 2 }, 1000);
  return rows.length;
}

function summaryPanels(s, escalated) {
  const states = allStates().filter(([name]) => s.by_state[name] !== undefined);
  const rates = [
    ['rectification_rate', s.rectification_rate],
    ['on_time_rate', s.on_time_rate],
    ['satisfaction_rate', s.satisfaction_rate],
  ].filter(([, v]) => v !== undefined);
  return [
    section(t('by_state'), h('div', { class: 'figures' },
      figure(s.total, t('total'), '/items'),
      states.map(([name, lbl]) => figure(s.by_state[name], lbl, items({ state: name }))))),
    section(`${t('overdue')} / ${t('escalated')}`, h('div', { class: 'figures' },
      figure(s.overdue, t('overdue'), items({ overdue: 'true' }), 'light-red'),
      escalated === null ? null : figure(escalated, t('lvl_2') + '+', '/escalations', 'light-red'))),
    section(t('rates'), h('div', { class: 'figures' },
      rates.map(([k, v]) => figure(pct(v), t(k), k === 'rectification_rate' ? items({ state: 'closed' }) : '/items')),
      s.measures ? figure(`${s.measures.done + s.measures.ongoing}/${s.measures.total}`, t('measures'), '/items') : null)),
  ];
}

const CHART_ROWS = 16;

/** Worst first: the lowest rectification rate, then the most overdue and open; groups with
 * no items (no rate) last. */
export function worstFirst(groups) {
  const rate = (g) => (g.rate === null || g.rate === undefined ? Infinity : g.rate);
  return groups.slice().sort((a, b) => rate(a) - rate(b)
    || (b.overdue || 0) - (a.overdue || 0) || b.open - a.open);
}

/** Horizontal bars: rectified and open per top-level unit, each bar a link to its items. */
function chart(groups, doneLabel) {
  const rows = groups.slice(0, CHART_ROWS);
  const max = Math.max(1, ...rows.map((g) => g.rectified + g.open));
  const W = 620; const L = 150; const R = 70; const ROW = 22;
  const height = rows.length * ROW + 24;
  const scale = (n) => (n / max) * (W - L - R);
  const graphic = svg('svg', { viewBox: `0 0 ${W} ${height}`, width: W, height, class: 'chart', role: 'img' },
    rows.map((g, i) => {
      const y = i * ROW + 4;
      const href = '#' + items({ unit: g.key });
      return svg('a', { href },
        svg('title', {}, `${g.label}: ${doneLabel} ${g.rectified}, ${t('open_at_end')} ${g.open}`),
        svg('text', { x: L - 8, y: y + 14, 'text-anchor': 'end', class: 'chart-label' }, g.label),
        svg('rect', { x: L, y, width: scale(g.rectified), height: ROW - 6, class: 'bar-done' }),
        svg('rect', { x: L + scale(g.rectified), y, width: scale(g.open), height: ROW - 6, class: 'bar-open' }),
        svg('text', { x: L + scale(g.rectified + g.open) + 6, y: y + 14, class: 'chart-value' }, pct(g.rate)));
    }),
    svg('g', { transform: `translate(${L},${height - 6})` },
      svg('rect', { x: 0, y: -9, width: 10, height: 10, class: 'bar-done' }),
      svg('text', { x: 14, y: 0, class: 'chart-legend' }, doneLabel),
      svg('rect', { x: 90, y: -9, width: 10, height: 10, class: 'bar-open' }),
      svg('text', { x: 104, y: 0, class: 'chart-legend' }, t('open_at_end'))));
  return h('div', { class: 'chart-box' }, graphic);
}

/** The report's rows beyond the chart: how many, and the whole report as a file. */
function more(groups, report) {
  const hidden = groups.length - CHART_ROWS;
  const out = h('span', {});
  const download = async () => {
    try {
      const res = await api(report, { raw: true, headers: { Accept: '*/*' } });
      saveBlob(await res.blob(), attachmentName(res, 'report.xlsx'));
    } catch (e) { mount(out, errorBox(e)); }
  };
  return h('p', { class: 'muted chart-more', id: 'chart-more' },
    hidden > 0 ? t('chart_more', hidden) + ' ' : '',
    report ? h('button', { type: 'button', class: 'link', id: 'chart-report', onclick: download }, t('full_report')) : null,
    ' ', h('a', { href: '#/items' }, t('ledger')), out);
}

async function periodGroups() {
  const from = today().slice(0, 4) + '-01-01';
  try {
    const params = { from, to: today(), group: 'unit' };
    const rep = await api('/reports/period' + query(params));
    return { title: t('chart_title'), done: t('rectified'), report: '/reports/period' + query({ ...params, format: 'xlsx' }),
      groups: rep.groups.map((g) => ({
        key: g.key, label: g.label, rectified: g.cumulative_rectified ?? g.rectified, open: g.open_at_end,
        overdue: g.overdue_at_end, rate: g.rectification_rate,
      })) };
  } catch (e) {
    if (!unavailable(e)) throw e;
  }
  return { title: t('chart_fallback'), done: t('closed'), groups: await unitRollup() };
}

/** Before /reports/period exists: /reports/units rolled up to the top-level units here. */
async function unitRollup() {
  const [{ data: units }, { data: rows }] = await Promise.all([cached('/units'), api('/reports/units')]);
  const parent = Object.fromEntries(units.map((u) => [u.code, u.parent_code]));
  const top = (code) => { let c = code; while (parent[c]) c = parent[c]; return c; };
  const groups = new Map();
  for (const r of rows) {
    if (!r.unit_code) continue;
    const key = top(r.unit_code);
    const g = groups.get(key) || { key, label: units.find((u) => u.code === key)?.name || key, rectified: 0, open: 0, closed: 0 };
    g.rectified += r.closed; g.open += r.open; g.overdue = (g.overdue || 0) + (r.overdue || 0);
    groups.set(key, g);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, rate: g.rectified + g.open ? g.rectified / (g.rectified + g.open) : null }));
}

export async function dashboardPage(page) {
  const summaryP = api('/reports/summary');
  const loading = () => h('div', {}, h('p', { class: 'muted' }, t('loading')));
  const summaryBox = loading(); const lightBox = loading(); const chartBox = loading();
  const chartTitle = h('h2', {}, t('chart_title'));
  mount(page,
    h('h1', {}, t('dashboard')),
    h('div', { class: 'grid-2' },
      h('div', {}, summaryBox, section(t('by_light'), lightBox)),
      h('section', { class: 'panel' }, chartTitle, chartBox)));
  await Promise.all([
    guarded(summaryBox, async () => {
      const [summary, escalated] = await Promise.all([summaryP, escalatedCount()]);
      return summaryPanels(summary, escalated);
    }),
    guarded(lightBox, () => lights(summaryP)),
    guarded(chartBox, async () => {
      const { title, done, groups, report } = await periodGroups();
      chartTitle.textContent = title;
      if (!groups.length) return h('p', { class: 'muted', id: 'chart-empty' }, t('empty'));
      const ranked = worstFirst(groups);
      return [chart(ranked, done), more(ranked, report)];
    }),
  ]);
}
