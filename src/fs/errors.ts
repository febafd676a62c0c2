import { StoreError } from '../store/errors.js';

/**
 * Filesystem errors, typed once with POSIX errno names. Adapters map `code` in one table each
 * (FUSE: negative errno; WebDAV/HTTP: status; agent tools: the message). `reason` keeps the store's
 * finer cause (e.g. VERSION_EXPIRED) for adapters that can say more than an errno.
 */
export type Errno =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'EROFS'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'ELOOP'
  | 'EXDEV'
  | 'EACCES'
  | 'EPERM'
  | 'EBUSY'
  | 'EFBIG'
  | 'ENODATA'
  | 'ERANGE'
  | 'EIO'
  | 'EMLINK'
  | 'ENOTSUP'
  | 'EBADF'
  | 'ENXIO';

export class FsError extends Error {
  constructor(
    readonly code: Errno,
    message: string,
    readonly path?: string,
    readonly reason?: string,
  ) {
    // No stack trace: FsErrors are answers (ENOENT is how a PUT learns a file is new, thousands of
    // times a second), and capturing a stack through async frames cost more than the lookup.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'FsError';
  }
}

export const fsError = (code: Errno, message: string, path?: string): FsError => new FsError(code, `${code}: ${message}`, path);

export const isFsError = (err: unknown, code?: Errno): err is FsError => err instanceof FsError && (code === undefined || err.code === code);

/** Store errors surfacing through the filesystem become FsErrors with a fitting errno. */
export function fromStoreError(err: unknown, path?: string): unknown {
  if (!(err instanceof StoreError)) return err;
  const code: Errno =
    err.code === 'INVALID_VERSION' || err.code === 'INVALID_NAME'
      ? 'EINVAL'
      : err.code === 'VERSION_EXPIRED' || err.code === 'FUTURE_VERSION' || err.code === 'NO_VERSION_AT_TIME' || err.code === 'UNKNOWN_NAMESPACE'
        ? 'ENOENT'
        : err.code === 'BLOB_MISSING'
          ? 'EIO'
          : 'EIO';
  return new FsError(code, err.message, path, err.code);
}
