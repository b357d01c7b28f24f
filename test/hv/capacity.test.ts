// Capacity of an assignment shape: every expected value below is worked out by hand from the
// limits the test names (no value is copied from the code's output).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  type CapacityShape,
  capacityShapeOf,
  HOST_VECTORS_PER_CPU,
  subdevicesThatFit,
} from '../../src/hv/capacity.js';
import { InputError } from '../../src/hw/errors.js';
import { loadScenario } from '../../src/scenario/load.js';

const SCENARIOS = fileURLToPath(new URL('../../scenarios/', import.meta.url));

const shape = (over: Partial<CapacityShape> & Pick<CapacityShape, 'backing'>): CapacityShape => ({
  strategy: 'emulate',
  kind: 'subdevice',
  vectorsPerSubdevice: 2,
  vms: 2,
  host: { cpus: 8, ir: true, posted: true },
  parent: { msixEntries: 9, msixReserved: 1, msiVectors: 0, imsEntries: 2048, routingIdsLeft: 0 },
  ...over,
});

describe('host vectors per CPU', () => {
  it('is the vector matrix range 0x20..0xeb (204 vectors) minus IA32_SYSCALL_VECTOR 0x80: 203', () => {
    // arch/x86/include/asm/irq_vectors.h: FIRST_EXTERNAL_VECTOR 0x20, FIRST_SYSTEM_VECTOR 0xec
    // (LOCAL_TIMER_VECTOR), IA32_SYSCALL_VECTOR 0x80.
    expect(HOST_VECTORS_PER_CPU).toBe(0xec - 0x20 - 1);
    expect(HOST_VECTORS_PER_CPU).toBe(203);
  });
});

describe('subdevicesThatFit', () => {
  it('posting does not save host vectors: 8 CPUs x 203 = 1,624 host vectors / 2 = 812', () => {
    // VFIO request_irq()s a host irq per backed vector; irq bypass only makes its IRTE posted
    // (intel_ir_set_vcpu_affinity), the vector stays allocated. IMS would allow 2,048 / 2 = 1,024.
    const r = subdevicesThatFit(shape({ backing: 'ims' }));
    expect(r).toMatchObject({ subdevices: 812, limitedBy: 'host-vectors' });
    expect(r.perResource['host-vectors']).toEqual({
      available: 1624,
      used: 1624,
      usedOneMore: 1626,
    });
  });

  it('with 16 CPUs (3,248 host vectors) the 2,048 IMS entries run out first: 2048 / 2 = 1,024', () => {
    // IRTEs: 65,536 / 2 = 32,768; KVM routes: 4,096 / 2 per VM = 2,048 per VM, 2 VMs = 4,096.
    const r = subdevicesThatFit(
      shape({ backing: 'ims', host: { cpus: 16, ir: true, posted: true } }),
    );
    expect(r).toMatchObject({ subdevices: 1024, limitedBy: 'ims-entries' });
    expect(r.perResource['ims-entries']).toEqual({
      available: 2048,
      used: 2048,
      usedOneMore: 2050,
    });
  });

  it('the same without posted interrupts: 8 CPUs x 203 host vectors = 1,624, / 2 = 812', () => {
    const r = subdevicesThatFit(
      shape({ backing: 'ims', host: { cpus: 8, ir: true, posted: false } }),
    );
    expect(r).toMatchObject({ subdevices: 812, limitedBy: 'host-vectors' });
  });

  it('MSI-X-backed subdevices of an idxd: 2,048 entries minus entry 0, 3 vectors each: 682', () => {
    // MSI-X Table Size is 11 bits, N-1 (PCIe): 2,048 entries; idxd keeps entry 0: 2,047 / 3 = 682.
    // 16 CPUs: 3,248 host vectors >= 682 x 3 = 2,046, so the table binds, not the vectors.
    const r = subdevicesThatFit(
      shape({
        backing: 'msix',
        vectorsPerSubdevice: 3,
        host: { cpus: 16, ir: true, posted: true },
        parent: {
          msixEntries: 2048,
          msixReserved: 1,
          msiVectors: 0,
          imsEntries: 0,
          routingIdsLeft: 0,
        },
      }),
    );
    expect(r).toMatchObject({ subdevices: 682, limitedBy: 'msix-entries' });
  });

  it('VFs with 257 vectors to one VM: KVM_MAX_IRQ_ROUTES 4,096 / 257 = 15 (CH issue 7081)', () => {
    // reference/systems.md §3 pain point 3: "257 MSI-X x 17 VFs > 4096"; 15 x 257 = 3,855 fits,
    // 16 x 257 = 4,112 does not. 32 CPUs: 6,496 host vectors, more than the routes allow.
    const r = subdevicesThatFit(
      shape({
        backing: 'msix',
        kind: 'vf',
        vms: 1,
        host: { cpus: 32, ir: true, posted: true },
        vectorsPerSubdevice: 257,
        parent: {
          msixEntries: 257,
          msixReserved: 0,
          msiVectors: 0,
          imsEntries: 0,
          routingIdsLeft: 1000,
        },
      }),
    );
    expect(r).toMatchObject({ subdevices: 15, limitedBy: 'kvm-routes' });
    expect(r.perResource['kvm-routes']).toMatchObject({ used: 3855, usedOneMore: 4112 });
  });

  it('VFs whose table is smaller than the vectors wanted: none fit', () => {
    const r = subdevicesThatFit(
      shape({
        backing: 'msix',
        kind: 'vf',
        vectorsPerSubdevice: 9,
        parent: {
          msixEntries: 8,
          msixReserved: 0,
          msiVectors: 0,
          imsEntries: 0,
          routingIdsLeft: 4,
        },
      }),
    );
    expect(r).toMatchObject({ subdevices: 0, limitedBy: 'msix-entries' });
  });

  it('VFs limited by routing IDs when nothing else runs out first', () => {
    // 3 VFs of room, 1 vector each, posted, pv (no KVM route needed): requester IDs bind at 3.
    const r = subdevicesThatFit(
      shape({
        backing: 'msix',
        kind: 'vf',
        strategy: 'pv',
        vectorsPerSubdevice: 1,
        parent: {
          msixEntries: 8,
          msixReserved: 0,
          msiVectors: 0,
          imsEntries: 0,
          routingIdsLeft: 3,
        },
      }),
    );
    expect(r).toMatchObject({ subdevices: 3, limitedBy: 'requester-ids' });
  });

  it('vir-direct carves power-of-two handle windows: 3 VMs x 8-vector VFs fit 6,145, not 8,192', () => {
    // Without windows: 65,536 / 8 = 8,192 IRTEs' worth. With them, VM i holds k_i VFs (round
    // robin, k_0 >= k_1 >= k_2 >= k_0 - 1) in a window of nextPow2(8 k_i) entries; the windows
    // must sum to <= 65,536. 32,768 + 16,384 + 16,384 = 65,536 allows k = 2,049 + 2,048 + 2,048
    // = 6,145; one more gives 2,049 + 2,049 + 2,048: 32,768 + 32,768 + 16,384 > 65,536.
    const vfs = (strategy: CapacityShape['strategy']) =>
      shape({
        backing: 'msix',
        kind: 'vf',
        strategy,
        vms: 3,
        vectorsPerSubdevice: 8,
        // 512 CPUs: 103,936 host vectors >= 8,192 x 8 = 65,536, so the IRTEs bind.
        host: { cpus: 512, ir: true, posted: true },
        parent: {
          msixEntries: 8,
          msixReserved: 0,
          msiVectors: 0,
          imsEntries: 0,
          routingIdsLeft: 50_000,
        },
      });
    expect(subdevicesThatFit(vfs('vir-direct'))).toMatchObject({
      subdevices: 6145,
      limitedBy: 'irtes',
    });
    expect(subdevicesThatFit(vfs('pv'))).toMatchObject({ subdevices: 8192, limitedBy: 'irtes' });
  });

  it('MSI backing: subdevices share one power-of-two block of at most 32 vectors', () => {
    // 3 subdevices x 8 = 24 -> block of 32 fits; 4 x 8 = 32 fits; 5 x 8 = 40 -> 64 > 32.
    const r = subdevicesThatFit(
      shape({
        backing: 'msi',
        vectorsPerSubdevice: 8,
        parent: {
          msixEntries: 0,
          msixReserved: 0,
          msiVectors: 32,
          imsEntries: 0,
          routingIdsLeft: 0,
        },
      }),
    );
    expect(r).toMatchObject({ subdevices: 4, limitedBy: 'msi-vectors' });
  });

  it('rejects a shape with no vectors, naming the field', () => {
    expect(() => subdevicesThatFit(shape({ backing: 'ims', vectorsPerSubdevice: 0 }))).toThrow(
      InputError,
    );
    expect(() => subdevicesThatFit(shape({ backing: 'ims', vectorsPerSubdevice: 0 }))).toThrow(
      /vectorsPerSubdevice/,
    );
  });
});

