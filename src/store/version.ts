import { StoreError } from './errors.js';

/**
 * A version: 10 bytes shown as 20 lowercase hex characters — an 8-byte commit version followed by a
 * 2-byte batch order (FoundationDB's versionstamp layout). A *read version* ends in `ffff` and means
 * "everything committed at or before that commit version". Versions compare as byte strings, which
 * is the same as comparing the hex strings.
 *
 * Parsing accepts upper-case hex and normalizes it to lower case (clients and people shout hex);
 * everything printed is lower case.
 */
export type Version = string & { readonly __brand: 'Version' };

export const VERSION_BYTES = 10;
const HEX20 = /^[0-9a-fA-F]{20}$/;

export const isVersionString = (text: string): boolean => HEX20.test(text);

export function parseVersion(text: string): Version {
  if (typeof text !== 'string' || !HEX20.test(text)) {
    const shown = typeof text === 'string' ? JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text) : typeof text;
    throw new StoreError(
      'INVALID_VERSION',
      `invalid version ${shown}: a version is exactly 20 hex characters (8-byte commit version + 2-byte batch), e.g. 00003a6ed63a7951ffff`,
    );
  }
  return text.toLowerCase() as Version;
}

export const versionFromBytes = (bytes: Uint8Array): Version => Buffer.from(bytes).toString('hex') as Version;

export function versionToBytes(version: Version): Buffer {
  return Buffer.from(version, 'hex');
}

/** The read version covering every batch of the commit that produced `version`. */
export const readVersionOf = (version: Version): Version => `${version.slice(0, 16)}ffff` as Version;

/** The 8-byte commit version as a bigint (on the embedded engine: roughly unix µs). */
export const commitVersionOf = (version: Version): bigint => BigInt(`0x${version.slice(0, 16)}`);

export const compareVersions = (a: Version, b: Version): number => (a < b ? -1 : a > b ? 1 : 0);

/** Sorts above every real version; "read at head" without first reading the head. */
export const MAX_VERSION = 'ffffffffffffffffffff' as Version;
/** Sorts below every real version. */
export const ZERO_VERSION = '00000000000000000000' as Version;
