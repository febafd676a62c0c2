import readline from 'node:readline';
import type { Command } from 'commander';
import { AgentHost } from '../../agent/host.js';
import { AgentSession } from '../../agent/loop.js';
import { createProvider } from '../../agent/providers/index.js';
import { Transcript } from '../../agent/transcript.js';
import { serveStdio } from '../../mcp/stdio.js';
import { parseVersion } from '../../fs/index.js';
import { terminalView } from '../agent-view.js';
import { action, type CliContext } from '../context.js';

interface ModelOpts {
  provider?: string;
  model?: string;
  session?: string;
  maxSteps?: string;
}

async function openSession(ctx: CliContext, opts: ModelOpts, onEvent: ConstructorParameters<typeof AgentSession>[0]['onEvent']): Promise<AgentSession> {
  const provider = await createProvider({ ...(opts.provider ? { provider: opts.provider } : {}), ...(opts.model ? { model: opts.model } : {}) });
  const fs = await ctx.fs();
  const transcript = opts.session ? await Transcript.open(fs, opts.session) : undefined;
  return new AgentSession({
    fs,
    provider,
    ...(transcript ? { transcript } : {}),
    ...(opts.maxSteps ? { maxSteps: Number(opts.maxSteps) } : {}),
    ...(onEvent ? { onEvent } : {}),
  });
}

const modelOptions = (cmd: Command): Command =>
  cmd
    .option('--provider <name>', 'openai (any OpenAI-compatible endpoint: OPENAI_BASE_URL, OPENAI_API_KEY) or anthropic (ANTHROPIC_API_KEY); default from the keys set, or $TIMEFS_PROVIDER')
    .option('--model <model>', 'model name (default $TIMEFS_MODEL, else gpt-4.1 / claude-sonnet-4-5)')
    .option('--session <id>', "continue a conversation ('latest' for the newest)")
    .option('--max-steps <n>', 'model calls per turn before stopping', '50');

export function registerAgentCommands(program: Command): void {
  program
    .command('mcp')
    .description("serve the agent's tools to an MCP client over stdio (e.g. claude mcp add timefs -- timefs mcp -a NAME)")
    .action(
      action(async (ctx) => {
        const store = await ctx.openStore();
        await ctx.fs(); // creates 'default' on first use; other agents must exist
        const host = new AgentHost(store);
        await serveStdio(host, ctx.options.agent);
        await host.close();
      }),
    );

  const agent = program.command('agent').description('run a model on the agent filesystem (tools, time travel, stored transcripts)');

  modelOptions(agent.command('run').description('one prompt: the model works with the tools until it answers').argument('<prompt...>')).action(
    action(async (ctx, words: string[], opts: ModelOpts) => {
      const view = terminalView();
      const session = await openSession(ctx, opts, ctx.options.json ? undefined : view.onEvent);
      const controller = new AbortController();
      const onSigint = (): void => controller.abort();
      process.once('SIGINT', onSigint);
      try {
        const r = await session.send(words.join(' '), controller.signal);
        view.endTurn();
        if (ctx.options.json) ctx.json({ session: session.transcript.id, text: r.text, steps: r.steps, toolCalls: r.toolCalls, cancelled: r.cancelled });
        else process.stderr.write(`[session ${session.transcript.id}: ${r.steps} model call(s), ${r.toolCalls} tool call(s)${r.cancelled ? ', cancelled' : ''}]\n`);
        if (r.cancelled) process.exitCode = 130;
      } finally {
        process.off('SIGINT', onSigint);
      }
    }),
  );

  modelOptions(agent.command('chat').description('interactive conversation; Ctrl-C cancels the running turn, Ctrl-D (or /exit) quits')).action(
    action(async (ctx, opts: ModelOpts) => {
      const view = terminalView();
      const session = await openSession(ctx, opts, view.onEvent);
      const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
      let running: AbortController | null = null;
      let armed = false;
      const onInterrupt = (): void => {
        if (running) {
          running.abort();
          process.stderr.write('\n^C (cancelling the turn)\n');
        } else if (armed) {
          rl.close();
        } else {
          armed = true;
          process.stderr.write('\n(press Ctrl-C again or Ctrl-D to exit)\n');
          rl.prompt();
        }
      };
      rl.on('SIGINT', onInterrupt); // terminals: readline turns Ctrl-C into this
      process.on('SIGINT', onInterrupt); // pipes and `kill -INT`
      process.stderr.write(`timefs agent chat — agent '${ctx.options.agent}', session ${session.transcript.id}. Ctrl-C cancels a turn, Ctrl-D quits.\n`);
      rl.setPrompt('you> ');
      rl.prompt();
      try {
        for await (const line of rl) {
          const prompt = line.trim();
          armed = false;
          if (prompt === '/exit' || prompt === '/quit') break;
          if (prompt === '') {
            rl.prompt();
            continue;
          }
          running = new AbortController();
          try {
            const r = await session.send(prompt, running.signal);
            view.endTurn();
            if (r.cancelled) process.stderr.write('[turn cancelled; the conversation goes on]\n');
          } catch (err) {
            view.endTurn();
            process.stderr.write(`timefs: ${(err as Error).message}\n`);
          } finally {
            running = null;
          }
          rl.prompt();
        }
      } finally {
        process.off('SIGINT', onInterrupt);
        rl.close();
        process.stderr.write(`[session ${session.transcript.id} saved: timefs agent transcript --session ${session.transcript.id}]\n`);
      }
    }),
  );

  agent
    .command('transcript')
    .description('print a stored conversation (default: the newest), optionally as it was at a version')
    .option('--session <id>', "which conversation ('latest' by default)", 'latest')
    .option('--list', 'list the conversations instead')
    .option('--version <v>', 'as stored at this version')
    .action(
      action(async (ctx, opts: { session: string; list?: boolean; version?: string }) => {
        const fs = await ctx.fs();
        const version = opts.version ? parseVersion(opts.version) : undefined;
        if (opts.list) {
          const sessions = await Transcript.list(fs, version);
          if (ctx.options.json) return ctx.json(sessions);
          if (sessions.length === 0) return ctx.print('(no conversations yet)');
          for (const s of sessions) ctx.print(`${s.id}  ${String(s.messages).padStart(4)} messages  ${s.title}`);
          return;
        }
        const t = await Transcript.open(fs, opts.session, version);
        if (ctx.options.json) return ctx.json({ session: t.id, messages: t.messages });
        ctx.print(`# session ${t.id} (agent ${fs.agent})`);
        for (const m of t.messages) {
          const when = new Date(m.time).toISOString();
          if (m.role === 'user') ctx.print(`\n[${when}] user:\n${m.content}`);
          else if (m.role === 'assistant') {
            ctx.print(`\n[${when}] assistant:${m.content ? `\n${m.content}` : ''}`);
            for (const c of m.toolCalls) ctx.print(`  → ${c.name}(${c.args})`);
          } else ctx.print(`  ${m.isError ? '✗' : '✓'} ${m.name}: ${m.content.length > 400 ? `${m.content.slice(0, 400)}… [${m.content.length} chars]` : m.content}`);
        }
      }),
    );
}
