import { FsError } from '../fs/errors.js';

/** The one table mapping filesystem errors to negative errno values for the kernel. */
const ERRNO: Record<string, number> = {
  EPERM: 1,
  ENOENT: 2,
  ENXIO: 6,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  ENOTSUP: 95,
};

export function toErrno(err: unknown): number {
  if (err instanceof FsError) return -(ERRNO[err.code] ?? 5);
  const code = (err as { code?: string }).code;
  return -(code && ERRNO[code] ? ERRNO[code] : 5);
}
