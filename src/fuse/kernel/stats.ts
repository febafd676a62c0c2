import { Op } from './abi.js';

const OP_NAMES = new Map<number, string>(Object.entries(Op).map(([name, code]) => [code, name]));

export interface OpReport {
  op: string;
  count: number;
  /** time from the request's arrival to its reply, summed (ms) — 0 for requests answered at once */
  ms: number;
  /** that time per request (µs) */
  meanUs: number;
}

/**
 * What the kernel asked a mount for, per opcode: how often, and how long the answers took
 * (`timefs mount --stats`). The numbers the speed work on the mount is steered by: which requests
 * a workload sends and which of them cost.
 */
export class RequestStats {
  private readonly byOp = new Map<number, { count: number; us: number }>();

  count(opcode: number): void {
    const e = this.byOp.get(opcode);
    if (e) e.count++;
    else this.byOp.set(opcode, { count: 1, us: 0 });
  }

  /** Adds the time one request of `opcode` (already counted) took, in ms. */
  took(opcode: number, ms: number): void {
    const e = this.byOp.get(opcode);
    if (e) e.us += ms * 1000;
  }

  /** The requests since the last take, the costliest first; starts counting afresh. */
  take(): OpReport[] {
    const out = [...this.byOp].map(([code, e]) => ({
      op: OP_NAMES.get(code) ?? `opcode ${code}`,
      count: e.count,
      ms: Math.round(e.us / 1000),
      meanUs: Math.round(e.us / e.count),
    }));
    this.byOp.clear();
    return out.sort((a, b) => b.ms - a.ms || b.count - a.count);
  }
}
