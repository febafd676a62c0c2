import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;

/** s3rver on a free loopback port with one bucket; returns its endpoint. */
export async function startS3(dir: string, bucket = 'timefs'): Promise<{ endpoint: string; port: number; close: () => Promise<void> }> {
  const S3rver = require('s3rver') as S3rverCtor;
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: path.join(dir, 's3rver'),
    configureBuckets: [{ name: bucket }],
  });
  const addr = await server.run();
  if (addr.address !== '127.0.0.1' || !addr.port) throw new Error(`s3rver did not bind a loopback port: ${JSON.stringify(addr)}`);
  return { endpoint: `http://127.0.0.1:${addr.port}`, port: addr.port, close: () => server.close() };
}

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/**
 * A loopback proxy in front of an S3 endpoint that answers `failPuts` PUT requests with 503 (or all
 * of them when failPuts is Infinity) before forwarding. Counts the PUTs it saw.
 */
export async function startFlakyProxy(target: string, failPuts: number): Promise<{ endpoint: string; puts: () => number; close: () => Promise<void> }> {
  let puts = 0;
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    if (req.method === 'PUT') {
      puts++;
      if (puts <= failPuts) {
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>injected</Message></Error>');
        return;
      }
    }
    const fwd = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, puts: () => puts, close: () => new Promise((r) => server.close(() => r())) };
}
