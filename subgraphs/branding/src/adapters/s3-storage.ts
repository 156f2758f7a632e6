import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { AssetStorage } from './asset-storage.ts';

const HASH = /^[0-9a-f]{64}$/;

export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** An S3-compatible endpoint (MinIO, R2, s3rver in tests); unset: AWS. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Unset: the AWS SDK's default chain (environment, profile, instance role). */
  credentials?: S3ClientConfig['credentials'];
  /** Key prefix inside the bucket. */
  prefix?: string;
}

/**
 * Asset bytes in an S3 bucket, one object per hash (`assets/ab/cd/abcd…`). Puts are idempotent
 * without conditions: a key's bytes never change (content-addressed), so writing them again is
 * harmless and no `If-None-Match` (which not every S3-compatible store supports) is needed.
 */
export function s3Storage(options: S3StorageOptions): AssetStorage & { client: S3Client } {
  const client = new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle ?? false,
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
  const prefix = options.prefix ?? 'assets/';
  const keyOf = (sha256: string) => {
    if (!HASH.test(sha256)) throw new Error('not a SHA-256 hex digest');
    return `${prefix}${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
  };
  return {
    client,
    async put(sha256, bytes, contentType) {
      await client.send(
        new PutObjectCommand({
          Bucket: options.bucket,
          Key: keyOf(sha256),
          Body: bytes,
          ContentType: contentType,
          ContentLength: bytes.length,
          CacheControl: 'public, max-age=31536000, immutable',
        }),
      );
    },
    async get(sha256) {
      try {
        const answer = await client.send(
          new GetObjectCommand({ Bucket: options.bucket, Key: keyOf(sha256) }),
        );
        if (!answer.Body) return null;
        return Buffer.from(await answer.Body.transformToByteArray());
      } catch (err) {
        if (err instanceof NoSuchKey) return null;
        if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return null;
        throw err;
      }
    },
    async delete(sha256) {
      // S3 answers 204 for a key that is not there too.
      await client.send(new DeleteObjectCommand({ Bucket: options.bucket, Key: keyOf(sha256) }));
    },
  };
}
