import type { Version } from '../store/index.js';
import { BlobRef } from '../store/index.js';
import { parseVersion as parseStoreVersion } from '../store/version.js';
import { fromStoreError } from './errors.js';

/**
 * Agent records: small values kept in the agent's namespace beside the filesystem but outside it
 * (keys ('rec', …) that no path maps to), so they version with the files and no tool, mount or
 * WebDAV path can reach them — conversations (agent/transcript.ts) live here.
 */
export type RecordKey = ReadonlyArray<string | number>;

export const recordKey = (key: RecordKey): Array<string | number> => ['rec', ...key];

export const decodeRecord = (value: unknown): Buffer | undefined => (value === undefined || value instanceof BlobRef ? undefined : (value as Buffer));

/** A 20-hex version from text, with the filesystem's error type (EINVAL and what a version looks like). */
export function parseVersion(text: string): Version {
  try {
    return parseStoreVersion(text);
  } catch (err) {
    throw fromStoreError(err);
  }
}
