// trace-cmd-style text: one line per event, `comm-pid [cpu] seconds: event: fields`, with the
// real tracepoints' names and TP_printk formats where one exists: kvm_exit, kvm_entry,
// kvm_msi_set_irq, kvm_pi_irte_update, kvm_vcpu_wakeup (arch/x86/kvm/trace.h,
// include/trace/events/kvm.h), irq_handler_entry / irq_handler_exit
// (include/trace/events/irq.h), sched_migrate_task, QEMU's vfio_msix_vector_do_use /
// vfio_msix_vector_release (hw/vfio/trace-events). What no tracepoint shows (the remapping unit
// posting, a message on the wire) is printed as `irqlab_*` events. Host lines come first on each
// line as `host`, guest lines as the VM's name: a merged host + guest report, as trace-cmd
// prints one with guest data. Timestamps have nanosecond resolution (`trace-cmd report -t`).
// Invariant: lines are in time order (a handler's exit line is held back until its time).

import { encode } from '../hw/bits.js';
import { MSI_ADDRESS_COMPAT, MSI_DATA_COMPAT } from '../hw/x86/msi-message.js';
import {
  DELIVERY_MODE_NAMES_KVM,
  EXIT_REASON,
  EXIT_REASON_NAMES,
  VMX_EXIT_INTR_INFO,
} from '../machine/system-events.js';
import type { SystemTopology } from '../machine/system-topology.js';
import { lossName } from '../sim/system-sim.js';
import type { TraceRecord } from '../sim/trace-recorder.js';
import {
  bufferedSink,
  createDeferred,
  defer,
  hex,
  portBdf,
  releaseDue,
  type TraceWriter,
  vectorName,
} from './trace-writer.js';

/** Thread IDs given to QEMU's vCPU threads: VM i, vCPU j -> FIRST_VCPU_TID + 100 i + j. */
const FIRST_VCPU_TID = 2001;
const QEMU_TID = 2000;

interface Task {
  readonly comm: string;
  readonly pid: number;
}
const DEVICE_TASK: Task = { comm: 'device', pid: 0 };
const DMAR_TASK: Task = { comm: 'dmar', pid: 0 };
const QEMU_TASK: Task = { comm: 'qemu-system-x86', pid: QEMU_TID };

const seconds = (ns: number) => {
  const s = Math.floor(ns / 1e9);
  return `${String(s).padStart(5)}.${String(ns - s * 1e9).padStart(9, '0')}`;
};

