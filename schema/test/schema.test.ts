import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import { describe, expect, it } from 'vitest';
import config from '../../codegen.ts';
import { API_SCHEMA_PATH, composeSupergraph, SUPERGRAPH_PATH } from '../compose.ts';

const ROOT = new URL('../../', import.meta.url);

describe('schema/', () => {
  it('composes the six subgraphs without errors or hints', () => {
    expect(composeSupergraph().hints).toEqual([]);
  });

  it('has an up-to-date committed supergraph and API schema (run `npm run compose`)', () => {
    const { supergraphSdl, apiSdl } = composeSupergraph();
    expect(readFileSync(SUPERGRAPH_PATH, 'utf8')).toBe(supergraphSdl);
    expect(readFileSync(API_SCHEMA_PATH, 'utf8')).toBe(apiSdl);
  });

  it('has up-to-date generated resolver and operation types (run `npm run codegen`)', async () => {
    const outputs = await generate({ ...config, cwd: ROOT.pathname, silent: true }, false);
    expect(outputs.length).toBe(Object.keys(config.generates).length);
    for (const { filename, content } of outputs) {
      expect(readFileSync(new URL(filename, ROOT), 'utf8'), filename).toBe(content);
    }
  });
});
