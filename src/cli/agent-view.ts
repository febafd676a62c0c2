import type { AgentEvent } from '../agent/loop.js';

const oneLine = (s: string, max = 100): string => {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

/**
 * Renders the loop's events for a terminal: the model's text streams to stdout, tool activity goes
 * to stderr (so `timefs agent run … > answer.txt` captures only the answer).
 */
export function terminalView(out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): { onEvent: (e: AgentEvent) => void; endTurn: () => void } {
  let midLine = false;
  const color = (code: number, s: string): string => ((err as NodeJS.WriteStream).isTTY ? `\u001b[${code}m${s}\u001b[0m` : s);
  const breakLine = (): void => {
    if (midLine) out.write('\n');
    midLine = false;
  };
  return {
    onEvent(e) {
      if (e.type === 'text') {
        out.write(e.delta);
        midLine = !e.delta.endsWith('\n');
      } else if (e.type === 'tool_call') {
        breakLine();
        err.write(color(36, `  → ${e.call.name}(${oneLine(e.call.args, 160)})\n`));
      } else if (e.type === 'tool_result') {
        err.write(color(e.result.isError ? 31 : 90, `    ${e.result.isError ? '✗' : '✓'} ${oneLine(e.result.text)}\n`));
      }
    },
    endTurn: breakLine,
  };
}
