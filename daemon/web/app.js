// riskd dashboard. Data sources (INTERFACES.md):
//   GET /api/v1/stream  WebSocket: the result document, then each borrower
//                       object as it changes (a message with "borrowers" is a
//                       whole document and replaces the state)
//   GET /api/v1/series  polled every POLL_MS: feeds, current market values
//   GET /api/v1/alerts  polled every POLL_MS: active alert events
//   POST /api/v1/what-if on slider changes
// Everything shown is also in data-* attributes (raw numbers, JSON null as
// "null") so tests and scripts can read the page without parsing labels.
import { lineChart, stackBar } from './charts.js';

const POLL_MS = 2000;
const HISTORY_MAX = 3000;  // points kept per borrower (client-side history since page load)
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const LEVELS = { critical: 3, warning: 2, info: 1, ok: 0 };

const state = {
  borrowers: new Map(),   // id -> borrower object (book order kept in `order`)
  order: [],
  history: new Map(),     // id -> [{t, ltv, liquidation_ltv, dscr}]
  series: new Map(),      // id -> series object from /api/v1/series
  alerts: [],
  selected: decodeURIComponent(location.hash.slice(1)) || null,
  sort: { key: 'ltv', dir: -1 },
  lastChangeMs: null,
  messages: 0,
  whatIf: null,
};

// ---------------------------------------------------------------------------
// Formatting: every number with its unit; null is what the API means by it.

const nf = (digits) => new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const f0 = nf(0), f1 = nf(1), f2 = nf(2);

function pct(r, digits = 1) {
  if (r === null || r === undefined) return '∞';
  if (!Number.isFinite(r)) return '—';
  return `${nf(digits).format(r * 100)} %`;
}
function times(r) {
  if (r === null || r === undefined) return '∞';
  return `${f2.format(r)}×`;
}
function usd(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1e9) return `$${f2.format(v / 1e9)} bn`;
  if (a >= 1e6) return `$${f1.format(v / 1e6)} m`;
  if (a >= 1e4) return `$${f0.format(v)}`;
  return `$${f2.format(v)}`;
}
function seriesValue(s, v) {
  if (v === null || v === undefined) return '—';
  switch (s?.kind) {
    case 'price': return usd(v);
    case 'gpu_rent': return `$${f2.format(v)}/GPU-h`;
    case 'rate': return `${f0.format(v)} bp`;
    case 'hashprice': return `$${f2.format(v)}/PH/day`;
    default: return f2.format(v);
  }
}
function age(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.max(0, seconds);
  if (s < 90) return `${f0.format(s)} s`;
  if (s < 5400) return `${f0.format(s / 60)} min`;
  if (s < 172800) return `${f1.format(s / 3600)} h`;
  return `${f0.format(s / 86400)} d`;
}
/// A display name for a sentence: BTC-USD -> BTC, GPU-H100-USD-HR -> the H100 rent index.
function seriesLabel(id) {
  let m = /^([A-Z0-9]+)-USD$/.exec(id);
  if (m) return m[1];
  m = /^GPU-([A-Za-z0-9]+)-USD-HR$/.exec(id);
  if (m) return `the ${m[1]} rent index`;
  return id;
}
/// "today's BTC", "today's H100 rent index".
const todays = (id) => `today's ${seriesLabel(id).replace(/^the /, '')}`;
const levelText = { critical: 'CRITICAL', warning: 'WARNING', info: 'INFO', ok: 'OK' };
const levelIcon = { critical: '▲', warning: '●', info: 'ℹ', ok: '✓' };

// ---------------------------------------------------------------------------
// DOM helpers (no innerHTML with data: ids and keys are text)

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}
const $ = (sel) => document.querySelector(sel);
const raw = (v) => (v === null || v === undefined ? 'null' : String(v));

function badge(level, text) {
  return h('span', { class: `badge ${level}`, dataset: { level } }, `${levelIcon[level]} ${text || levelText[level]}`);
}

