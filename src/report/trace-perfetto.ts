// Chrome / Perfetto trace-event JSON (the "Trace Event Format": a `traceEvents` array of objects
// with `ph`, `ts` in microseconds, `pid`, `tid`), as ui.perfetto.dev and chrome://tracing open it.
// Tracks: process "host" with one thread per pCPU (VM exits as B/E slices, from kvm_exit to the
// next kvm_entry of that vCPU; host interrupts, IPIs and notifications as instant events) and a
// "dmar" thread for the remapping unit (posts, faults, IEC invalidations); process "devices"
// with one thread per assigned vector (each raise; the first raise of a delivery is a 1 ns slice
// that starts a flow); one process per VM with one thread per vCPU (guest handlers as slices,
// where the flow from the device's raise ends).
// Invariant: timestamps are microseconds as JSON numbers (ns / 1000, exact to the nanosecond),
// written in record order, so the same records give the same bytes.

import { EXIT_REASON_NAMES } from '../machine/system-events.js';
import type { SystemTopology } from '../machine/system-topology.js';
import { lossName } from '../sim/system-sim.js';
import type { TraceRecord } from '../sim/trace-recorder.js';
import { bufferedSink, hex, portBdf, type TraceWriter, vectorName } from './trace-writer.js';

const HOST_PID = 1;
const DEVICES_PID = 2;
const FIRST_VM_PID = 10;
/** The remapping unit's thread in the host process. */
const DMAR_TID = 100000;
/** Device-track thread for raises of entries no assigned vector uses. */
const UNASSIGNED_TID = 100001;
const RAISE_SLICE_US = 0.001;

/** Microseconds as a JSON number: ns / 1000 is exact to the nanosecond in a double. */
const us = (ns: number) => ns / 1000;

