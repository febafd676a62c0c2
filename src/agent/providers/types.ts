import type { ToolSchema } from '../run.js';
import type { ChatMessage, ToolCall } from '../messages.js';

export interface ModelRequest {
  system: string;
  messages: ChatMessage[];
  tools: ToolSchema[];
  signal?: AbortSignal;
  /** streamed text as it arrives */
  onText?: (delta: string) => void;
}

export interface ModelTurn {
  text: string;
  toolCalls: ToolCall[];
  /** the provider's stop reason, as it said it */
  stop: string;
}

/** One model behind one SDK. Retries (429, 5xx, connection errors) are the SDK's, with backoff. */
export interface ModelProvider {
  readonly name: 'openai' | 'anthropic';
  readonly model: string;
  complete(req: ModelRequest): Promise<ModelTurn>;
}
