/**
 * Output limits: what one tool result may put in a model's context. Everything longer is cut with
 * a note saying how to get the rest (offset/limit, a narrower path or pattern).
 */
export const READ_DEFAULT_LINES = 2000;
/** longest text a Read returns in one call, whatever the line count */
export const READ_MAX_CHARS = 100_000;
/** a single line longer than this is cut (minified files) */
export const READ_MAX_LINE = 2000;
export const LIST_DEFAULT_LIMIT = 500;
export const GLOB_DEFAULT_LIMIT = 500;
export const GREP_DEFAULT_LIMIT = 200;
/** files Grep skips (bigger ones are named in the result so the model can Read them in pages) */
export const GREP_MAX_FILE = 8 * 1024 * 1024;
export const DIFF_MAX_CHARS = 100_000;
/** largest content Write and Edit accept in one call */
export const WRITE_MAX_BYTES = 32 * 1024 * 1024;

/** True when a buffer looks binary: a NUL in the first 8000 bytes (git's rule). */
export const isBinary = (b: Buffer): boolean => b.subarray(0, 8000).includes(0);

export const plural = (n: number, word: string, many = `${word}s`): string => `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
