import { StoreError, type Store } from '../store/index.js';
import { fsError } from './errors.js';

/** Agent names: what may appear in a URL path segment and a CLI flag without quoting. */
export const AGENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const AGENT_PREFIX = 'agent:';

export function checkAgentName(name: string): void {
  if (typeof name !== 'string' || !AGENT_NAME_RE.test(name)) {
    throw fsError('EINVAL', `invalid agent name ${JSON.stringify(name)}: 1–64 of A–Z a–z 0–9 . _ -, starting with a letter or digit`);
  }
}

export const agentNamespace = (agent: string): string => `${AGENT_PREFIX}${agent}`;

export async function listAgents(store: Store): Promise<Array<{ name: string; created: Date; retentionMs: number }>> {
  return (await store.listNamespaces(AGENT_PREFIX)).map((n) => ({ name: n.name.slice(AGENT_PREFIX.length), created: n.created, retentionMs: n.retentionMs }));
}

export async function deleteAgent(store: Store, name: string): Promise<void> {
  checkAgentName(name);
  try {
    await store.deleteNamespace(agentNamespace(name));
  } catch (err) {
    if (err instanceof StoreError && err.code === 'UNKNOWN_NAMESPACE') throw fsError('ENOENT', `unknown agent '${name}'`);
    throw err;
  }
}
