import Anthropic from '@anthropic-ai/sdk';
import type { ContentBlockParam, MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { closeDanglingCalls, parseToolArgs, type ChatMessage } from '../messages.js';
import type { ModelProvider, ModelRequest, ModelTurn } from './types.js';

export interface AnthropicProviderOptions {
  apiKey: string;
  baseURL?: string;
  model: string;
  maxTokens?: number;
  maxRetries?: number;
}


/** Anthropic alternates user and assistant turns: tool results travel in the next user message. */
function toAnthropic(messages: ChatMessage[]): MessageParam[] {
  const out: MessageParam[] = [];
  const pushUser = (block: ContentBlockParam): void => {
    const last = out[out.length - 1];
    if (last?.role === 'user' && Array.isArray(last.content)) last.content.push(block);
    else out.push({ role: 'user', content: [block] });
  };
  for (const m of closeDanglingCalls(messages)) {
    if (m.role === 'user') pushUser({ type: 'text', text: m.content });
    else if (m.role === 'tool') pushUser({ type: 'tool_result', tool_use_id: m.callId, content: m.content, ...(m.isError ? { is_error: true } : {}) });
    else {
      const content: ContentBlockParam[] = [];
      if (m.content !== '') content.push({ type: 'text', text: m.content });
      for (const c of m.toolCalls) content.push({ type: 'tool_use', id: c.id, name: c.name, input: parseToolArgs(c.args) });
      if (content.length === 0) content.push({ type: 'text', text: '(no reply)' });
      out.push({ role: 'assistant', content });
    }
  }
  return out;
}

/** The Messages API through the official `@anthropic-ai/sdk` (streamed). */
export class AnthropicProvider implements ModelProvider {
  readonly name = 'anthropic' as const;
  readonly model: string;
  private readonly client: Anthropic;
  private readonly maxTokens: number;

  constructor(options: AnthropicProviderOptions) {
    this.model = options.model;
    this.maxTokens = options.maxTokens ?? 8192;
    this.client = new Anthropic({ apiKey: options.apiKey, ...(options.baseURL ? { baseURL: options.baseURL } : {}), maxRetries: options.maxRetries ?? 4 });
  }

  async complete(req: ModelRequest): Promise<ModelTurn> {
    const tools: Tool[] = req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema as Tool['input_schema'] }));
    const stream = this.client.messages.stream(
      { model: this.model, max_tokens: this.maxTokens, system: req.system, messages: toAnthropic(req.messages), tools },
      req.signal ? { signal: req.signal } : {},
    );
    if (req.onText) stream.on('text', (delta) => req.onText!(delta));
    const msg = await stream.finalMessage();
    let text = '';
    const toolCalls = [];
    for (const block of msg.content) {
      if (block.type === 'text') text += block.text;
      else if (block.type === 'tool_use') toolCalls.push({ id: block.id, name: block.name, args: JSON.stringify(block.input ?? {}) });
    }
    return { text, toolCalls, stop: msg.stop_reason ?? '' };
  }
}
