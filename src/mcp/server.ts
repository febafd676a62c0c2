import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { TIMEFS_INSTRUCTIONS } from '../agent/prompt.js';
import { toolSchemas } from '../agent/run.js';
import type { ToolResult } from '../agent/tool.js';

/** Runs one tool call for the agent this server belongs to. */
export type ToolCaller = (tool: string, args: unknown) => Promise<ToolResult>;

const IDEMPOTENT = new Set(['Write', 'Mkdir']);

/** The tools as MCP lists them: the same declarations as the agent loop, with hints. */
export function mcpTools(): Tool[] {
  return toolSchemas().map((s) => ({
    name: s.name,
    description: s.description,
    inputSchema: s.inputSchema as Tool['inputSchema'],
    annotations: {
      title: s.name,
      readOnlyHint: s.readOnly,
      // nothing timefs does destroys information: every earlier state stays readable
      destructiveHint: false,
      idempotentHint: s.readOnly || IDEMPOTENT.has(s.name),
      openWorldHint: false,
    },
  }));
}

/**
 * An MCP server for one agent's filesystem. Tool errors are results with isError (the model reads
 * them), never protocol errors; the version a mutating call committed is in `_meta`.
 */
export function createMcpServer(call: ToolCaller, version: string): Server {
  const server = new Server({ name: 'timefs', version }, { capabilities: { tools: {} }, instructions: TIMEFS_INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: mcpTools() }));
  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const r = await call(req.params.name, req.params.arguments ?? {});
    return {
      content: [{ type: 'text', text: r.text }],
      isError: r.isError,
      ...(r.version !== undefined || r.code ? { _meta: { ...(r.version !== undefined ? { 'timefs/version': r.version } : {}), ...(r.code ? { 'timefs/code': r.code } : {}) } } : {}),
    };
  });
  return server;
}
