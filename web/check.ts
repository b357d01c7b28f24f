// The check view: the verdict table of `irqlab check --bfs --json` (strategies x properties:
// verdict, states, transitions, depth; the verdict cell is report/check-text.ts's own), and for
// a violated property a stepper through its counterexample, the shortest one (breadth-first):
// each step's action, its events and the words it changed, grouped by the machine region they
// lie in (an MSI-X entry's dwords, an IRTE, a posted descriptor's PIR/ON/SN/NDST, an IRR), old
// -> new with the bits set and cleared. The last step is the one that violates the property
// (the explorer stops at the first state that breaks it). The step shown is the stepper
// element's `data-step`, so the DOM is the only state.

import { verdictCell } from '../src/report/check-text.js';
import type {
  CheckScenarioResult,
  CounterexampleStep,
  PropertyCheck,
  WordChange,
} from '../src/scenario/run-check.js';
import { el } from './dom.js';

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
const count = (n: number) => n.toLocaleString('en-US');

/** The bits of a 32-bit word, low to high, as a short list (`5, 31`) or `-`; numbered from `base`
 *  (the word's first bit in its item, see regionOf). */
export function bitList(word: number, base = 0): string {
  const bits: number[] = [];
  for (let b = 0; b < 32; b++) if ((word >>> b) & 1) bits.push(base + b);
  return bits.length === 0 ? '-' : bits.join(', ');
}

/** A changed word's region and its place in it, from run-check.ts's names: `vcpuPid[vm0/vcpu0]+8`
 *  is region `vcpuPid[vm0/vcpu0]` at `+8`, `vectorCounters[v].raised` at `.raised`,
 *  `dev0.entries+3` region `dev0.entries` at `+3`; a region's first word is at `+0`. `bit0` is
 *  the word's first bit within its item (one IRTE, IRR, descriptor: dword N holds bits N*32 up),
 *  so a changed IRR or PIR bit reads as its vector and an IRTE's or descriptor's as the spec's bit
 *  (SDM 29.6: ON is descriptor bit 256); elsewhere bits count within the word. */
export function regionOf(word: string): { region: string; at: string; bit0: number } {
  const item = /^(.*\])(\+(\d+))?(.*)$/.exec(word);
  if (item !== null) {
    const dword = Number(item[3] ?? 0);
    const named = item[4] !== '';
    return {
      region: item[1],
      at: named ? item[4] : `+${dword}`,
      bit0: named ? 0 : dword * 32,
    };
  }
  const plus = /^(.*)(\+\d+)$/.exec(word);
  if (plus !== null) return { region: plus[1], at: plus[2], bit0: 0 };
  return { region: word, at: '+0', bit0: 0 };
}

function changesTable(changed: readonly WordChange[]): HTMLElement {
  if (changed.length === 0) return el('p', { class: 'status' }, 'no word changed');
  const groups = new Map<string, { at: string; bit0: number; c: WordChange }[]>();
  for (const c of changed) {
    const { region, at, bit0 } = regionOf(c.word);
    groups.set(region, [...(groups.get(region) ?? []), { at, bit0, c }]);
  }
  const head = el(
    'tr',
    {},
    ...['word', 'old', 'new', 'bits set', 'bits cleared'].map((h) => el('th', { scope: 'col' }, h)),
  );
  const bodies = [...groups].map(([region, rows]) =>
    el(
      'tbody',
      { 'data-region': region },
      el('tr', { class: 'region' }, el('th', { scope: 'rowgroup', colspan: '5' }, region)),
      ...rows.map(({ at, bit0, c }) =>
        el(
          'tr',
          { class: 'changed', 'data-word': c.word },
          el('th', { scope: 'row' }, at),
          el('td', { class: 'old' }, hex(c.from)),
          el('td', { class: 'new' }, hex(c.to)),
          el('td', {}, bitList(c.to & ~c.from, bit0)),
          el('td', {}, bitList(c.from & ~c.to, bit0)),
        ),
      ),
    ),
  );
  return el(
    'div',
    { class: 'table-wrap' },
    el(
      'table',
      { class: 'changes' },
      el(
        'caption',
        {},
        'words changed by this step (bits numbered within the item: an IRR or PIR bit is its vector)',
      ),
      el('thead', {}, head),
      ...bodies,
    ),
  );
}

function stepDetail(st: CounterexampleStep, violating: string | null): HTMLElement {
  return el(
    'div',
    { class: violating === null ? 'step-detail' : 'step-detail violating' },
    ...(violating === null
      ? []
      : [el('p', { class: 'violation' }, `this step violates ${violating}`)]),
    el('p', { class: 'action' }, el('strong', {}, `${st.step}. `), st.action),
    el(
      'p',
      { class: 'events' },
      'events: ',
      ...(st.events.length === 0 ? ['none'] : st.events.flatMap((e) => [el('code', {}, e), ' '])),
    ),
    changesTable(st.changed),
  );
}

/** Shows step `i` (0-based, clamped) of the counterexample in `stepper`. */
function showStep(stepper: HTMLElement, steps: readonly CounterexampleStep[], i: number): void {
  const at = Math.max(0, Math.min(steps.length - 1, i));
  const last = steps.length - 1;
  stepper.dataset.step = String(at);
  const property = stepper.dataset.property ?? '';
  stepper.querySelector('.step-status')?.replaceChildren(`step ${at + 1} of ${steps.length}`);
  for (const [name, off] of [
    ['first', at === 0],
    ['prev', at === 0],
    ['next', at === last],
    ['last', at === last],
  ] as const) {
    const b = stepper.querySelector<HTMLButtonElement>(`button[data-go=${name}]`);
    if (b !== null) b.disabled = off;
  }
  stepper.querySelectorAll('ol.steps li').forEach((li, j) => {
    if (j === at) li.setAttribute('aria-current', 'step');
    else li.removeAttribute('aria-current');
  });
  stepper
    .querySelector('.step-detail')
    ?.replaceWith(stepDetail(steps[at], at === last ? property : null));
}

