import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { createToken } from '../../src/server/auth.js';
import { CLI, timefs } from '../helpers/cli.js';
import { startServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

type Text = { type: string; text: string };
const textOf = (r: unknown): string => ((r as { content: Text[] }).content[0]!).text;

/** Calls every tool once through an MCP client, checking results and that read-only tools are marked. */
async function exerciseEveryTool(client: Client): Promise<void> {
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name).sort()).toEqual(['Copy', 'Delete', 'Diff', 'Edit', 'GetVersionAtTimestamp', 'Glob', 'Grep', 'History', 'List', 'Mkdir', 'Move', 'Read', 'Stat', 'Write', 'Sql', 'RestoreDatabase', 'DeployApp'].sort());
  for (const t of tools) {
    expect(t.annotations?.readOnlyHint, t.name).toBe(['Read', 'List', 'Glob', 'Grep', 'Stat', 'GetVersionAtTimestamp', 'History', 'Diff'].includes(t.name));
    expect(t.inputSchema.type).toBe('object');
  }
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    expect(r.isError, `${name}: ${textOf(r)}`).toBeFalsy();
    return r;
  };
  const w = await call('Write', { path: '/docs/a.md', content: 'hello\nworld\n' });
  const v1 = (w._meta as Record<string, string>)['timefs/version']!;
  expect(v1).toMatch(/^[0-9a-f]{20}$/);
  await call('Edit', { path: '/docs/a.md', old_string: 'world', new_string: 'there' });
  expect(textOf(await call('Read', { path: '/docs/a.md' }))).toBe('hello\nthere');
  expect(textOf(await call('Read', { path: '/docs/a.md', version: v1 }))).toBe('hello\nworld');
  expect(textOf(await call('List', { path: '/docs' }))).toContain('a.md');
  expect(textOf(await call('Glob', { pattern: '**/*.md' }))).toBe('/docs/a.md');
  expect(textOf(await call('Grep', { pattern: 'there' }))).toBe('/docs/a.md:2: there');
  expect(JSON.parse(textOf(await call('Stat', { path: '/docs/a.md' }))).size).toBe(12);
  await call('Mkdir', { path: '/archive' });
  await call('Move', { src_path: '/docs/a.md', dst_path: '/archive/a.md' });
  await call('Copy', { src_path: '/docs/a.md', src_version: v1, dst_path: '/docs/a.md' });
  expect(textOf(await call('Read', { path: '/docs/a.md' }))).toBe('hello\nworld');
  await call('Delete', { path: '/archive', recursive: true });
  expect(textOf(await call('GetVersionAtTimestamp', { timestamp: 'now' }))).toMatch(/^[0-9a-f]{20}\n/);
  expect(textOf(await call('History', { path: '/docs/a.md' }))).toContain('tool:Copy');
  expect(textOf(await call('Diff', { path: '/', from_version: v1 }))).toMatch(/0 added, 0 removed, 0 modified/);
  const bad = await client.callTool({ name: 'Read', arguments: { path: '/nope' } });
  expect(bad.isError).toBe(true);
  expect(textOf(bad)).toMatch(/ENOENT/);
  const past = await client.callTool({ name: 'Write', arguments: { path: `/docs/a.md@${v1}`, content: 'x' } });
  expect(past.isError).toBe(true);
  expect(textOf(past)).toMatch(/EROFS: read-only/);
}

describe('MCP', () => {
  it('the MCP SDK client lists and calls every tool over stdio (timefs mcp)', async () => {
    const dataDir = tempDir('mcp-stdio');
    expect(timefs(dataDir, ['agents', 'create', 'mcpagent']).code).toBe(0);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, '--data', dataDir, '-a', 'mcpagent', 'mcp'],
      env: { ...process.env, TIMEFS_LOG_LEVEL: 'warn' } as Record<string, string>,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(transport);
    expect(client.getInstructions()).toMatch(/GetVersionAtTimestamp/);
    await exerciseEveryTool(client);
    await client.close();
    // the commits landed in the agent's store, attributed to the tools
    const log = timefs(dataDir, ['-a', 'mcpagent', 'log', '--json']);
    expect(log.code).toBe(0);
    expect(log.stdout).toContain('tool:Write');
  });

  it('the MCP SDK client lists and calls every tool over streamable HTTP at /mcp/<agent>, with auth', async () => {
    const srv = await startServer({ auth: true });
    const fs = await srv.agent('web');
    await srv.agent('other');
    const token = await createToken(fs);
    const url = new URL(`${srv.url}/mcp/web`);
    const client = new Client({ name: 'test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    await exerciseEveryTool(client);
    await client.close();
    // no token, a wrong token, another agent's token, an unknown agent: all 401, nothing runs
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { ...headers, authorization: 'Bearer tfs_000000000000_nope' }, body })).status).toBe(401);
    expect((await fetch(`${srv.url}/mcp/other`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body })).status).toBe(401);
    expect((await fetch(`${srv.url}/mcp/ghost`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body })).status).toBe(401);
    expect((await fetch(url, { method: 'GET', headers: { authorization: `Bearer ${token}` } })).status).toBe(405);
  });
});
