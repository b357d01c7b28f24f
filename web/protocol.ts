// The messages between the page and its model worker (worker.ts). Each request has an id; the
// worker answers it with progress messages and then one result or one error.

import type { ScenarioIssue } from '../src/scenario/errors.js';
import type { CheckScenarioResult } from '../src/scenario/run-check.js';
import type { CompareResult } from '../src/scenario/run-strategy.js';
import type { Strategy } from '../src/scenario/schema.js';

export type WorkRequest =
  | {
      readonly id: number;
      readonly kind: 'compare';
      readonly text: string;
      readonly file: string;
      readonly strategies: readonly Strategy[];
    }
  | {
      readonly id: number;
      readonly kind: 'trace';
      readonly text: string;
      readonly file: string;
      readonly strategy: Strategy;
    }
  | { readonly id: number; readonly kind: 'kernels'; readonly text: string; readonly file: string }
  | { readonly id: number; readonly kind: 'backing'; readonly text: string; readonly file: string }
  | { readonly id: number; readonly kind: 'check'; readonly text: string; readonly file: string };

/** One kernel as `irqlab show --kernel <name>` gives it: the DOT of its hierarchy and the JSON
 *  of the hierarchy, interrupts, msix and irte views. */
export interface KernelViews {
  readonly name: string;
  readonly dot: string;
  readonly domains: readonly DomainJson[];
  readonly irqs: readonly {
    readonly irq: number;
    readonly chip: string;
    readonly [k: string]: unknown;
  }[];
  readonly msix: readonly { readonly bdf: string; readonly [k: string]: unknown }[];
  readonly irte: readonly { readonly unit: string; readonly [k: string]: unknown }[];
  readonly warnings: readonly string[];
}

export interface DomainJson {
  readonly name: string;
  readonly kind: string;
  readonly parent: string | null;
  readonly chip: string;
  readonly isolatedMsi: boolean;
  readonly irqs: number;
}

export interface TraceResult {
  readonly strategy: Strategy;
  /** The Perfetto trace JSON, the bytes `irqlab run --strategy S --trace` writes. */
  readonly perfetto: string;
}

/** The host's remapping table at the end of the run, each present IRTE with the assigned
 *  vector that owns it: `irqlab show --what irte --at <run.duration> --json`. */
export interface BackingIrt {
  readonly at: string;
  readonly entries: number;
  readonly present: readonly {
    readonly index: number;
    readonly summary: string;
    readonly who: string;
    readonly requester: string | null;
    readonly sourceIdCheck: string | null;
  }[];
}

export type WorkResult =
  | { readonly kind: 'compare'; readonly data: CompareResult }
  | { readonly kind: 'trace'; readonly data: TraceResult }
  | { readonly kind: 'kernels'; readonly data: readonly KernelViews[] }
  | { readonly kind: 'backing'; readonly data: BackingIrt }
  | { readonly kind: 'check'; readonly data: CheckScenarioResult };

export type WorkReply =
  | {
      readonly id: number;
      readonly kind: 'progress';
      readonly done: number;
      readonly total: number;
      readonly label: string;
    }
  | { readonly id: number; readonly kind: 'result'; readonly result: WorkResult }
  | {
      readonly id: number;
      readonly kind: 'error';
      readonly message: string;
      readonly issues: readonly ScenarioIssue[];
    };
