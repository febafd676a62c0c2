import { z } from 'zod';
import type { AgentFs } from '../fs/agentfs.js';
import { FsError } from '../fs/errors.js';
import type { FsView } from '../fs/view.js';
import { DB_NAME_RE } from '../sqlvfs/names.js';

export const APP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Apps live in the agent's filesystem at /apps/<name>/, described by /apps/<name>/app.json. */
export const APPS_DIR = '/apps';

const folder = z
  .string()
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'a relative folder inside the app, like "public"')
  .refine((s) => !s.split('/').includes('..'), 'must stay inside the app');

export const ManifestSchema = z.strictObject({
  name: z.string().regex(APP_NAME_RE, '1–64 of A–Z a–z 0–9 . _ -'),
  description: z.string().max(1000).optional(),
  /** static files, served at the app's root (default "public") */
  static: folder.default('public'),
  /** handlers: <api>/<path>.js answers /api/<path> (default "api") */
  api: folder.default('api'),
  /** the app's SQL database (default: the app's name) */
  database: z.string().regex(DB_NAME_RE, '1–64 of A–Z a–z 0–9 . _ -').optional(),
});

export type AppManifest = z.infer<typeof ManifestSchema> & { database: string };

export class AppError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const appRoot = (name: string): string => `${APPS_DIR}/${name}`;

/** Reads and validates an app's manifest, as seen by `view` (head or a version). */
export async function readManifest(view: FsView, name: string): Promise<AppManifest> {
  if (!APP_NAME_RE.test(name)) throw new AppError(`invalid app name ${JSON.stringify(name)}`, 404);
  const path = `${appRoot(name)}/app.json`;
  let raw: Buffer;
  try {
    const r = await view.resolve(['apps', name, 'app.json'], true, path);
    if (r.inode.type !== 'file') throw new AppError(`${path} is not a file`, 404);
    raw = await view.readContent(r.ino, r.inode, 0, Math.min(r.inode.size, 64 * 1024));
  } catch (err) {
    if (err instanceof FsError && err.code === 'ENOENT') throw new AppError(`no app '${name}' here: ${path} does not exist${view ? ` at version ${view.version}` : ''}`, 404);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new AppError(`${path} is not valid JSON: ${(err as Error).message}`, 500);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) throw new AppError(`${path} is invalid:\n${z.prettifyError(parsed.error)}`, 500);
  if (parsed.data.name !== name) throw new AppError(`${path} says name "${parsed.data.name}" but the app folder is "${name}"`, 500);
  return { ...parsed.data, database: parsed.data.database ?? name };
}

/** The apps of an agent: folders under /apps with a valid manifest (and the errors of the others). */
export async function listApps(fs: AgentFs): Promise<Array<{ name: string; manifest?: AppManifest; error?: string }>> {
  const view = await fs.view();
  let entries;
  try {
    entries = await view.readdir((await view.resolve(['apps'], true, APPS_DIR)).ino, APPS_DIR);
  } catch {
    return [];
  }
  const out = [];
  for (const e of entries.filter((x) => x.type === 'dir').sort((a, b) => a.name.localeCompare(b.name))) {
    try {
      out.push({ name: e.name, manifest: await readManifest(view, e.name) });
    } catch (err) {
      out.push({ name: e.name, error: (err as Error).message });
    }
  }
  return out;
}
