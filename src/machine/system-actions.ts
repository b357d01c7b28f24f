// The actions of the whole-system model: plain data, three numbers each (`kind`, `a`, `b`), so
// the simulator's event queue stores them in typed arrays and a trace is a list of them. Each
// kind is owned by one component and dispatched to it by `systemStep`.
//
// Two families: what the system does by itself, which `systemEnabled` lists (a device raises, a
// message reaches the remapping unit, a CPU takes an interrupt, a vCPU enters, handles, halts, an
// invalidation queue's descriptor is processed, a thread runs the next step of its step program); and inputs from the scenario's workload (mask, affinity, migration,
// unplug), which the simulator injects at their time and the explorer will choose among.
// What each operand indexes is declared once per kind (`ACTION_OPERANDS`), over a table of
// operand domains (`OPERAND_DOMAINS`: how many there are, their names): schedules are read,
// checked and written from it, never per kind.

import type { SystemTopology } from './system-topology.js';

export const ACTION = {
  /** device: the store raises an entry. a: store, b: entry */
  raise: 0,
  /** root complex: the oldest message of a requester reaches the remapping unit. a: port */
  deliver: 1,
  /** pCPU: takes its highest pending host interrupt. a: pCPU */
  pcpuInterrupt: 2,
  /** KVM: VM entry of a runnable vCPU. a: vCPU */
  vcpuEnter: 3,
  /** guest: takes its highest deliverable virtual interrupt (vIRR -> vISR) and runs its
   *  handler's entry (common_interrupt: the owner of the vector). a: vCPU */
  guestHandle: 4,
  /** guest: idle vCPU executes HLT. a: vCPU */
  vcpuHalt: 5,
  /** VT-d: the remapping unit processes the descriptor at the head of the host's invalidation
   *  queue (an IEC invalidation, or a wait once what it must drain has landed). */
  qiProcess: 6,
  /** a thread (a vCPU task, a guest irq) runs the next step of its step program. a: thread */
  threadStep: 7,
  /** VMM: its event loop reads the eventfd VFIO signalled for a vector (vfio_msi_interrupt).
   *  a: vector index */
  vmmInterrupt: 8,
  /** VT-d: the interrupt entry cache drops a cached IRTE on its own (replacement is the
   *  implementation's; software must not rely on any policy). a: IRTE index */
  iecEvict: 9,
  /** system bus: the oldest interrupt in flight from the remapping unit reaches its LAPIC. */
  apicDeliver: 10,
  /** guest: its handler's ack writes EOI for the vector in service (apic_ack_edge). a: vCPU */
  guestEoi: 11,
  // ---- workload inputs ----
  /** guest driver masks an assigned vector. a: vector index */
  mask: 12,
  /** guest driver unmasks an assigned vector. a: vector index */
  unmask: 13,
  /** guest moves a vector to another of its vCPUs and guest vector (what its kernel chose).
   *  a: vector index, b: `affinityTarget(vcpu index in the VM, guest vector)` */
  setAffinity: 14,
  /** host scheduler moves a vCPU. a: vCPU, b: pCPU */
  vcpuMigrate: 15,
  /** the assigned function or subdevice of a vector's store disappears. a: store */
  hotUnplug: 16,
  /** guest driver frees an assigned vector's irq (free_irq). a: vector index */
  freeIrq: 17,
  /** guest driver requests a freed vector's irq again (request_irq). a: vector index */
  requestIrq: 18,
} as const;

export type ActionKind = (typeof ACTION)[keyof typeof ACTION];
export const ACTION_NAMES: readonly string[] = Object.keys(ACTION);
/** Kinds below this are the system's own; the rest are workload inputs. A new system action
 *  goes before the inputs (the simulator retries an input that is not enabled yet, and skips a
 *  system action that is not); schedule files name actions, so their numbers may move. */
export const FIRST_INPUT_ACTION = ACTION.mask;

export interface SystemAction {
  kind: ActionKind;
  a: number;
  b: number;
}

export const action = (kind: ActionKind, a: number, b = 0): SystemAction => ({ kind, a, b });