/// The alert state of a borrower or what-if row: a badge with the level in
/// words, and the firing rules (most severe first; the rest counted).
function alertState(alerts) {
  const list = [...(alerts || [])].sort((a, b) => (LEVELS[b.severity] || 0) - (LEVELS[a.severity] || 0));
  let level = 'ok';
  for (const a of list) if ((LEVELS[a.severity] || 0) > LEVELS[level]) level = a.severity;
  const names = list.map((a) => a.rule);
  const shown = names.slice(0, 2).join(', ') + (names.length > 2 ? ` +${names.length - 2} more` : '');
  return h('span', { class: 'state', title: names.length ? names.join('\n') : 'no alert firing' },
    badge(level), names.length ? h('span', { class: 'rules' }, shown) : null);
}

// ---------------------------------------------------------------------------
// Derived figures

function borrowerLevel(b) {
  let level = 'ok';
  for (const a of b.alerts || []) if ((LEVELS[a.severity] || 0) > LEVELS[level]) level = a.severity;
  return level;
}

/// Distances to breach as falls from today's value: [{kind, series, level, now, fall}]
/// (fall 0.38 = 38 % below today; 0 when breached already).
function breachDistances(b) {
  const out = [];
  const add = (kind, id, level) => {
    const s = state.series.get(id);
    const now = s && s.value !== null ? s.value : null;
    const fall = level === null || now === null || !(now > 0) ? null : Math.max(0, (now - level) / now);
    out.push({ kind, series: id, level, now, fall });
  };
  for (const [id, level] of Object.entries(b.breach?.price || {})) add('price', id, level);
  for (const [id, level] of Object.entries(b.breach?.gpu_index || {})) add('gpu_index', id, level);
  return out;
}
/// The smallest fall of any price or index that breaches a covenant; null when none can.
function headroom(b) {
  const falls = breachDistances(b).map((d) => d.fall).filter((f) => f !== null);
  return falls.length ? Math.min(...falls) : null;
}

function sortValue(b, key) {
  switch (key) {
    case 'id': return b.id;
    case 'level': return LEVELS[borrowerLevel(b)];
    case 'headroom': return headroom(b);
    case 'mark_usd': return b.collateral?.mark_usd ?? null;
    default: return b[key];
  }
}

// ---------------------------------------------------------------------------
// The book table

function sortedIds() {
  const { key, dir } = state.sort;
  const ids = [...state.order];
  const infinite = key === 'ltv' || key === 'liquidation_ltv' || key === 'dscr';
  ids.sort((x, y) => {
    let a = sortValue(state.borrowers.get(x), key);
    let b = sortValue(state.borrowers.get(y), key);
    // null: infinite for ratios (largest), unknown for headroom (last either way)
    if (a === null && b === null) return x < y ? -1 : 1;
    if (a === null) return infinite ? dir : 1;
    if (b === null) return infinite ? -dir : -1;
    if (typeof a === 'string') return dir * a.localeCompare(b);
    return a === b ? (x < y ? -1 : 1) : dir * (a - b);
  });
  return ids;
}

function renderBook() {
  const tbody = $('#book tbody');
  const rows = sortedIds().map((id) => {
    const b = state.borrowers.get(id);
    const level = borrowerLevel(b);
    const hr = headroom(b);
    const cell = (field, value, text, extra = {}) =>
      h('td', { class: 'num', dataset: { field, value: raw(value) }, ...extra }, text);
    return h('tr', {
      dataset: { borrower: id, level },
      class: `level-${level}${id === state.selected ? ' selected' : ''}`,
      tabindex: 0,
      'aria-selected': id === state.selected ? 'true' : 'false',
      onclick: () => select(id),
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(id); } },
    },
    h('th', { scope: 'row', class: 'id' }, id),
    h('td', { dataset: { field: 'status' } }, alertState(b.alerts)),
    cell('ltv', b.ltv, pct(b.ltv)),
    cell('liquidation_ltv', b.liquidation_ltv, pct(b.liquidation_ltv)),
    cell('dscr', b.dscr, times(b.dscr)),
    cell('headroom', hr, hr === null ? '—' : hr === 0 ? '▲ breached' : `−${pct(hr, 0)}`,
      { title: 'smallest fall of a price or GPU index that breaches a covenant',
        class: `num${hr === 0 ? ' breached' : hr !== null && hr < 0.15 ? ' near' : ''}` }),
    cell('debt_usd', b.debt_usd, usd(b.debt_usd)),
    cell('mark_usd', b.collateral?.mark_usd, usd(b.collateral?.mark_usd)));
  });
  tbody.replaceChildren(...rows);
  $('#book-empty').hidden = rows.length > 0;
  $('#book-count').textContent = rows.length ? `${rows.length} borrowers` : '';
  for (const th of document.querySelectorAll('#book th[data-sort]')) {
    const on = th.dataset.sort === state.sort.key;
    th.setAttribute('aria-sort', on ? (state.sort.dir > 0 ? 'ascending' : 'descending') : 'none');
  }
}

