import { describe, expect, it } from 'vitest';
import { createToken } from '../../src/server/auth.js';
import { startServer } from '../helpers/server.js';

describe('HTTP tool API', () => {
  it('POST /api/agents/<agent>/tools/<Tool> runs one call; errors carry the model-facing text and a fitting status', async () => {
    const srv = await startServer();
    const fs = await srv.agent('api');
    const post = (tool: string, body: unknown, agent = 'api') =>
      fetch(`${srv.url}/api/agents/${agent}/tools/${tool}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const tools = (await (await fetch(`${srv.url}/api/tools`)).json()) as { tools: Array<{ name: string; inputSchema: { properties: object } }> };
    expect(tools.tools).toHaveLength(17);
    expect(Object.keys(tools.tools.find((t) => t.name === 'Copy')!.inputSchema.properties)).toEqual(['src_path', 'dst_path', 'src_version']);

    const w = await post('Write', { path: '/x/y.txt', content: 'data' });
    expect(w.status).toBe(200);
    const wj = (await w.json()) as { ok: boolean; version: string; text: string };
    expect(wj).toMatchObject({ ok: true });
    expect(wj.version).toMatch(/^[0-9a-f]{20}$/);
    expect((await fs.readFile('/x/y.txt')).toString()).toBe('data');
    const r = (await (await post('Read', { path: '/x/y.txt', version: wj.version })).json()) as { text: string };
    expect(r.text).toBe('data');

    const cases: Array<[string, unknown, number, RegExp, string?]> = [
      ['Read', { path: '/missing' }, 404, /ENOENT/],
      ['Write', { path: `/x/y.txt@${wj.version}`, content: 'no' }, 403, /EROFS: read-only/],
      ['Read', { nope: 1 }, 400, /invalid arguments for Read/],
      ['Frobnicate', {}, 404, /unknown tool 'Frobnicate': GET \/api\/tools/],
      ['Read', { path: '/x' }, 409, /is a directory/],
      ['Read', { path: '/x/y.txt' }, 404, /no such agent 'ghost'/, 'ghost'],
      ['Read', { path: '/x/y.txt' }, 404, /no such agent/, '..%2F..%2Fetc'],
    ];
    for (const [tool, args, status, re, agent] of cases) {
      const res = await post(tool, args, agent);
      const body = (await res.json()) as { ok: boolean; error: string };
      expect(res.status, `${tool} ${JSON.stringify(args)}: ${body.error}`).toBe(status);
      expect(body.ok).toBe(false);
      expect(body.error).toMatch(re);
    }
    // malformed JSON and a body over the limit are refused before any tool runs
    const bad = await fetch(`${srv.url}/api/agents/api/tools/Write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"path": ' });
    expect(bad.status).toBe(400);
    const huge = await post('Write', { path: '/huge', content: 'x'.repeat(41 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(await fs.exists('/huge')).toBe(false);
  });

  it('with auth on, needs the agent’s own token (Bearer or Basic)', async () => {
    const srv = await startServer({ auth: true });
    const a = await srv.agent('alice');
    await srv.agent('bob');
    const token = await createToken(a);
    const call = (agent: string, auth?: string) =>
      fetch(`${srv.url}/api/agents/${agent}/tools/List`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: JSON.stringify({ path: '/' }) });
    expect((await call('alice')).status).toBe(401);
    expect((await call('alice', `Bearer ${token}`)).status).toBe(200);
    expect((await call('alice', `Basic ${Buffer.from(`alice:${token}`).toString('base64')}`)).status).toBe(200);
    expect((await call('bob', `Bearer ${token}`)).status).toBe(401);
    expect((await call('nobody', `Bearer ${token}`)).status).toBe(401);
  });
});
