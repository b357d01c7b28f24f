// The actions of the whole-system model: plain data, three numbers each (`kind`, `a`, `b`), so
// the simulator's event queue stores them in typed arrays and a trace is a list of them. Each
// kind is owned by one component and dispatched to it by `systemStep`.
//
// Two families: what the system does by itself, which `systemEnabled` lists (a device raises, a
// message reaches the remapping unit, a CPU takes an interrupt, a vCPU enters, handles, halts, an
// IEC flush completes, a thread runs the next step of its step program); and inputs from the scenario's workload (mask, affinity, migration,
// unplug), which the simulator injects at their time and the explorer will choose among.

export const ACTION = {
  /** device: the store raises an entry. a: store, b: entry */
  raise: 0,
  /** root complex: the oldest message of a requester reaches the remapping unit. a: port */
  deliver: 1,
  /** pCPU: takes its highest pending host interrupt. a: pCPU */
  pcpuInterrupt: 2,
  /** KVM: VM entry of a runnable vCPU. a: vCPU */
  vcpuEnter: 3,
  /** guest: runs the handler of its highest pending virtual interrupt. a: vCPU */
  guestHandle: 4,
  /** guest: idle vCPU executes HLT. a: vCPU */
  vcpuHalt: 5,
  /** VT-d: an interrupt-entry-cache invalidation software queued completes. a: IRTE index */
  iecInvalidate: 6,
  /** a thread (a vCPU task, a guest irq) runs the next step of its step program. a: thread */
  threadStep: 7,
  /** VMM: its event loop reads the eventfd VFIO signalled for a vector (vfio_msi_interrupt).
   *  a: vector index */
  vmmInterrupt: 8,
  // ---- workload inputs ----
  /** guest driver masks an assigned vector. a: vector index */
  mask: 9,
  /** guest driver unmasks an assigned vector. a: vector index */
  unmask: 10,
  /** guest moves a vector to another of its vCPUs and guest vector (what its kernel chose).
   *  a: vector index, b: `affinityTarget(vcpu index in the VM, guest vector)` */
  setAffinity: 11,
  /** host scheduler moves a vCPU. a: vCPU, b: pCPU */
  vcpuMigrate: 12,
  /** the assigned function or subdevice of a vector's store disappears. a: store */
  hotUnplug: 13,
} as const;

export type ActionKind = (typeof ACTION)[keyof typeof ACTION];
export const ACTION_NAMES: readonly string[] = Object.keys(ACTION);
/** Kinds below this are the system's own; the rest are workload inputs. */
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
