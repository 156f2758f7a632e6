import { defineEvent, newEvent } from '@bilten/platform';
import { graphql, TEST_NATS_URL, waitFor } from '@bilten/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateOrganizationDocument, OrganizationWithBrandingDocument } from './generated/operations.ts';
import { startTestStack, type TestStack } from './support.ts';

const organizationCreated = defineEvent({
  type: 'bilten.identity.organization.created',
  aggregateType: 'organization',
  payload: z.object({ organizationId: z.uuid(), name: z.string(), slug: z.string() }),
});

describe.each(['jetstream', 'in-process'] as const)(
  'organization created → default brand kit (%s bus)',
  (busKind) => {
    let stack: TestStack;
    let sql: postgres.Sql;
    beforeAll(async () => {
      stack = await startTestStack(busKind);
      sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
    });
    afterAll(async () => {
      await sql?.end();
      await stack?.dispose();
    });

    it('creates the brand kit in branding from the identity event', async () => {
      const { body } = await graphql(
        stack.url,
        CreateOrganizationDocument,
        { input: { name: 'Kit Co', slug: 'kit-co' } },
        (await stack.signUp()).headers,
      );
      const organization = body.data!.createOrganization.organization!;
      const branding = await waitFor(async () => {
        const { body } = await graphql(stack.url, OrganizationWithBrandingDocument, { id: organization.id });
        return body.data?.organization?.branding;
      });
      expect(branding).toEqual({ primaryColor: '#1F2937', accentColor: '#2563EB' });
      const rows =
        await sql`select organization_id from branding.brand_kits where organization_id = ${organization.id}`;
      expect(rows).toHaveLength(1);

      if (busKind === 'jetstream') {
        const nc = await connect({ servers: TEST_NATS_URL });
        try {
          const info = await (await jetstreamManager(nc)).streams.info(stack.stream!);
          expect(info.config.subjects[0]).toMatch(/bilten\.>$/);
          expect(info.state.messages).toBeGreaterThanOrEqual(1);
        } finally {
          await nc.close();
        }
      }

      // Both sides show up in /metrics: identity published it, branding consumed it.
      const metricsOf = async (service: 'identity' | 'branding') =>
        (await fetch(stack.subgraphs[service].url.replace('/graphql', '/metrics'))).text();
      const type = 'type="bilten.identity.organization.created"';
      await waitFor(async () =>
        (await metricsOf('identity')).match(
          new RegExp(`^events_published_total\\{[^}]*${type}[^}]*\\} 1$`, 'm'),
        ),
      );
      const brandingMetrics = await metricsOf('branding');
      expect(brandingMetrics).toMatch(
        new RegExp(
          `^events_consumed_total\\{[^}]*consumer="branding-default-brand-kit"[^}]*${type}[^}]*\\} 1$`,
          'm',
        ),
      );
      expect(brandingMetrics).toMatch(
        /^event_handler_duration_seconds_count\{[^}]*consumer="branding-default-brand-kit"[^}]*\} 1$/m,
      );
      expect(brandingMetrics).toMatch(
        /^event_consumer_pending\{[^}]*consumer="branding-default-brand-kit"[^}]*\} 0$/m,
      );
      // Creating the default kit emits brandKitChanged from branding's own outbox: wait for its relay.
      await waitFor(async () => (await metricsOf('branding')).match(/^outbox_backlog\{[^}]*\} 0$/m));
    });

    it('applies a replayed event once', async () => {
      const { body } = await graphql(
        stack.url,
        CreateOrganizationDocument,
        { input: { name: 'Replay', slug: 'replay' } },
        (await stack.signUp()).headers,
      );
      const organization = body.data!.createOrganization.organization!;
      const payload = {
        organizationId: organization.id,
        name: organization.name,
        slug: organization.slug,
        testMode: false,
      };
      // Fresh ids, so even JetStream's de-duplication does not hide them: the consumer must be idempotent.
      await stack.bus.publish(newEvent(organizationCreated, organization.id, 1, payload));
      await stack.bus.publish(newEvent(organizationCreated, organization.id, 1, payload));
      await waitFor(async () => {
        const [row] =
          await sql`select count(*)::int as kits from branding.brand_kits where organization_id = ${organization.id}`;
        return row!.kits === 1;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const [row] =
        await sql`select count(*)::int as kits from branding.brand_kits where organization_id = ${organization.id}`;
      expect(row!.kits).toBe(1);
    });
  },
);
