import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { AgentHost } from '../agent/host.js';
import { TIMEFS_VERSION } from '../version.js';
import { createMcpServer } from './server.js';

/**
 * Serves one agent's tools over stdio until the client closes stdin. stdout carries only MCP
 * messages: logs go to stderr.
 */
export async function serveStdio(host: AgentHost, agent: string): Promise<void> {
  const server = createMcpServer((tool, args) => host.call(agent, tool, args), TIMEFS_VERSION);
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    server.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
    process.stdin.once('close', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close();
}
