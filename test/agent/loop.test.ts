import { afterAll, describe, expect, it } from 'vitest';
import { AgentSession, type AgentEvent } from '../../src/agent/loop.js';
import { AnthropicProvider } from '../../src/agent/providers/anthropic.js';
import { createProvider } from '../../src/agent/providers/index.js';
import { OpenAIProvider } from '../../src/agent/providers/openai.js';
import type { ModelProvider } from '../../src/agent/providers/types.js';
import { Transcript } from '../../src/agent/transcript.js';
import { AgentFs } from '../../src/fs/agentfs.js';
import { sinceLastUser, startScriptedModel, type Script, type ScriptedModel } from '../helpers/models.js';
import { TestClock, makeStore } from '../helpers/store.js';

const DAY = 24 * 3600 * 1000;
const DOC = '# Quarterly plan\n\n- ship timefs\n- résumé ✓\n';

/** The seed scenario as a model would play it: it only knows what the tool results told it. */
const seedScript: Script = (conv, req) => {
  if (!req.system.includes('GetVersionAtTimestamp') || req.tools.length !== 17) throw new Error('the model was not told about the tools');
  const { prompt, results } = sinceLastUser(conv);
  if (/write the plan/i.test(prompt)) {
    return results.length === 0 ? { toolCalls: [{ name: 'Write', args: { path: '/artifacts/doc.md', content: DOC } }] } : { text: 'I wrote /artifacts/doc.md.' };
  }
  if (/clean up/i.test(prompt)) {
    return results.length === 0 ? { text: 'Cleaning up.', toolCalls: [{ name: 'Delete', args: { path: '/artifacts/doc.md' } }] } : { text: 'Deleted.' };
  }
  if (/bring it back/i.test(prompt)) {
    const version = results[0]?.text.split('\n')[0];
    if (results.length === 0) return { text: 'Let me look at how things were then.', toolCalls: [{ name: 'GetVersionAtTimestamp', args: { timestamp: '3 days ago' } }] };
    if (results.length === 1) return { toolCalls: [{ name: 'Read', args: { path: '/artifacts/doc.md', version } }] };
    if (results.length === 2) {
      if (!results[1]!.text.includes('ship timefs')) throw new Error(`Read did not return the old doc: ${results[1]!.text}`);
      return { toolCalls: [{ name: 'Copy', args: { src_version: version, src_path: '/artifacts/doc.md', dst_path: '/artifacts/doc.md' } }] };
    }
    return { text: `Restored /artifacts/doc.md from version ${version}.` };
  }
  if (/read the missing file/i.test(prompt)) {
    return results.length === 0 ? { toolCalls: [{ name: 'Read', args: { path: '/nope.md' } }, { name: 'Frob', args: {} }] } : { text: `The tools said: ${results.map((r) => r.text).join(' | ')}` };
  }
  return { text: 'I do not know that script step.' };
};

const models: ScriptedModel[] = [];
afterAll(async () => Promise.all(models.map((m) => m.close())));

async function providerFor(kind: 'openai' | 'anthropic', script: Script): Promise<{ provider: ModelProvider; model: ScriptedModel }> {
  const model = await startScriptedModel(kind, script);
  models.push(model);
  const provider =
    kind === 'openai'
      ? new OpenAIProvider({ apiKey: 'sk-test', baseURL: `${model.url}/v1`, model: 'scripted-gpt' })
      : new AnthropicProvider({ apiKey: 'sk-ant-test', baseURL: model.url, model: 'scripted-claude' });
  return { provider, model };
}

