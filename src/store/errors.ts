/**
 * Typed store errors. Each carries a `code` that upper layers map (fs/ to errno, adapters to
 * HTTP status or tool text) and a message that tells the reader what to do next.
 */
export type StoreErrorCode =
  | 'INVALID_VERSION'
  | 'VERSION_EXPIRED'
  | 'FUTURE_VERSION'
  | 'NO_VERSION_AT_TIME'
  | 'UNKNOWN_NAMESPACE'
  | 'NAMESPACE_EXISTS'
  | 'INVALID_NAME'
  | 'CONFLICT'
  | 'BLOB_MISSING';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export const isStoreError = (err: unknown, code?: StoreErrorCode): err is StoreError =>
  err instanceof StoreError && (code === undefined || err.code === code);