export function ftraceWriter(t: SystemTopology, sink: (chunk: string) => void): TraceWriter {
  const out = bufferedSink(sink);
  const later = createDeferred();
  const loaded = new Map<number, number>(); // pCPU -> vCPU in (or exiting from) guest mode
  const blockedAt = new Map<number, number>();
  out.put(
    '# irqlab trace, trace-cmd report -t style: instance comm-pid [cpu] seconds: event: fields\n',
  );
  const vcpuComm = (v: number) => ({
    comm: `CPU ${t.vcpus[v].index}/KVM`,
    pid: FIRST_VCPU_TID + 100 * t.vcpus[v].vm + t.vcpus[v].index,
  });
  const hostTask = (pcpu: number) => {
    const v = loaded.get(pcpu);
    return v === undefined ? { comm: '<idle>', pid: 0 } : vcpuComm(v);
  };
  const line = (
    instance: string,
    task: { comm: string; pid: number },
    cpu: number,
    ts: number,
    name: string,
    fields: string,
  ) =>
    `${instance.padEnd(6)} ${`${task.comm}-${task.pid}`.padStart(20)} [${String(cpu).padStart(3, '0')}] ${seconds(ts)}: ${name}: ${fields}\n`;
  const host = (pcpu: number, ts: number, name: string, fields: string) =>
    out.put(line('host', hostTask(pcpu), pcpu, ts, name, fields));
  /** Events of a task not tied to a pCPU here (the device, the remapping unit, QEMU): CPU 0. */
  const onTask = (task: Task, ts: number, name: string, fields: string) =>
    out.put(line('host', task, 0, ts, name, fields));

  const write = (r: TraceRecord) => {
    releaseDue(later, r.tsNs, out);
    switch (r.kind) {
      case 'kvm-exit': {
        loaded.set(r.pcpu, r.vcpu);
        if (r.reason === EXIT_REASON.hlt) blockedAt.set(r.vcpu, r.tsNs);
        const intrInfo =
          r.reason === EXIT_REASON.externalInterrupt
            ? encode(VMX_EXIT_INTR_INFO, { vector: r.info, valid: 1 })[0]
            : 0;
        host(
          r.pcpu,
          r.tsNs,
          'kvm_exit',
          `vcpu ${t.vcpus[r.vcpu].index} reason ${EXIT_REASON_NAMES[r.reason] ?? r.reason} rip 0x0 info1 0x${'0'.repeat(16)} info2 0x${'0'.repeat(16)} intr_info 0x${intrInfo.toString(16).padStart(8, '0')} error_code 0x00000000`,
        );
        return;
      }
      case 'kvm-entry':
        loaded.set(r.pcpu, r.vcpu);
        return host(r.pcpu, r.tsNs, 'kvm_entry', `vcpu ${t.vcpus[r.vcpu].index}, rip 0x0`);
      case 'vcpu-block':
        loaded.delete(r.pcpu);
        return;
      case 'vcpu-wake': {
        const since = blockedAt.get(r.vcpu) ?? r.tsNs;
        blockedAt.delete(r.vcpu);
        return out.put(
          line(
            'host',
            vcpuComm(r.vcpu),
            r.pcpu,
            r.tsNs,
            'kvm_vcpu_wakeup',
            `wait time ${r.tsNs - since} ns, polling invalid`,
          ),
        );
      }
      case 'host-irq': {
        if (r.irq < 0) {
          return host(r.pcpu, r.tsNs, 'irqlab_system_vector', `vector=${r.vector}`);
        }
        const name = hostIrqName(t, r.tag);
        host(r.pcpu, r.tsNs, 'irq_handler_entry', `irq=${r.irq} name=${name}`);
        defer(
          later,
          r.tsNs + r.durNs,
          line(
            'host',
            hostTask(r.pcpu),
            r.pcpu,
            r.tsNs + r.durNs,
            'irq_handler_exit',
            `irq=${r.irq} ret=handled`,
          ),
        );
        return;
      }
      case 'kvm-msi-set-irq':
        return host(r.pcpu, r.tsNs, 'kvm_msi_set_irq', msiSetIrqFields(r.address, r.data));
      case 'kvm-pi-irte-update':
        return onTask(
          QEMU_TASK,
          r.tsNs,
          'kvm_pi_irte_update',
          `PI is ${r.set ? 'enabled and being updated' : 'disabled'} for irq ${r.hostIrq}, vcpu ${t.vcpus[r.vcpu].index}, gsi: ${hex(r.gsi)}, gvec: ${hex(r.gvec)}, pi_desc_addr: ${hex(r.vcpu * 64)}`,
        );
      case 'vcpu-migrate': {
        const task = vcpuComm(r.vcpu);
        return host(
          r.from,
          r.tsNs,
          'sched_migrate_task',
          `comm=${task.comm} pid=${task.pid} prio=120 orig_cpu=${r.from} dest_cpu=${r.to}`,
        );
      }
      case 'mask': {
        const what = t.stores[r.store];
        const bdf = portBdf(t, what.port);
        const fields = r.masked ? `(${bdf}) vector ${r.entry}` : `(${bdf}) vector ${r.entry} used`;
        return out.put(
          line(
            'host',
            { comm: 'qemu-system-x86', pid: QEMU_TID },
            0,
            r.tsNs,
            r.masked ? 'vfio_msix_vector_release' : 'vfio_msix_vector_do_use',
            fields,
          ),
        );
      }
      case 'guest-irq': {
        const vm = t.vms[t.vcpus[r.vcpu].vm].name;
        const cpu = t.vcpus[r.vcpu].index;
        const idle = { comm: '<idle>', pid: 0 };
        if (r.irq < 0) {
          out.put(line(vm, idle, cpu, r.tsNs, 'irqlab_spurious_vector', `vector=${r.vector}`));
          return;
        }
        out.put(
          line(
            vm,
            idle,
            cpu,
            r.tsNs,
            'irq_handler_entry',
            `irq=${r.irq} name=${vectorName(t, r.tag)}`,
          ),
        );
        defer(
          later,
          r.tsNs + r.durNs,
          line(vm, idle, cpu, r.tsNs + r.durNs, 'irq_handler_exit', `irq=${r.irq} ret=handled`),
        );
        return;
      }
      case 'raise':
        return;
      case 'msi-write':
        return onTask(
          DEVICE_TASK,
          r.tsNs,
          'irqlab_msi_write',
          `requester=${portBdf(t, r.port)} addr=${hex(r.addrLo)} data=${hex(r.data)} source=${vectorName(t, r.vector)}`,
        );
      case 'pending-set':
        return onTask(
          DEVICE_TASK,
          r.tsNs,
          'irqlab_pending_set',
          `store=${t.stores[r.store].name} entry=${r.entry}`,
        );
      case 'coalesced':
        return onTask(
          DEVICE_TASK,
          r.tsNs,
          'irqlab_coalesced',
          `source=${vectorName(t, r.vector)} at=${r.where}`,
        );
      case 'dropped':
        return onTask(
          DEVICE_TASK,
          r.tsNs,
          'irqlab_dropped',
          `store=${t.stores[r.store].name} entry=${r.entry}`,
        );
      case 'ir-fault':
        return onTask(
          DMAR_TASK,
          r.tsNs,
          'irqlab_ir_fault',
          `reason="${lossName(r.reason)}" index=${r.index} requester=${portBdf(t, r.port)}`,
        );
      case 'posted':
        return onTask(
          DMAR_TASK,
          r.tsNs,
          'irqlab_pi_post',
          `vcpu=${t.vcpus[r.vcpu].name} vec=${r.vector} notify=${r.notified ? 1 : 0}`,
        );
      case 'pi-notify':
        return host(
          r.pcpu,
          r.tsNs,
          'irqlab_pi_notification',
          `vector=${r.vector} vcpu=${t.vcpus[r.vcpu].name}`,
        );
      case 'pi-processed':
        return host(
          r.pcpu,
          r.tsNs,
          'irqlab_pi_processed',
          `vcpu=${t.vcpus[r.vcpu].name} vectors=${r.moved}`,
        );
      case 'ipi':
        return host(r.from, r.tsNs, 'irqlab_ipi', `target_cpu=${r.to} vector=${r.vector}`);
      case 'iec-invalidate':
        return onTask(DMAR_TASK, r.tsNs, 'irqlab_iec_invalidate', `index=${r.irte}`);
      case 'unplug':
        return onTask(QEMU_TASK, r.tsNs, 'irqlab_hot_unplug', `store=${t.stores[r.store].name}`);
      case 'spurious':
        return host(r.pcpu, r.tsNs, 'irqlab_spurious_vector', `vector=${r.vector}`);
    }
  };
  return {
    write,
    end() {
      releaseDue(later, Number.POSITIVE_INFINITY, out);
      out.flush();
    },
  };
}

