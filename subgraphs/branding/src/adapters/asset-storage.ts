import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where asset bytes live, by the hex SHA-256 of their content (content-addressed: a key's bytes
 * never change, so anything may cache them forever). Local disk by default; S3 in production.
 */
export interface AssetStorage {
  /** Stores `bytes` under `sha256` (idempotent: the same key always holds the same bytes). */
  put(sha256: string, bytes: Buffer, contentType: string): Promise<void>;
  /** The bytes, or null when none are stored under `sha256`. */
  get(sha256: string): Promise<Buffer | null>;
  delete(sha256: string): Promise<void>;
}

const HASH = /^[0-9a-f]{64}$/;

/** Files under `directory`, two levels of fan-out (`ab/cd/abcd…`), written atomically (temp file, rename). */
export function diskStorage(directory: string): AssetStorage {
  const pathOf = (sha256: string) => {
    if (!HASH.test(sha256)) throw new Error('not a SHA-256 hex digest');
    return join(directory, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  };
  return {
    async put(sha256, bytes) {
      const path = pathOf(sha256);
      await mkdir(join(path, '..'), { recursive: true });
      const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    },
    async get(sha256) {
      try {
        return await readFile(pathOf(sha256));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async delete(sha256) {
      await rm(pathOf(sha256), { force: true });
    },
  };
}
