// Hand-written SVG charts for the dashboard: no dependency, nothing fetched.
//
// lineChart(svg, {series, yFormat, refLines, height}) draws time series into an
// <svg> element (replacing its content):
//   series:   [{name, cls, points: [{t: ms, v: number|null}]}]; null is a gap
//             (an infinite ratio), drawn as a break in the line
//   yFormat:  value -> label for the axis
//   refLines: [{v, label, cls}] horizontal reference lines (e.g. 100 % LTV)
// The x axis is wall-clock time (the points' t), labelled hh:mm:ss.

const SVG_NS = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/// "Nice" tick values covering [lo, hi]: about `count` of them.
function ticks(lo, hi, count) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toFixed(12)));
  return out;
}

function clock(ms) {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

export function lineChart(svg, { series, yFormat = String, refLines = [], height = 180 }) {
  const width = Math.max(svg.clientWidth || svg.parentElement?.clientWidth || 480, 240);
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  while (svg.firstChild) svg.removeChild(svg.firstChild);

  const pad = { l: 56, r: 92, t: 10, b: 24 };
  const all = series.flatMap((s) => s.points);
  const values = all.map((p) => p.v).filter((v) => v !== null && Number.isFinite(v));
  if (values.length === 0) {
    svg.appendChild(el('text', { x: width / 2, y: height / 2, class: 'chart-empty', 'text-anchor': 'middle' },
      'no finite value yet'));
    return;
  }
  for (const r of refLines) values.push(r.v);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-9) { lo -= Math.abs(lo) * 0.05 || 0.05; hi += Math.abs(hi) * 0.05 || 0.05; }
  const margin = (hi - lo) * 0.08;
  lo -= margin; hi += margin;
  if (Math.min(...values) >= 0 && lo < 0) lo = 0;
  const t0 = Math.min(...all.map((p) => p.t));
  let t1 = Math.max(...all.map((p) => p.t));
  if (t1 - t0 < 1000) t1 = t0 + 1000;

  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (height - pad.t - pad.b);

  const grid = el('g', { class: 'chart-grid' });
  for (const v of ticks(lo, hi, 4)) {
    grid.appendChild(el('line', { x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }));
    grid.appendChild(el('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, yFormat(v)));
  }
  const nx = Math.max(2, Math.min(5, Math.floor((width - pad.l - pad.r) / 110)));
  for (let i = 0; i <= nx; i++) {
    const t = t0 + ((t1 - t0) * i) / nx;
    grid.appendChild(el('text', { x: x(t), y: height - 6, 'text-anchor': i === 0 ? 'start' : i === nx ? 'end' : 'middle' },
      clock(t)));
  }
  svg.appendChild(grid);

  for (const r of refLines) {
    svg.appendChild(el('line', { x1: pad.l, x2: width - pad.r, y1: y(r.v), y2: y(r.v), class: `chart-ref ${r.cls || ''}` }));
    svg.appendChild(el('text', { x: width - pad.r + 4, y: y(r.v) + 4, class: `chart-ref-label ${r.cls || ''}` }, r.label));
  }

  for (const s of series) {
    // Split at nulls: each run of finite points is one polyline.
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        svg.appendChild(el('circle', { cx: run[0][0], cy: run[0][1], r: 2.5, class: `chart-dot ${s.cls}` }));
      } else if (run.length > 1) {
        svg.appendChild(el('polyline', { points: run.map((p) => p.join(',')).join(' '), class: `chart-line ${s.cls}` }));
      }
      run = [];
    };
    for (const p of s.points) {
      if (p.v === null || !Number.isFinite(p.v)) flush();
      else run.push([x(p.t).toFixed(1), y(p.v).toFixed(1)]);
    }
    flush();
    const last = s.points[s.points.length - 1];
    if (last) {
      const label = last.v === null || !Number.isFinite(last.v) ? `${s.name} ∞` : `${s.name} ${yFormat(last.v)}`;
      const ly = last.v === null || !Number.isFinite(last.v) ? pad.t + 8 : y(last.v) + 4;
      svg.appendChild(el('text', { x: width - pad.r + 4, y: ly, class: `chart-last ${s.cls}` }, label));
    }
  }
}

/// A horizontal stacked bar: parts [{label, value, cls}], scaled to `max`.
/// Returns an HTML element (div) usable in a table or list.
export function stackBar(parts, max) {
  const bar = document.createElement('div');
  bar.className = 'stack';
  for (const p of parts) {
    if (!(p.value > 0) || !(max > 0)) continue;
    const seg = document.createElement('span');
    seg.className = `stack-seg ${p.cls || ''}`;
    seg.style.width = `${Math.max(0.5, (100 * p.value) / max)}%`;
    seg.title = p.label;
    bar.appendChild(seg);
  }
  return bar;
}
