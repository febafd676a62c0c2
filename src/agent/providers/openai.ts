import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { closeDanglingCalls, type ChatMessage, type ToolCall } from '../messages.js';
import type { ModelProvider, ModelRequest, ModelTurn } from './types.js';

export interface OpenAIProviderOptions {
  apiKey: string;
  /** any OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 */
  baseURL?: string;
  model: string;
  maxRetries?: number;
}

function toOpenAI(system: string, messages: ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [{ role: 'system', content: system }];
  for (const m of closeDanglingCalls(messages)) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.callId, content: m.content });
    else
      out.push({
        role: 'assistant',
        content: m.content === '' ? null : m.content,
        ...(m.toolCalls.length > 0 ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.args } })) } : {}),
      });
  }
  return out;
}

/** Chat Completions through the official `openai` SDK (streamed), so any compatible endpoint works. */
export class OpenAIProvider implements ModelProvider {
  readonly name = 'openai' as const;
  readonly model: string;
  private readonly client: OpenAI;

  constructor(options: OpenAIProviderOptions) {
    this.model = options.model;
    this.client = new OpenAI({ apiKey: options.apiKey, ...(options.baseURL ? { baseURL: options.baseURL } : {}), maxRetries: options.maxRetries ?? 4 });
  }

  async complete(req: ModelRequest): Promise<ModelTurn> {
    const tools: ChatCompletionTool[] = req.tools.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema } }));
    const stream = await this.client.chat.completions.create(
      { model: this.model, messages: toOpenAI(req.system, req.messages), tools, stream: true },
      req.signal ? { signal: req.signal } : {},
    );
    let text = '';
    let stop = '';
    // tool calls arrive in pieces, keyed by index: id and name first, arguments in fragments
    const calls = new Map<number, ToolCall>();
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      const delta = choice.delta;
      if (delta?.content) {
        text += delta.content;
        req.onText?.(delta.content);
      }
      for (const tc of delta?.tool_calls ?? []) {
        const cur = calls.get(tc.index) ?? { id: '', name: '', args: '' };
        if (tc.id) cur.id = tc.id;
        if (tc.function?.name) cur.name += tc.function.name;
        if (tc.function?.arguments) cur.args += tc.function.arguments;
        calls.set(tc.index, cur);
      }
      if (choice.finish_reason) stop = choice.finish_reason;
    }
    const toolCalls = [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([i, c]) => ({ ...c, id: c.id || `call_${i}` }));
    return { text, toolCalls, stop };
  }
}
