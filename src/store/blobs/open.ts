import path from 'node:path';
import { DirBlobStore } from './dir.js';
import type { BlobStore } from './types.js';

export interface BlobConfig {
  /** 'dir' (default, `<dataDir>/blobs`) or an `s3://bucket/prefix` URL. */
  location?: string;
  dataDir: string;
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  s3Region?: string;
}

/** Opens the chunk store. The AWS SDK is heavy (~0.3 s to load), so it is imported only for s3:// locations. */
export async function openBlobStore(config: BlobConfig): Promise<BlobStore> {
  const location = config.location ?? 'dir';
  if (location.startsWith('s3://')) {
    const { S3BlobStore, parseS3Url } = await import('./s3.js');
    const { bucket, prefix } = parseS3Url(location);
    return new S3BlobStore({
      bucket,
      prefix,
      ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
      ...(config.s3ForcePathStyle !== undefined ? { forcePathStyle: config.s3ForcePathStyle } : {}),
      ...(config.s3Region ? { region: config.s3Region } : {}),
    });
  }
  if (location === 'dir') return new DirBlobStore(path.join(config.dataDir, 'blobs'));
  if (location.startsWith('dir:')) return new DirBlobStore(path.resolve(location.slice(4)));
  throw new Error(`unknown blob location ${JSON.stringify(location)}: use 'dir', 'dir:/path' or 's3://bucket/prefix'`);
}