describe.each(['openai', 'anthropic'] as const)('agent loop through the %s SDK against a scripted model on loopback', (kind) => {
  it('the seed scenario: write, delete three days later, "bring it back" → GetVersionAtTimestamp, Read, Copy; byte for byte', async () => {
    const clock = new TestClock();
    const store = makeStore({ clock });
    const fs = await AgentFs.open(store, 'seed', { create: true });
    const { provider, model } = await providerFor(kind, seedScript);
    const events: AgentEvent[] = [];
    const session = new AgentSession({ fs, provider, onEvent: (e) => events.push(e) });

    expect((await session.send('Write the plan to /artifacts/doc.md')).text).toBe('I wrote /artifacts/doc.md.');
    clock.advance(3 * DAY);
    expect((await session.send('Please clean up the artifacts folder')).text).toBe('Deleted.');
    expect(await fs.exists('/artifacts/doc.md')).toBe(false);
    clock.advance(3600_000);
    // a new conversation, as a user coming back days later would start
    const later = new AgentSession({ fs, provider, onEvent: (e) => events.push(e) });
    const r = await later.send('I deleted doc.md three days ago, bring it back');
    expect(r.text).toMatch(/^Restored \/artifacts\/doc.md from version [0-9a-f]{20}\.$/);
    expect(r.toolCalls).toBe(3);
    expect((await fs.readFile('/artifacts/doc.md')).equals(Buffer.from(DOC))).toBe(true);

    // the commit log shows the three calls: two read-only ones in the transcript commit, Copy as its own commit
    const log = await fs.log({ limit: 20 });
    const summaries = log.map((l) => `${l.actor}: ${l.summary}`).join('\n');
    expect(summaries).toMatch(/agent: transcript .*GetVersionAtTimestamp\(timestamp="3 days ago"\)/);
    expect(summaries).toMatch(/agent: transcript .*Read\(path="\/artifacts\/doc.md", version="[0-9a-f]{20}"\)/);
    expect(summaries).toMatch(/tool:Copy: Copy\(src_path="\/artifacts\/doc.md", dst_path="\/artifacts\/doc.md", src_version="[0-9a-f]{20}"\)/);
    expect(summaries).toMatch(/tool:Delete: Delete\(path="\/artifacts\/doc.md"\)/);
    expect(summaries).toMatch(/tool:Write: Write\(path="\/artifacts\/doc.md", content=<\d+ chars>\)/);

    // the transcript is stored in the agent's namespace and reads back whole
    const stored = await Transcript.open(fs, later.transcript.id);
    expect(stored.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'tool', 'assistant', 'tool', 'assistant']);
    expect(stored.messages.filter((m) => m.role === 'tool').map((m) => (m as { name: string }).name)).toEqual(['GetVersionAtTimestamp', 'Read', 'Copy']);
    expect((await Transcript.list(fs)).map((s) => s.id)).toEqual([session.transcript.id, later.transcript.id].sort());
    // streamed text arrived in pieces before the turn ended
    expect(events.filter((e) => e.type === 'text').length).toBeGreaterThan(3);
    // the SDK sent what the provider's API expects
    const first = model.requests[0]!;
    if (kind === 'openai') {
      expect(first.headers.authorization).toBe('Bearer sk-test');
      expect(first.body.stream).toBe(true);
    } else {
      expect(`${first.headers['x-api-key'] ?? ''} ${first.headers.authorization ?? ''}`).toContain('sk-ant-test');
      expect(first.headers['anthropic-version']).toBeTruthy();
    }
    await store.close();
  });

  it('tool errors go back to the model as text; 429s are retried by the SDK with backoff', async () => {
    const store = makeStore();
    const fs = await AgentFs.open(store, 'errs', { create: true });
    const { provider, model } = await providerFor(kind, seedScript);
    model.failNext(2);
    const session = new AgentSession({ fs, provider });
    const r = await session.send('Read the missing file please');
    expect(r.text).toMatch(/ENOENT: .*\/nope\.md \| unknown tool "Frob": the tools are Read/);
    expect(model.requests.map((q) => q.status)).toEqual([429, 429, 200, 200]);
    await store.close();
  });

  it('cancelling a turn keeps the conversation usable and stored', async () => {
    const store = makeStore();
    const fs = await AgentFs.open(store, 'cancel', { create: true });
    const slow: Script = (conv) => (sinceLastUser(conv).prompt === 'slow' ? { text: 'too late', delayMs: 5000 } : { text: 'hello again' });
    const { provider } = await providerFor(kind, slow);
    const session = new AgentSession({ fs, provider });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 200);
    const t0 = Date.now();
    const r = await session.send('slow', ctl.signal);
    expect(r.cancelled).toBe(true);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect((await session.send('fast')).text).toBe('hello again');
    const stored = await Transcript.open(fs, 'latest');
    expect(stored.messages.map((m) => m.content)).toEqual(['slow', '[turn cancelled by the user]', 'fast', 'hello again']);
    await store.close();
  });
});

describe('provider configuration', () => {
  it('says clearly what to set when no key is configured', async () => {
    await expect(createProvider({ env: {} })).rejects.toThrow(/no API key for OpenAI: set OPENAI_API_KEY/);
    await expect(createProvider({ provider: 'anthropic', env: {} })).rejects.toThrow(/no API key for Anthropic: set ANTHROPIC_API_KEY/);
    await expect(createProvider({ provider: 'gemini', env: {} })).rejects.toThrow(/unknown provider 'gemini'/);
    expect((await createProvider({ env: { ANTHROPIC_API_KEY: 'k' } })).name).toBe('anthropic');
    const p = await createProvider({ env: { OPENAI_API_KEY: 'k', TIMEFS_MODEL: 'local-model', OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' } });
    expect([p.name, p.model]).toEqual(['openai', 'local-model']);
  });
});
