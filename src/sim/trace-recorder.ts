// The simulator's trace recorder: what happened, when, on which CPU, as semantic records that the
// report layer formats (Perfetto trace-event JSON, trace-cmd text). Three modes:
//  - off: the simulator holds `null` and never builds a record (zero cost: one null check);
//  - in memory: records kept in an array (tests, the browser);
//  - streaming: each record handed to a consumer as it happens (the CLI writes a file through
//    it, so a long run's trace never sits in memory).
// Invariants: records arrive in non-decreasing `tsNs` order; a record is plain data; the same
// scenario and seed give the same records, so the same bytes in any format.
// Not here: formatting (report/trace-*.ts), files (cli).

export type TraceRecord =
  /** A device raised an assigned vector; `flow` links it to the handler that ran it (0: none). */
  | { kind: 'raise'; tsNs: number; store: number; entry: number; vector: number; flow: number }
  /** The device's message write, on the wire for `durNs`. */
  | {
      kind: 'msi-write';
      tsNs: number;
      port: number;
      vector: number;
      addrLo: number;
      data: number;
      durNs: number;
    }
  | { kind: 'pending-set'; tsNs: number; store: number; entry: number; vector: number }
  | { kind: 'coalesced'; tsNs: number; vector: number; where: number }
  | { kind: 'dropped'; tsNs: number; store: number; entry: number; vector: number }
  | { kind: 'ir-fault'; tsNs: number; port: number; reason: number; index: number; vector: number }
  | { kind: 'posted'; tsNs: number; vcpu: number; vector: number; notified: boolean; tag: number }
  | { kind: 'pi-notify'; tsNs: number; pcpu: number; vector: number; vcpu: number }
  | { kind: 'pi-processed'; tsNs: number; pcpu: number; vcpu: number; moved: number }
  | {
      kind: 'host-irq';
      tsNs: number;
      pcpu: number;
      vector: number;
      irq: number;
      tag: number;
      durNs: number;
    }
  | {
      kind: 'kvm-exit';
      tsNs: number;
      vcpu: number;
      pcpu: number;
      reason: number;
      info: number;
      durNs: number;
    }
  | { kind: 'kvm-entry'; tsNs: number; vcpu: number; pcpu: number }
  | {
      kind: 'kvm-msi-set-irq';
      tsNs: number;
      pcpu: number;
      vcpu: number;
      address: number;
      data: number;
    }
  | {
      kind: 'kvm-pi-irte-update';
      tsNs: number;
      irte: number;
      vcpu: number;
      gvec: number;
      set: boolean;
      hostIrq: number;
      gsi: number;
    }
  | { kind: 'iec-invalidate'; tsNs: number; irte: number }
  | { kind: 'ipi'; tsNs: number; from: number; to: number; vector: number }
  | { kind: 'vcpu-wake'; tsNs: number; vcpu: number; pcpu: number }
  | { kind: 'vcpu-block'; tsNs: number; vcpu: number; pcpu: number }
  | { kind: 'vcpu-migrate'; tsNs: number; vcpu: number; from: number; to: number }
  | {
      kind: 'guest-irq';
      tsNs: number;
      vcpu: number;
      vector: number;
      tag: number;
      irq: number;
      durNs: number;
      flow: number;
    }
  | { kind: 'mask'; tsNs: number; store: number; entry: number; masked: boolean; vector: number }
  | { kind: 'unplug'; tsNs: number; store: number }
  | { kind: 'spurious'; tsNs: number; pcpu: number; vector: number };

export type TraceRecordKind = TraceRecord['kind'];

export interface TraceRecorder {
  record(r: TraceRecord): void;
  /** No more records: flush what is buffered. */
  close(): void;
}

export interface MemoryTraceRecorder extends TraceRecorder {
  readonly records: TraceRecord[];
}

export function memoryTraceRecorder(): MemoryTraceRecorder {
  const records: TraceRecord[] = [];
  return { records, record: (r) => records.push(r), close: () => {} };
}

/** Hands every record to `consume` as it is made; `end` runs once at close. */
export function streamingTraceRecorder(
  consume: (r: TraceRecord) => void,
  end: () => void,
): TraceRecorder {
  return { record: consume, close: end };
}
