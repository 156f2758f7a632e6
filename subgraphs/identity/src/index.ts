import { runSubgraph } from '@bilten/platform';
import { identitySubgraph } from './server.ts';

await runSubgraph(identitySubgraph);
