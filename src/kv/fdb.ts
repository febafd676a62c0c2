import { createRequire } from 'node:module';
import { UserError } from '../util/errors.js';
import type { KvEngine, KvPair, KvTransaction, RangeOptions, TransactResult } from './types.js';

/**
 * FoundationDB engine. The `foundationdb` package is an optional dependency: it only installs where
 * the FDB client library (libfdb_c) exists, so it is loaded lazily, only when this engine is chosen,
 * and typed against the narrow interface below rather than the package's own types.
 *
 * Commit stamps are real FDB versionstamps: the store's 20-hex versions are exactly the 10-byte
 * stamp (8-byte commit version + 2-byte batch order). NOT exercised by CI on this machine (no FDB
 * binaries are obtainable here); test/kv/conformance.test.ts runs it when FDB_CLUSTER_FILE is set.
 */

interface FdbRangeOpts {
  reverse?: boolean;
  limit?: number;
}
interface FdbTransaction {
  get(key: Buffer): Promise<Buffer | undefined>;
  getRangeAll(begin: Buffer, end: Buffer, opts?: FdbRangeOpts): Promise<Array<[Buffer, Buffer]>>;
  set(key: Buffer, value: Buffer): void;
  clear(key: Buffer): void;
  clearRange(begin: Buffer, end: Buffer): void;
  setVersionstampedKeyBuf(prefix: Buffer | undefined, suffix: Buffer | undefined, value: Buffer): void;
  setVersionstampPrefixedValue(key: Buffer, value?: Buffer, prefix?: Buffer): void;
  getVersionstamp(): { promise: Promise<Buffer> };
}
interface FdbDatabase {
  doTransaction<T>(fn: (tn: FdbTransaction) => Promise<T>): Promise<T>;
  get(key: Buffer): Promise<Buffer | undefined>;
  getRangeAll(begin: Buffer, end: Buffer, opts?: FdbRangeOpts): Promise<Array<[Buffer, Buffer]>>;
  close(): void;
}
interface FdbModule {
  setAPIVersion(version: number): void;
  open(clusterFile?: string): FdbDatabase;
}

export class FdbUnavailableError extends UserError {
  constructor(cause: unknown) {
    super(
      'the FoundationDB engine needs the `foundationdb` npm package and the FDB client library (libfdb_c). ' +
        'Install the FoundationDB client package for your OS, then `npm install foundationdb`; ' +
        `or use the default engine (--engine sqlite). Cause: ${(cause instanceof Error ? cause.message : String(cause)).split('\n')[0]}`,
    );
    this.name = 'FdbUnavailableError';
  }
}

const API_VERSION = 720;
let loaded: FdbModule | undefined;

function loadFdb(): FdbModule {
  if (loaded) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const mod = require('foundationdb') as FdbModule;
    mod.setAPIVersion(API_VERSION);
    loaded = mod;
    return mod;
  } catch (err) {
    throw new FdbUnavailableError(err);
  }
}

const pairs = (rows: Array<[Buffer, Buffer]>): KvPair[] => rows.map(([key, value]) => ({ key, value }));
const rangeOpts = (o: RangeOptions = {}): FdbRangeOpts => ({ reverse: o.reverse ?? false, ...(o.limit ? { limit: o.limit } : {}) });

export class FdbEngine implements KvEngine {
  readonly kind = 'fdb';
  private readonly db: FdbDatabase;

  /** `prefix` scopes every key of this engine (many timefs deployments can share one cluster). */
  constructor(clusterFile?: string, private readonly prefix: Buffer = Buffer.from('timefs/')) {
    this.db = loadFdb().open(clusterFile);
  }

  private k = (key: Buffer): Buffer => Buffer.concat([this.prefix, key]);
  private unk = (rows: KvPair[]): KvPair[] => rows.map((r) => ({ key: r.key.subarray(this.prefix.length), value: r.value }));

  async get(key: Buffer): Promise<Buffer | undefined> {
    return (await this.db.get(this.k(key))) ?? undefined;
  }

  async getRange(begin: Buffer, end: Buffer, options?: RangeOptions): Promise<KvPair[]> {
    return this.unk(pairs(await this.db.getRangeAll(this.k(begin), this.k(end), rangeOpts(options))));
  }

  async transact<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<TransactResult<T>> {
    let stampPromise: Promise<Buffer> | null = null;
    const value = await this.db.doTransaction(async (tn) => {
      let stamped = false;
      const tx: KvTransaction = {
        get: async (key) => (await tn.get(this.k(key))) ?? undefined,
        getRange: async (b, e, o) => this.unk(pairs(await tn.getRangeAll(this.k(b), this.k(e), rangeOpts(o)))),
        set: (key, v) => tn.set(this.k(key), v),
        clear: (key) => tn.clear(this.k(key)),
        clearRange: (b, e) => tn.clearRange(this.k(b), this.k(e)),
        setVersionstampedKey: (prefix, suffix, v) => {
          stamped = true;
          tn.setVersionstampedKeyBuf(this.k(prefix), suffix, v);
        },
        setVersionstampedValue: (key, prefix, suffix) => {
          stamped = true;
          tn.setVersionstampPrefixedValue(this.k(key), suffix, prefix);
        },
      };
      const result = await fn(tx);
      stampPromise = stamped ? tn.getVersionstamp().promise : null;
      return result;
    });
    const stamp = stampPromise ? await (stampPromise as Promise<Buffer>) : null;
    return { value, stamp };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