describe('capacityShapeOf', () => {
  const load = (file: string) => loadScenario(readFileSync(SCENARIOS + file, 'utf8'), file);

  it('idxd-siov.yaml: IMS-backed subdevices, 2 vectors, 2 VMs, the DSA s 2,048 IMS entries', () => {
    const s = capacityShapeOf(load('idxd-siov.yaml'), 'emulate');
    expect(s).toMatchObject({
      kind: 'subdevice',
      backing: 'ims',
      vectorsPerSubdevice: 2,
      vms: 2,
      parent: { imsEntries: 2048, msixEntries: 9, msixReserved: 1 },
    });
    // 2,048 / 2 = 1,024 IMS-wise, but the host's 8 CPUs x 203 = 1,624 vectors / 2 = 812 first.
    expect(subdevicesThatFit(s as CapacityShape)).toMatchObject({
      subdevices: 812,
      limitedBy: 'host-vectors',
    });
  });

  it('mlx5-vf.yaml: VFs with up to 4 vectors; routing IDs from 3b:00.2 up to ff:1f.7', () => {
    const s = capacityShapeOf(load('mlx5-vf.yaml'), 'emulate');
    // 0xffff - (0x3b00 + 2) + 1 = 50,430 routing IDs at stride 1.
    expect(s).toMatchObject({
      kind: 'vf',
      backing: 'msix',
      vectorsPerSubdevice: 4,
      vms: 2,
      parent: { msixEntries: 8, routingIdsLeft: 50_430 },
    });
    // KVM routes: 4,096 / 4 = 1,024 per VM, 2 VMs: 2,048; IRTEs: 65,536 / 4 = 16,384; but the
    // host's 8 CPUs x 203 = 1,624 vectors / 4 = 406 VFs first.
    expect(subdevicesThatFit(s as CapacityShape)).toMatchObject({
      subdevices: 406,
      limitedBy: 'host-vectors',
    });
  });
});