function select(id) {
  state.selected = id;
  history.replaceState(null, '', `#${encodeURIComponent(id)}`);
  renderBook();
  renderDetail();
}

// ---------------------------------------------------------------------------
// The selected borrower

function breachSentences(b) {
  const lines = [];
  for (const d of breachDistances(b)) {
    const s = state.series.get(d.series);
    const name = seriesLabel(d.series);
    const ratio = d.kind === 'price' ? 'LTV' : 'DSCR';
    let text;
    if (d.level === null) {
      text = d.kind === 'price'
        ? `No fall of ${name} breaches LTV: the rest of the collateral covers the debt.`
        : `No fall of ${name} breaches DSCR.`;
    } else if (d.fall === 0) {
      text = `${ratio} is breached at ${todays(d.series)} (${seriesValue(s, d.now)})` +
        (d.level > d.now * 1.0001 ? `; ${name} must rise above ${seriesValue(s, d.level)} to cure it.` : '.');
    } else if (d.fall === null) {
      text = `${ratio} breaches if ${name} falls below ${seriesValue(s, d.level)}.`;
    } else {
      text = `${ratio} breaches if ${name} falls below ${seriesValue(s, d.level)}, ${pct(d.fall, 0)} below today (${seriesValue(s, d.now)}).`;
    }
    lines.push(h('li', { dataset: { series: d.series, level: raw(d.level), fall: raw(d.fall) },
      class: d.fall === 0 ? 'breached' : d.fall !== null && d.fall < 0.15 ? 'near' : '' }, text));
  }
  const spread = b.breach?.spread_bps;
  lines.push(h('li', { dataset: { series: '@spread', level: raw(spread ?? null) }, class: spread === 0 ? 'breached' : '' },
    spread === null || spread === undefined
      ? 'No floating-rate debt in the 12-month window: spreads cannot breach DSCR.'
      : spread === 0 ? 'DSCR is breached at today\'s spreads.'
        : `DSCR breaches if credit spreads widen by ${f0.format(spread)} bp.`));
  return h('ul', { class: 'breach' }, lines);
}

function stressTable(b) {
  const firing = new Set((b.alerts || []).map((a) => a.rule));
  const rows = Object.entries(b.stress || {}).map(([name, r]) => {
    const breached = firing.has(`stress_breach:${name}`);
    return h('tr', { dataset: { scenario: name } },
      h('th', { scope: 'row' }, name.replaceAll('_', ' ')),
      h('td', { class: 'num', dataset: { value: raw(r.ltv) } }, pct(r.ltv)),
      h('td', { class: 'num', dataset: { value: raw(r.liquidation_ltv) } }, pct(r.liquidation_ltv)),
      h('td', { class: 'num', dataset: { value: raw(r.dscr) } }, times(r.dscr)),
      h('td', {}, breached ? badge('info', 'breaches a covenant') : badge('ok', 'within covenants')));
  });
  return h('table', { class: 'grid compact' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Scenario'), h('th', { scope: 'col', class: 'num' }, 'LTV'),
      h('th', { scope: 'col', class: 'num' }, 'Liq. LTV'), h('th', { scope: 'col', class: 'num' }, 'DSCR'),
      h('th', { scope: 'col' }, 'Covenants'))),
    h('tbody', {}, rows));
}

