// The working calendar (overrides, the year's schedule) and the test clock.
import { api, query, session, unavailable } from '../api.js';
import { dt, h, mount, today } from '../dom.js';
import { t } from '../i18n.js';
import { errorBox, field, guarded, section, table } from '../ui.js';

const p2 = (n) => String(n).padStart(2, '0');

function monthDays(month) {
  const [y, m] = month.split('-').map(Number);
  const last = new Date(y, m, 0).getDate();
  return { first: `${month}-01`, last: `${month}-${p2(last)}`, days: last, weekday: (new Date(y, m - 1, 1).getDay() + 6) % 7 };
}

function shift(month, by) {
  const [y, m] = month.split('-').map(Number);
  const d = new Date(y, m - 1 + by, 1);
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}`;
}

async function yearSchedule(year) {
  const s = await api(`/calendar/years/${year}`);
  return [h('p', { class: 'muted' }, `source: ${s.source}`), table([
    { title: t('holidays'), cell: (x) => x.name || '' },
    { title: t('from'), cell: (x) => x.from },
    { title: t('to'), cell: (x) => x.to },
  ], s.holidays || []), h('p', {}, `${t('makeup_days')}：${(s.workdays || []).join('、') || '—'}`)];
}

export async function calendarPage(page, params) {
  const month = params.get('month') || today().slice(0, 7);
  const { first, last, days, weekday } = monthDays(month);
  const { days: work } = await api('/calendar/workdays' + query({ from: first, to: last }));
  const workdays = new Set(work);
  const out = h('div', {});
  const note = h('input', { id: 'day-note', placeholder: t('note') });
  const toggle = async (date) => {
    try {
      await api(`/calendar/days/${date}`, { method: 'PUT', body: { workday: !workdays.has(date), note: note.value || null } });
      calendarPage(page, params);
    } catch (e) { mount(out, errorBox(e)); }
  };
  const cells = [];
  for (let i = 0; i < weekday; i += 1) cells.push(h('span', { class: 'day blank' }));
  for (let d = 1; d <= days; d += 1) {
    const date = `${month}-${p2(d)}`;
    cells.push(h('button', { type: 'button', class: `day ${workdays.has(date) ? 'work' : 'rest'}`, title: date, dataset: { date }, onclick: () => toggle(date) },
      h('strong', {}, d), h('small', {}, workdays.has(date) ? t('workday') : t('restday'))));
  }
  const yearBox = h('div', {});
  mount(page, h('h1', {}, t('calendar')),
    h('div', { class: 'grid-2' },
      section(month, h('div', { class: 'row' },
        h('a', { href: '#/admin/calendar' + query({ month: shift(month, -1) }) }, '‹'),
        h('strong', {}, month), h('a', { href: '#/admin/calendar' + query({ month: shift(month, 1) }) }, '›'),
        h('span', { class: 'muted' }, t('workdays_between', work.length))),
      h('div', { class: 'month' }, (session.lang === 'en' ? ['Mo', 'Tu', 'We', 'Th', 'Fr', 'Sa', 'Su'] : ['一', '二', '三', '四', '五', '六', '日']).map((d) => h('span', { class: 'dow' }, d)), cells),
      field(t('note'), note), h('p', { class: 'muted' }, t('set_day')), out),
      section(`${t('year_schedule')} ${month.slice(0, 4)}`, yearBox)));
  await guarded(yearBox, () => yearSchedule(month.slice(0, 4)));
}

export async function clockPage(page) {
  let clock;
  try {
    clock = await api('/admin/clock');
  } catch (e) {
    if (!unavailable(e)) throw e;
    mount(page, h('h1', {}, t('clock')), h('p', { class: 'muted unavailable', id: 'clock-off' }, t('clock_off')));
    return;
  }
  const out = h('div', { id: 'clock-result' });
  const when = h('input', { type: 'datetime-local', id: 'clock-at', step: 1 });
  const act = async (fn) => { try { const r = await fn(); await clockPage(page); if (r) page.querySelector('#clock-result').textContent = JSON.stringify(r); } catch (e) { mount(out, errorBox(e)); } };
  mount(page, h('h1', {}, t('clock')), section(t('clock'),
    h('p', { id: 'clock-now' }, `${t('clock_now')}：${dt(clock.now)}${clock.frozen ? ' (test)' : ''}`),
    h('div', { class: 'row' }, when,
      h('button', { type: 'button', class: 'primary', id: 'clock-set', onclick: () => when.value && act(() => api('/admin/clock', { method: 'PUT', body: { now: new Date(when.value).toISOString() } }).then(() => null)) }, t('set_clock')),
      h('button', { type: 'button', id: 'clock-reset', onclick: () => act(() => api('/admin/clock', { method: 'DELETE' }).then(() => null)) }, t('real_time')),
      h('button', { type: 'button', id: 'scan', onclick: () => act(() => api('/admin/scheduler/tick', { method: 'POST' })) }, t('run_scan'))),
    out));
}
