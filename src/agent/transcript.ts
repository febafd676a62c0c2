import { randomBytes } from 'node:crypto';
import type { AgentFs } from '../fs/agentfs.js';
import type { Version } from '../fs/index.js';
import type { ChatMessage } from './messages.js';
import { UserError } from '../util/errors.js';

/**
 * Conversations, stored as agent records (fs/records.ts: in the agent's own namespace, outside the
 * file tree, so no tool path can reach them and no other agent can): ('transcript', 's', id) →
 * session meta, ('transcript', 'm', id, seq) → one message. Each append is one commit, so a
 * transcript has versions like files do and `--version` shows it as it was.
 */
export interface SessionInfo {
  id: string;
  started: number;
  title: string;
  messages: number;
}

const decode = <T>(v: unknown): T => JSON.parse((v as Buffer).toString('utf8')) as T;
const encode = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/** Session ids sort by start time: 20261125T161500Z-1a2b3c */
const newSessionId = (now: number): string => `${new Date(now).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;

export class Transcript {
  private constructor(
    private readonly fs: AgentFs,
    readonly id: string,
    readonly messages: ChatMessage[],
    private started: number,
  ) {}

  /** A new session. */
  static create(fs: AgentFs): Transcript {
    const now = fs.store.clock();
    return new Transcript(fs, newSessionId(now), [], now);
  }

  /** An existing session (the newest when `id` is 'latest'), at head or at a version. */
  static async open(fs: AgentFs, id: string, version?: Version): Promise<Transcript> {
    const sid = id === 'latest' ? (await Transcript.list(fs, version)).at(-1)?.id : id;
    if (!sid) throw new UserError(`agent '${fs.agent}' has no conversations yet: start one with \`timefs agent run "…"\``);
    const meta = await fs.getRecord(['transcript', 's', sid], version);
    if (!meta) throw new UserError(`no conversation '${sid}' for agent '${fs.agent}'${version ? ` at ${version}` : ''}: \`timefs agent transcript --list\` shows them`);
    const info = decode<SessionInfo>(meta);
    const rows = await fs.listRecords(['transcript', 'm', sid], version);
    return new Transcript(fs, sid, rows.map((r) => decode<ChatMessage>(r.value)), info.started);
  }

  static async list(fs: AgentFs, version?: Version): Promise<SessionInfo[]> {
    return (await fs.listRecords(['transcript', 's'], version)).map((r) => decode<SessionInfo>(r.value));
  }

  /** Stores new messages (already pushed to `messages` by the caller) as one commit. */
  async persist(from: number, summary: string): Promise<Version | null> {
    const fresh = this.messages.slice(from);
    if (fresh.length === 0) return null;
    const firstUser = this.messages.find((m) => m.role === 'user');
    const info: SessionInfo = { id: this.id, started: this.started, title: firstUser ? firstUser.content.slice(0, 80) : '', messages: this.messages.length };
    return this.fs.withActor('agent').putRecords(`transcript ${this.id}: ${summary}`, [
      [['transcript', 's', this.id], encode(info)],
      ...fresh.map((m, i) => [['transcript', 'm', this.id, from + i], encode(m)] as const),
    ]);
  }
}