function debtStack(b) {
  const c = b.collateral || {};
  const max = Math.max(c.mark_usd || 0, c.liquidation_usd || 0, b.debt_usd || 0, 1);
  const flowMax = Math.max(b.cfads_usd || 0, b.debt_service_usd || 0, 1);
  const row = (label, bar, value, title) => h('div', { class: 'stack-row', title },
    h('span', { class: 'stack-label' }, label), bar, h('span', { class: 'stack-value num' }, value));
  return h('div', { class: 'stacks' },
    row('Collateral at mark', stackBar([
      { label: `crypto ${usd(c.crypto_usd)}`, value: c.crypto_usd, cls: 'crypto' },
      { label: `GPUs ${usd(c.gpu_usd)}`, value: c.gpu_usd, cls: 'gpu' },
      { label: `cash ${usd(c.cash_usd)}`, value: c.cash_usd, cls: 'cash' }], max), usd(c.mark_usd),
      `crypto ${usd(c.crypto_usd)} · GPUs ${usd(c.gpu_usd)} · cash ${usd(c.cash_usd)}`),
    row('Collateral at fire-sale', stackBar([{ label: usd(c.liquidation_usd), value: c.liquidation_usd, cls: 'liq' }], max),
      usd(c.liquidation_usd), 'what a forced sale would raise'),
    row('Debt', stackBar([{ label: usd(b.debt_usd), value: b.debt_usd, cls: 'debt' }], max), usd(b.debt_usd)),
    h('div', { class: 'legend' },
      h('span', { class: 'key crypto' }, 'crypto'), h('span', { class: 'key gpu' }, 'GPUs'),
      h('span', { class: 'key cash' }, 'cash'), h('span', { class: 'key liq' }, 'fire-sale'), h('span', { class: 'key debt' }, 'debt')),
    row('Cash flow (12 m)', stackBar([{ label: usd(b.cfads_usd), value: b.cfads_usd, cls: 'cfads' }], flowMax), usd(b.cfads_usd),
      'cash flow available for debt service over the next 12 months'),
    row('Debt service (12 m)', stackBar([{ label: usd(b.debt_service_usd), value: b.debt_service_usd, cls: 'debt' }], flowMax),
      usd(b.debt_service_usd), 'interest and principal due over the next 12 months'));
}

function renderDetail() {
  const panel = $('#detail');
  const b = state.selected ? state.borrowers.get(state.selected) : null;
  if (!b) {
    panel.replaceChildren(h('p', { class: 'empty' },
      state.selected ? `${state.selected} is not in the book (removed, or waiting for a series).`
        : 'Select a borrower to see its history, breach levels, stress and debt.'));
    return;
  }
  const level = borrowerLevel(b);
  const figure = (label, value, text) => h('div', { class: 'figure' }, h('span', { class: 'label' }, label),
    h('span', { class: 'value num', dataset: { value: raw(value) } }, text));
  const ltvSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  const dscrSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  ltvSvg.setAttribute('class', 'chart');
  dscrSvg.setAttribute('class', 'chart');
  ltvSvg.setAttribute('aria-label', `LTV of ${b.id} since this page was opened`);
  dscrSvg.setAttribute('aria-label', `DSCR of ${b.id} since this page was opened`);
  panel.replaceChildren(
    h('h2', { dataset: { borrower: b.id, level } }, `${b.id} `, alertState(b.alerts)),
    h('div', { class: 'figures', dataset: { borrower: b.id } },
      figure('LTV', b.ltv, pct(b.ltv)), figure('Liq. LTV', b.liquidation_ltv, pct(b.liquidation_ltv)),
      figure('DSCR', b.dscr, times(b.dscr)), figure('Debt', b.debt_usd, usd(b.debt_usd)),
      figure('Cash flow 12m', b.cfads_usd, usd(b.cfads_usd)), figure('Debt service 12m', b.debt_service_usd, usd(b.debt_service_usd))),
    h('div', { class: 'charts' },
      h('figure', {}, h('figcaption', {}, 'LTV and liquidation LTV since this page was opened'), ltvSvg),
      h('figure', {}, h('figcaption', {}, 'DSCR since this page was opened'), dscrSvg)),
    h('div', { class: 'detail-cols' },
      h('div', {}, h('h3', {}, 'Distance to breach'), breachSentences(b)),
      h('div', {}, h('h3', {}, 'Debt and collateral'), debtStack(b))),
    h('h3', {}, 'Stress scenarios'), stressTable(b));
  drawCharts(b.id, ltvSvg, dscrSvg);
}

