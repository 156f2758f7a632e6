import { runSubgraph } from '@bilten/platform';
import { ordersSubgraph } from './server.ts';

await runSubgraph(ordersSubgraph);
