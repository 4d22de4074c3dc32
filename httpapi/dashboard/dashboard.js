// walship dashboard: polls /api/v1/status and /api/v1/history every second
// and draws the sinks' lag on canvases. Vanilla JS, no libraries, nothing
// fetched from anywhere but the daemon itself.
'use strict';
(() => {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 3000;
  const KEEP_MS = 10 * 60 * 1000 + 30 * 1000; // the server keeps ten minutes
  const GAP_MS = 3500; // samples further apart than this are not joined
  const HEALTHY = new Set(['streaming', 'applying']);
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#d62728', '#17becf', '#8c564b', '#e377c2',
    '#bcbd22', '#7f7f7f', '#393b79', '#637939', '#ad494a', '#3182bd', '#e6550d', '#31a354'];

  // Everything the page knows; exposed for tests and debugging.
  const st = {
    status: null, history: {}, historyError: '', connection: 'connecting', connError: '',
    downSince: 0, lastOk: 0, polls: 0, failures: 0,
    windowSec: 300, volumeMetric: 'lag_bytes', hidden: new Set(), colors: new Map(), hover: null,
  };
  window.walshipDashboard = st;

  const $ = (sel) => document.querySelector(sel);
  const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) =>
    ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const nf0 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);

  // ---------- formatting ----------
  function fmtSeconds(v) {
    v = num(v);
    if (v === 0) return '0 s';
    if (v < 1) return nf0.format(v * 1000) + ' ms';
    if (v < 60) return nf1.format(v) + ' s';
    if (v < 3600) return nf1.format(v / 60) + ' min';
    return nf1.format(v / 3600) + ' h';
  }
  function fmtBytes(v) {
    v = num(v);
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i === 0 ? nf0.format(v) : nf1.format(v)) + ' ' + units[i];
  }
  const fmtCount = (v) => nf0.format(num(v));
  const fmtRate = (v) => nf1.format(num(v));
  const pad = (n) => String(n).padStart(2, '0');
  function fmtClock(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function fmtAgo(ms, now) {
    const s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  function stateClass(state) {
    if (HEALTHY.has(state)) return 's-ok';
    if (state === 'starting' || state === 'snapshotting') return 's-info';
    if (state === 'paused' || state === 'backoff') return 's-warn';
    if (state === 'failed') return 's-bad';
    return '';
  }

  // ---------- fetching ----------
  async function fetchJSON(url) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(url, { cache: 'no-store', signal: ctl.signal, headers: { Accept: 'application/json' } });
      if (!r.ok) {
        const body = (await r.text()).trim().slice(0, 200);
        throw new Error('HTTP ' + r.status + (body ? ': ' + body : ''));
      }
      return await r.json();
    } catch (e) {
      if (e && e.name === 'AbortError') throw new Error('no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s');
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  // historyURL asks only for samples newer than the ones held, when every
  // known sink has some; a server that ignores "since" sends everything,
  // which mergeHistory handles the same way.
  function historyURL() {
    const names = sinkNames();
    let since = null;
    for (const n of names) {
      const h = st.history[n];
      if (!h || !h.length) return 'api/v1/history';
      const last = h[h.length - 1];
      if (!since || last.t < since.t) since = last;
    }
    return since ? 'api/v1/history?since=' + encodeURIComponent(since.ts) : 'api/v1/history';
  }

  function mergeHistory(doc) {
    const sinks = (doc && doc.sinks) || {};
    let newest = 0;
    for (const [name, raw] of Object.entries(sinks)) {
      const inc = [];
      for (const s of raw || []) {
        const t = Date.parse(s.t);
        if (isNaN(t)) continue;
        inc.push({
          t, ts: s.t, lag_seconds: num(s.lag_seconds), lag_bytes: num(s.lag_bytes),
          lag_transactions: num(s.lag_transactions), tps: num(s.transactions_per_second), state: s.state || '',
        });
      }
      inc.sort((a, b) => a.t - b.t);
      const cur = st.history[name];
      if (!cur || !cur.length) {
        st.history[name] = inc;
      } else {
        const last = cur[cur.length - 1].t;
        for (const s of inc) if (s.t > last) cur.push(s);
      }
      const h = st.history[name];
      if (h.length) newest = Math.max(newest, h[h.length - 1].t);
    }
    for (const name of Object.keys(st.history)) {
      const h = st.history[name];
      let i = 0;
      while (i < h.length && h[i].t < newest - KEEP_MS) i++;
      if (i) h.splice(0, i);
    }
  }

  async function poll() {
    st.polls++;
    const [sres, hres] = await Promise.allSettled([fetchJSON('api/v1/status'), fetchJSON(historyURL())]);
    if (sres.status === 'fulfilled' && sres.value && typeof sres.value === 'object') {
      st.status = sres.value;
      st.lastOk = Date.now();
      st.downSince = 0;
      st.connError = '';
      st.connection = 'ok';
      for (const s of st.status.sinks || []) color(s.name);
      // Forget sinks that are no longer configured.
      const known = new Set(sinkNames());
      for (const n of Object.keys(st.history)) if (!known.has(n)) delete st.history[n];
    } else {
      st.failures++;
      if (!st.downSince) st.downSince = Date.now();
      st.connection = 'unreachable';
      st.connError = sres.status === 'rejected' ? String(sres.reason && sres.reason.message || sres.reason) : 'bad status document';
    }
    if (hres.status === 'fulfilled') {
      mergeHistory(hres.value);
      st.historyError = '';
    } else if (st.connection === 'ok') {
      st.historyError = String(hres.reason && hres.reason.message || hres.reason);
    }
    render();
  }

  async function loop() {
    const started = Date.now();
    try {
      await poll();
    } catch (e) {
      console.error('walship dashboard:', e);
    }
    setTimeout(loop, Math.max(50, POLL_MS - (Date.now() - started)));
  }

  // ---------- model helpers ----------
  function sinkNames() {
    const names = [];
    const seen = new Set();
    for (const s of (st.status && st.status.sinks) || []) if (!seen.has(s.name)) { seen.add(s.name); names.push(s.name); }
    if (!st.status) for (const n of Object.keys(st.history)) if (!seen.has(n)) { seen.add(n); names.push(n); }
    return names;
  }
  function color(name) {
    let c = st.colors.get(name);
    if (!c) {
      const i = st.colors.size;
      c = i < PALETTE.length ? PALETTE[i] : 'hsl(' + ((i * 137.508) % 360).toFixed(0) + ',62%,42%)';
      st.colors.set(name, c);
    }
    return c;
  }
  function serverNow() {
    const t = st.status && Date.parse(st.status.time);
    if (t && !isNaN(t)) return t;
    let newest = 0;
    for (const h of Object.values(st.history)) if (h.length) newest = Math.max(newest, h[h.length - 1].t);
    return newest || Date.now();
  }
  function sinkTotals(s) {
    let bytes = 0, txns = 0;
    for (const p of s.sources || []) { bytes += num(p.lag_bytes); txns += num(p.lag_transactions); }
    return { bytes, txns };
  }

  // ---------- rendering ----------
  function render() {
    renderHeader();
    renderSummary();
    renderLegend();
    renderCharts();
    renderCluster();
    renderSinks();
    renderSources();
  }

  function renderHeader() {
    document.body.dataset.connection = st.connection;
    const conn = $('#conn');
    conn.dataset.state = st.connection;
    conn.textContent = st.connection === 'ok' ? 'live' : st.connection === 'unreachable' ? 'daemon unreachable' : 'connecting…';
    $('#version').textContent = st.status && st.status.version ? 'version ' + st.status.version : '';
    $('#updated').textContent = st.lastOk ? 'updated ' + fmtClock(st.lastOk) : '';
    const banner = $('#unreachable');
    banner.hidden = st.connection !== 'unreachable';
    if (!banner.hidden) {
      $('#unreachable-detail').textContent = 'since ' + fmtClock(st.downSince) + ' (' + st.connError + ')';
    }
  }

  function stateCounts(list) {
    const counts = new Map();
    for (const x of list) counts.set(x.state || 'unknown', (counts.get(x.state || 'unknown') || 0) + 1);
    return [...counts.entries()].map(([k, n]) => '<span class="' + stateClass(k) + '">' + n + ' ' + esc(k) + '</span>').join(' · ');
  }

  function renderSummary() {
    const s = st.status;
    if (!s) return;
    const sources = s.sources || [], sinks = s.sinks || [];
    $('#card-sources').textContent = String(sources.length);
    $('#card-sources-sub').innerHTML = sources.length ? stateCounts(sources) : 'none configured here';
    $('#card-sinks').textContent = String(sinks.length);
    $('#card-sinks-sub').innerHTML = sinks.length ? stateCounts(sinks) : 'none configured here';
    let worst = null;
    for (const k of sinks) if (!worst || num(k.lag_seconds) > num(worst.lag_seconds)) worst = k;
    $('#card-lag').textContent = worst ? fmtSeconds(worst.lag_seconds) : '–';
    const stuck = sinks.filter((k) => !HEALTHY.has(k.state)).map((k) => k.name + ' ' + k.state);
    $('#card-lag-sub').textContent = !worst ? '' : num(worst.lag_seconds) > 0 ? 'sink ' + worst.name
      : stuck.length ? 'caught up, except ' + stuck.join(', ') : 'every sink caught up';
    let tps = 0, rps = 0;
    for (const x of sources) { tps += num(x.transactions_per_second); rps += num(x.rows_per_second); }
    if (!sources.length) for (const x of sinks) { tps += num(x.transactions_per_second); rps += num(x.rows_per_second); }
    $('#card-tps').textContent = fmtRate(tps) + ' txns/s';
    $('#card-tps-sub').textContent = fmtRate(rps) + ' rows/s' + (sources.length ? ' from the sources' : ' applied');
  }

  function renderLegend() {
    const legend = $('#legend');
    const names = sinkNames();
    const byName = new Map(((st.status && st.status.sinks) || []).map((s) => [s.name, s]));
    const items = new Map([...legend.children].map((e) => [e.dataset.sink, e]));
    names.forEach((name, i) => {
      let item = items.get(name);
      if (!item) {
        item = document.createElement('button');
        item.type = 'button';
        item.className = 'legend-item';
        item.dataset.sink = name;
        item.title = 'show or hide ' + name;
        const sw = document.createElement('span');
        sw.className = 'swatch';
        const label = document.createElement('span');
        label.className = 'label';
        label.textContent = name;
        const val = document.createElement('span');
        val.className = 'val';
        item.append(sw, label, val);
        item.addEventListener('click', () => {
          if (st.hidden.has(name)) st.hidden.delete(name); else st.hidden.add(name);
          renderLegend();
          renderCharts();
        });
      }
      if (legend.children[i] !== item) legend.insertBefore(item, legend.children[i] || null);
      items.delete(name);
      item.querySelector('.swatch').style.background = color(name);
      item.classList.toggle('off', st.hidden.has(name));
      const s = byName.get(name);
      item.querySelector('.val').textContent = s ? fmtSeconds(s.lag_seconds) : '';
    });
    for (const e of items.values()) e.remove();
  }

  // ---------- charts ----------
  const KINDS = {
    lag_seconds: { kind: 'seconds', title: 'lag', fmt: fmtSeconds },
    lag_bytes: { kind: 'bytes', title: 'lag', fmt: fmtBytes },
    lag_transactions: { kind: 'count', title: 'lag', fmt: (v) => fmtCount(v) + ' txns' },
  };

  // scaleFor picks the axis unit for the largest value shown.
  function scaleFor(kind, max) {
    if (kind === 'seconds') {
      if (max < 1) return { div: 0.001, unit: 'ms' };
      if (max < 120) return { div: 1, unit: 's' };
      if (max < 7200) return { div: 60, unit: 'min' };
      return { div: 3600, unit: 'h' };
    }
    if (kind === 'bytes') {
      const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
      let div = 1, i = 0;
      while (max / div >= 1024 && i < units.length - 1) { div *= 1024; i++; }
      return { div, unit: units[i] };
    }
    if (max >= 1e6) return { div: 1e6, unit: 'million transactions' };
    if (max >= 1e4) return { div: 1e3, unit: 'thousand transactions' };
    return { div: 1, unit: 'transactions' };
  }
  function niceStep(raw, integer) {
    const exp = Math.floor(Math.log10(raw));
    const f = raw / Math.pow(10, exp);
    const nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    let step = nf * Math.pow(10, exp);
    if (integer) step = Math.max(1, Math.round(step));
    return step;
  }
  function minMax(kind) { return kind === 'seconds' ? 0.1 : kind === 'bytes' ? 1024 : 5; }

  function renderCharts() {
    const vol = st.volumeMetric;
    const volCanvas = $('#lag-volume-chart');
    volCanvas.dataset.metric = vol;
    $('#volume-caption').innerHTML = vol === 'lag_bytes'
      ? 'Byte lag <span class="muted">(WAL bytes between the newest change seen and the last applied)</span>'
      : 'Transaction lag <span class="muted">(transactions seen and not yet applied)</span>';
    drawChart($('#lag-chart'), 'lag_seconds');
    drawChart(volCanvas, vol);
  }

  function drawChart(canvas, metric) {
    const spec = KINDS[metric];
    const dpr = window.devicePixelRatio || 1;
    const cssW = Math.max(200, canvas.clientWidth), cssH = Math.max(120, canvas.clientHeight);
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);
    const m = { l: 62, r: 14, t: 12, b: 40 };
    const pw = cssW - m.l - m.r, ph = cssH - m.t - m.b;
    const now = serverNow();
    // The window, or less while the history is younger (at least a minute).
    let earliest = now;
    for (const name of sinkNames()) {
      const h = st.history[name];
      if (h && h.length && !st.hidden.has(name)) earliest = Math.min(earliest, h[0].t);
    }
    const span = Math.min(st.windowSec * 1000, Math.max(60 * 1000, Math.ceil((now - earliest) / 60000) * 60000));
    const t0 = now - span;

    // The samples in the window, plus the one before it so lines reach the edge.
    const series = [];
    let max = 0;
    for (const name of sinkNames()) {
      if (st.hidden.has(name)) continue;
      const h = st.history[name] || [];
      let i = h.length;
      while (i > 0 && h[i - 1].t >= t0) i--;
      const from = Math.max(0, i - 1);
      const pts = h.slice(from).filter((p) => p.t <= now + 2000);
      for (const p of pts) if (p.t >= t0) max = Math.max(max, p[metric]);
      series.push({ name, color: color(name), pts });
    }
    const scale = scaleFor(spec.kind, Math.max(max, minMax(spec.kind)));
    const topRaw = Math.max(max, minMax(spec.kind)) / scale.div;
    const step = niceStep(topRaw / 4, spec.kind === 'count' && scale.div === 1);
    const top = Math.max(step, Math.ceil(topRaw / step - 1e-9) * step);
    const X = (t) => m.l + ((t - t0) / span) * pw;
    const Y = (v) => m.t + ph - (v / scale.div / top) * ph;

    // Grid and y axis.
    ctx.font = '11px system-ui, "DejaVu Sans", sans-serif';
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#eef1f5';
    ctx.fillStyle = '#687184';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    let decimals = 0;
    while (decimals < 4 && Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-9) decimals++;
    for (let i = 0; i * step <= top + step / 2; i++) {
      const v = i * step;
      const y = Math.round(m.t + ph - (v / top) * ph) + 0.5;
      ctx.beginPath(); ctx.moveTo(m.l, y); ctx.lineTo(m.l + pw, y); ctx.stroke();
      ctx.fillText(v.toFixed(decimals), m.l - 6, y);
    }
    // x axis: clock times of the server.
    const labelW = ctx.measureText('00:00:00').width + 12;
    const xStep = [5000, 10000, 15000, 30000, 60000, 120000, 300000].find((s) => (s / span) * pw >= labelW) || 600000;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let t = Math.ceil(t0 / xStep) * xStep; t <= now; t += xStep) {
      const x = Math.round(X(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, m.t); ctx.lineTo(x, m.t + ph); ctx.stroke();
      if (x + labelW / 2 - 6 <= cssW) ctx.fillText(fmtClock(t), x, m.t + ph + 5);
    }
    ctx.strokeStyle = '#c4cad4';
    ctx.beginPath(); ctx.moveTo(m.l + 0.5, m.t); ctx.lineTo(m.l + 0.5, m.t + ph + 0.5); ctx.lineTo(m.l + pw, m.t + ph + 0.5); ctx.stroke();
    // Axis titles.
    ctx.fillStyle = '#4b5363';
    ctx.font = '12px system-ui, "DejaVu Sans", sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    ctx.fillText('time (server clock, last ' + (span / 60000) + ' min)', m.l + pw / 2, cssH - 2);
    ctx.save();
    ctx.translate(13, m.t + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(spec.title + ' (' + scale.unit + ')', 0, 0);
    ctx.restore();

    // Lines: solid while the sink applies, dashed otherwise; broken at gaps.
    ctx.save();
    ctx.beginPath(); ctx.rect(m.l, m.t - 4, pw + 4, ph + 8); ctx.clip();
    let points = 0, withPoints = 0, lastT = 0;
    const perSeries = [];
    for (const s of series) {
      let n = 0;
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = 2;
      ctx.lineJoin = 'round';
      let prev = null, dashed = null, open = false;
      const flush = () => { if (open) { ctx.stroke(); open = false; } };
      for (const p of s.pts) {
        const x = X(p.t), y = Y(p[metric]);
        const bad = !HEALTHY.has(p.state);
        if (prev && p.t - prev.t <= GAP_MS) {
          if (!open || bad !== dashed) {
            flush();
            ctx.setLineDash(bad ? [5, 4] : []);
            dashed = bad;
            ctx.beginPath();
            ctx.moveTo(prev.x, prev.y);
            open = true;
          }
          ctx.lineTo(x, y);
        } else {
          flush();
          ctx.setLineDash([]);
          ctx.beginPath(); ctx.arc(x, y, 2, 0, 2 * Math.PI); ctx.fill();
        }
        prev = { t: p.t, x, y };
        if (p.t >= t0) { n++; lastT = Math.max(lastT, p.t); }
      }
      flush();
      ctx.setLineDash([]);
      if (prev) { ctx.beginPath(); ctx.arc(prev.x, prev.y, 3, 0, 2 * Math.PI); ctx.fill(); }
      points += n;
      if (n) withPoints++;
      perSeries.push(s.name + ':' + n);
    }
    ctx.restore();

    // Hover: a vertical line and the values nearest to it.
    const box = canvas.parentElement;
    const tip = box.querySelector('.tooltip');
    if (st.hover && st.hover.canvas === canvas.id && st.hover.x >= m.l && st.hover.x <= m.l + pw && series.length) {
      const t = t0 + ((st.hover.x - m.l) / pw) * span;
      ctx.strokeStyle = '#9aa3b2';
      ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(st.hover.x + 0.5, m.t); ctx.lineTo(st.hover.x + 0.5, m.t + ph); ctx.stroke();
      const rows = [];
      for (const s of series) {
        const p = nearest(s.pts, t);
        if (p && Math.abs(p.t - t) <= GAP_MS) rows.push({ s, p });
      }
      rows.sort((a, b) => b.p[metric] - a.p[metric]);
      tip.innerHTML = '<div>' + esc(fmtClock(t)) + '</div>' + rows.map(({ s, p }) =>
        '<div class="row"><span class="swatch" data-color="' + esc(s.color) + '"></span>' + esc(s.name) +
        (HEALTHY.has(p.state) ? '' : ' <i>(' + esc(p.state) + ')</i>') + '<b>' + esc(spec.fmt(p[metric])) + '</b></div>').join('');
      for (const sw of tip.querySelectorAll('.swatch')) sw.style.background = sw.dataset.color;
      tip.hidden = false;
      const left = st.hover.x + 14;
      tip.style.left = (left + tip.offsetWidth > cssW ? st.hover.x - tip.offsetWidth - 14 : left) + 'px';
    } else {
      tip.hidden = true;
    }

    if (!points) {
      ctx.fillStyle = '#687184';
      ctx.font = '13px system-ui, "DejaVu Sans", sans-serif';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      let msg = 'waiting for samples…';
      if (st.connection === 'unreachable') msg = 'no data: daemon unreachable';
      else if (st.historyError) msg = 'history unavailable: ' + st.historyError;
      else if (st.status && !(st.status.sinks || []).length) msg = 'no sinks in this daemon';
      else if (series.length === 0 && sinkNames().length) msg = 'every sink is hidden';
      ctx.fillText(msg.slice(0, 90), m.l + pw / 2, m.t + ph / 2);
    }
    const d = canvas.dataset;
    d.points = String(points);
    d.series = String(withPoints);
    d.seriesPoints = perSeries.join(',');
    d.unit = scale.unit;
    d.max = String(max);
    d.last = lastT ? new Date(lastT).toISOString() : '';
  }

  function nearest(pts, t) {
    let lo = 0, hi = pts.length - 1;
    if (hi < 0) return null;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pts[mid].t < t) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(pts[lo - 1].t - t) < Math.abs(pts[lo].t - t)) lo--;
    return pts[lo];
  }

  // ---------- tables ----------
  // setHTML replaces a cell's content only when it changed, so selecting
  // text (an error message) survives the next poll.
  function setHTML(td, html) {
    if (td._html !== html) { td.innerHTML = html; td._html = html; }
  }
  function errorHTML(x, now) {
    if (!x.last_error) return '';
    const t = x.error_time ? Date.parse(x.error_time) : NaN;
    const when = isNaN(t) ? '' : '<span class="error-time" title="' + esc(x.error_time) + '">' + esc(fmtClock(t)) +
      ' <span class="ago">(' + esc(fmtAgo(t, now)) + ')</span></span>';
    const recovered = HEALTHY.has(x.state);
    return '<div class="error' + (recovered ? ' recovered' : '') + '" data-error-time="' + esc(x.error_time || '') + '">' + when +
      (recovered ? '<span class="recovered-tag">recovered</span>' : '') +
      '<span class="error-text">' + esc(x.last_error) + '</span></div>';
  }
  function stateHTML(state, owner) {
    return '<span class="pill">' + esc(state || 'unknown') + '</span>' +
      (owner && state === 'standby' ? ' <span class="muted owner">on ' + esc(owner) + '</span>' : '');
  }

  // renderCluster lists a cluster's members and what each runs (cluster
  // mode only): a component another member runs is "standby" here.
  function renderCluster() {
    const c = st.status && st.status.cluster;
    const panel = $('#cluster-panel');
    panel.hidden = !c;
    if (!c) return;
    $('#cluster-sub').textContent = c.name + ' · generation ' + c.generation + ' · this is ' + c.member +
      (c.error ? ' · members not listed: ' + c.error : '');
    const members = (c.members || []).map((m) => Object.assign({}, m, { name: m.member + '/' + m.id }));
    syncRows($('#cluster-table tbody'), members, 'member', 3, (cells, m) => {
      cells[0].className = 'name';
      setHTML(cells[0], esc(m.member) + (m.self ? ' <span class="muted">(this one)</span>' : ''));
      setHTML(cells[1], m.advertise ? '<a href="http://' + esc(m.advertise) + '/">' + esc(m.advertise) + '</a>' : '<span class="muted">–</span>');
      setHTML(cells[2], m.config_mismatch ? '<span class="error-text">none: its configuration names other components</span>'
        : esc((m.components || []).join(', ')) || '<span class="muted">none</span>');
    }, 'no members');
  }
  function posHTML(v) {
    return v ? '<code title="' + esc(v) + '">' + esc(v) + '</code>' : '<span class="muted">–</span>';
  }

  // syncRows keeps one <tr> per item, keyed by name, in the given order.
  function syncRows(tbody, items, attr, ncols, fill, emptyText) {
    const rows = new Map();
    for (const tr of [...tbody.children]) {
      if (tr.dataset[attr] !== undefined) rows.set(tr.dataset[attr], tr); else tr.remove();
    }
    if (!items.length) {
      tbody.innerHTML = '<tr><td class="empty" colspan="' + ncols + '">' + esc(emptyText) + '</td></tr>';
      return;
    }
    items.forEach((item, i) => {
      let tr = rows.get(item.name);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset[attr] = item.name;
        for (let c = 0; c < ncols; c++) tr.appendChild(document.createElement('td'));
      }
      rows.delete(item.name);
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
      fill(tr.children, item);
      tr.dataset.state = item.state || '';
    });
    for (const tr of rows.values()) tr.remove();
  }

  function renderSinks() {
    if (!st.status) return;
    const sinks = st.status.sinks || [];
    const now = serverNow();
    $('#sinks-count').textContent = sinks.length + (sinks.length === 1 ? ' sink' : ' sinks');
    syncRows($('#sinks-table tbody'), sinks, 'sink', 11, (c, s) => {
      const tot = sinkTotals(s);
      c[0].className = 'name';
      setHTML(c[0], '<span class="swatch" data-sink-color></span>' + esc(s.name));
      c[0].firstChild.style.background = color(s.name);
      c[1].className = 'state';
      c[1].dataset.state = s.state || '';
      // Conflicts settled (conflicts:): the total, each table, kind and
      // resolution in the title.
      const conflicts = num(s.conflicts_total) > 0 ? ' <span class="muted conflicts" title="' +
        esc((s.conflicts || []).map((x) => x.table + ' ' + x.kind + ' → ' + x.resolution + ': ' + x.count).join('\n')) + '">· ' +
        esc(fmtCount(s.conflicts_total)) + ' conflict' + (num(s.conflicts_total) === 1 ? '' : 's') + '</span>' : '';
      setHTML(c[1], stateHTML(s.state, s.owner) + (s.building ? ' <span class="muted" title="building a follower index">· building ' + esc(s.building) + '</span>' : '') + conflicts);
      const nums = [fmtSeconds(s.lag_seconds), fmtBytes(tot.bytes), fmtCount(tot.txns), fmtRate(s.transactions_per_second),
        fmtRate(s.rows_per_second), fmtCount(s.applied_transactions), fmtCount(s.applied_changes)];
      const cls = ['lag num', 'lag-bytes num', 'lag-txns num', 'tps num', 'rps num', 'applied num', 'changes num'];
      nums.forEach((v, i) => { c[2 + i].className = cls[i]; setHTML(c[2 + i], esc(v)); });
      c[9].className = 'err-cell';
      setHTML(c[9], errorHTML(s, now));
      c[10].className = 'positions';
      setHTML(c[10], (s.sources || []).map((p) => {
        const kl = p.kafka_lag ? Object.values(p.kafka_lag).reduce((a, b) => a + num(b), 0) : null;
        const commit = p.applied_commit ? Date.parse(p.applied_commit) : NaN;
        return '<div class="pos" data-source="' + esc(p.source) + '"><span class="src">' + esc(p.source) + '</span> ' +
          '<span class="kv">applied ' + posHTML(p.applied) + '</span> <span class="kv">newest ' + posHTML(p.newest) + '</span>' +
          (isNaN(commit) ? '' : ' <span class="kv">commit ' + esc(fmtClock(commit)) + '</span>') +
          ' <span class="kv">lag ' + esc(fmtSeconds(p.lag_seconds)) + '</span>' +
          (kl == null ? '' : ' <span class="kv" title="' + esc(Object.entries(p.kafka_lag).map(([k, v]) => k + ': ' + v).join('\n')) +
            '">kafka lag ' + esc(fmtCount(kl)) + '</span>') + '</div>';
      }).join('') || '<span class="muted">–</span>');
    }, 'no sinks in this daemon');
  }

  function renderSources() {
    if (!st.status) return;
    const sources = st.status.sources || [];
    const now = serverNow();
    $('#sources-count').textContent = sources.length + (sources.length === 1 ? ' source' : ' sources');
    syncRows($('#sources-table tbody'), sources, 'source', 13, (c, s) => {
      c[0].className = 'name';
      setHTML(c[0], esc(s.name));
      setHTML(c[1], esc(s.engine));
      c[2].className = 'state';
      c[2].dataset.state = s.state || '';
      // Incremental snapshots: a progress bar each.
      const snaps = (s.snapshots || []).map((b) => {
        const pct = b.estimated_rows > 0 ? Math.min(100, Math.round(100 * b.rows / b.estimated_rows)) : 0;
        // delete_unseen: the followers' rows the source lost go too (but in
        // the tables listed as unpruned).
        const prune = b.delete_unseen ? ' · deleting rows not seen' +
          ((b.unpruned || []).length ? ' (not in ' + esc(b.unpruned.join(', ')) + ')' : '') : '';
        return '<div class="snapshot" title="incremental snapshot ' + esc(b.id) + ' of ' + esc((b.tables || []).join(', ')) + '">' +
          '<progress max="100" value="' + pct + '"></progress> <span class="muted">' + esc(b.table || '') + ' ' + pct + '%' + prune +
          (b.paused ? ' · paused' : (b.eta_seconds > 0 ? ' · ' + esc(fmtSeconds(b.eta_seconds)) + ' left' : '')) + '</span></div>';
      }).join('');
      const ignored = num(s.ignored_transactions) > 0 ? ' <span class="muted ignored" title="written by sinks this source ignores (ignore_writes_of)">· ' +
        esc(fmtCount(s.ignored_transactions)) + ' left out</span>' : '';
      setHTML(c[2], stateHTML(s.state, s.owner) + ignored + snaps);
      c[3].className = 'position head';
      setHTML(c[3], posHTML(s.head));
      c[4].className = 'position acked';
      setHTML(c[4], posHTML(s.acked));
      const nums = [fmtBytes(s.lag_bytes), fmtRate(s.transactions_per_second), fmtRate(s.rows_per_second),
        fmtCount(s.transactions), fmtCount(s.events), fmtCount(s.snapshot_rows)];
      const cls = ['lag-bytes num', 'tps num', 'rps num', 'transactions num', 'events num', 'snapshot num'];
      nums.forEach((v, i) => { c[5 + i].className = cls[i]; setHTML(c[5 + i], esc(v)); });
      // The server followed, and the failovers since the daemon started.
      c[11].className = 'leader';
      const fo = num(s.failovers) > 0 ? ' <span class="muted">· ' + esc(fmtCount(s.failovers)) + ' failover' +
        (num(s.failovers) === 1 ? '' : 's') + (s.last_failover ? ', last ' + esc(s.last_failover) : '') + '</span>' : '';
      setHTML(c[11], (s.leader ? esc(s.leader) : '<span class="muted">–</span>') + (s.failover_slot ? ' <span class="muted">· failover slot</span>' : '') + fo);
      c[12].className = 'err-cell';
      setHTML(c[12], errorHTML(s, now));
    }, 'no sources captured by this daemon');
  }

  // ---------- controls ----------
  function segmented(id, key, apply) {
    const group = document.getElementById(id);
    group.addEventListener('click', (e) => {
      const b = e.target.closest('button');
      if (!b) return;
      for (const x of group.children) x.classList.toggle('on', x === b);
      apply(b.dataset[key]);
      renderCharts();
    });
  }
  function init() {
    segmented('window-buttons', 'window', (v) => { st.windowSec = Number(v) || 300; });
    segmented('volume-buttons', 'metric', (v) => { st.volumeMetric = KINDS[v] ? v : 'lag_bytes'; });
    for (const canvas of document.querySelectorAll('canvas')) {
      canvas.addEventListener('mousemove', (e) => {
        const r = canvas.getBoundingClientRect();
        st.hover = { canvas: canvas.id, x: e.clientX - r.left };
        renderCharts();
      });
      canvas.addEventListener('mouseleave', () => { st.hover = null; renderCharts(); });
    }
    let pending = 0;
    window.addEventListener('resize', () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(renderCharts);
    });
    render();
    loop();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