function drawCharts(id, ltvSvg, dscrSvg) {
  const pts = state.history.get(id) || [];
  lineChart(ltvSvg, {
    series: [
      { name: 'LTV', cls: 'ltv', points: pts.map((p) => ({ t: p.t, v: p.ltv })) },
      { name: 'liq.', cls: 'liq', points: pts.map((p) => ({ t: p.t, v: p.liquidation_ltv })) }],
    yFormat: (v) => pct(v, 0),
    refLines: [{ v: 1, label: '100 %', cls: 'danger' }],
  });
  lineChart(dscrSvg, {
    series: [{ name: 'DSCR', cls: 'dscr', points: pts.map((p) => ({ t: p.t, v: p.dscr })) }],
    yFormat: (v) => `${f2.format(v)}×`,
    refLines: [{ v: 1, label: '1.00×', cls: 'danger' }],
  });
}

// ---------------------------------------------------------------------------
// Stream

function record(b, t) {
  let h0 = state.history.get(b.id);
  if (!h0) state.history.set(b.id, (h0 = []));
  const last = h0[h0.length - 1];
  if (last && last.ltv === b.ltv && last.liquidation_ltv === b.liquidation_ltv && last.dscr === b.dscr) return;
  h0.push({ t, ltv: b.ltv, liquidation_ltv: b.liquidation_ltv, dscr: b.dscr });
  if (h0.length > HISTORY_MAX) h0.splice(0, h0.length - HISTORY_MAX);
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderBook();
    renderDetail();
    document.body.dataset.messages = String(state.messages);
  });
}

function onMessage(text) {
  const msg = JSON.parse(text);
  const now = Date.now();
  state.messages += 1;
  state.lastChangeMs = now;
  if (Array.isArray(msg.borrowers)) {  // the whole document: replace
    state.borrowers = new Map(msg.borrowers.map((b) => [b.id, b]));
    state.order = msg.borrowers.map((b) => b.id);
    for (const id of [...state.history.keys()]) if (!state.borrowers.has(id)) state.history.delete(id);
    for (const b of msg.borrowers) record(b, now);
    document.body.dataset.asOf = msg.as_of;
    if (!state.selected || !state.borrowers.has(state.selected)) state.selected = sortedIds()[0] || null;
  } else if (typeof msg.id === 'string') {  // one borrower object
    if (!state.borrowers.has(msg.id)) state.order.push(msg.id);
    state.borrowers.set(msg.id, msg);
    record(msg, now);
  }
  scheduleRender();
}

let socket = null;
let attempt = 0;
let retryAt = null;

