import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Scripted models on loopback: an OpenAI-compatible Chat Completions endpoint and an Anthropic
 * Messages endpoint, both streaming (SSE) exactly as the real services do, driven by one script
 * that sees the conversation in a neutral form and says what the "model" answers next.
 */
export type SeenMessage =
  | { role: 'user'; text: string }
  | { role: 'assistant'; text: string; toolCalls: Array<{ name: string; args: Record<string, unknown> }> }
  | { role: 'tool'; name: string; text: string; isError: boolean };

export interface ScriptReply {
  text?: string;
  toolCalls?: Array<{ name: string; args: Record<string, unknown> }>;
  /** wait this long before answering (to test cancellation) */
  delayMs?: number;
}

export type Script = (conversation: SeenMessage[], request: { system: string; tools: string[]; model: string }) => ScriptReply;

export interface ScriptedModel {
  url: string;
  requests: Array<{ headers: http.IncomingHttpHeaders; body: Record<string, unknown>; status: number }>;
  /** answer the next N requests with 429 (retry-after-ms: 20) */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function fromOpenAI(body: Json): { conv: SeenMessage[]; system: string } {
  const names = new Map<string, string>();
  const conv: SeenMessage[] = [];
  let system = '';
  for (const m of body.messages as Json[]) {
    if (m.role === 'system') system = m.content;
    else if (m.role === 'user') conv.push({ role: 'user', text: m.content });
    else if (m.role === 'assistant') {
      const calls = ((m.tool_calls ?? []) as Json[]).map((c) => {
        names.set(c.id, c.function.name);
        return { name: c.function.name as string, args: JSON.parse(c.function.arguments || '{}') as Record<string, unknown> };
      });
      conv.push({ role: 'assistant', text: m.content ?? '', toolCalls: calls });
    } else if (m.role === 'tool') conv.push({ role: 'tool', name: names.get(m.tool_call_id) ?? '?', text: m.content, isError: false });
  }
  return { conv, system };
}

function fromAnthropic(body: Json): { conv: SeenMessage[]; system: string } {
  const names = new Map<string, string>();
  const conv: SeenMessage[] = [];
  for (const m of body.messages as Json[]) {
    const blocks: Json[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (m.role === 'assistant') {
      const calls = blocks.filter((b) => b.type === 'tool_use').map((b) => {
        names.set(b.id, b.name);
        return { name: b.name as string, args: b.input as Record<string, unknown> };
      });
      conv.push({ role: 'assistant', text: blocks.filter((b) => b.type === 'text').map((b) => b.text).join(''), toolCalls: calls });
    } else {
      for (const b of blocks) {
        if (b.type === 'text') conv.push({ role: 'user', text: b.text });
        else if (b.type === 'tool_result') conv.push({ role: 'tool', name: names.get(b.tool_use_id) ?? '?', text: typeof b.content === 'string' ? b.content : JSON.stringify(b.content), isError: !!b.is_error });
      }
    }
  }
  return { conv, system: typeof body.system === 'string' ? body.system : JSON.stringify(body.system) };
}

function sse(res: http.ServerResponse, events: Array<{ event?: string; data: unknown }>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}\n\n`);
  res.end();
}

let callSeq = 0;

function openAIStream(res: http.ServerResponse, reply: ScriptReply, model: string): void {
  const base = { id: 'chatcmpl-scripted', object: 'chat.completion.chunk', created: 0, model };
  const events: Array<{ data: unknown }> = [{ data: { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] } }];
  // text in several deltas, as real streams do
  for (const piece of (reply.text ?? '').match(/.{1,7}/gs) ?? []) events.push({ data: { ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] } });
  (reply.toolCalls ?? []).forEach((c, index) => {
    const args = JSON.stringify(c.args);
    const half = Math.floor(args.length / 2);
    events.push({ data: { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, id: `call_${++callSeq}`, type: 'function', function: { name: c.name, arguments: args.slice(0, half) } }] }, finish_reason: null }] } });
    events.push({ data: { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: args.slice(half) } }] }, finish_reason: null }] } });
  });
  events.push({ data: { ...base, choices: [{ index: 0, delta: {}, finish_reason: reply.toolCalls?.length ? 'tool_calls' : 'stop' }] } });
  events.push({ data: '[DONE]' });
  sse(res, events);
}

function anthropicStream(res: http.ServerResponse, reply: ScriptReply, model: string): void {
  const events: Array<{ event: string; data: unknown }> = [
    { event: 'message_start', data: { type: 'message_start', message: { id: 'msg_scripted', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } } },
  ];
  let index = 0;
  if (reply.text) {
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { type: 'text', text: '' } } });
    for (const piece of reply.text.match(/.{1,7}/gs) ?? []) events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } } });
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    index++;
  }
  for (const c of reply.toolCalls ?? []) {
    const args = JSON.stringify(c.args);
    const half = Math.floor(args.length / 2);
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: { type: 'tool_use', id: `toolu_${++callSeq}`, name: c.name, input: {} } } });
    events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args.slice(0, half) } } });
    events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: args.slice(half) } } });
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
    index++;
  }
  events.push({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: reply.toolCalls?.length ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 20 } } });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  sse(res, events);
}

/** Starts a scripted model server on a free loopback port (checked to be ours). */
export async function startScriptedModel(kind: 'openai' | 'anthropic', script: Script): Promise<ScriptedModel> {
  const requests: ScriptedModel['requests'] = [];
  let failures = 0;
  let failStatus = 429;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/healthz') return void res.end('scripted-model');
      const want = kind === 'openai' ? '/v1/chat/completions' : '/v1/messages';
      const body = JSON.parse(raw || '{}') as Json;
      if (path !== want || req.method !== 'POST') {
        res.writeHead(404).end(JSON.stringify({ error: { message: `scripted ${kind} model: no route ${req.method} ${path}` } }));
        return;
      }
      if (failures > 0) {
        failures--;
        requests.push({ headers: req.headers, body, status: failStatus });
        res.writeHead(failStatus, { 'content-type': 'application/json', 'retry-after-ms': '20' });
        res.end(JSON.stringify(kind === 'openai' ? { error: { message: 'rate limited', type: 'rate_limit' } } : { type: 'error', error: { type: 'rate_limit_error', message: 'rate limited' } }));
        return;
      }
      requests.push({ headers: req.headers, body, status: 200 });
      const { conv, system } = kind === 'openai' ? fromOpenAI(body) : fromAnthropic(body);
      const tools = ((body.tools ?? []) as Json[]).map((t) => (kind === 'openai' ? t.function.name : t.name) as string);
      let reply: ScriptReply;
      try {
        reply = script(conv, { system, tools, model: body.model });
      } catch (err) {
        res.writeHead(500).end(JSON.stringify({ error: { message: `script failed: ${(err as Error).message}` } }));
        return;
      }
      const send = () => (kind === 'openai' ? openAIStream(res, reply, body.model) : anthropicStream(res, reply, body.model));
      if (reply.delayMs) {
        const t = setTimeout(send, reply.delayMs);
        res.on('close', () => clearTimeout(t));
      } else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${addr.port}`;
  if ((await (await fetch(`${url}/healthz`)).text()) !== 'scripted-model') throw new Error('the port answered, but not as our scripted model');
  return {
    url,
    requests,
    failNext(n, status = 429) {
      failures = n;
      failStatus = status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The latest user message and the tool results the model has seen since. */
export function sinceLastUser(conv: SeenMessage[]): { prompt: string; results: Array<{ name: string; text: string; isError: boolean }> } {
  let i = conv.length - 1;
  while (i >= 0 && conv[i]!.role !== 'user') i--;
  const prompt = i >= 0 ? (conv[i] as { text: string }).text : '';
  const results = conv.slice(i + 1).filter((m): m is Extract<SeenMessage, { role: 'tool' }> => m.role === 'tool');
  return { prompt, results };
}
