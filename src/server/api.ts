import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AgentHost } from '../agent/host.js';
import { toolSchemas } from '../agent/run.js';
import { TOOL_BY_NAME } from '../agent/tools/index.js';
import type { Store } from '../store/index.js';
import { agentAccess } from './access.js';
import type { TokenVerifier } from './auth.js';

/** Tool errors as HTTP statuses; the body always carries the same text the model would read. */
const STATUS: Record<string, number> = {
  INVALID_ARGUMENT: 400,
  EINVAL: 400,
  ENAMETOOLONG: 400,
  UNKNOWN_TOOL: 404,
  ENOENT: 404,
  EROFS: 403,
  EACCES: 403,
  EPERM: 403,
  EEXIST: 409,
  ENOTEMPTY: 409,
  ENOTDIR: 409,
  EISDIR: 409,
  EBUSY: 409,
  EFBIG: 413,
  INTERNAL: 500,
};

export interface ApiOptions {
  store: Store;
  host: AgentHost;
  verifier: TokenVerifier;
  auth: boolean;
  /** largest request body (Write content is at most 32 MiB) */
  bodyLimit?: number;
}

/**
 * The tool API for any harness in any language:
 *   GET  /api/tools                          the tool declarations (name, description, JSON Schema)
 *   POST /api/agents/<agent>/tools/<Tool>    run one call: JSON arguments in, {ok, text, version?} out
 */
export async function apiRoutes(app: FastifyInstance, options: ApiOptions): Promise<void> {
  app.get('/api/tools', async () => ({ tools: toolSchemas() }));

  app.post<{ Params: { agent: string; tool: string }; Body: unknown }>(
    '/api/agents/:agent/tools/:tool',
    { bodyLimit: options.bodyLimit ?? 40 * 1024 * 1024 },
    async (req, reply: FastifyReply) => {
      const { agent, tool } = req.params;
      const access = await agentAccess(options.store, options.verifier, options.auth, agent, req.headers.authorization);
      if (!access.ok) return reply.code(access.status).headers(access.headers ?? {}).send({ ok: false, code: 'UNAUTHORIZED', error: access.message });
      if (!TOOL_BY_NAME.has(tool)) {
        return reply.code(404).send({ ok: false, code: 'UNKNOWN_TOOL', error: `unknown tool '${tool}': GET /api/tools lists them` });
      }
      const r = await options.host.call(agent, tool, req.body ?? {});
      if (r.isError) return reply.code(STATUS[r.code ?? ''] ?? 422).send({ ok: false, code: r.code, error: r.text });
      return reply.send({ ok: true, text: r.text, ...(r.version !== undefined ? { version: r.version } : {}) });
    },
  );
}