/** VFIO names its interrupts "vfio-msix[%d](%s)" / "vfio-msi[%d](%s)" / "vfio-intx(%s)"
 *  (drivers/vfio/pci/vfio_pci_intrs.c); irqlab names an IMS-backed one "vfio-ims[%d](%s)". */
function hostIrqName(t: SystemTopology, vector: number): string {
  const v = t.vectors[vector];
  if (!v) return 'unknown';
  const store = t.stores[v.store];
  const bdf = portBdf(t, store.port);
  return store.kind === 'intx' ? `vfio-intx(${bdf})` : `vfio-${store.kind}[${v.entry}](${bdf})`;
}

/** "dst %llx vec %u (%s|%s|%s%s)" of include/trace/events/kvm.h, from the route's pair. */
function msiSetIrqFields(address: number, data: number): string {
  const a = MSI_ADDRESS_COMPAT.accessors;
  const d = MSI_DATA_COMPAT.accessors;
  const words = [address, data];
  const mode = DELIVERY_MODE_NAMES_KVM[d.deliveryMode.get(words, 1)];
  const dest = a.destinationMode.get(words, 0) ? 'logical' : 'physical';
  const trigger = d.triggerMode.get(words, 1) ? 'level' : 'edge';
  const rh = a.redirectionHint.get(words, 0) ? '|rh' : '';
  return `dst ${a.destinationId.get(words, 0).toString(16)} vec ${d.vector.get(words, 1)} (${mode}|${dest}|${trigger}${rh})`;
}
