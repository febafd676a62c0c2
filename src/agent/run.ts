import { z } from 'zod';
import type { AgentFs } from '../fs/agentfs.js';
import { FsError } from '../fs/errors.js';
import { UserError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import type { ToolDef, ToolResult } from './tool.js';
import { TOOL_BY_NAME, TOOLS } from './tools/index.js';

const log = createLogger('agent-tools');

/** A tool as models and protocols see it: name, description, JSON Schema of the arguments. */
export interface ToolSchema {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  readOnly: boolean;
}

let schemas: ToolSchema[] | undefined;

/** The JSON Schemas of every tool, derived once from the zod declarations. */
export function toolSchemas(): ToolSchema[] {
  schemas ??= TOOLS.map((t) => {
    const { $schema: _drop, ...inputSchema } = z.toJSONSchema(t.input) as Record<string, unknown>;
    return { name: t.name, description: t.description, inputSchema, readOnly: t.readOnly };
  });
  return schemas;
}

/** "Write(path="/a.md", content=<12 chars>)": the arguments as the commit log records them. */
export function summarizeCall(name: string, args: Record<string, unknown>): string {
  const parts = Object.entries(args)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      if (typeof v === 'string') return `${k}=${k === 'content' || k.endsWith('_string') || v.length > 120 ? `<${v.length} chars>` : JSON.stringify(v)}`;
      return `${k}=${JSON.stringify(v)}`;
    });
  return `${name}(${parts.join(', ')})`;
}

const failure = (text: string, code = 'INVALID_ARGUMENT'): ToolResult => ({ text, isError: true, code });

/** Turns a raw argument value (an object, or the JSON text models send) into an object. */
function argsObject(tool: ToolDef, raw: unknown): Record<string, unknown> | string {
  let value: unknown = raw ?? {};
  if (typeof value === 'string') {
    if (value.trim() === '') value = {};
    else {
      try {
        value = JSON.parse(value) as unknown;
      } catch (err) {
        return `invalid arguments for ${tool.name}: not valid JSON (${(err as Error).message})`;
      }
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `invalid arguments for ${tool.name}: expected a JSON object`;
  return value as Record<string, unknown>;
}

/**
 * Runs one tool call for an agent. Never throws for anything the model did: unknown tools, bad
 * arguments and filesystem errors come back as `isError` results with text the model can act on.
 */
export async function runTool(fs: AgentFs, name: string, rawArgs: unknown): Promise<ToolResult> {
  const tool = TOOL_BY_NAME.get(name);
  if (!tool) return failure(`unknown tool ${JSON.stringify(name)}: the tools are ${TOOLS.map((t) => t.name).join(', ')}`, 'UNKNOWN_TOOL');
  const obj = argsObject(tool, rawArgs);
  if (typeof obj === 'string') return failure(obj);
  const parsed = tool.input.safeParse(obj);
  if (!parsed.success) return failure(`invalid arguments for ${tool.name}:\n${z.prettifyError(parsed.error)}`);
  const args = parsed.data as Record<string, unknown>;
  const summary = summarizeCall(tool.name, args);
  try {
    const out = await tool.run({ fs: fs.withActor(`tool:${tool.name}`), summary }, args);
    return { text: out.text, isError: false, ...(tool.readOnly ? {} : { version: out.version ?? null }) };
  } catch (err) {
    if (err instanceof FsError) return failure(err.message, err.code);
    if (err instanceof UserError) return failure(err.message, 'EINVAL');
    log.error({ err, tool: tool.name, agent: fs.agent }, 'tool failed unexpectedly');
    return failure(`internal error in ${tool.name}: ${(err as Error).message ?? String(err)} (the call may be retried)`, 'INTERNAL');
  }
}
