import { identitySubgraph } from '@bilten/identity';
import { startSubgraph } from '@bilten/platform';
import { captureLogs, startTestSubgraph, waitFor } from '@bilten/testkit';
import { describe, expect, it } from 'vitest';

const REGISTER = `mutation($input: RegisterInput!) { register(input: $input) { accepted errors { message } } }`;

describe('EVENT_PROCESSING=off: request-only replicas', () => {
  it('leaves the outbox to a separate events process, which sends what the request replica wrote', async () => {
    const api = await startTestSubgraph(identitySubgraph, 'jetstream', {
      processEvents: false,
      trustTestSigner: false,
    });
    try {
      const { data } = await api.gql<{ register: { accepted: boolean } }>(REGISTER, {
        input: { email: 'split@example.com', password: 'a long enough passphrase', displayName: 'Split' },
      });
      expect(data?.register.accepted).toBe(true);
      const unsent = () => api.sql<Array<{ n: number }>>`
        select count(*)::int as n from identity.outbox where sent_at is null`;
      await new Promise((resolve) => setTimeout(resolve, 1_500)); // longer than the relay's poll
      expect((await unsent())[0]!.n).toBe(1);

      const { log } = captureLogs('events-process');
      const events = await startSubgraph(identitySubgraph, {
        databaseUrl: api.database.url,
        bus: api.testBus.bus,
        log,
        host: '127.0.0.1',
        port: 0,
        processEvents: true,
      });
      try {
        await waitFor(async () => (await unsent())[0]!.n === 0, 10_000);
      } finally {
        await events.stop();
      }
    } finally {
      await api.dispose();
    }
  });
});
