import { AgentFs } from '../fs/agentfs.js';
import { AGENT_NAME_RE, agentNamespace } from '../fs/agents.js';
import type { Store } from '../store/index.js';
import { authorizeAgent, type TokenVerifier } from './auth.js';

export type Access = { ok: true } | { ok: false; status: number; message: string; headers?: Record<string, string> };

/**
 * May this request act as `agent`? The one rule for the API and MCP routes (WebDAV applies the
 * same): the agent must exist, and with auth on, the request must carry one of its tokens. With
 * auth on, an unknown agent answers 401 like a wrong token, so names cannot be probed.
 */
export async function agentAccess(store: Store, verifier: TokenVerifier, auth: boolean, agent: string, header: string | undefined): Promise<Access> {
  const challenge = { 'www-authenticate': `Bearer realm="timefs ${AGENT_NAME_RE.test(agent) ? agent : ''}"` };
  const denied: Access = {
    ok: false,
    status: 401,
    message: `authentication required: send "Authorization: Bearer <token>" with a token from \`timefs agents token ${AGENT_NAME_RE.test(agent) ? agent : '<agent>'}\``,
    headers: challenge,
  };
  if (!AGENT_NAME_RE.test(agent) || !(await store.hasNamespace(agentNamespace(agent)))) {
    return auth ? denied : { ok: false, status: 404, message: `no such agent '${agent}': create it with \`timefs agents create <name>\`` };
  }
  if (auth && !(await authorizeAgent(verifier, await AgentFs.open(store, agent), header))) return denied;
  return { ok: true };
}
