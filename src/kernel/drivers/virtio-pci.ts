// virtio over PCI (drivers/virtio/virtio_pci_common.c, current Linux) and the vector needs of
// the virtio drivers on top of it. `vp_find_vqs` tries, in order:
//   1. MSI-X, one vector for config changes plus one per virtqueue with a callback
//      (VP_VQ_VECTOR_POLICY_EACH);
//   2. the same but the slow-path (admin) queue shares the config vector (..._SHARED_SLOW);
//   3. MSI-X with two vectors: config, and one shared by every queue (..._SHARED);
//   4. INTx, if the function has a pin.
// Each attempt allocates with `pci_alloc_irq_vectors_affinity(n, n, MSIX[|AFFINITY])`, requests
// "virtio<N>-config" first, then "virtio<N>-<vq name>" per queue in queue order, and gives
// everything back before the next attempt. Drivers that pass an `irq_affinity` (virtio-blk,
// virtio-scsi) get managed vectors spread over the CPUs; the config vector is a pre-vector.
// virtio-net instead sets affinity hints per queue pair (`virtnet_set_affinity`).
// Evidence: `vm-virtio-pci` (balloon: config, inflate, deflate, stats, reporting_vq; rng:
// input; blk: req.0; net: input.0, output.0; vsock: rx, tx, event), `qemu-q35-*` (net with 3
// of 4 entries, blk with req.0-3 managed on CPUs 0-3).
// Not modelled: the admin virtqueue, vq sizes, the common-config msix_config/queue_msix_vector
// writes (virtio registers, not interrupt registers).

import type { KernelState } from '../kernel-state.js';
import { freeIrq, irqSetAffinityAndHint, requestIrq } from '../manage.js';
import { pciAllocIrqVectors, pciFreeIrqVectors, pciIrqVector } from '../pci-msi-api.js';
import type { KernelPlatform } from '../platform.js';
import { cpuMask, type IrqResult } from '../types.js';
import {
  type ProbeResult,
  pciFreeIrqDevId,
  pciRequestIrq,
  probeFailed,
  probeOk,
} from './driver.js';

export interface VirtQueue {
  readonly name: string;
  /** A queue without a callback (virtio-net's control queue) gets no vector. */
  readonly callback: boolean;
}

export type VirtioDevice =
  | { readonly type: 'net'; readonly queuePairs: number; readonly ctrlVq: boolean }
  | { readonly type: 'blk'; readonly queues: number }
  | {
      readonly type: 'balloon';
      readonly statsVq: boolean;
      readonly freePageVq: boolean;
      readonly reportingVq: boolean;
    }
  | { readonly type: 'rng' }
  | { readonly type: 'vsock' }
  | { readonly type: 'console'; readonly multiport: boolean }
  | { readonly type: 'custom'; readonly vqs: readonly VirtQueue[]; readonly managed: boolean };

export interface VirtioDriverSpec {
  readonly kind: 'virtio';
  /** N of "virtio<N>": the order virtio_pci registered the device in. */
  readonly index: number;
  readonly device: VirtioDevice;
}

type Policy = 'each' | 'shared-slow' | 'shared';

const cb = (name: string): VirtQueue => ({ name, callback: true });

/** The queues a driver asks `find_vqs` for, and whether it wants managed affinity. */
export function virtioQueues(
  k: KernelState,
  dev: VirtioDevice,
): { vqs: VirtQueue[]; managed: boolean } {
  switch (dev.type) {
    case 'net': {
      const vqs: VirtQueue[] = [];
      for (let i = 0; i < dev.queuePairs; i++) vqs.push(cb(`input.${i}`), cb(`output.${i}`));
      if (dev.ctrlVq) vqs.push({ name: 'control', callback: false });
      return { vqs, managed: false };
    }
    case 'blk': {
      // virtio_blk `init_vq`: min(num_queues, nr_cpu_ids) request queues.
      const n = Math.min(dev.queues, k.nrCpus);
      return { vqs: Array.from({ length: n }, (_, i) => cb(`req.${i}`)), managed: true };
    }
    case 'balloon': {
      const vqs = [cb('inflate'), cb('deflate')];
      if (dev.statsVq) vqs.push(cb('stats'));
      if (dev.freePageVq) vqs.push(cb('free_page_vq'));
      if (dev.reportingVq) vqs.push(cb('reporting_vq'));
      return { vqs, managed: false };
    }
    case 'rng':
      return { vqs: [cb('input')], managed: false };
    case 'vsock':
      return { vqs: [cb('rx'), cb('tx'), cb('event')], managed: false };
    case 'console': {
      const vqs = [cb('input'), cb('output')];
      if (dev.multiport) vqs.push(cb('control-i'), cb('control-o'));
      return { vqs, managed: false };
    }
    case 'custom':
      return { vqs: [...dev.vqs], managed: dev.managed };
  }
}

