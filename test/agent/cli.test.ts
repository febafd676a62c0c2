import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, timefs } from '../helpers/cli.js';
import { run } from '../helpers/exec.js';
import { sinceLastUser, startScriptedModel, type ScriptedModel } from '../helpers/models.js';
import { tempDir } from '../helpers/tmp.js';

const models: ScriptedModel[] = [];
afterAll(async () => Promise.all(models.map((m) => m.close())));

const cleanEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, TIMEFS_LOG_LEVEL: 'warn' };
  for (const k of ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL', 'TIMEFS_PROVIDER', 'TIMEFS_MODEL']) delete env[k];
  return env;
};

describe('timefs agent (CLI)', () => {
  it('agent run drives a model through OPENAI_BASE_URL; agent transcript prints the stored conversation; no key is a clear error', async () => {
    const model = await startScriptedModel('openai', (conv) => {
      const { results } = sinceLastUser(conv);
      return results.length === 0 ? { text: 'Saving it.', toolCalls: [{ name: 'Write', args: { path: '/notes/hello.md', content: 'hi from the model\n' } }] } : { text: 'Saved /notes/hello.md.' };
    });
    models.push(model);
    const data = tempDir('agent-cli');
    const env = { ...cleanEnv(), OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${model.url}/v1`, TIMEFS_MODEL: 'scripted' };
    const r = await run(process.execPath, [CLI, '--data', data, 'agent', 'run', 'save', 'a', 'note'], { env });
    expect(r.err).toContain('→ Write(');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('Saving it.\nSaved /notes/hello.md.\n');
    expect(model.requests[0]!.body.model).toBe('scripted');
    expect(timefs(data, ['cat', '/notes/hello.md']).stdout).toBe('hi from the model\n');
    const t = timefs(data, ['agent', 'transcript']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/user:\nsave a note/);
    expect(t.stdout).toMatch(/→ Write\(\{"path":"\/notes\/hello.md"/);
    expect(t.stdout).toMatch(/✓ Write: Created \/notes\/hello.md/);
    expect(timefs(data, ['agent', 'transcript', '--list']).stdout).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}\s+4 messages\s+save a note/);
    const log = timefs(data, ['log']);
    expect(log.stdout).toMatch(/transcript .*Write\(path="\/notes\/hello.md"/);

    const nokey = await run(process.execPath, [CLI, '--data', data, 'agent', 'run', 'hi'], { env: cleanEnv() });
    expect(nokey.code).toBe(1);
    expect(nokey.err).toMatch(/^timefs: no API key for OpenAI: set OPENAI_API_KEY/);
  });

  it('agent chat: streams answers, Ctrl-C cancels the running turn but not the process, Ctrl-D quits', async () => {
    const model = await startScriptedModel('anthropic', (conv) => {
      const { prompt } = sinceLastUser(conv);
      if (prompt === 'think hard') return { text: 'never arrives', delayMs: 20_000 };
      return { text: `echo: ${prompt}` };
    });
    models.push(model);
    const data = tempDir('agent-chat');
    const child = spawn(process.execPath, [CLI, '--data', data, 'agent', 'chat', '--provider', 'anthropic'], {
      env: { ...cleanEnv(), ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: model.url },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const until = async (cond: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
      if (!cond()) throw new Error(`timed out waiting for ${what}\nstdout: ${out}\nstderr: ${err}`);
    };
    await until(() => out.includes('you> '), 'the prompt');
    child.stdin.write('hello there\n');
    await until(() => out.includes('echo: hello there'), 'the first answer');
    child.stdin.write('think hard\n');
    await until(() => model.requests.length === 2, 'the slow request');
    child.kill('SIGINT');
    await until(() => err.includes('turn cancelled'), 'the cancellation');
    child.stdin.write('still alive?\n');
    await until(() => out.includes('echo: still alive?'), 'an answer after the cancel');
    const code = new Promise<number | null>((r) => child.on('close', r));
    child.stdin.end();
    expect(await code).toBe(0);
    expect(err).toMatch(/session \S+ saved/);
    const t = timefs(data, ['agent', 'transcript', '--json']);
    const msgs = (JSON.parse(t.stdout) as { messages: Array<{ content: string }> }).messages.map((m) => m.content);
    expect(msgs).toEqual(['hello there', 'echo: hello there', 'think hard', '[turn cancelled by the user]', 'still alive?', 'echo: still alive?']);
  });
});
