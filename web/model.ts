// The page's side of the model worker: one request at a time, progress reported as it comes,
// and cancel, which terminates the worker (a run cannot be interrupted from inside) and starts
// a fresh one for the next request.

import type { WorkReply, WorkRequest, WorkResult } from './protocol.js';

type Pending = {
  readonly id: number;
  readonly progress: (done: number, total: number, label: string) => void;
  readonly resolve: (r: WorkResult) => void;
  readonly reject: (e: WorkError) => void;
};

export class WorkError extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
  }
}

/** A request without its id (the worker wrapper numbers them). */
export type WorkBody = WorkRequest extends infer R
  ? R extends unknown
    ? Omit<R, 'id'>
    : never
  : never;

export function modelWorker() {
  let nextId = 1;
  let pending: Pending | null = null;
  const start = () => {
    const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (e: MessageEvent<WorkReply>) => {
      const m = e.data;
      if (!pending || m.id !== pending.id) return;
      if (m.kind === 'progress') pending.progress(m.done, m.total, m.label);
      else {
        const p = pending;
        pending = null;
        if (m.kind === 'result') p.resolve(m.result);
        else p.reject(new WorkError(m.message, false));
      }
    };
    return w;
  };
  let worker = start();
  return {
    busy: () => pending !== null,
    run(req: WorkBody, progress: Pending['progress']): Promise<WorkResult> {
      if (pending) return Promise.reject(new WorkError('a run is in progress', false));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending = { id, progress, resolve, reject };
        worker.postMessage({ ...req, id } as WorkRequest);
      });
    },
    cancel(): void {
      if (!pending) return;
      worker.terminate();
      worker = start();
      const p = pending;
      pending = null;
      p.reject(new WorkError('cancelled', true));
    },
  };
}

export type ModelWorker = ReturnType<typeof modelWorker>;
