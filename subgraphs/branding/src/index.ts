import { runSubgraph } from '@bilten/platform';
import { brandingSubgraph } from './server.ts';

await runSubgraph(brandingSubgraph);
