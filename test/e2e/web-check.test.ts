// The page's check view in real Chromium, served by `irqlab serve`: the verdict table of a
// shipped check scenario equals `irqlab check --bfs --json` on the same file (the same code runs
// in the page's worker), and the counterexample stepper walks the shortest trace to the step
// that violates the property, from the buttons and from the keyboard, each step's changed words
// being the CLI's; a scenario without a `check:` section gets the CLI's error. It requests
// nothing from any other host. Screenshots go to SHOTS.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckScenarioResult, PropertyCheck } from '../../src/scenario/run-check.js';
import { bin } from './cli-run-helpers.js';
import {
  ensureWebBuilt,
  launchChromium,
  NARROW,
  recordRequests,
  type Served,
  serve,
  shot,
  WIDE,
} from './web-helpers.js';

const RUN_TIMEOUT = 90_000;
const FILE = 'scenarios/check/msi-affinity-onestep.yaml';

let served: Served;
let browser: Browser;
let page: Page;
let requests: string[];
let cli: CheckScenarioResult;

beforeAll(async () => {
  ensureWebBuilt();
  const r = bin('check', FILE, '--bfs', '--json');
  // Exit 1: a property is violated (the one-step move's half-written pair).
  expect(r.status).toBe(1);
  cli = JSON.parse(r.stdout);
  served = await serve();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: WIDE });
  requests = recordRequests(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(served.url);
  await page.waitForSelector('#problems .ok');
  await page.selectOption('#scenario', FILE);
  await page.waitForSelector('#problems .ok');
  await page.click('#tab-check');
  await page.click('#run-check');
  await page.waitForSelector('#check table.check', { timeout: RUN_TIMEOUT });
  expect(errors).toEqual([]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  served?.child.kill();
});

const cliProperty = (strategy: string, property: string): PropertyCheck => {
  const entry = cli.strategies[strategy];
  if (!('properties' in entry)) throw new Error(`${strategy} rejected by the CLI`);
  return entry.properties[property];
};

/** The step the stepper shows: its number, action and changed words as the CLI names them. */
async function shown(): Promise<{ status: string; action: string; words: string[][] }> {
  return page.evaluate(() => {
    const s = document.querySelector('#check .stepper') as HTMLElement;
    const text = (e: Element | null) => (e?.textContent ?? '').trim();
    return {
      status: text(s.querySelector('.step-status')),
      action: text(s.querySelector('.step-detail .action')),
      words: [...s.querySelectorAll('.step-detail tr.changed')].map((r) => [
        r.getAttribute('data-word') ?? '',
        text(r.querySelector('td.old')),
        text(r.querySelector('td.new')),
      ]),
    };
  });
}

const hex = (n: number) => `0x${n.toString(16)}`;

