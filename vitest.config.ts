import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for our ESM imports too (it has no "exports" map); Vite
    // would pick the .mjs one, and two graphql instances break instanceof checks inside Apollo.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['**/test/**/*.test.ts', '**/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '.data/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: files run two at a time, each on its own database and NATS stream.
    maxWorkers: 2,
    minWorkers: 1,
    pool: 'forks',
  },
});
