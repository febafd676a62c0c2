import sax from 'sax';
import type { HTTPRequestContext } from './lib.js';

/**
 * Namespace-aware XML for WebDAV bodies. webdav-server's parser names elements `namespace +
 * localname`, which is ambiguous (`http://a/b` + `c` = `http://a/bc`) and its builder then mangles
 * namespaces that end in '/'. Here every element keeps its namespace URI and local name apart, and
 * a property is identified in Clark notation: `{uri}local`.
 */
export interface XmlElement {
  ns: string;
  local: string;
  attrs: Record<string, { uri: string; local: string; value: string }>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | { text: string };

export const isElement = (n: XmlNode): n is XmlElement => 'local' in n;
export const clark = (ns: string, local: string): string => `{${ns}}${local}`;

/** Parses a body; throws on anything not well-formed (including DTDs, which DAV bodies never need). */
export function parseXml(input: Buffer | string): XmlElement {
  const text = typeof input === 'string' ? input : input.toString('utf8');
  const parser = sax.parser(true, { xmlns: true, trim: false, normalize: false });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let error: Error | null = null;
  parser.onerror = (e) => {
    error = e;
  };
  parser.ondoctype = () => {
    error = new Error('DOCTYPE not allowed');
  };
  parser.onopentag = (tag) => {
    const t = tag as sax.QualifiedTag;
    if (t.uri === undefined) return;
    if (t.prefix && !t.uri) error = new Error(`unbound namespace prefix '${t.prefix}'`);
    const el: XmlElement = { ns: t.uri, local: t.local, attrs: {}, children: [] };
    for (const [name, a] of Object.entries(t.attributes)) {
      if (name === 'xmlns' || name.startsWith('xmlns:')) {
        if (name.startsWith('xmlns:') && a.value === '') error = new Error(`namespace prefix '${name.slice(6)}' bound to an empty name`);
        continue;
      }
      el.attrs[name] = { uri: a.uri, local: a.local, value: a.value };
    }
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else if (!root) root = el;
    stack.push(el);
  };
  parser.onclosetag = () => {
    stack.pop();
  };
  parser.ontext = (t) => {
    if (stack.length) stack[stack.length - 1]!.children.push({ text: t });
  };
  parser.oncdata = (t) => {
    if (stack.length) stack[stack.length - 1]!.children.push({ text: t });
  };
  parser.write(text).close();
  if (error) throw error;
  if (!root) throw new Error('empty XML document');
  return root;
}

export const child = (el: XmlElement, ns: string, local: string): XmlElement | undefined =>
  el.children.find((c): c is XmlElement => isElement(c) && c.ns === ns && c.local === local);

export const elements = (el: XmlElement): XmlElement[] => el.children.filter(isElement);

export const escapeText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
export const escapeAttr = (s: string): string => escapeText(s).replace(/"/g, '&quot;');

/** Serializes nodes self-contained: every element declares its own namespace. */
export function serialize(nodes: XmlNode[]): string {
  let out = '';
  for (const n of nodes) {
    if (!isElement(n)) {
      out += escapeText(n.text);
      continue;
    }
    let attrs = ` xmlns="${escapeAttr(n.ns)}"`;
    let p = 0;
    for (const a of Object.values(n.attrs)) {
      if (a.uri) {
        attrs += ` xmlns:a${p}="${escapeAttr(a.uri)}" a${p}:${a.local}="${escapeAttr(a.value)}"`;
        p++;
      } else attrs += ` ${a.local}="${escapeAttr(a.value)}"`;
    }
    out += `<${n.local}${attrs}>${serialize(n.children)}</${n.local}>`;
  }
  return out;
}

/** An element named {ns}local with raw inner XML, declaring its namespace. */
export function propElement(ns: string, local: string, inner: string | null, extraAttrs = ''): string {
  const open = ns === 'DAV:' ? `D:${local}` : `${local} xmlns="${escapeAttr(ns)}"`;
  const name = ns === 'DAV:' ? `D:${local}` : local;
  return inner === null || inner === '' ? `<${open}${extraAttrs}/>` : `<${open}${extraAttrs}>${inner}</${name}>`;
}

/** Writes a complete XML response (status, type, length, body) for our own method handlers. */
export function respond(ctx: HTTPRequestContext, code: number, body: string, headers: Record<string, string> = {}): void {
  ctx.setCode(code);
  for (const [k, v] of Object.entries(headers)) ctx.response.setHeader(k, v);
  ctx.response.setHeader('Content-Type', 'application/xml; charset=utf-8');
  ctx.response.setHeader('Content-Length', String(Buffer.byteLength(body)));
  ctx.response.write(body);
}
