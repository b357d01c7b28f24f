// The timeline view: the Perfetto trace JSON of one strategy's run (report/trace-perfetto.ts,
// the bytes `irqlab run --strategy S --trace` writes) drawn as lanes, one per host pCPU and one
// per vCPU: VM exits (B/E slices on a pCPU) and guest handlers (X slices on a vCPU) as spans,
// host interrupts, IPIs and notifications (instant events) as marks. Zoom with the buttons, the
// wheel or +/-; pan with drag or the arrow keys. The download is the same JSON.

import { el } from './dom.js';

interface Span {
  readonly lane: number;
  readonly from: number;
  readonly to: number;
  readonly name: string;
}

export interface Timeline {
  readonly lanes: readonly string[];
  readonly spans: readonly Span[];
  /** Instant events: `to` equals `from`. */
  readonly marks: readonly Span[];
  readonly endUs: number;
}

interface TraceEvent {
  readonly name?: string;
  readonly ph: string;
  readonly ts: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid: number;
  readonly args?: { readonly name?: string };
}

/** The host process (pid 1) and the VM processes (pid 10 on) of the Perfetto writer; the
 *  host's pCPU threads are its threads below the dmar thread. */
const HOST_PID = 1;
const FIRST_VM_PID = 10;
const HOST_NON_CPU_TID = 100000;

export function timelineOf(perfetto: string): Timeline {
  const events = (JSON.parse(perfetto) as { traceEvents: TraceEvent[] }).traceEvents;
  const processes = new Map<number, string>();
  const laneIds = new Map<string, number>();
  const lanes: string[] = [];
  const keyOf = (e: TraceEvent) => `${e.pid}/${e.tid}`;
  const isLane = (e: TraceEvent) =>
    (e.pid === HOST_PID && e.tid < HOST_NON_CPU_TID) || e.pid >= FIRST_VM_PID;
  for (const e of events) {
    if (e.ph !== 'M') continue;
    if (e.name === 'process_name') processes.set(e.pid, e.args?.name ?? String(e.pid));
    else if (e.name === 'thread_name' && isLane(e)) {
      laneIds.set(keyOf(e), lanes.length);
      lanes.push(`${processes.get(e.pid) ?? e.pid} ${e.args?.name ?? e.tid}`);
    }
  }
  const spans: Span[] = [];
  const marks: Span[] = [];
  const open = new Map<number, { from: number; name: string }>();
  let endUs = 0;
  for (const e of events) {
    const lane = laneIds.get(keyOf(e));
    if (e.ph !== 'M') endUs = Math.max(endUs, e.ts + (e.dur ?? 0));
    if (lane === undefined) continue;
    if (e.ph === 'X') spans.push({ lane, from: e.ts, to: e.ts + (e.dur ?? 0), name: e.name ?? '' });
    else if (e.ph === 'B') open.set(lane, { from: e.ts, name: e.name ?? '' });
    else if (e.ph === 'E') {
      const b = open.get(lane);
      if (b) spans.push({ lane, from: b.from, to: e.ts, name: b.name });
      open.delete(lane);
    } else if (e.ph === 'i') marks.push({ lane, from: e.ts, to: e.ts, name: e.name ?? '' });
  }
  for (const [lane, b] of open) spans.push({ lane, from: b.from, to: endUs, name: b.name });
  return { lanes, spans, marks, endUs };
}

const LANE_H = 22;
const LABEL_W = 110;
const AXIS_H = 22;
let resizing: ResizeObserver | null = null;

const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#76b7b2',
  '#edc948',
  '#b07aa1',
  '#9c755f',
];

