/**
 * The conversation, provider-neutral: what is stored in the transcript and translated to each
 * SDK's message format on every request. Invariant kept by the loop: every assistant tool call is
 * followed by exactly one tool message with its id (a cancelled call gets a "not run" result).
 */
export interface ToolCall {
  id: string;
  name: string;
  /** the arguments as the model sent them: JSON text */
  args: string;
}

export type ChatMessage =
  | { role: 'user'; content: string; time: number }
  | { role: 'assistant'; content: string; toolCalls: ToolCall[]; time: number }
  | { role: 'tool'; callId: string; name: string; content: string; isError: boolean; time: number };

/** Adds "not run" results for tool calls that have none (a turn cancelled between call and result). */
export function closeDanglingCalls(messages: ChatMessage[]): ChatMessage[] {
  const answered = new Set(messages.filter((m) => m.role === 'tool').map((m) => (m as { callId: string }).callId));
  const out: ChatMessage[] = [];
  for (const m of messages) {
    out.push(m);
    if (m.role !== 'assistant') continue;
    for (const c of m.toolCalls) {
      if (!answered.has(c.id)) out.push({ role: 'tool', callId: c.id, name: c.name, content: '[not run: the turn was cancelled]', isError: true, time: m.time });
    }
  }
  return out;
}

/** A tool call's JSON arguments as an object ({} when they are not a JSON object). */
export function parseToolArgs(args: string): Record<string, unknown> {
  try {
    const v = JSON.parse(args || '{}') as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
