import { test } from 'vitest';
import { boot } from './helpers.js';
import { pciAllocIrqVectors, pciIrqVector } from '../../src/kernel/pci-msi-api.js';
import { requestIrq, irqSetAffinity } from '../../src/kernel/manage.js';
test('probe', () => {
  const DEV='0000:01:00.0';
  const r = boot({ platform: 'guest-hypercall', devices: [{ bdf: DEV, msix: 8 }] });
  const k = r.kernel;
  pciAllocIrqVectors(k, r.platform, DEV, { min: 4, max: 4, flags: { msix: true } });
  for (let i=0;i<4;i++){ const v = pciIrqVector(k, DEV, i); if (v.ok) requestIrq(k, r.platform, v.virq, 'x'+i); }
  const v = pciIrqVector(k, DEV, 0); if (v.ok) { console.log(JSON.stringify(irqSetAffinity(k, r.platform, v.virq, [2] as never))); }
  console.log(k.accessLog.filter(a=>a.kind==='hypercall').map(a=>JSON.stringify(a)).join('\n'));
});
