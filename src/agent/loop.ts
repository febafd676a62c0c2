import type { AgentFs } from '../fs/agentfs.js';
import type { Version } from '../fs/index.js';
import { parseToolArgs, type ChatMessage, type ToolCall } from './messages.js';
import { SYSTEM_PROMPT } from './prompt.js';
import type { ModelProvider } from './providers/types.js';
import { runTool, summarizeCall, toolSchemas } from './run.js';
import type { ToolResult } from './tool.js';
import { Transcript } from './transcript.js';

/** What the loop reports while it works (the CLI prints these; tests record them). */
export type AgentEvent =
  | { type: 'text'; delta: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'tool_result'; call: ToolCall; result: ToolResult }
  | { type: 'step_done'; step: number; version: Version | null };

export interface AgentSessionOptions {
  fs: AgentFs;
  provider: ModelProvider;
  /** continue this conversation instead of starting one */
  transcript?: Transcript;
  /** model calls per user turn before the loop stops (default 50) */
  maxSteps?: number;
  system?: string;
  onEvent?: (e: AgentEvent) => void;
  /** runs tool calls (default: directly on `fs`; an AgentHost passes its serialized caller) */
  callTool?: (name: string, args: string) => Promise<ToolResult>;
}

export interface TurnResult {
  /** the model's final text */
  text: string;
  steps: number;
  toolCalls: number;
  cancelled: boolean;
}

export class TurnCancelled extends Error {
  constructor() {
    super('the turn was cancelled');
    this.name = 'TurnCancelled';
  }
}


/**
 * The agent loop: send the conversation to the model, run the tool calls it asks for, send the
 * results back, until it answers without tool calls. After every step the new messages are
 * committed to the transcript — one commit whose summary lists the step's tool calls, so
 * `timefs log` tells the story even for read-only calls. Tool errors go back to the model as
 * text; only model/transport failures (after the SDK's retries) and cancellation end a turn.
 */
export class AgentSession {
  readonly transcript: Transcript;
  private readonly maxSteps: number;
  private readonly system: string;
  private readonly callTool: (name: string, args: string) => Promise<ToolResult>;

  constructor(private readonly options: AgentSessionOptions) {
    this.transcript = options.transcript ?? Transcript.create(options.fs);
    this.maxSteps = options.maxSteps ?? 50;
    this.system = options.system ?? SYSTEM_PROMPT;
    this.callTool = options.callTool ?? ((name, args) => runTool(options.fs, name, args));
  }

  private get now(): number {
    return this.options.fs.store.clock();
  }

  /** One user turn. With `signal` aborted, stops at the next safe point and keeps what happened. */
  async send(prompt: string, signal?: AbortSignal): Promise<TurnResult> {
    const msgs = this.transcript.messages;
    let saved = msgs.length;
    msgs.push({ role: 'user', content: prompt, time: this.now });
    const emit = (e: AgentEvent): void => this.options.onEvent?.(e);
    let steps = 0;
    let calls = 0;
    let text = '';
    const save = async (summary: string): Promise<void> => {
      const version = await this.transcript.persist(saved, summary);
      saved = msgs.length;
      emit({ type: 'step_done', step: steps, version });
    };
    try {
      for (; steps < this.maxSteps; ) {
        if (signal?.aborted) throw new TurnCancelled();
        steps++;
        let turn;
        try {
          turn = await this.options.provider.complete({
            system: this.system,
            messages: msgs,
            tools: toolSchemas(),
            ...(signal ? { signal } : {}),
            onText: (delta) => emit({ type: 'text', delta }),
          });
        } catch (err) {
          if (signal?.aborted) throw new TurnCancelled();
          throw err;
        }
        text = turn.text;
        msgs.push({ role: 'assistant', content: turn.text, toolCalls: turn.toolCalls, time: this.now });
        if (turn.toolCalls.length === 0) {
          await save(steps === 1 && msgs.length - saved === 2 ? 'prompt + answer' : 'answer');
          return { text, steps, toolCalls: calls, cancelled: false };
        }
        for (const call of turn.toolCalls) {
          if (signal?.aborted) throw new TurnCancelled();
          emit({ type: 'tool_call', call });
          const result = await this.callTool(call.name, call.args);
          calls++;
          msgs.push({ role: 'tool', callId: call.id, name: call.name, content: result.text, isError: result.isError, time: this.now });
          emit({ type: 'tool_result', call, result });
        }
        await save(turn.toolCalls.map((c) => summarizeCall(c.name, parseToolArgs(c.args))).join(', '));
      }
      msgs.push({ role: 'assistant', content: `[stopped after ${this.maxSteps} model calls in one turn; ask me to continue]`, toolCalls: [], time: this.now });
      await save('step limit');
      return { text: msgs[msgs.length - 1]!.content, steps, toolCalls: calls, cancelled: false };
    } catch (err) {
      if (!(err instanceof TurnCancelled)) {
        await save(`error: ${(err as Error).message}`.slice(0, 200)).catch(() => undefined);
        throw err;
      }
      const note = '[turn cancelled by the user]';
      msgs.push({ role: 'assistant', content: note, toolCalls: [], time: this.now });
      await save('cancelled');
      return { text: note, steps, toolCalls: calls, cancelled: true };
    }
  }
}

export type { ChatMessage };
