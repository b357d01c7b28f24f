// `irqlab show <scenario> --what <view>`: what a scenario builds, without running it. Views are a
// table (SHOW_VIEWS): adding one is one entry. `topology` is the whole-system model's topology;
// `hierarchy`, `interrupts`, `affinity` and the register views (`msix`, `msi`, `ims`, `irte`,
// `invalidations`) boot the scenario's kernels (report/hierarchy-show.ts) and take --kernel (and,
// the first three, --format). Every view reads the file through the one loader
// (`useScenarioFile`): YAML, schema and rules, errors located, before it renders anything.

import type { Command } from 'commander';
import { InputError } from '../hw/errors.js';
import { bdfOfRequesterId, formatBdf } from '../hw/pci/bdf.js';
import { IRTE_DWORDS, IRTE_MODE, IRTE_REMAPPED } from '../hw/vtd/irte.js';
import { type KernelView, renderKernelView } from '../report/hierarchy-show.js';
import {
  renderSystemRegisters,
  type SystemRegisterView,
  systemRegistersJson,
} from '../report/system-registers.js';
import { type BuiltScenario, buildScenario, runWorkload } from '../scenario/build.js';
import { functionRoutingIds } from '../scenario/rules.js';
import type { Scenario } from '../scenario/schema.js';
import { durationNs, formatNs } from '../scenario/units.js';
import { resolveCosts } from '../sim/cost-model.js';
import { simulateSystem } from '../sim/system-sim.js';
import type { CliIo } from './io.js';
import { scenarioName, useScenarioFile } from './run.js';

export interface ShowOptions {
  readonly json?: boolean;
  /** Kernel views: host, guest or a VM's name. */
  readonly kernel?: string;
  /** Kernel views: hierarchy text | dot; affinity list | sysfs. */
  readonly format?: string;
  /** Register views: a time of the run ("3ms") to read the system's words at. */
  readonly at?: string;
}

export interface ShowView {
  readonly description: string;
  /** What to print on stdout, and warnings for stderr, for a scenario the loader accepted
   *  (`scenario`; a view needs nothing else of the file). */
  render(ctx: { io: CliIo; scenario: Scenario; file: string; opts: ShowOptions }): {
    out: string;
    warnings: string[];
  };
}

const kernelView = (view: KernelView, description: string): ShowView => ({
  description,
  render: ({ scenario, opts }) =>
    opts.at === undefined
      ? renderKernelView(scenario, view, opts)
      : renderAtTime(scenario, view, opts.at, opts),
});

const AT_VIEWS: readonly string[] = ['msix', 'msi', 'ims', 'irte'];

/** `--at <time>`: runs the scenario's workload up to that time and shows the registers as the
 *  system's words hold them then (the devices' stores, the host's remapping table). */
function renderAtTime(
  scenario: Scenario,
  view: KernelView,
  at: string,
  opts: ShowOptions,
): { out: string; warnings: string[] } {
  if (!AT_VIEWS.includes(view)) {
    throw new InputError(
      '--at',
      `--what ${view} is a kernel's own state; --at shows ${AT_VIEWS.join(', ')}`,
    );
  }
  if (opts.kernel !== undefined && opts.kernel !== 'host') {
    throw new InputError(
      '--at',
      "the system's words hold the hardware the host programs: --kernel host",
    );
  }
  const ns = durationNs(at.trim());
  if (!Number.isFinite(ns) || ns <= 0) {
    throw new InputError('--at', `"${at}" is not a duration such as 3ms, 250us or 1s`);
  }
  if (ns > scenario.run.duration) {
    throw new InputError(
      '--at',
      `${at} is after the run's end (${formatNs(scenario.run.duration)})`,
    );
  }
  const built = buildScenario(scenario);
  const result = simulateSystem(runWorkload(built), {
    durationNs: ns,
    seed: scenario.run.seed,
    costs: resolveCosts(scenario.run.costs, { nested: scenario.host.nested }),
    trace: null,
  });
  const v = view as SystemRegisterView;
  const out = opts.json
    ? `${JSON.stringify(systemRegistersJson(v, result.finalState), null, 2)}\n`
    : renderSystemRegisters(v, result.finalState, formatNs(ns));
  return { out, warnings: [] };
}

