import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import type { AgentHost } from '../agent/host.js';
import { agentAccess } from '../server/access.js';
import type { TokenVerifier } from '../server/auth.js';
import type { Store } from '../store/index.js';
import { TIMEFS_VERSION } from '../version.js';
import { createMcpServer } from './server.js';

export interface McpHttpOptions {
  store: Store;
  host: AgentHost;
  verifier: TokenVerifier;
  auth: boolean;
}

const rpcError = (message: string) => ({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });

/**
 * MCP over streamable HTTP at /mcp/<agent>, stateless: each POST gets a fresh server + transport
 * (a few objects), so thousands of agents cost nothing between requests and any instance behind a
 * load balancer can answer. The tools run through the AgentHost, serialized per agent.
 */
export async function mcpRoutes(app: FastifyInstance, options: McpHttpOptions): Promise<void> {
  app.route<{ Params: { agent: string } }>({
    method: ['GET', 'POST', 'DELETE'],
    url: '/mcp/:agent',
    bodyLimit: 40 * 1024 * 1024,
    handler: async (req, reply) => {
      const { agent } = req.params;
      const access = await agentAccess(options.store, options.verifier, options.auth, agent, req.headers.authorization);
      if (!access.ok) return reply.code(access.status).headers(access.headers ?? {}).send(rpcError(access.message));
      if (req.method !== 'POST') {
        return reply.code(405).header('allow', 'POST').send(rpcError('this MCP endpoint is stateless: POST JSON-RPC requests; no SSE stream or session to open or close'));
      }
      const server = createMcpServer((tool, args) => options.host.call(agent, tool, args), TIMEFS_VERSION);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      reply.hijack();
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req.raw, reply.raw, req.body);
    },
  });
}
