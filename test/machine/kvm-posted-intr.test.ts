// KVM's posted-interrupt protocol as steps (arch/x86/kvm/vmx/posted_intr.c, Linux 6.x): the
// expected descriptor contents come from KVM's code, step by step, and the lost wake-up the old
// one-step model allowed is a regression schedule.
import { describe, expect, it } from 'vitest';
import { fieldPos, getField } from '../../src/hw/field-pos.js';
import { PID_CONTROL } from '../../src/hw/x86/posted-descriptor.js';
import { conserved, quiescent, vectorOutcomes } from '../../src/machine/system.js';
import { ACTION } from '../../src/machine/system-actions.js';
import {
  POSTED_INTR_VECTOR,
  POSTED_INTR_WAKEUP_VECTOR,
  pidControlAt,
  type SystemState,
  VCPU_STATE,
  vcpuOnWakeupList,
  vcpuPcpu,
  vcpuState,
} from '../../src/machine/system-state.js';
import { kinds, quiesce, stepper, system } from './system-helpers.js';

const pid = (s: SystemState, v: number, field: 'on' | 'sn' | 'nv' | 'ndst') =>
  getField(s.words, pidControlAt(s, v), fieldPos(PID_CONTROL, field));

/** The guest of vCPU `v` executes HLT and KVM runs kvm_vcpu_block to the end (it sleeps). */
function halt(x: ReturnType<typeof stepper>, v: number) {
  x.step(ACTION.vcpuHalt, v);
  x.step(ACTION.threadStep, v); // kvm_vcpu_check_block: nothing pending
  return x.step(ACTION.threadStep, v); // pi_enable_wakeup_handler
}

describe('kvm_vcpu_block (HLT)', () => {
  it('puts the vCPU on the wake-up list of the pCPU it ran on and switches NV to the wake-up vector', () => {
    const s = system({ idle: 'halt' });
    const x = stepper(s);
    const p = vcpuPcpu(s, 0);
    expect(kinds(halt(x, 0))).toEqual(['vcpuBlock', 'programStep']);
    expect(vcpuState(s, 0)).toBe(VCPU_STATE.blocked);
    expect(vcpuOnWakeupList(s, 0)).toBe(true);
    expect(pid(s, 0, 'nv')).toBe(POSTED_INTR_WAKEUP_VECTOR);
    expect(pid(s, 0, 'ndst')).toBe(p); // x2APIC NDST: the APIC ID, unchanged by the put
    expect(pid(s, 0, 'sn')).toBe(0);
  });

  it('goes back to the run loop when an interrupt is already posted at kvm_vcpu_check_block', () => {
    const s = system({ idle: 'halt' });
    const x = stepper(s);
    x.raise();
    x.step(ACTION.vcpuHalt, 0);
    x.step(ACTION.deliver, 0); // posted while the vCPU is in KVM: ON, a notification to the host
    x.step(ACTION.apicDeliver);
    expect(kinds(x.step(ACTION.threadStep, 0))).toEqual(['vcpuResume', 'programStep']);
    expect(vcpuState(s, 0)).toBe(VCPU_STATE.inHost);
    expect(pid(s, 0, 'nv')).toBe(POSTED_INTR_VECTOR);
  });

  it('sends itself the wake-up vector when ON was set between the check and the put', () => {
    // pi_enable_wakeup_handler: "an interrupt may have been posted before the notification
    // vector was updated, in which case the IRQ will arrive on the non-wakeup vector".
    const s = system({ idle: 'halt' });
    const x = stepper(s);
    const p = vcpuPcpu(s, 0);
    x.raise();
    x.step(ACTION.vcpuHalt, 0);
    x.step(ACTION.threadStep, 0); // check: nothing pending yet
    x.step(ACTION.deliver, 0); // posted now: notification on POSTED_INTR_VECTOR to p
    x.step(ACTION.apicDeliver);
    const put = x.step(ACTION.threadStep, 0);
    expect(kinds(put)).toEqual(['hostIrrSet', 'vcpuBlock', 'programStep']);
    expect(put[0].args.slice(0, 2)).toEqual([p, POSTED_INTR_WAKEUP_VECTOR]);
    quiesce(s);
    expect(vectorOutcomes(s, 0)).toMatchObject({ raised: 1, delivered: 1 });
  });
});

describe('vmx_vcpu_pi_load', () => {
  it('takes a woken vCPU off the old list and points NDST, SN and NV at the pCPU it runs on', () => {
    const s = system({ idle: 'halt' });
    const x = stepper(s);
    const p = vcpuPcpu(s, 0);
    halt(x, 0);
    x.step(ACTION.vcpuMigrate, 0, 3); // asleep: nothing changes but where it will run
    expect(pid(s, 0, 'ndst')).toBe(p);
    expect(pid(s, 0, 'nv')).toBe(POSTED_INTR_WAKEUP_VECTOR);
    x.raise();
    x.step(ACTION.deliver, 0); // wake-up notification to p, whose list has the vCPU
    x.step(ACTION.apicDeliver);
    x.step(ACTION.pcpuInterrupt, p);
    expect(vcpuState(s, 0)).toBe(VCPU_STATE.runnable);
    x.step(ACTION.threadStep, 0);
    expect(vcpuOnWakeupList(s, 0)).toBe(false);
    expect([pid(s, 0, 'ndst'), pid(s, 0, 'sn'), pid(s, 0, 'nv')]).toEqual([
      3,
      0,
      POSTED_INTR_VECTOR,
    ]);
    expect(pid(s, 0, 'on')).toBe(1); // PIR was not empty (after_clear_sn)
    expect(vcpuPcpu(s, 0)).toBe(3);
  });
});

describe('regression: the lost wake-up of the one-step model', () => {
  // Found by an exhaustive search over the one-step model: raise; vCPU0 halts; the message is
  // posted (wake-up notification to pCPU0); vCPU1 halts; the blocked vCPU0 is migrated to pCPU2
  // (its NDST followed it); pCPU0's wake-up handler found no vCPU and the PIR bit was stranded.
  // KVM leaves a blocked vCPU on the list of the pCPU it blocked on until it is loaded again.
  it('ends with every interrupt delivered', () => {
    const s = system({ idle: 'halt' });
    const x = stepper(s);
    const p0 = vcpuPcpu(s, 0);
    x.raise();
    halt(x, 0);
    const post = x.step(ACTION.deliver, 0);
    x.step(ACTION.apicDeliver);
    expect(kinds(post)).toContain('piNotify');
    halt(x, 1);
    x.step(ACTION.vcpuMigrate, 0, 2);
    const wake = x.step(ACTION.pcpuInterrupt, p0);
    expect(kinds(wake)).toContain('vcpuWake');
    quiesce(s);
    expect(quiescent(s)).toBe(true);
    expect(conserved(s)).toBe(true);
    expect(vectorOutcomes(s, 0)).toMatchObject({ raised: 1, delivered: 1, lost: 0 });
    expect(vcpuPcpu(s, 0)).toBe(2);
  });
});