export const SHOW_VIEWS: Readonly<Record<string, ShowView>> = {
  topology: {
    description: 'host, devices and their functions, VMs, assignments and their vectors',
    render: ({ scenario, file, opts }) => {
      const built = buildScenario(scenario);
      const out = opts.json
        ? `${JSON.stringify(topologyJson(built, file), null, 2)}\n`
        : topologyText(built, file);
      return { out, warnings: [] };
    },
  },
  hierarchy: kernelView('hierarchy', 'irqdomain hierarchy of each kernel (--format text | dot)'),
  interrupts: kernelView('interrupts', '/proc/interrupts of each kernel'),
  affinity: kernelView('affinity', 'irq affinity of each kernel (--format list | sysfs)'),
  msix: kernelView('msix', 'every MSI-X table entry and PBA dword as software reads them, decoded'),
  msi: kernelView('msi', 'the MSI capability registers of each function, decoded'),
  ims: kernelView('ims', 'the IMS entries each kernel allocated or wrote, decoded'),
  irte: kernelView('irte', 'every present IRTE, raw as QEMU traces it, decoded, source-id check'),
  invalidations: kernelView(
    'invalidations',
    'the queued-invalidation descriptors each kernel wrote, in order, by operation',
  ),
};

const VIEW_NAME_WIDTH = Math.max(...Object.keys(SHOW_VIEWS).map((n) => n.length));

export function registerShow(program: Command, io: CliIo): void {
  program
    .command('show')
    .description('show what a scenario builds, without running it')
    .argument('<scenario>', 'scenario file (YAML)')
    .option('--what <view>', `what to show: ${Object.keys(SHOW_VIEWS).join(' | ')}`, 'topology')
    .option('--json', 'print as JSON')
    .option('--kernel <which>', 'kernel views: host, guest (first VM) or a VM name (default: all)')
    .option('--format <format>', 'kernel views: hierarchy text | dot; affinity list | sysfs')
    .option('--at <time>', 'msix, msi, ims, irte: as the system holds them at this time of the run')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  irqlab show scenarios/idxd-siov.yaml\n' +
        '  irqlab show scenarios/mixed.yaml --what topology --json\n' +
        '  irqlab show scenarios/idxd-siov.yaml --what hierarchy --kernel host\n' +
        '  irqlab show scenarios/conformance/qemu-q35-ir.yaml --what msix --kernel guest\n' +
        '  irqlab show scenarios/conformance/qemu-q35-ir.yaml --what irte --kernel guest --json\n' +
        '  irqlab show scenarios/conformance/qemu-q35-ir.yaml --what invalidations --kernel guest\n' +
        '  irqlab show scenarios/mlx5-vf.yaml --what irte --at 3ms\n\n' +
        `Views:\n${Object.entries(SHOW_VIEWS)
          .map(([name, v]) => `  ${name.padEnd(VIEW_NAME_WIDTH)} ${v.description}`)
          .join('\n')}`,
    )
    .action((file: string, opts: ShowOptions & { what: string }) => {
      const view = SHOW_VIEWS[opts.what];
      if (!view) {
        throw new InputError(
          '--what',
          `"${opts.what}" is not one of ${Object.keys(SHOW_VIEWS).join(', ')}`,
        );
      }
      const { out, warnings } = useScenarioFile(io, file, {}, (scenario) =>
        view.render({ io, scenario, file, opts }),
      );
      for (const w of warnings) io.err(`irqlab: ${w}\n`);
      io.out(out);
    });
}

const onOff = (b: boolean) => (b ? 'on' : 'off');
const bdfText = (rid: number) => formatBdf(bdfOfRequesterId(rid), { withSegment: true });
const hex = (n: number) => `0x${n.toString(16)}`;

function topologyJson(b: BuiltScenario, file: string) {
  const s = b.scenario;
  const t = b.initial.topology;
  return {
    scenario: scenarioName(s, file),
    host: {
      cpus: s.host.cpus,
      x2apic: s.host.x2apic,
      apicv: s.host.apicv,
      nested: s.host.nested,
      iommu: s.host.iommu,
      irtEntries: t.irtEntries,
    },
    devices: s.devices.map((d) => ({
      name: d.name,
      kind: d.kind,
      bdf: d.bdf,
      msix: d.msix,
      msi: d.msi,
      ims: d.ims,
      subdevices: d.subdevices,
      vfs: functionRoutingIds(d)
        .slice(1)
        .map((rid, i) => ({ vf: i, bdf: bdfText(rid), msix: d.vfMsix })),
    })),
    vms: s.vms.map((vm, v) => ({
      name: vm.name,
      vcpus: t.vms[v].vcpus,
      pcpus: b.spec.vms[v].pcpus,
      viommu: vm.viommu,
      strategy: b.strategies[v],
      idle: vm.idle,
      assign: vm.assign.map((a, i) => ({
        ...a,
        vectorsDetail: vectorsOf(b, v, i),
      })),
    })),
  };
}

/** The vector whose host routing (IRTE, CPU, vector) vector `i` uses: its own, or for a source
 *  of an INTx fan-out, that of the line it shares (the one host irq and IOAPIC entry the host
 *  requested; the other sources of the line have none of their own). */
