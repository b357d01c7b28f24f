// The irqlab page: a scenario editor beside four views of the same model the CLI runs
// (comparison, hierarchy, timeline, check and its counterexample stepper), the model in a worker (model.ts). The scenario lives in
// the URL's fragment (a shipped one by name, an edited one as its text), so a view can be
// shared; nothing leaves the page.

import './style.css';
import { formatIssue } from '../src/scenario/errors.js';
import { STRATEGIES, type Strategy } from '../src/scenario/schema.js';
import { renderCheck } from './check.js';
import { renderComparison } from './comparison.js';
import { el } from './dom.js';
import { createEditor } from './editor.js';
import { renderHierarchy } from './hierarchy.js';
import { modelWorker, type WorkBody, WorkError } from './model.js';
import type { WorkResult } from './protocol.js';
import { renderTimeline, timelineOf } from './timeline.js';

/** The shipped scenarios, by the path the CLI is given (`scenarios/mlx5-vf.yaml`). */
const SHIPPED: Record<string, string> = Object.fromEntries(
  Object.entries(
    import.meta.glob('../scenarios/**/*.yaml', {
      query: '?raw',
      import: 'default',
      eager: true,
    }) as Record<string, string>,
  ).map(([path, text]) => [path.replace(/^\.\.\//, ''), text]),
);
const DEFAULT_FILE = 'scenarios/mlx5-vf.yaml';
/** The file name an edited scenario is reported under (the CLI's errors name the file). */
const EDITED_FILE = 'scenario.yaml';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const picker = $<HTMLSelectElement>('scenario');
const runButton = $<HTMLButtonElement>('run');
const cancelButton = $<HTMLButtonElement>('cancel');
const progress = $<HTMLProgressElement>('progress');
const progressLabel = $('progress-label');
const problems = $('problems');
const strategyPicker = $<HTMLSelectElement>('trace-strategy');
const traceButton = $<HTMLButtonElement>('run-trace');
const checkButton = $<HTMLButtonElement>('run-check');

for (const file of Object.keys(SHIPPED).sort()) picker.append(el('option', { value: file }, file));
picker.append(el('option', { value: EDITED_FILE }, '(edited)'));
for (const s of STRATEGIES) strategyPicker.append(el('option', { value: s }, s));

const worker = modelWorker();
let valid = false;

const fileName = () => picker.value;

// --- the scenario in the URL ---

const toBase64 = (text: string) =>
  btoa(Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join(''))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const fromBase64 = (b64: string) =>
  new TextDecoder().decode(
    Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)),
  );

/** `#scenario=<file>` for a shipped scenario as shipped; with `&yaml=<base64url>` once edited
 *  (the file name kept, so its errors read the same after a reload). */
function fromUrl(): { file: string; text: string } {
  const params = new URLSearchParams(location.hash.slice(1));
  const named = params.get('scenario');
  const file =
    named !== null && (SHIPPED[named] !== undefined || named === EDITED_FILE) ? named : null;
  const yaml = params.get('yaml');
  if (yaml !== null) {
    try {
      return { file: file ?? EDITED_FILE, text: fromBase64(yaml) };
    } catch {
      // A damaged link: start from the named or the default scenario.
    }
  }
  if (file !== null && SHIPPED[file] !== undefined) return { file, text: SHIPPED[file] };
  return { file: DEFAULT_FILE, text: SHIPPED[DEFAULT_FILE] };
}

function toUrl(text: string): void {
  const file = fileName();
  const name = `scenario=${encodeURIComponent(file)}`;
  history.replaceState(
    null,
    '',
    `#${SHIPPED[file] === text ? name : `${name}&yaml=${toBase64(text)}`}`,
  );
}

// --- the editor ---

const editor = createEditor(
  $('editor'),
  () => fileName(),
  (text, issues) => {
    // An edit to a shipped scenario keeps its name (its errors read as the CLI's on that file)
    // until another is picked.
    valid = issues.length === 0;
    runButton.disabled = !valid || worker.busy();
    problems.replaceChildren(
      ...(valid
        ? [el('span', { class: 'ok' }, 'valid scenario')]
        : [
            el(
              'ul',
              {},
              ...issues.map((i) =>
                el('li', { class: 'issue', 'data-line': String(i.line) }, formatIssue(i)),
              ),
            ),
          ]),
    );
    toUrl(text);
  },
);

const initial = fromUrl();
picker.value = initial.file;
editor.setText(initial.text);
picker.addEventListener('change', () => {
  const text = SHIPPED[fileName()];
  if (text !== undefined) editor.setText(text);
});

// --- running the model ---

async function run(req: WorkBody, what: string): Promise<WorkResult | null> {
  runButton.disabled = true;
  traceButton.disabled = true;
  checkButton.disabled = true;
  cancelButton.disabled = false;
  progress.hidden = false;
  progress.removeAttribute('value');
  progressLabel.textContent = `${what}…`;
  try {
    const result = await worker.run(req, (done, total, label) => {
      progress.max = total;
      progress.value = done;
      progressLabel.textContent = `${what}: ${label} (${Math.round((100 * done) / Math.max(total, 1))}%)`;
    });
    progressLabel.textContent = `${what}: done`;
    return result;
  } catch (e) {
    progressLabel.textContent =
      e instanceof WorkError && e.cancelled ? 'cancelled' : `irqlab: ${(e as Error).message}`;
    return null;
  } finally {
    cancelButton.disabled = true;
    traceButton.disabled = false;
    checkButton.disabled = false;
    runButton.disabled = !valid;
    progress.hidden = true;
  }
}
cancelButton.addEventListener('click', () => worker.cancel());

async function runAll(): Promise<void> {
  const text = editor.text();
  const file = fileName();
  const compared = await run(
    { kind: 'compare', text, file, strategies: [...STRATEGIES] },
    'compare',
  );
  // Cancelled or failed: the hierarchy is not run either.
  if (compared?.kind !== 'compare') return;
  renderComparison($('view-compare'), compared.data);
  const kernels = await run({ kind: 'kernels', text, file }, 'hierarchy');
  if (kernels?.kind !== 'kernels') return;
  const irt = await run({ kind: 'backing', text, file }, 'host IRT');
  await renderHierarchy(
    $('view-hierarchy'),
    kernels.data,
    irt?.kind === 'backing' ? irt.data : null,
  );
}

async function runTimeline(): Promise<void> {
  const strategy = strategyPicker.value as Strategy;
  const traced = await run(
    { kind: 'trace', text: editor.text(), file: fileName(), strategy },
    `trace ${strategy}`,
  );
  if (traced?.kind !== 'trace') return;
  const { perfetto } = traced.data;
  const download = () => {
    const a = el('a', {
      href: URL.createObjectURL(new Blob([perfetto], { type: 'application/json' })),
      download: `${fileName()
        .replace(/^.*\//, '')
        .replace(/\.ya?ml$/, '')}-${strategy}.json`,
    });
    a.click();
    URL.revokeObjectURL(a.href);
  };
  renderTimeline($('timeline'), timelineOf(perfetto), download, `${fileName()} under ${strategy}`);
}

async function runCheck(): Promise<void> {
  const view = $('check');
  const checked = await run({ kind: 'check', text: editor.text(), file: fileName() }, 'check');
  if (checked?.kind === 'check') renderCheck(view, checked.data);
  else view.replaceChildren(el('p', { class: 'status' }, progressLabel.textContent ?? ''));
}

runButton.addEventListener('click', () => void runAll());
checkButton.addEventListener('click', () => void runCheck());
traceButton.addEventListener('click', () => void runTimeline());

// --- tabs (arrow keys move between them, as the ARIA tabs pattern has it) ---

const tabs = [...document.querySelectorAll<HTMLButtonElement>('[role=tab]')];
function showTab(tab: HTMLButtonElement): void {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls') ?? '').hidden = !on;
  }
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => showTab(t));
  t.addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    showTab(next);
    next.focus();
  });
});
showTab(tabs[0]);