export function perfettoTraceWriter(t: SystemTopology, sink: (chunk: string) => void): TraceWriter {
  const out = bufferedSink(sink);
  let first = true;
  const event = (e: Record<string, unknown>) => {
    out.put(`${first ? '\n' : ',\n'}${JSON.stringify(e)}`);
    first = false;
  };
  out.put('{"displayTimeUnit":"ns","traceEvents":[');
  metadata(t, event);
  const openExitPcpu = new Map<number, number>();
  const vcpuTrack = (v: number) => ({ pid: FIRST_VM_PID + t.vcpus[v].vm, tid: t.vcpus[v].index });
  const deviceTid = (vector: number) => (t.vectors[vector] ? vector : UNASSIGNED_TID);
  const instant = (name: string, ts: number, pid: number, tid: number, args?: unknown) =>
    event({ name, ph: 'i', s: 't', ts: us(ts), pid, tid, ...(args ? { args } : {}) });

  const write = (r: TraceRecord) => {
    switch (r.kind) {
      case 'raise': {
        const tid = deviceTid(r.vector);
        const args = { store: t.stores[r.store].name, entry: r.entry };
        if (r.flow > 0) {
          event({
            name: 'raise',
            cat: 'device',
            ph: 'X',
            ts: us(r.tsNs),
            dur: RAISE_SLICE_US,
            pid: DEVICES_PID,
            tid,
            args,
          });
          event({
            name: 'interrupt',
            cat: 'flow',
            ph: 's',
            id: r.flow,
            ts: us(r.tsNs),
            pid: DEVICES_PID,
            tid,
          });
        } else instant('raise', r.tsNs, DEVICES_PID, tid, args);
        return;
      }
      case 'msi-write':
        return instant(
          `MSI write ${hex(r.addrLo)} ${hex(r.data)}`,
          r.tsNs,
          DEVICES_PID,
          deviceTid(r.vector),
          {
            requester: portBdf(t, r.port),
          },
        );
      case 'pending-set':
        return instant('masked: pending bit set', r.tsNs, DEVICES_PID, deviceTid(r.vector));
      case 'coalesced':
        return instant(`coalesced (${r.where})`, r.tsNs, DEVICES_PID, deviceTid(r.vector));
      case 'dropped':
        return instant('dropped', r.tsNs, DEVICES_PID, deviceTid(r.vector));
      case 'ir-fault':
        return instant(`fault: ${lossName(r.reason)}`, r.tsNs, HOST_PID, DMAR_TID, {
          index: r.index,
          requester: portBdf(t, r.port),
          vector: vectorName(t, r.vector),
        });
      case 'posted':
        return instant(
          `post ${t.vcpus[r.vcpu].name} vector ${hex(r.vector)}`,
          r.tsNs,
          HOST_PID,
          DMAR_TID,
          {
            notify: r.notified,
          },
        );
      case 'pi-notify':
        return instant(`notification ${hex(r.vector)}`, r.tsNs, HOST_PID, r.pcpu, {
          vcpu: t.vcpus[r.vcpu].name,
        });
      case 'pi-processed':
        return instant(
          'posted-interrupt processing',
          r.tsNs,
          vcpuTrack(r.vcpu).pid,
          vcpuTrack(r.vcpu).tid,
          {
            vectors: r.moved,
          },
        );
      case 'host-irq':
        return instant(
          r.irq >= 0 ? `irq ${r.irq}` : `vector ${hex(r.vector)}`,
          r.tsNs,
          HOST_PID,
          r.pcpu,
          {
            vector: hex(r.vector),
            source: r.irq >= 0 ? vectorName(t, r.tag) : undefined,
          },
        );
      case 'kvm-exit':
        openExitPcpu.set(r.vcpu, r.pcpu);
        return event({
          name: EXIT_REASON_NAMES[r.reason] ?? `exit ${r.reason}`,
          cat: 'kvm',
          ph: 'B',
          ts: us(r.tsNs),
          pid: HOST_PID,
          tid: r.pcpu,
          args: { vcpu: t.vcpus[r.vcpu].name, info: hex(r.info) },
        });
      case 'kvm-entry': {
        const pcpu = openExitPcpu.get(r.vcpu);
        if (pcpu === undefined) return;
        openExitPcpu.delete(r.vcpu);
        return event({ ph: 'E', ts: us(r.tsNs), pid: HOST_PID, tid: pcpu });
      }
      case 'kvm-msi-set-irq':
        return instant('kvm_msi_set_irq', r.tsNs, vcpuTrack(r.vcpu).pid, vcpuTrack(r.vcpu).tid, {
          address: hex(r.address),
          data: hex(r.data),
        });
      case 'kvm-pi-irte-update':
        return instant(`IRTE ${r.irte} -> ${t.vcpus[r.vcpu].name}`, r.tsNs, HOST_PID, DMAR_TID, {
          gvec: hex(r.gvec),
        });
      case 'iec-invalidate':
        return instant(`IEC invalidate ${r.irte}`, r.tsNs, HOST_PID, DMAR_TID);
      case 'ipi':
        return instant(
          `IPI ${hex(r.vector)} -> cpu${r.to}`,
          r.tsNs,
          HOST_PID,
          r.from >= 0 ? r.from : DMAR_TID,
        );
      case 'vcpu-wake':
        return instant(`wake ${t.vcpus[r.vcpu].name}`, r.tsNs, HOST_PID, r.pcpu);
      case 'vcpu-block':
        return instant(`block ${t.vcpus[r.vcpu].name}`, r.tsNs, HOST_PID, r.pcpu);
      case 'vcpu-migrate':
        return instant(`migrate ${t.vcpus[r.vcpu].name} -> cpu${r.to}`, r.tsNs, HOST_PID, r.from);
      case 'guest-irq': {
        const track = vcpuTrack(r.vcpu);
        event({
          name: r.irq >= 0 ? `irq ${r.irq}` : `spurious ${hex(r.vector)}`,
          cat: 'guest',
          ph: 'X',
          ts: us(r.tsNs),
          dur: us(r.durNs),
          ...track,
          args: { vector: hex(r.vector), source: vectorName(t, r.tag) },
        });
        if (r.flow > 0)
          event({
            name: 'interrupt',
            cat: 'flow',
            ph: 'f',
            bp: 'e',
            id: r.flow,
            ts: us(r.tsNs),
            ...track,
          });
        return;
      }
      case 'mask':
        return instant(r.masked ? 'mask' : 'unmask', r.tsNs, DEVICES_PID, deviceTid(r.vector));
      case 'unplug':
        return instant(`hot-unplug ${t.stores[r.store].name}`, r.tsNs, HOST_PID, DMAR_TID);
      case 'spurious':
        return instant(`spurious ${hex(r.vector)}`, r.tsNs, HOST_PID, r.pcpu);
    }
  };
  return {
    write,
    end() {
      out.put('\n]}\n');
      out.flush();
    },
  };
}

function metadata(t: SystemTopology, event: (e: Record<string, unknown>) => void): void {
  const name = (pid: number, tid: number, what: 'process_name' | 'thread_name', value: string) =>
    event({ name: what, ph: 'M', ts: 0, pid, tid, args: { name: value } });
  name(HOST_PID, 0, 'process_name', 'host');
  for (let p = 0; p < t.host.cpus; p++) name(HOST_PID, p, 'thread_name', `cpu${p}`);
  name(HOST_PID, DMAR_TID, 'thread_name', 'dmar (VT-d remapping unit)');
  name(DEVICES_PID, 0, 'process_name', 'devices');
  t.vectors.forEach((v, i) => {
    name(DEVICES_PID, i, 'thread_name', `${t.stores[v.store].name}[${v.entry}] ${v.name}`);
  });
  name(DEVICES_PID, UNASSIGNED_TID, 'thread_name', 'unassigned entries');
  t.vms.forEach((vm, i) => {
    name(FIRST_VM_PID + i, 0, 'process_name', vm.name);
    for (let v = 0; v < vm.vcpus; v++) name(FIRST_VM_PID + i, v, 'thread_name', `vcpu${v}`);
  });
}
