import type { ToolDef } from '../tool.js';
import { DeployApp, RestoreDatabase, Sql } from './apps.js';
import { List, Stat_ } from './list.js';
import { Read } from './read.js';
import { Glob, Grep } from './search.js';
import { Diff, GetVersionAtTimestamp, History } from './time.js';
import { Copy, Delete, Edit, Mkdir, Move, Write } from './write.js';

/** Every agent tool, in the order models see them. Declared once; the loop, MCP and HTTP read this. */
export const TOOLS: readonly ToolDef[] = [
  Read,
  Write,
  Edit,
  List,
  Glob,
  Grep,
  Stat_,
  Mkdir,
  Delete,
  Move,
  Copy,
  GetVersionAtTimestamp,
  History,
  Diff,
  Sql,
  RestoreDatabase,
  DeployApp,
] as unknown as readonly ToolDef[];

export const TOOL_BY_NAME: ReadonlyMap<string, ToolDef> = new Map(TOOLS.map((t) => [t.name, t]));