const GO: Record<string, (at: number, last: number) => number> = {
  first: () => 0,
  prev: (at) => at - 1,
  next: (at) => at + 1,
  last: (_, last) => last,
};
const KEYS: Record<string, string> = {
  ArrowLeft: 'prev',
  ArrowUp: 'prev',
  ArrowRight: 'next',
  ArrowDown: 'next',
  Home: 'first',
  End: 'last',
};

function stepper(strategy: string, property: string, p: PropertyCheck): HTMLElement {
  const steps = p.counterexample ?? [];
  const go = (root: HTMLElement, name: string) =>
    showStep(root, steps, GO[name](Number(root.dataset.step ?? 0), steps.length - 1));
  const button = (name: string, label: string, text: string) => {
    const b = el('button', { type: 'button', 'data-go': name, 'aria-label': label }, text);
    b.addEventListener('click', () => go(root, name));
    return b;
  };
  const list = el(
    'ol',
    { class: 'steps' },
    ...steps.map((st, j) => {
      const li = el('li', { class: j === steps.length - 1 ? 'violating' : '' });
      const b = el('button', { type: 'button', class: 'link' }, st.action);
      b.addEventListener('click', () => showStep(root, steps, j));
      li.append(b);
      if (j === steps.length - 1) li.append(el('span', { class: 'mark' }, ` violates ${property}`));
      return li;
    }),
  );
  const root = el(
    'section',
    {
      class: 'stepper',
      tabindex: '0',
      'aria-label': `counterexample stepper: ${property} under ${strategy} (arrow keys step)`,
      'data-strategy': strategy,
      'data-property': property,
    },
    el(
      'h3',
      {},
      `counterexample: ${property} under ${strategy} (${steps.length} steps${p.search === 'bfs' ? ', shortest' : ''})`,
    ),
    el(
      'div',
      { class: 'toolbar' },
      button('first', 'first step', '« First'),
      button('prev', 'previous step', '◀ Prev'),
      button('next', 'next step', 'Next ▶'),
      button('last', 'last step', 'Last »'),
      el('span', { class: 'step-status', role: 'status', 'aria-live': 'polite' }),
    ),
    el('div', { class: 'step-detail' }),
    el('details', {}, el('summary', {}, 'all steps'), list),
  );
  root.addEventListener('keydown', (e) => {
    const name = KEYS[e.key];
    if (name === undefined) return;
    e.preventDefault();
    go(root, name);
  });
  showStep(root, steps, 0);
  return root;
}

function verdictTable(r: CheckScenarioResult, select: (s: string, p: string) => void) {
  const head = el(
    'tr',
    {},
    ...['strategy', 'property', 'verdict', 'states', 'transitions', 'depth', ''].map((h) =>
      el('th', { scope: 'col' }, h),
    ),
  );
  const rows = Object.entries(r.strategies).flatMap(([strategy, entry]) => {
    if ('error' in entry) {
      return [
        el(
          'tr',
          { 'data-strategy': strategy },
          el('th', { scope: 'row' }, strategy),
          el('td', {}, '-'),
          el('td', { class: 'verdict rejected', title: entry.error.message }, 'rejected'),
          el('td', { colspan: '4' }, entry.error.rule),
        ),
      ];
    }
    return Object.entries(entry.properties).map(([property, p]) => {
      const action =
        p.counterexample === null
          ? ''
          : el(
              'button',
              {
                type: 'button',
                'aria-label': `step through the counterexample of ${property} under ${strategy}`,
              },
              'Step through',
            );
      if (action !== '') action.addEventListener('click', () => select(strategy, property));
      return el(
        'tr',
        { 'data-strategy': strategy, 'data-property': property },
        el('th', { scope: 'row' }, strategy),
        el('td', {}, property),
        el('td', { class: `verdict ${p.verdict}` }, verdictCell(p)),
        el('td', { class: 'num' }, count(p.states)),
        el('td', { class: 'num' }, count(p.transitions)),
        el('td', { class: 'num' }, String(p.depth)),
        el('td', {}, action),
      );
    });
  });
  return el(
    'div',
    { class: 'table-wrap' },
    el('table', { class: 'check' }, el('thead', {}, head), el('tbody', {}, ...rows)),
  );
}

/** The verdict table, and the stepper on the first violated property (others by their row). */
export function renderCheck(container: HTMLElement, r: CheckScenarioResult): void {
  const slot = el('div', { class: 'stepper-slot' });
  const select = (strategy: string, property: string, focus: boolean) => {
    const entry = r.strategies[strategy];
    if (!('properties' in entry)) return;
    const s = stepper(strategy, property, entry.properties[property]);
    slot.replaceChildren(s);
    if (focus) s.focus();
  };
  container.replaceChildren(
    el('p', { class: `check-verdict ${r.verdict}` }, `check ${r.scenario}: ${r.verdict}`),
    verdictTable(r, (s, p) => select(s, p, true)),
    slot,
  );
  for (const [strategy, entry] of Object.entries(r.strategies)) {
    if (!('properties' in entry)) continue;
    const first = Object.entries(entry.properties).find(([, p]) => p.counterexample !== null);
    if (first !== undefined) {
      select(strategy, first[0], false);
      return;
    }
  }
  slot.append(el('p', { class: 'status' }, 'no property is violated: no counterexample'));
}
