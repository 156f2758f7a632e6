import { runSubgraph } from '@bilten/platform';
import { catalogSubgraph } from './server.ts';

await runSubgraph(catalogSubgraph);
