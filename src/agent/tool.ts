import type { z } from 'zod';
import type { AgentFs } from '../fs/agentfs.js';
import type { Version } from '../fs/index.js';

/**
 * What a tool call returns. `text` is what the model reads; `version` is the commit a mutating call
 * made (null when it changed nothing), so HTTP and MCP callers can address the new state.
 */
export interface ToolResult {
  text: string;
  isError: boolean;
  /** on errors: the errno ('ENOENT', 'EROFS'…), 'INVALID_ARGUMENT', 'UNKNOWN_TOOL' or 'INTERNAL' */
  code?: string;
  version?: Version | null;
}

/** What a tool handler gets: the agent's filesystem, with commits attributed to `tool:<Name>`. */
export interface ToolContext {
  fs: AgentFs;
  /** one-line summary of the call's arguments, for the commit log */
  summary: string;
}

/**
 * One tool, declared once: the agent loop, the MCP server and the HTTP API all read this.
 * Invariant: a mutating tool makes at most one commit per call, through `ctx.fs.transaction`
 * with `ctx.summary`; a read-only tool makes none.
 */
export interface ToolDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  input: S;
  readOnly: boolean;
  run(ctx: ToolContext, args: z.infer<S>): Promise<{ text: string; version?: Version | null }>;
}

/** Keeps the parameter type of each tool while collecting them in one list. */
export const defineTool = <S extends z.ZodObject>(def: ToolDef<S>): ToolDef<S> => def;