/** `setAffinity`'s b: the vCPU (index in its VM) and the guest vector the guest kernel chose. */
export const affinityTarget = (vcpu: number, vector: number): number => vcpu * 256 + vector;
export const affinityVcpu = (b: number): number => Math.floor(b / 256);
export const affinityVector = (b: number): number => b % 256;

/** What an action's operand indexes in the topology. */
export interface OperandDomain {
  /** One of them, for messages: "store". */
  readonly noun: string;
  /** How many there are (valid operands are 0..count-1), given the action's `a`. */
  count(t: SystemTopology, a: number): number;
  /** The name of operand `i` as `describeSystemAction` prints it; null: a plain number. */
  readonly name: ((t: SystemTopology, i: number) => string) | null;
}

export const OPERAND_DOMAINS = {
  /** Unused operand: 0. */
  none: { noun: 'unused operand', count: () => 1, name: null },
  store: { noun: 'store', count: (t) => t.stores.length, name: (t, i) => t.stores[i].name },
  /** An entry (MSI-X/IMS slot, MSI vector, INTx source) of the store in `a`. */
  entry: { noun: 'entry of the store', count: (t, store) => t.stores[store].entries, name: null },
  port: { noun: 'port', count: (t) => t.ports.length, name: (t, i) => t.ports[i].name },
  pcpu: { noun: 'host CPU', count: (t) => t.host.cpus, name: (_, i) => `cpu${i}` },
  vcpu: { noun: 'vCPU', count: (t) => t.vcpus.length, name: (t, i) => t.vcpus[i].name },
  irte: { noun: 'IRTE index', count: (t) => t.irtEntries, name: null },
  thread: { noun: 'thread', count: (t) => t.threads.length, name: (t, i) => t.threads[i].name },
  vector: {
    noun: 'assigned vector',
    count: (t) => t.vectors.length,
    name: (t, i) => t.vectors[i].name,
  },
  /** `affinityTarget(vcpu in the VM of the vector in a, guest vector)`. */
  affinityTarget: {
    noun: 'affinity target (vCPU in the VM * 256 + guest vector)',
    count: (t, vector) => t.vms[t.vectors[vector].vm].vcpus * 256,
    name: null,
  },
} as const satisfies Record<string, OperandDomain>;

export type OperandName = keyof typeof OPERAND_DOMAINS;

/** Per kind, what `a` and `b` index. */
export const ACTION_OPERANDS: {
  readonly [K in keyof typeof ACTION]: readonly [a: OperandName, b: OperandName];
} = {
  raise: ['store', 'entry'],
  deliver: ['port', 'none'],
  pcpuInterrupt: ['pcpu', 'none'],
  vcpuEnter: ['vcpu', 'none'],
  guestHandle: ['vcpu', 'none'],
  vcpuHalt: ['vcpu', 'none'],
  qiProcess: ['none', 'none'],
  threadStep: ['thread', 'none'],
  vmmInterrupt: ['vector', 'none'],
  iecEvict: ['irte', 'none'],
  apicDeliver: ['none', 'none'],
  guestEoi: ['vcpu', 'none'],
  mask: ['vector', 'none'],
  unmask: ['vector', 'none'],
  setAffinity: ['vector', 'affinityTarget'],
  vcpuMigrate: ['vcpu', 'pcpu'],
  hotUnplug: ['store', 'none'],
  freeIrq: ['vector', 'none'],
  requestIrq: ['vector', 'none'],
};

/** The kind called `name` in the ACTION table, or undefined. */
export const actionKindOf = (name: string): ActionKind | undefined =>
  Object.hasOwn(ACTION, name) ? ACTION[name as keyof typeof ACTION] : undefined;

/** The operand domains of `kind`'s `a` and `b`. */
export const actionOperands = (kind: ActionKind): readonly [OperandDomain, OperandDomain] => {
  const [a, b] = ACTION_OPERANDS[ACTION_NAMES[kind] as keyof typeof ACTION];
  return [OPERAND_DOMAINS[a], OPERAND_DOMAINS[b]];
};