describe('the check view (Chromium, irqlab serve)', () => {
  it("shows irqlab check --json's verdicts and figures, strategy by property", async () => {
    const rows = await page
      .locator('#check table.check tbody tr')
      .evaluateAll((rs) =>
        rs.map((r) => [...r.children].slice(0, 6).map((c) => (c.textContent ?? '').trim())),
      );
    const expected = Object.entries(cli.strategies).flatMap(([strategy, entry]) =>
      'error' in entry
        ? [[strategy, '-', 'rejected', entry.error.rule]]
        : Object.entries(entry.properties).map(([property, p]) => [
            strategy,
            property,
            p.verdict === 'incomplete' ? `incomplete (${p.bound})` : p.verdict,
            String(p.states),
            String(p.transitions),
            String(p.depth),
          ]),
    );
    expect(rows.map((r) => r.map((c) => c.replace(/,/g, '')))).toEqual(expected);
    // The brief's cell by name: emulate / exactly-once, violated under the one-step move.
    const cell = await page
      .locator('#check tr[data-strategy="emulate"][data-property="exactly-once"] td.verdict')
      .textContent();
    expect(cell).toBe(cliProperty('emulate', 'exactly-once').verdict);
    expect(cell).toBe('violated');
    expect(await page.locator('#check .check-verdict').textContent()).toBe(
      `check ${cli.scenario}: ${cli.verdict}`,
    );
    await shot(page, 'check-1280x800');
  });

  it('steps through the shortest counterexample to the violating step, with its changed words', async () => {
    await page
      .getByRole('button', {
        name: 'step through the counterexample of exactly-once under emulate',
      })
      .click();
    const steps = cliProperty('emulate', 'exactly-once').counterexample ?? [];
    expect(steps.length).toBeGreaterThan(1);
    const wordsOf = (i: number) => steps[i].changed.map((c) => [c.word, hex(c.from), hex(c.to)]);
    const first = await shown();
    expect(first.status).toBe(`step 1 of ${steps.length}`);
    expect(first.action).toBe(`1. ${steps[0].action}`);
    expect(first.words).toEqual(wordsOf(0));
    expect(await page.locator('button[data-go=prev]').isDisabled()).toBe(true);
    // Next with the button, then the arrow key on the focused stepper.
    await page.getByRole('button', { name: 'next step' }).click();
    expect((await shown()).words).toEqual(wordsOf(1));
    await page.locator('#check .stepper').focus();
    await page.keyboard.press('ArrowLeft');
    expect((await shown()).status).toBe(`step 1 of ${steps.length}`);
    for (let i = 1; i < steps.length; i++) await page.keyboard.press('ArrowRight');
    const last = await shown();
    expect(last.status).toBe(`step ${steps.length} of ${steps.length}`);
    expect(last.action).toBe(`${steps.length}. ${steps[steps.length - 1].action}`);
    expect(last.words).toEqual(wordsOf(steps.length - 1));
    // The violating step is marked, in the detail and in the list of steps.
    expect(await page.locator('#check .step-detail.violating .violation').textContent()).toBe(
      'this step violates exactly-once',
    );
    expect(await page.locator('#check ol.steps li.violating').count()).toBe(1);
    expect(
      await page
        .locator('#check ol.steps li')
        .nth(steps.length - 1)
        .getAttribute('class'),
    ).toBe('violating');
    expect(await page.locator('button[data-go=next]').isDisabled()).toBe(true);
    // Home and Last: the first step again, then straight to the violating one.
    await page.keyboard.press('Home');
    expect((await shown()).status).toBe(`step 1 of ${steps.length}`);
    await page.getByRole('button', { name: 'last step' }).click();
    expect(await page.locator('#check .step-detail.violating').count()).toBe(1);
    await page.locator('#check .step-detail').scrollIntoViewIfNeeded();
    await shot(page, 'check-stepper-1280x800');
  });

  it('fits a narrow window', async () => {
    await page.setViewportSize(NARROW);
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - window.innerWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'check-narrow');
    await page.setViewportSize(WIDE);
  });

  it('cancels a check and runs it again after it', async () => {
    await page.evaluate(() => {
      (document.getElementById('run-check') as HTMLButtonElement).click();
      (document.getElementById('cancel') as HTMLButtonElement).click();
    });
    await expect.poll(() => page.locator('#progress-label').textContent()).toBe('cancelled');
    expect(await page.locator('#check').textContent()).toBe('cancelled');
    await page.click('#run-check');
    await page.waitForSelector('#check .stepper', { timeout: RUN_TIMEOUT });
    expect(await page.locator('#check .step-status').textContent()).toMatch(/^step 1 of \d+$/);
  });

  it("reports a scenario without a check: section in the CLI's words", async () => {
    const other = 'scenarios/mlx5-vf.yaml';
    const r = bin('check', other);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\[rule: check-section\]/);
    await page.selectOption('#scenario', other);
    await page.waitForSelector('#problems .ok');
    await page.click('#run-check');
    await expect
      .poll(() => page.locator('#check').textContent(), { timeout: RUN_TIMEOUT })
      .toBe(r.stderr.trim());
    expect(await page.locator('#progress-label').textContent()).toBe(r.stderr.trim());
  });

  it('requests nothing from any host but the one serving it', () => {
    const origin = new URL(served.url).origin;
    expect(requests.length).toBeGreaterThan(3);
    const elsewhere = requests.filter(
      (u) => !u.startsWith('data:') && new URL(u).origin !== origin,
    );
    expect(elsewhere).toEqual([]);
  });
});
