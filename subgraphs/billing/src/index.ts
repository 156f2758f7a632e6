import { runSubgraph } from '@bilten/platform';
import { billingSubgraph } from './server.ts';

await runSubgraph(billingSubgraph);