export function renderTimeline(
  host: HTMLElement,
  t: Timeline,
  download: () => void,
  title: string,
): void {
  const canvas = el('canvas', {
    tabindex: '0',
    'aria-label': `timeline of ${title}: +/- zoom, arrows pan, 0 resets`,
  });
  const status = el(
    'p',
    { class: 'status', 'aria-live': 'polite' },
    `${t.spans.length} spans, ${t.marks.length} marks over ${Math.round(t.endUs)} us`,
  );
  const button = (label: string, act: () => void, aria = label) => {
    const b = el('button', { type: 'button', 'aria-label': aria }, label);
    b.addEventListener('click', act);
    return b;
  };
  let view = { from: 0, to: Math.max(t.endUs, 1) };
  const names = [...new Set(t.spans.map((s) => s.name))];
  const color = (name: string) => PALETTE[names.indexOf(name) % PALETTE.length];
  const draw = () => {
    const width = Math.max(320, host.clientWidth - 8);
    const height = AXIS_H + t.lanes.length * LANE_H;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const g = canvas.getContext('2d');
    if (!g) return;
    g.scale(ratio, ratio);
    g.fillStyle = '#fff';
    g.fillRect(0, 0, width, height);
    const plotW = width - LABEL_W;
    const x = (us: number) => LABEL_W + ((us - view.from) / (view.to - view.from)) * plotW;
    g.font = '12px system-ui, sans-serif';
    g.fillStyle = '#222';
    g.textAlign = 'left';
    t.lanes.forEach((name, i) => {
      const y = AXIS_H + i * LANE_H;
      g.fillStyle = i % 2 === 0 ? '#f4f6f8' : '#fff';
      g.fillRect(0, y, width, LANE_H);
      g.fillStyle = '#222';
      g.fillText(name, 4, y + 15);
    });
    for (let k = 0; k <= 5; k++) {
      const us = view.from + ((view.to - view.from) * k) / 5;
      const px = x(us);
      g.fillStyle = '#555';
      g.fillRect(px, AXIS_H - 4, 1, 4);
      g.textAlign = k === 0 ? 'left' : k === 5 ? 'right' : 'center';
      g.fillText(`${us.toFixed(us < 10 ? 2 : 0)} us`, px, 12);
    }
    g.save();
    g.beginPath();
    g.rect(LABEL_W, AXIS_H, plotW, height - AXIS_H);
    g.clip();
    for (const s of t.spans) {
      if (s.to < view.from || s.from > view.to) continue;
      g.fillStyle = color(s.name);
      const x0 = x(s.from);
      g.fillRect(x0, AXIS_H + s.lane * LANE_H + 4, Math.max(1, x(s.to) - x0), LANE_H - 8);
    }
    g.fillStyle = '#111';
    for (const m of t.marks) {
      if (m.from < view.from || m.from > view.to) continue;
      const px = x(m.from);
      const y = AXIS_H + m.lane * LANE_H;
      g.beginPath();
      g.moveTo(px, y + 2);
      g.lineTo(px + 3, y + 7);
      g.lineTo(px - 3, y + 7);
      g.fill();
    }
    g.restore();
  };
  const zoom = (factor: number, centre = (view.from + view.to) / 2) => {
    const span = Math.min(Math.max((view.to - view.from) * factor, 0.01), Math.max(t.endUs, 1));
    const from = Math.max(0, centre - (centre - view.from) * (span / (view.to - view.from)));
    view = { from, to: from + span };
    draw();
  };
  const pan = (fraction: number) => {
    const span = view.to - view.from;
    const from = Math.min(Math.max(0, view.from + span * fraction), Math.max(0, t.endUs - span));
    view = { from, to: from + span };
    draw();
  };
  const reset = () => {
    view = { from: 0, to: Math.max(t.endUs, 1) };
    draw();
  };
  const usAt = (px: number) =>
    view.from + ((px - LABEL_W) / (canvas.clientWidth - LABEL_W)) * (view.to - view.from);
  canvas.addEventListener('wheel', (e) => {
    e.preventDefault();
    zoom(e.deltaY > 0 ? 1.25 : 0.8, usAt(e.offsetX));
  });
  canvas.addEventListener('keydown', (e) => {
    const act: Record<string, () => void> = {
      '+': () => zoom(0.5),
      '=': () => zoom(0.5),
      '-': () => zoom(2),
      ArrowLeft: () => pan(-0.2),
      ArrowRight: () => pan(0.2),
      '0': reset,
    };
    if (act[e.key]) {
      e.preventDefault();
      act[e.key]();
    }
  });
  let drag: number | null = null;
  canvas.addEventListener('pointerdown', (e) => {
    drag = e.offsetX;
  });
  canvas.addEventListener('pointerup', () => {
    drag = null;
  });
  canvas.addEventListener('pointermove', (e) => {
    if (drag !== null) {
      pan((drag - e.offsetX) / (canvas.clientWidth - LABEL_W));
      drag = e.offsetX;
      return;
    }
    const lane = Math.floor((e.offsetY - AXIS_H) / LANE_H);
    const us = usAt(e.offsetX);
    const tol = (3 / (canvas.clientWidth - LABEL_W)) * (view.to - view.from);
    const hit = [...t.marks, ...t.spans].find(
      (s) => s.lane === lane && s.from - tol <= us && us <= s.to + tol,
    );
    if (hit)
      status.textContent = `${t.lanes[lane]}: ${hit.name} at ${hit.from.toFixed(3)} us${hit.to > hit.from ? ` for ${(hit.to - hit.from).toFixed(3)} us` : ''}`;
  });
  const legend = el(
    'ul',
    { class: 'legend' },
    ...names.map((n) => el('li', { style: `--c:${color(n)}` }, n)),
    el('li', { class: 'mark' }, 'interrupt, IPI, notification (mark)'),
  );
  host.replaceChildren(
    el('h2', {}, `timeline: ${title}`),
    el(
      'div',
      { class: 'toolbar' },
      button('+', () => zoom(0.5), 'zoom in'),
      button('−', () => zoom(2), 'zoom out'),
      button('reset', reset, 'reset zoom'),
      button('Download Perfetto JSON', download),
    ),
    legend,
    el('div', { class: 'canvas-wrap' }, canvas),
    status,
  );
  // Redrawn to the view's width when the window changes (one observer: the last timeline's).
  resizing?.disconnect();
  resizing = new ResizeObserver(() => draw());
  resizing.observe(host);
}
