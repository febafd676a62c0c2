import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { StoreError } from '../errors.js';
import type { BlobInfo, BlobStore } from './types.js';

export interface S3BlobOptions {
  bucket: string;
  /** Key prefix inside the bucket, e.g. 'timefs/chunks/' (a trailing '/' is added if missing). */
  prefix?: string;
  /** For S3-compatible servers (MinIO, s3rver…). */
  endpoint?: string;
  forcePathStyle?: boolean;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Attempts per request, including the first (the SDK retries throttling/5xx/network errors with backoff). */
  maxAttempts?: number;
}

/** Parses `s3://bucket/prefix` into bucket and prefix. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`invalid S3 URL ${JSON.stringify(url)}: expected s3://bucket/prefix`);
  return { bucket: m[1]!, prefix: m[2]! };
}

/**
 * Chunks as objects in S3 (`<prefix><hash>`). A put always uploads (an identical re-upload is what
 * refreshes LastModified for the GC grace period). Retries with exponential backoff come from the
 * SDK's standard retry strategy; a put that still fails throws, and the caller commits nothing that
 * references the chunk.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3BlobOptions) {
    this.bucket = options.bucket;
    const p = options.prefix ?? '';
    this.prefix = p === '' || p.endsWith('/') ? p : `${p}/`;
    this.client = new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      maxAttempts: options.maxAttempts ?? 6,
      retryMode: 'standard',
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
    });
  }

  private key = (hash: string): string => `${this.prefix}${hash}`;

  async put(hash: string, data: Buffer): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(hash), Body: data }));
  }

  async get(hash: string): Promise<Buffer> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(hash) }));
      return Buffer.from(await out.Body!.transformToByteArray());
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') {
        throw new StoreError('BLOB_MISSING', `chunk ${hash} is missing from s3://${this.bucket}/${this.prefix}`);
      }
      throw err;
    }
  }

  async *list(): AsyncIterable<BlobInfo> {
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, ContinuationToken: token }),
      );
      for (const obj of page.Contents ?? []) {
        const hash = obj.Key!.slice(this.prefix.length);
        if (/^[0-9a-f]{64}$/.test(hash)) yield { hash, modified: obj.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(hash: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(hash) }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