function setConn(stateName, text) {
  const pill = $('#conn');
  pill.dataset.state = stateName;
  pill.textContent = text;
  document.body.dataset.stream = stateName;
}

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/stream`;
  setConn('connecting', attempt ? `reconnecting (attempt ${attempt + 1})…` : 'connecting…');
  socket = new WebSocket(url);
  let opened = false;
  socket.onopen = () => { opened = true; };
  socket.onmessage = (e) => {
    if (attempt !== 0 || $('#conn').dataset.state !== 'live') {
      attempt = 0;
      retryAt = null;
      $('#banner').hidden = true;
      setConn('live', '● live');
    }
    try { onMessage(e.data); } catch (err) { console.error('bad stream message', err); }
  };
  socket.onclose = (e) => {
    socket = null;
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] * (0.8 + 0.4 * Math.random());
    attempt += 1;
    retryAt = Date.now() + delay;
    const why = e.reason ? `: ${e.reason}` : opened ? '' : ': riskd is not answering';
    setConn('down', '▲ disconnected');
    showBanner(`Disconnected from riskd${why}. The figures below are frozen.`);
    setTimeout(connect, delay);
  };
}

function showBanner(text) {
  const banner = $('#banner');
  banner.dataset.text = text;
  banner.hidden = false;
  tickBanner();
}
function tickBanner() {
  const banner = $('#banner');
  if (banner.hidden) return;
  const left = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
  banner.textContent = `${banner.dataset.text} Reconnecting${left ? ` in ${left} s` : '…'}`;
}

// ---------------------------------------------------------------------------
// Polled panels

async function getJson(path, options) {
  const res = await fetch(path, { cache: 'no-store', ...options });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function renderFeeds(list) {
  const rows = list.map((s) => {
    const rejected = Object.values(s.rejected || {}).reduce((a, n) => a + n, 0);
    const status = s.value === null ? 'warning' : s.stale ? 'warning' : 'ok';
    const text = s.value === null ? 'NO VALUE' : s.stale ? 'STALE' : 'FRESH';
    return h('tr', { dataset: { series: s.id, stale: String(s.stale) } },
      h('th', { scope: 'row' }, h('span', { class: 'sid' }, s.id), h('span', { class: 'kind' }, s.kind)),
      h('td', {}, badge(status, text)),
      h('td', { class: 'num', dataset: { value: raw(s.value) } }, seriesValue(s, s.value)),
      h('td', { class: 'num', dataset: { value: raw(s.age_s) },
        title: s.stale_after_s === null ? 'no staleness limit' : `stale after ${age(s.stale_after_s)}` }, age(s.age_s)),
      h('td', { class: 'num', dataset: { value: String(s.applied) } }, f0.format(s.applied)),
      h('td', { class: `num${rejected ? ' warn-text' : ''}`, dataset: { value: String(rejected) },
        title: Object.entries(s.rejected || {}).map(([k, n]) => `${k}: ${n}`).join('\n') }, f0.format(rejected)));
  });
  $('#feeds tbody').replaceChildren(...rows);
  const newest = list.map((s) => s.ts).filter(Boolean).sort().pop();
  $('#as-of').textContent = newest ? `market as of ${newest.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}` : 'market as of —';
}

function renderAlerts(list) {
  const sorted = [...list].sort((a, b) => (LEVELS[b.severity] || 0) - (LEVELS[a.severity] || 0) || (a.key < b.key ? -1 : 1));
  const rows = sorted.map((a) => {
    const seconds = a.rule.startsWith('feed_stale');
    const fmt = (v) => (v === null ? '∞' : seconds ? age(v) : a.rule.includes('dscr') ? times(v) : pct(v));
    const since = a.at ? (Date.now() - Date.parse(a.at)) / 1000 : null;
    return h('tr', { dataset: { key: a.key, severity: a.severity } },
      h('td', {}, badge(a.severity in LEVELS ? a.severity : 'info')),
      h('td', {}, a.borrower ?? a.key.split(':')[1] ?? '—'),
      h('td', { class: 'rule' }, a.rule.replace(':', ': ')),
      h('td', { class: 'num', dataset: { value: raw(a.value), threshold: raw(a.threshold) } },
        `${fmt(a.value)} / ${fmt(a.threshold)}`),
      h('td', { class: 'num', title: `${a.at} (event time), seq ${a.seq}` }, since === null ? '—' : age(since)));
  });
  $('#alerts tbody').replaceChildren(...rows);
  $('#alerts-empty').hidden = rows.length > 0;
  $('#alerts').hidden = rows.length === 0;
  $('#alerts-count').textContent = rows.length ? String(rows.length) : '';
}

let sliderBuilt = false;
async function poll() {
  try {
    const [series, alerts] = await Promise.all([getJson('/api/v1/series'), getJson('/api/v1/alerts')]);
    state.series = new Map(series.map((s) => [s.id, s]));
    state.alerts = alerts;
    renderFeeds(series);
    renderAlerts(alerts);
    if (!sliderBuilt && series.length) { buildSliders(series); sliderBuilt = true; }
    document.body.dataset.polled = String(Date.now());
    scheduleRender();  // headroom and breach sentences use the current series values
  } catch (err) {
    $('#as-of').textContent = `API unreachable (${err.message})`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

// ---------------------------------------------------------------------------
// What-if

function buildSliders(series) {
  const form = $('#whatif-form');
  const defs = [];
  for (const s of series) {
    if (s.kind === 'price' || s.kind === 'gpu_rent') {
      defs.push({ key: s.id, label: seriesLabel(s.id) === s.id ? s.id : `${s.id}`, min: -90, max: 50, step: 1, unit: '%' });
    }
  }
  defs.push({ key: '@spread', label: 'Credit spreads', min: 0, max: 1000, step: 25, unit: 'bp' });
  defs.push({ key: '@rate', label: 'All rates', min: -300, max: 500, step: 25, unit: 'bp' });
  form.replaceChildren(...defs.map((d) => {
    const out = h('output', { for: `shock-${d.key}`, class: 'num' }, `0 ${d.unit}`);
    const input = h('input', { type: 'range', id: `shock-${d.key}`, name: d.key, min: d.min, max: d.max, step: d.step, value: 0,
      dataset: { unit: d.unit },
      oninput: (e) => { out.textContent = `${e.target.value > 0 ? '+' : ''}${e.target.value} ${d.unit}`; queueWhatIf(); } });
    return h('label', { class: 'slider' }, h('span', { class: 'slider-label' }, d.label), input, out);
  }));
}

function shocks() {
  const out = {};
  for (const input of document.querySelectorAll('#whatif-form input[type=range]')) {
    const v = Number(input.value);
    if (v === 0) continue;
    out[input.name] = input.dataset.unit === '%' ? v / 100 : v;
  }
  return out;
}

let whatIfTimer = null;
let whatIfSeq = 0;
function queueWhatIf() {
  clearTimeout(whatIfTimer);
  whatIfTimer = setTimeout(runWhatIf, 250);
}

async function runWhatIf() {
  const body = { shocks: shocks() };
  const seq = ++whatIfSeq;
  const status = $('#whatif-status');
  if (Object.keys(body.shocks).length === 0) {
    state.whatIf = null;
    $('#whatif tbody').replaceChildren();
    $('#whatif').hidden = true;
    status.textContent = 'Move a slider to shock the market.';
    return;
  }
  status.textContent = 'evaluating…';
  try {
    const doc = await getJson('/api/v1/what-if', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (seq !== whatIfSeq) return;  // a newer request is on its way
    state.whatIf = doc;
    status.textContent = `book under ${Object.entries(body.shocks).map(([k, v]) =>
      `${k} ${v > 0 ? '+' : '−'}${Math.abs(k.startsWith('@') ? v : v * 100)}${k.startsWith('@') ? ' bp' : ' %'}`).join(', ')}`;
    renderWhatIf();
  } catch (err) {
    if (seq === whatIfSeq) status.textContent = `what-if failed: ${err.message}`;
  }
}

function renderWhatIf() {
  const doc = state.whatIf;
  if (!doc) return;
  const arrow = (now, shocked, fmt, worseIfUp) => {
    const worse = now !== undefined && shocked !== now &&
      (shocked === null ? worseIfUp : now === null ? !worseIfUp : (shocked > now) === worseIfUp);
    return h('span', { class: worse ? 'worse' : '' }, `${now === undefined ? '—' : fmt(now)} → ${fmt(shocked)}`);
  };
  const rows = doc.borrowers.map((b) => {
    const now = state.borrowers.get(b.id) || {};
    const level = borrowerLevel(b);
    return h('tr', { dataset: { borrower: b.id, level } },
      h('th', { scope: 'row' }, b.id),
      h('td', {}, badge(level)),
      h('td', { class: 'num', dataset: { value: raw(b.ltv) } }, arrow(now.ltv, b.ltv, pct, true)),
      h('td', { class: 'num', dataset: { value: raw(b.dscr) } }, arrow(now.dscr, b.dscr, times, false)));
  });
  $('#whatif tbody').replaceChildren(...rows);
  $('#whatif').hidden = false;
}

// ---------------------------------------------------------------------------

function tickClock() {
  const el = $('#last-update');
  if (state.lastChangeMs === null) {
    el.textContent = 'last update —';
  } else {
    const s = (Date.now() - state.lastChangeMs) / 1000;
    el.textContent = `last update ${age(s)} ago`;
    el.dataset.ageS = s.toFixed(1);
    el.classList.toggle('old', s > 60);
  }
  tickBanner();
}

function init() {
  for (const th of document.querySelectorAll('#book th[data-sort]')) {
    th.tabIndex = 0;
    const toggle = () => {
      const key = th.dataset.sort;
      // First click: the riskiest first (high LTV, low DSCR, low headroom).
      state.sort = state.sort.key === key ? { key, dir: -state.sort.dir }
        : { key, dir: key === 'dscr' || key === 'headroom' || key === 'id' ? 1 : -1 };
      renderBook();
    };
    th.addEventListener('click', toggle);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter') toggle(); });
  }
  $('#whatif-reset').addEventListener('click', () => {
    for (const input of document.querySelectorAll('#whatif-form input[type=range]')) {
      input.value = 0;
      input.dispatchEvent(new Event('input'));
    }
  });
  $('#whatif-status').textContent = 'Move a slider to shock the market.';
  $('#whatif').hidden = true;
  window.addEventListener('resize', () => scheduleRender());
  setInterval(tickClock, 1000);
  connect();
  poll();
}

init();
