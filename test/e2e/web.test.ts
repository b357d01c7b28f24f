// The web page in real Chromium, served by `irqlab serve`: the numbers in its comparison table
// are `irqlab compare`'s on the same scenario (the CLI run as a separate process), a broken line
// is reported at that line in the CLI's words, the hierarchy has a node per domain the CLI's
// `show --what hierarchy --json` lists, the timeline has a lane per pCPU and vCPU the scenario
// declares and its download is the very trace `irqlab run --trace` writes, the page works from
// the keyboard and on a narrow window, and it requests nothing from any other host.
// Screenshots of each view, wide and narrow, go to SHOTS (web-helpers.ts).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { CompareResult, StrategyColumn } from '../../src/scenario/run-strategy.js';
import { bin, ROOT } from './cli-run-helpers.js';
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

const RUN_TIMEOUT = 60_000;

let served: Served;
let browser: Browser;
let page: Page;
let requests: string[];

beforeAll(async () => {
  ensureWebBuilt();
  served = await serve();
  browser = await launchChromium();
  page = await browser.newPage({ viewport: WIDE, acceptDownloads: true });
  requests = recordRequests(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(served.url);
  await page.waitForSelector('#problems .ok');
  expect(errors).toEqual([]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  served?.child.kill();
});

async function pick(file: string): Promise<void> {
  await page.selectOption('#scenario', file);
  await page.waitForSelector('#problems .ok');
}

async function runCompare(): Promise<void> {
  await page.click('#tab-compare');
  await page.evaluate(() => {
    document.getElementById('view-compare')?.replaceChildren();
  });
  await page.click('#run');
  await page.waitForSelector('#view-compare table.compare', { timeout: RUN_TIMEOUT });
}

/** The page's table: header names, then each row as its label and cells. */
async function pageTable(): Promise<{ names: string[]; rows: string[][] }> {
  return page.evaluate(() => {
    const t = document.querySelector('#view-compare table.compare') as HTMLTableElement;
    const text = (e: Element) => (e.textContent ?? '').trim();
    const names = [...t.querySelectorAll('thead th')].slice(1).map(text);
    const rows = [...t.querySelectorAll('tbody tr')].map((r) => [...r.children].map(text));
    return { names, rows };
  });
}

/** `irqlab compare`'s text table: columns are separated by two or more spaces. */
function cliTable(text: string): { names: string[]; rows: string[][] } {
  const lines = text.split('\n').slice(2);
  const end = lines.indexOf('');
  const [header, ...body] = lines.slice(0, end);
  return {
    names: header.trim().split(/\s{2,}/),
    rows: body.map((l) => l.trim().split(/\s{2,}/)),
  };
}

describe('the web page (Chromium, irqlab serve)', () => {
  it("shows irqlab compare's table, number for number, on a shipped scenario", async () => {
    const file = 'scenarios/idxd-siov.yaml';
    await pick(file);
    await runCompare();
    const shown = await pageTable();
    const cli = bin('compare', file);
    expect(cli.status).toBe(0);
    expect(shown).toEqual(cliTable(cli.stdout));
    // And the quantities by name, from the JSON a script reads.
    const json = JSON.parse(bin('compare', file, '--json').stdout);
    const cell = (label: string, strategy: string) => {
      const row = shown.rows.find((r) => r[0] === label);
      return row?.[shown.names.indexOf(strategy) + 1];
    };
    const checked: [string, (c: StrategyColumn) => unknown][] = [
      ['exits / vector set up', (c) => c.exits.perVectorSetup],
      ['exits / interrupt delivered', (c) => c.exits.perDelivery],
      ['msixTableAccess', (c) => c.exits.byReason.msixTableAccess],
      ['hypercall', (c) => c.exits.byReason.hypercall],
      ['delivery latency p99 (ns)', (c) => c.latencyNs.delivery.p99],
      ['host IRTEs', (c) => c.resources.irtes],
      ['IMS entries', (c) => c.resources.imsEntries],
      ['subdevices that fit', (c) => c.capacity.subdevices],
      ['delivered', (c) => c.interrupts.delivered],
    ];
    let compared = 0;
    for (const [strategy, column] of Object.entries((json as CompareResult).strategies)) {
      for (const [label, value] of checked) {
        expect(cell(label, strategy), `${label} / ${strategy}`).toBe(
          'error' in column ? `(${column.error.rule})` : String(value(column as StrategyColumn)),
        );
        compared++;
      }
    }
    expect(compared).toBe(checked.length * 5);
    expect(await page.locator('#view-compare figure svg').count()).toBeGreaterThanOrEqual(5);
    await shot(page, 'compare-1280x800');
    await page.locator('#view-compare .charts figure').nth(0).scrollIntoViewIfNeeded();
    await shot(page, 'compare-charts-1280x800');
    await page.locator('#view-compare .charts figure').nth(4).scrollIntoViewIfNeeded();
    await shot(page, 'compare-charts-2-1280x800');
  });

  it("reports a broken line at that line, in the CLI's words, and keeps the edit in the URL", async () => {
    const file = 'scenarios/mlx5-vf.yaml';
    await pick(file);
    const original = readFileSync(join(ROOT, file), 'utf8');
    const lines = original.split('\n');
    const broken = lines.findIndex((l) => l.trim() === 'vcpus: 4');
    expect(broken).toBeGreaterThan(0);
    // Type it: the last character of the line becomes 0 (vcpus must be at least 1).
    await page.locator('.cm-content .cm-line').nth(broken).click();
    await page.keyboard.press('End');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('0');
    await page.waitForSelector('#problems .issue');
    // The CLI on the same text under the same name.
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-web-'));
    mkdirSync(join(dir, 'scenarios'));
    lines[broken] = lines[broken].replace(/4$/, '0');
    writeFileSync(join(dir, file), lines.join('\n'));
    const cli = spawnSync(process.execPath, [join(ROOT, 'bin/irqlab.js'), 'run', file], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(cli.status).toBe(2);
    const cliLines = cli.stderr
      .trim()
      .replace(/^irqlab: /, '')
      .split('\n');
    const shown = await page.locator('#problems .issue').allTextContents();
    expect(shown).toEqual(cliLines);
    expect(shown[0]).toMatch(new RegExp(`^${file}:${broken + 1}:\\d+: .*\\[rule: schema/`));
    // At the line: the editor marks a range on that line and the gutter beside it.
    const marked = await page.evaluate(() => {
      const range = document.querySelector('.cm-lintRange-error');
      const line = range?.closest('.cm-line');
      return line ? [...document.querySelectorAll('.cm-content .cm-line')].indexOf(line) : -1;
    });
    expect(marked).toBe(broken);
    expect(await page.locator('.cm-lint-marker-error').count()).toBe(1);
    expect(await page.locator('#run').isDisabled()).toBe(true);
    await shot(page, 'editor-error-1280x800');
    // The edited text is in the URL: a new page opened on it shows the same problem.
    const shared = page.url();
    expect(shared).toMatch(/#scenario=scenarios%2Fmlx5-vf\.yaml&yaml=/);
    const other = await browser.newPage({ viewport: WIDE });
    const otherRequests = recordRequests(other);
    await other.goto(shared);
    await other.waitForSelector('#problems .issue');
    expect(await other.locator('#problems .issue').allTextContents()).toEqual(shown);
    await other.close();
    requests.push(...otherRequests);
    await pick(file);
  });

  it("completes keys and values from irqlab schema's JSON Schema", async () => {
    const file = 'scenarios/mlx5-vf.yaml';
    await pick(file);
    const schema = JSON.parse(bin('schema').stdout);
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    // A new key in the host block (after `  cpus: 8`): the host's keys.
    const cpus = lines.findIndex((l) => l.trim() === 'cpus: 8');
    await page.locator('.cm-content .cm-line').nth(cpus).click();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.cm-tooltip-autocomplete li');
    const keys = await page
      .locator('.cm-tooltip-autocomplete li .cm-completionLabel')
      .allTextContents();
    expect(keys.sort()).toEqual(Object.keys(schema.properties.host.properties).sort());
    await page.keyboard.press('Escape');
    // A value: after `idle: ` in a VM, the enum the schema gives.
    const idle = lines.findIndex((l) => l.trim() === 'idle: halt');
    await page
      .locator('.cm-content .cm-line')
      .nth(idle + 1)
      .click();
    await page.keyboard.press('End');
    for (const _ of 'halt') await page.keyboard.press('Backspace');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('.cm-tooltip-autocomplete li');
    const values = await page
      .locator('.cm-tooltip-autocomplete li .cm-completionLabel')
      .allTextContents();
    const idleSchema = schema.properties.vms.items.properties.idle;
    const expected =
      idleSchema.enum ?? idleSchema.anyOf.flatMap((a: { enum?: string[] }) => a.enum ?? []);
    expect(values.sort()).toEqual([...expected].sort());
    await page.keyboard.press('Escape');
    await shot(page, 'editor-completion-1280x800');
    await pick(file);
  });

  it('draws a node per irqdomain of each kernel, and a node shows its state', async () => {
    const file = 'scenarios/mlx5-vf.yaml';
    await pick(file);
    await runCompare();
    await page.click('#tab-hierarchy');
    await page.waitForSelector('.graphs section[data-kernel]', { timeout: RUN_TIMEOUT });
    const kernels = [
      'host',
      ...parse(readFileSync(join(ROOT, file), 'utf8')).vms.map((v: { name: string }) => v.name),
    ];
    for (const k of kernels) {
      const cli = bin('show', file, '--what', 'hierarchy', '--kernel', k, '--json');
      const domains = JSON.parse(cli.stdout).map((d: { name: string }) => `${k}/${d.name}`);
      const nodes = await page
        .locator(`.graphs section[data-kernel="${k}"] g.node`)
        .evaluateAll((ns) => ns.map((n) => n.getAttribute('data-domain')));
      expect(nodes.sort()).toEqual(domains.sort());
    }
    // From the keyboard: Tab to a node, Enter shows its state (the CLI's msix view for a device).
    const node = page.locator(
      '.graphs section[data-kernel="vm0"] g.node[data-domain^="vm0/PCI-MSIX"]',
    );
    await node.focus();
    await page.keyboard.press('Enter');
    const state = JSON.parse((await page.locator('pre.state').textContent()) ?? '{}');
    const msix = JSON.parse(
      bin('show', file, '--what', 'msix', '--kernel', 'vm0', '--json').stdout,
    );
    expect(state.domain.kind).toBe('pci-msix');
    expect(state.msix).toEqual(
      msix.filter((m: { bdf: string }) => state.domain.name.includes(m.bdf)),
    );
    expect(state.msix[0].entries.length).toBeGreaterThan(0);
    // Which host IRTE backs which guest vector: `show --what irte --at <run end>`'s owners.
    const end = parse(readFileSync(join(ROOT, file), 'utf8')).run.duration;
    const at = JSON.parse(bin('show', file, '--what', 'irte', '--at', end, '--json').stdout);
    const rows = await page
      .locator('table.irte tbody tr')
      .evaluateAll((rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
    expect(rows.map((r) => [Number(r[0]), r[1]])).toEqual(
      at.present.map((e: { index: number; who: string }) => [e.index, e.who]),
    );
    expect(rows.length).toBeGreaterThan(0);
    await shot(page, 'hierarchy-1280x800');
  });

  it("has a lane per pCPU and vCPU, and downloads irqlab run's Perfetto trace", async () => {
    const file = 'scenarios/mlx5-vf.yaml';
    const strategy = 'pv';
    await page.click('#tab-timeline');
    await page.selectOption('#trace-strategy', strategy);
    await page.click('#run-trace');
    await page.waitForSelector('#timeline canvas', { timeout: RUN_TIMEOUT });
    const s = parse(readFileSync(join(ROOT, file), 'utf8'));
    const vcpus = s.vms.reduce((n: number, vm: { vcpus: number }) => n + vm.vcpus, 0);
    const { height } = await page
      .locator('#timeline canvas')
      .evaluate((c) => c.getBoundingClientRect());
    // 22 px a lane below a 22 px axis (timeline.ts).
    expect(Math.round((height - 22) / 22)).toBe(s.host.cpus + vcpus);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download Perfetto JSON' }).click(),
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'irqlab-web-trace-'));
    const cliTrace = join(dir, 'cli.json');
    expect(bin('run', file, '--strategy', strategy, '--trace', cliTrace).status).toBe(0);
    const pageTrace = join(dir, 'page.json');
    await download.saveAs(pageTrace);
    expect(readFileSync(pageTrace, 'utf8')).toBe(readFileSync(cliTrace, 'utf8'));
    await shot(page, 'timeline-1280x800');
  });

  it('cancels a run and runs again after it', async () => {
    await page.click('#tab-compare');
    // Start and cancel in one task: the worker cannot have answered in between.
    await page.evaluate(() => {
      (document.getElementById('run') as HTMLButtonElement).click();
      (document.getElementById('cancel') as HTMLButtonElement).click();
    });
    await expect.poll(() => page.locator('#progress-label').textContent()).toBe('cancelled');
    expect(await page.locator('#run').isDisabled()).toBe(false);
    await runCompare();
  });

  it('moves between the views with the arrow keys', async () => {
    await page.locator('#tab-compare').click();
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#tab-hierarchy').getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('#view-hierarchy').isVisible()).toBe(true);
    expect(await page.locator('#view-compare').isVisible()).toBe(false);
    await page.keyboard.press('ArrowLeft');
    expect(await page.locator('#tab-compare').getAttribute('aria-selected')).toBe('true');
  });

  it('fits a narrow window: one column, no page-wide horizontal scroll', async () => {
    await page.setViewportSize(NARROW);
    for (const view of ['compare', 'hierarchy', 'timeline']) {
      await page.click(`#tab-${view}`);
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth,
      );
      expect(overflow, view).toBeLessThanOrEqual(0);
      await shot(page, `${view}-narrow`);
    }
    await page.setViewportSize(WIDE);
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