function hostRouteOf(t: BuiltScenario['initial']['topology'], i: number): number {
  const v = t.vectors[i];
  const store = t.stores[v.store];
  if (store.kind !== 'intx' || v.hostVector >= 0) return i;
  for (const s of store.lineStores) {
    for (const owner of t.stores[s].entryOwner) {
      if (owner >= 0 && t.vectors[owner].hostVector >= 0) return owner;
    }
  }
  return i;
}

function vectorsOf(b: BuiltScenario, vm: number, assign: number) {
  const t = b.initial.topology;
  return b.assignmentVectors[vm][assign].map((i) => {
    const v = t.vectors[i];
    const route = hostRouteOf(t, i);
    const r = t.vectors[route];
    const store = t.stores[v.store];
    const irteAt = t.layout.irt + Math.max(0, r.irte) * IRTE_DWORDS;
    const posted =
      r.irte >= 0 &&
      IRTE_REMAPPED.accessors.irteMode.get(b.initial.words, irteAt) === IRTE_MODE.posted;
    return {
      name: v.name,
      store: store.name,
      entry: v.entry,
      requester: bdfText(t.ports[store.port].requesterId),
      irte: r.irte >= 0 ? r.irte : null,
      irteFormat: r.irte < 0 ? null : posted ? 'posted' : 'remapped',
      hostCpu: posted ? null : r.hostCpu,
      hostVector: posted || r.hostVector < 0 ? null : hex(r.hostVector),
      /** The INTx line's vector this source shares, when it is another vector's. */
      sharesLineOf: route === i ? null : r.name,
      hostIrq: v.hostIrq,
      guestVcpu: v.vcpu,
      guestVector: hex(v.guestVector),
      guestIrq: v.guestIrq,
    };
  });
}

function topologyText(b: BuiltScenario, file: string): string {
  const j = topologyJson(b, file);
  const lines: string[] = [];
  const h = j.host;
  lines.push(`${j.scenario}`);
  lines.push(
    `host     ${h.cpus} CPUs, ${h.x2apic ? 'x2APIC' : 'xAPIC'}, APICv ${onOff(h.apicv)}, VT-d IR ${onOff(h.iommu.ir)}, posted interrupts ${onOff(h.iommu.posted)}${h.nested ? ', nested' : ''}${h.iommu.ir ? `, IRT ${h.irtEntries} entries` : ''}`,
  );
  lines.push('devices');
  for (const d of j.devices) {
    const caps = [
      d.msix ? `MSI-X ${d.msix}` : '',
      d.msi ? `MSI ${d.msi}` : '',
      d.ims ? `IMS ${d.ims}` : '',
      d.subdevices ? `${d.subdevices} subdevices` : '',
    ].filter(Boolean);
    lines.push(`  ${d.name.padEnd(8)} ${d.kind.padEnd(14)} ${d.bdf.padEnd(13)} ${caps.join(', ')}`);
    if (d.vfs.length > 0) {
      const first = d.vfs[0].bdf;
      const last = d.vfs[d.vfs.length - 1].bdf;
      lines.push(
        `           ${d.vfs.length} VFs ${first}${d.vfs.length > 1 ? ` .. ${last}` : ''}, MSI-X ${d.vfs[0].msix} each`,
      );
    }
  }
  lines.push('vms');
  for (const vm of j.vms) {
    lines.push(
      `  ${vm.name}: ${vm.vcpus} vCPUs on pCPU ${vm.pcpus.join(', ')}, vIOMMU ${vm.viommu}, strategy ${vm.strategy}, idle ${vm.idle}`,
    );
    vm.assign.forEach((a, i) => {
      const what =
        a.vf !== undefined
          ? ` VF ${a.vf}`
          : a.subdevice !== undefined
            ? ` subdevice ${a.subdevice}`
            : '';
      lines.push(
        `    assign[${i}] ${a.device}${what}: guest sees ${a.guest}, host backs with ${a.backing}, ${a.vectors} vectors`,
      );
      for (const v of a.vectorsDetail) {
        const route =
          v.irte === null
            ? `cpu${v.hostCpu} vector ${v.hostVector}`
            : v.irteFormat === 'posted'
              ? `IRTE ${v.irte} (posted)`
              : `IRTE ${v.irte} -> cpu${v.hostCpu} vector ${v.hostVector}`;
        const host = v.sharesLineOf ? `${route} (the INTx line of ${v.sharesLineOf})` : route;
        lines.push(
          `      ${v.store}[${v.entry}] from ${v.requester} -> ${host} -> vcpu${v.guestVcpu} vector ${v.guestVector} (host irq ${v.hostIrq}, guest irq ${v.guestIrq})`,
        );
      }
    });
  }
  return `${lines.join('\n')}\n`;
}
