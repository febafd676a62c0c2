import { isVersionString, parseVersion, type Version } from '../store/version.js';
import { fsError } from './errors.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Understands a point in time the way people and models write it: RFC 3339
 * (`2026-11-22T10:00:00Z`), a plain date (`2026-11-22`, midnight UTC), or natural language through
 * chrono-node (`3 days ago`, `yesterday at 5pm`, `last friday`), relative to `now` and in UTC
 * unless the text names a zone. chrono-node loads only for natural language (it costs ~0.25 s).
 */
export async function parseTimeSpec(text: string, now: Date): Promise<Date> {
  const t = text.trim();
  if (t === '') throw fsError('EINVAL', 'empty time: use RFC 3339 like 2026-11-22T10:00:00Z or a phrase like "3 days ago"');
  if (RFC3339.test(t) || DATE_ONLY.test(t)) {
    const hasZone = /([Zz]|[+-]\d{2}:?\d{2})$/.test(t) && !DATE_ONLY.test(t);
    const d = new Date(DATE_ONLY.test(t) ? `${t}T00:00:00Z` : hasZone ? t.replace(' ', 'T') : `${t.replace(' ', 'T')}Z`);
    if (!Number.isNaN(d.getTime())) return d;
  }
  if (t.toLowerCase() === 'now') return now;
  const chrono = await import('chrono-node');
  const parsed = chrono.parseDate(t, { instant: now, timezone: 'UTC' }, { forwardDate: false });
  if (!parsed || Number.isNaN(parsed.getTime())) {
    throw fsError('EINVAL', `could not understand the time "${text}": use RFC 3339 like 2026-11-22T10:00:00Z or a phrase like "3 days ago"`);
  }
  return parsed;
}

/** A version or a time: 20 hex characters are a version, anything else is a time to resolve. */
export async function parseVersionOrTime(text: string, now: Date): Promise<{ version: Version } | { time: Date }> {
  const t = text.trim();
  if (isVersionString(t)) return { version: parseVersion(t) };
  return { time: await parseTimeSpec(t, now) };
}