/** `vp_del_vqs`: free what was requested, then the vectors. */
function vpDelVqs(k: KernelState, p: KernelPlatform, bdf: string, requested: number[]): void {
  for (const nr of requested.reverse()) {
    const v = pciIrqVector(k, bdf, nr);
    if (v.ok) freeIrq(k, p, v.virq, pciFreeIrqDevId(bdf, nr));
  }
  pciFreeIrqVectors(k, p, bdf);
}

/** `vp_find_vqs_msix` with one policy. Returns the vectors requested on success. */
function vpFindVqsMsix(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: VirtioDriverSpec,
  policy: Policy,
): { ok: true; requested: number[]; perVq: boolean } | { ok: false; reason: string } {
  const { vqs, managed } = virtioQueues(k, spec.device);
  const perVq = policy !== 'shared';
  const nvectors = perVq ? 1 + vqs.filter((q) => q.callback).length : 2;
  const affd = perVq && managed ? { preVectors: 1, postVectors: 0 } : undefined;
  const alloc = pciAllocIrqVectors(k, p, bdf, {
    min: nvectors,
    max: nvectors,
    flags: { msix: true },
    ...(affd ? { affd } : {}),
  });
  if (!alloc.ok) return { ok: false, reason: `${alloc.errno}: ${alloc.reason}` };
  const requested: number[] = [];
  const request = (nr: number, name: string): IrqResult => {
    const r = pciRequestIrq(k, p, bdf, nr, `virtio${spec.index}-${name}`);
    if (r.ok) requested.push(nr);
    return r;
  };
  const undo = (r: { errno: string; reason: string }) => {
    vpDelVqs(k, p, bdf, requested);
    return { ok: false as const, reason: `${r.errno}: ${r.reason}` };
  };
  const config = request(0, 'config');
  if (!config.ok) return undo(config);
  let next = 1;
  if (!perVq) {
    const shared = request(next++, 'virtqueues');
    if (!shared.ok) return undo(shared);
    return { ok: true, requested, perVq };
  }
  for (const vq of vqs) {
    if (!vq.callback) continue;
    const r = request(next++, vq.name);
    if (!r.ok) return undo(r);
  }
  return { ok: true, requested, perVq };
}

/** `virtnet_set_affinity`: queue pair i's rx and tx vectors get a hint of consecutive CPUs. */
function virtnetSetAffinity(k: KernelState, p: KernelPlatform, bdf: string, queuePairs: number) {
  const online = k.online;
  const stride = Math.max(Math.floor(online.length / queuePairs), 1);
  const stragglers = online.length >= queuePairs ? online.length % queuePairs : 0;
  let start = 0;
  for (let i = 0; i < queuePairs; i++) {
    const size = stride + (i < stragglers ? 1 : 0);
    const cpus: number[] = [];
    for (let j = 0; j < size; j++) cpus.push(online[(start + j) % online.length]);
    start = (start + size) % online.length;
    for (const nr of [1 + 2 * i, 2 + 2 * i]) {
      const v = pciIrqVector(k, bdf, nr);
      if (v.ok) irqSetAffinityAndHint(k, p, v.virq, cpuMask(cpus));
    }
  }
}

/** The virtio driver's probe through `vp_find_vqs` with its fallbacks. */
export function virtioProbe(
  k: KernelState,
  p: KernelPlatform,
  bdf: string,
  spec: VirtioDriverSpec,
): ProbeResult {
  const notes: string[] = [];
  for (const policy of ['each', 'shared-slow', 'shared'] as const) {
    const r = vpFindVqsMsix(k, p, bdf, spec, policy);
    if (r.ok) {
      if (spec.device.type === 'net' && r.perVq)
        virtnetSetAffinity(k, p, bdf, spec.device.queuePairs);
      return probeOk(notes);
    }
    notes.push(`MSI-X policy ${policy} failed: ${r.reason}`);
  }
  const dev = k.devices[bdf];
  if (dev === undefined || dev.intxIrq === 0) return probeFailed(notes);
  const intx = requestIrq(k, p, dev.intxIrq, `virtio${spec.index}`, { shared: true, devId: bdf });
  if (!intx.ok) return probeFailed([...notes, `INTx: ${intx.errno}: ${intx.reason}`]);
  notes.push('fell back to INTx');
  return probeOk(notes);
}
