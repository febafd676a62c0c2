import { dav } from './lib.js';

const { Errors } = dav;
import { FsError } from '../fs/errors.js';

/** The one table mapping filesystem errno codes to webdav-server errors (and so HTTP statuses). */
export function toDavError(err: unknown): Error {
  if (!(err instanceof FsError)) return err instanceof Error ? err : new Error(String(err));
  switch (err.code) {
    case 'ENOENT':
      return Errors.ResourceNotFound; // 404
    case 'EEXIST':
      return Errors.ResourceAlreadyExists; // 405/412 depending on the method
    case 'EROFS':
    case 'EPERM':
    case 'EACCES':
      return Errors.Forbidden; // 403
    case 'ENOTDIR':
      return Errors.IntermediateResourceMissing; // 409
    case 'EINVAL':
    case 'ENAMETOOLONG':
      return Errors.IllegalArguments; // 400
    case 'EFBIG':
      return Errors.InsufficientStorage; // 507
    default:
      return err;
  }
}

/** The same table as HTTP statuses, for the handlers that answer without the library. */
export function statusOf(err: unknown): number {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return 404;
    case 'EINVAL':
    case 'ENAMETOOLONG':
      return 400;
    case 'EROFS':
    case 'EPERM':
    case 'EACCES':
      return 403;
    case 'EEXIST':
      return 405;
    case 'EFBIG':
      return 507;
    default:
      return 500;
  }
}
