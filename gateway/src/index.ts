import { readFileSync } from 'node:fs';
import { runMain, SUBGRAPH_NAMES, subgraphUrlOverride } from '@bilten/platform';
import { gatewayOptionsFromEnv, startGateway } from './server.ts';

await runMain('gateway', (env, log) =>
  startGateway({
    ...gatewayOptionsFromEnv(env, log),
    supergraphSdl: readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8'),
    subgraphUrls: Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, subgraphUrlOverride(env, name)])),
  }),
);
