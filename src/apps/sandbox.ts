import { createHash } from 'node:crypto';
import ivm from 'isolated-vm';

const MAX_ISOLATES = 64;

/** What a handler sees of the HTTP request. */
export interface HandlerRequest {
  method: string;
  /** path inside the app, e.g. /api/habits */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string | null;
  /** the body parsed, when it was JSON */
  json?: unknown;
  /** the version the app is served at, or null at head */
  version: string | null;
}

export interface HandlerResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The one capability a handler gets: SQL on its app's database. */
export interface DbCapability {
  query(sql: string, params: unknown): unknown;
  exec(sql: string, params: unknown): unknown;
}

export class HandlerError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'HandlerError';
  }
}

export interface SandboxOptions {
  memoryMb?: number;
  timeoutMs?: number;
  maxResponseBytes?: number;
}

/** Code run in every context before the handler: the `db` object and nothing else of the host. */
const PRELUDE = `
const __query = globalThis.__query, __exec = globalThis.__exec;
delete globalThis.__query; delete globalThis.__exec;
globalThis.db = Object.freeze({
  query(sql, params = []) { return JSON.parse(__query(String(sql), JSON.stringify(params))); },
  exec(sql, params = []) { return JSON.parse(__exec(String(sql), JSON.stringify(params))); },
});
`;

const RUN = `(function (handler, reqJson) {
  return Promise.resolve(handler(JSON.parse(reqJson), globalThis.db)).then((r) => JSON.stringify(r === undefined ? null : r));
})`;

/**
 * Runs app handlers in isolated-vm: one isolate per app (memory-limited; replaced if a handler
 * blows the limit), a fresh context per request (no state leaks between requests), a time limit
 * per call. The context's global object holds the JS builtins plus `db` — no require, process,
 * fetch, timers, filesystem or network. Handlers are ES modules whose default export is
 * `(req, db) => response`; imports are refused.
 */
export class AppSandbox {
  /** one isolate per app, oldest first; past MAX_ISOLATES the oldest is disposed */
  private readonly isolates = new Map<string, ivm.Isolate>();
  private readonly memoryMb: number;
  private readonly timeoutMs: number;
  private readonly maxResponse: number;

  constructor(options: SandboxOptions = {}) {
    this.memoryMb = options.memoryMb ?? 64;
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.maxResponse = options.maxResponseBytes ?? 8 * 1024 * 1024;
  }

  private isolate(key: string): ivm.Isolate {
    let iso = this.isolates.get(key);
    if (iso && !iso.isDisposed) return iso;
    iso = new ivm.Isolate({ memoryLimit: this.memoryMb });
    this.isolates.set(key, iso);
    if (this.isolates.size > MAX_ISOLATES) {
      const [oldest, old] = this.isolates.entries().next().value as [string, ivm.Isolate];
      this.isolates.delete(oldest);
      if (!old.isDisposed) old.dispose();
    }
    return iso;
  }

  /** Compiles a handler without running it: the syntax check DeployApp does. */
  async check(code: string, filename: string): Promise<void> {
    const iso = new ivm.Isolate({ memoryLimit: 16 });
    try {
      const mod = await iso.compileModule(code, { filename });
      if (mod.dependencySpecifiers.length > 0) throw new HandlerError(`${filename}: imports are not available in handlers (${mod.dependencySpecifiers.join(', ')})`, 500);
    } catch (err) {
      if (err instanceof HandlerError) throw err;
      throw new HandlerError(`${filename}: ${(err as Error).message}`, 500);
    } finally {
      iso.dispose();
    }
  }

  async run(appKey: string, code: string, filename: string, req: HandlerRequest, db: DbCapability): Promise<HandlerResponse> {
    const iso = this.isolate(appKey);
    let ctx: ivm.Context | undefined;
    try {
      ctx = await iso.createContext();
      const g = ctx.global;
      await g.set('__query', new ivm.Callback((sql: string, params: string) => JSON.stringify(db.query(sql, JSON.parse(params)))));
      await g.set('__exec', new ivm.Callback((sql: string, params: string) => JSON.stringify(db.exec(sql, JSON.parse(params)))));
      await ctx.eval(PRELUDE, { timeout: this.timeoutMs });
      const mod = await iso.compileModule(code, { filename: `${filename}#${createHash('sha1').update(code).digest('hex').slice(0, 8)}` });
      await mod.instantiate(ctx, (spec) => {
        throw new Error(`imports are not available in handlers ('${spec}')`);
      });
      await mod.evaluate({ timeout: this.timeoutMs });
      const handler = await mod.namespace.get('default', { reference: true });
      if (handler.typeof !== 'function') throw new HandlerError(`${filename} must \`export default function (req, db) { … }\``, 500);
      const run = (await ctx.eval(RUN, { reference: true })) as ivm.Reference<(h: unknown, r: string) => Promise<string>>;
      const out = (await run.apply(undefined, [handler.derefInto(), JSON.stringify(req)], { result: { promise: true, copy: true }, timeout: this.timeoutMs })) as string;
      if (out.length > this.maxResponse) throw new HandlerError(`${filename} returned ${out.length} bytes; the limit is ${this.maxResponse}`, 500);
      return toResponse(JSON.parse(out) as unknown);
    } catch (err) {
      if (err instanceof HandlerError) throw err;
      const msg = (err as Error).message ?? String(err);
      if (iso.isDisposed || /memory limit/i.test(msg)) {
        this.isolates.delete(appKey);
        throw new HandlerError(`${filename} exceeded its ${this.memoryMb} MiB memory limit`, 503);
      }
      if (/timed out/i.test(msg)) throw new HandlerError(`${filename} ran longer than ${this.timeoutMs} ms and was stopped`, 504);
      throw new HandlerError(`${filename}: ${msg}`, 500);
    } finally {
      if (ctx && !iso.isDisposed) ctx.release();
    }
  }

  dispose(): void {
    for (const [, iso] of this.isolates) if (!iso.isDisposed) iso.dispose();
    this.isolates.clear();
  }
}

/** A handler's return value as an HTTP response: {status, headers, body | json}, or any value as JSON. */
function toResponse(value: unknown): HandlerResponse {
  const v = value as { status?: unknown; headers?: unknown; body?: unknown; json?: unknown } | null;
  const shaped = v !== null && typeof v === 'object' && !Array.isArray(v) && ('status' in v || 'body' in v || 'json' in v);
  if (!shaped) return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(value) };
  const status = typeof v.status === 'number' && v.status >= 100 && v.status <= 599 ? Math.floor(v.status) : 200;
  const headers: Record<string, string> = {};
  if (v.headers && typeof v.headers === 'object') {
    for (const [k, val] of Object.entries(v.headers as Record<string, unknown>)) if (typeof val === 'string' || typeof val === 'number') headers[k.toLowerCase()] = String(val);
  }
  if ('json' in v) {
    headers['content-type'] ??= 'application/json; charset=utf-8';
    return { status, headers, body: JSON.stringify(v.json) };
  }
  headers['content-type'] ??= 'text/plain; charset=utf-8';
  return { status, headers, body: typeof v.body === 'string' ? v.body : v.body === undefined || v.body === null ? '' : JSON.stringify(v.body) };
}
