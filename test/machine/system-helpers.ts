// Small systems for the whole-system model tests, built through the real scenario builder.

import { describeThreadStep, threadEnabled } from '../../src/machine/programs.js';
import { threadIdle } from '../../src/machine/step-program.js';
import { settle, systemIsEnabled, systemStep } from '../../src/machine/system.js';
import { ACTION, type ActionKind } from '../../src/machine/system-actions.js';
import { createEventLog, type EventLog, eventsOf } from '../../src/machine/system-events.js';
import {
  cloneSystemState,
  type SystemState,
  VCPU_STATE,
  vcpuState,
} from '../../src/machine/system-state.js';
import { irqThread } from '../../src/machine/system-topology.js';
import { buildScenario } from '../../src/scenario/build.js';
import { loadScenario } from '../../src/scenario/load.js';

export function system(opts: {
  posted?: boolean;
  ir?: boolean;
  apicv?: boolean;
  x2apic?: boolean;
  idle?: 'poll' | 'halt';
  vectors?: number;
  backing?: 'msix' | 'ims' | 'intx' | 'msi';
  /** The MSI capability has per-vector mask bits (default: true). */
  msiMask?: boolean;
  /** Default: the scenario's (emulate). `pv` when the guest must reach the host entry itself. */
  strategy?: 'emulate' | 'pv' | 'vir' | 'vir-direct';
}): SystemState {
  const ir = opts.ir ?? true;
  const backing = opts.backing ?? 'msix';
  const assign =
    backing === 'ims' || backing === 'intx'
      ? `{ device: dsa0, subdevice: 0, guest: ${opts.strategy && opts.strategy !== 'emulate' ? backing : 'msix'}, backing: ${backing}, vectors: ${opts.vectors ?? 1} }`
      : `{ device: nic0, guest: ${backing === 'msi' ? 'msi' : 'msix'}, backing: ${backing}, vectors: ${opts.vectors ?? 1} }`;
  const text = `
host:
  cpus: 4
  x2apic: ${opts.x2apic ?? true}
  apicv: ${opts.apicv ?? true}
  iommu: { ir: ${ir}, posted: ${opts.posted ?? ir} }
devices:
  - { name: nic0, kind: generic, bdf: "0000:01:00.0", msix: 4, msi: 4, msiMask: ${opts.msiMask ?? true} }
  - { name: dsa0, kind: idxd, bdf: "0000:6a:01.0", msix: 9, ims: 16, subdevices: 2 }
vms:
  - name: vm0
    vcpus: 2
    viommu: on
    idle: ${opts.idle ?? 'poll'}
    ${opts.strategy ? `strategy: ${opts.strategy}` : ''}
    assign: [${assign}]
run: { duration: 1ms }
`;
  return cloneSystemState(buildScenario(loadScenario(text, 'test.yaml')).initial);
}

export function stepper(s: SystemState) {
  const log: EventLog = createEventLog();
  return {
    log,
    step(kind: ActionKind, a = 0, b = 0) {
      const from = log.length;
      systemStep(s, { kind, a, b }, log);
      return eventsOf(log, from);
    },
    /** A workload input on assigned vector `vector`, then every step of the guest operation it
     *  started (its irq thread's program) and of the handlers its traps started, in order; with
     *  `until`, it stops before the program's step of that name. */
    guestOp(kind: ActionKind, vector = 0, b = 0, until?: string) {
      const from = log.length;
      systemStep(s, { kind, a: vector, b }, log);
      this.drive(vector, until);
      return eventsOf(log, from);
    },
    /** Runs the operation in progress on `vector` on (see guestOp). */
    drive(vector = 0, until?: string) {
      const from = log.length;
      const thread = irqThread(s.topology, vector);
      const enter = (v: number) => ({ kind: ACTION.vcpuEnter, a: v, b: 0 });
      const inGuest = s.topology.vcpus.flatMap((_, v) =>
        vcpuState(s, v) === VCPU_STATE.inGuest ? [v] : [],
      );
      for (let n = 0; n < 256; n++) {
        const trapped = s.topology.vcpus.findIndex((_, v) => !threadIdle(s, v));
        if (trapped < 0 && threadIdle(s, thread)) break;
        if (
          trapped < 0 &&
          until !== undefined &&
          describeThreadStep(s, thread).endsWith(`/${until}`)
        ) {
          break;
        }
        const next = trapped >= 0 ? trapped : thread;
        if (threadEnabled(s, next)) {
          systemStep(s, { kind: ACTION.threadStep, a: next, b: 0 }, log);
          continue;
        }
        // the vCPU the operation runs on is back in KVM's run loop after a trap: it re-enters;
        // a handler waits for the remapping unit's invalidation (and wait) to complete
        const unblock = [
          ...s.topology.vcpus.map((_, v) => ({ kind: ACTION.vcpuEnter, a: v, b: 0 })),
          { kind: ACTION.qiProcess, a: 0, b: 0 },
          { kind: ACTION.apicDeliver, a: 0, b: 0 },
        ].find((a) => systemIsEnabled(s, a));
        if (unblock === undefined) throw new Error(`guestOp: thread ${next} cannot step`);
        systemStep(s, unblock, log);
      }
      // the vCPUs its traps took out of the guest go back in
      for (const v of inGuest) {
        if (systemIsEnabled(s, enter(v))) systemStep(s, enter(v), log);
      }
      return eventsOf(log, from);
    },
    /** Raise assigned vector `vector` of the system. */
    raise(vector = 0) {
      const v = s.topology.vectors[vector];
      return this.step(ACTION.raise, v.store, v.entry);
    },
  };
}

export const kinds = (events: { kind: string }[]) => events.map((e) => e.kind);

/** One DSA subdevice of two vectors' worth of sources, seen by the guest as MSI-X and backed on
 *  the host by `backing` (an INTx line by default), under emulate; `workload` is spliced in as
 *  the scenario's workload section. */
export const subdeviceScenario = (backing: 'intx' | 'msix' = 'intx', workload = '') => `
host:
  cpus: 4
  x2apic: true
  iommu: { ir: true, posted: true }
devices:
  - { name: dsa0, kind: idxd, bdf: "0000:6a:01.0", msix: 9, ims: 16, subdevices: 2 }
vms:
  - name: vm0
    vcpus: 2
    viommu: on
    strategy: emulate
    assign: [{ device: dsa0, subdevice: 1, guest: msix, backing: ${backing}, vectors: 1 }]
${workload}
run: { duration: 2ms }
`;

/** Lets everything in flight land (`settle`): the state a schedule ends in. */
export const quiesce = (s: SystemState, log: EventLog = createEventLog()): number => settle(s, log);
