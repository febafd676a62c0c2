import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AgentFs } from '../fs/agentfs.js';
import { Lru } from '../util/lru.js';

/**
 * Per-agent access tokens. Only a sha256 of each token is stored, in the agent's own namespace
 * (keys ('auth', 'token', id), outside the filesystem's keys, so no path can read them). HTTP Basic
 * carries them: user = agent name, password = token.
 */
const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

export async function createToken(fs: AgentFs): Promise<string> {
  const id = randomBytes(6).toString('hex');
  const token = `tfs_${id}_${randomBytes(24).toString('base64url')}`;
  await fs.ns.commit({ actor: 'cli', summary: `create access token ${id}` }, async (w) => {
    w.set(['auth', 'token', id], Buffer.from(JSON.stringify({ sha256: sha(token).toString('hex'), created: Date.now() })));
  });
  return token;
}

export class TokenVerifier {
  /** verified (agent, token) pairs, so a busy client costs one hash, not a store read, per request */
  private readonly ok = new Lru<string, number>(10_000);

  async verify(fs: AgentFs, token: string): Promise<boolean> {
    const key = `${fs.agent}\u0000${sha(token).toString('hex')}`;
    const seen = this.ok.get(key);
    if (seen !== undefined && Date.now() - seen < 60_000) return true;
    const m = /^tfs_([0-9a-f]{12})_/.exec(token);
    if (!m) return false;
    const raw = await (await fs.ns.snapshot()).get(['auth', 'token', m[1]!]);
    if (!raw || !Buffer.isBuffer(raw)) return false;
    const want = Buffer.from((JSON.parse(raw.toString()) as { sha256: string }).sha256, 'hex');
    const good = want.length === 32 && timingSafeEqual(want, sha(token));
    if (good) this.ok.set(key, Date.now());
    return good;
  }
}

/**
 * Checks an Authorization header for an agent: HTTP Basic (user = agent name, password = token),
 * as WebDAV clients send, or `Bearer <token>`, as MCP and API clients send.
 */
export async function authorizeAgent(verifier: TokenVerifier, fs: AgentFs, header: string | undefined): Promise<boolean> {
  if (!header) return false;
  if (header.startsWith('Bearer ')) return verifier.verify(fs, header.slice(7).trim());
  if (!header.startsWith('Basic ')) return false;
  const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString().split(':');
  if (user !== fs.agent) return false;
  return verifier.verify(fs, rest.join(':'));
}
