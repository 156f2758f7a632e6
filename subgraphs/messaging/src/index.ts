import { runSubgraph } from '@bilten/platform';
import { messagingSubgraph } from './server.ts';

await runSubgraph(messagingSubgraph);
