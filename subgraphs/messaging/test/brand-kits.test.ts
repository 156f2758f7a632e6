import { type BrandedContext, brandKitChanged } from '@bilten/contracts/branding';
import { defaultBrandedContext, newEvent } from '@bilten/platform';
import { startTestSubgraph, TEST_NATS_URL, type TestSubgraph } from '@bilten/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_COLOURS } from '../src/adapters/renderer.ts';
import { KINDS, type KindName, kindToEnum } from '../src/domain/delivery-rules.ts';
import { messagingSubgraph } from '../src/server.ts';
import { consumerCaughtUp, knownOrganization } from './support.ts';

let subgraph: TestSubgraph;
let nats: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  subgraph = await startTestSubgraph(messagingSubgraph, 'jetstream');
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
});

interface Kit {
  primaryColor: string;
  accentColor: string;
  logoUrl: string | null;
  changedAt: string;
}

/** Publishes branding's event, as branding would, and waits until messaging has handled it. */
async function announceKit(organizationId: string, version: number, kit: Kit & Partial<BrandedContext>) {
  await subgraph.testBus.bus.publish(
    newEvent(brandKitChanged, organizationId, version, { organizationId, ...kit }),
  );
  await consumerCaughtUp(jsm, subgraph, 'brand-kits');
}

const storedContext = async (organizationId: string) =>
  (
    await subgraph.sql`select context, changed_at from messaging.brand_contexts
      where organization_id = ${organizationId}`
  )[0];

const kit = (primaryColor: string, changedAt: string): Kit => ({
  primaryColor,
  accentColor: '#00AA55',
  logoUrl: `https://cdn.example.com/${primaryColor.slice(1)}.png`,
  changedAt,
});

describe('bilten.branding.brand_kit.changed', () => {
  it('keeps the newest context whatever order the events arrive in', async () => {
    const organizationId = uuidv7();
    await announceKit(organizationId, 2, kit('#222222', '2027-01-02T00:00:00.000Z'));
    await announceKit(organizationId, 1, kit('#111111', '2027-01-01T00:00:00.000Z'));
    expect(await storedContext(organizationId)).toMatchObject({
      context: {
        primaryColor: '#222222',
        accentColor: '#00AA55',
        logoUrl: 'https://cdn.example.com/222222.png',
      },
      changed_at: new Date('2027-01-02T00:00:00.000Z'),
    });

    await announceKit(organizationId, 3, { ...kit('#333333', '2027-01-03T00:00:00.000Z'), logoUrl: null });
    expect(await storedContext(organizationId)).toMatchObject({
      context: { primaryColor: '#333333', logoUrl: null },
      changed_at: new Date('2027-01-03T00:00:00.000Z'),
    });
    expect(subgraph.logs.filter((line) => line.msg === 'event handling failed')).toEqual([]);
  });

  it("reads a version 1 payload (colours and logo only) with Bilten's defaults for the rest", async () => {
    const organizationId = uuidv7();
    await announceKit(organizationId, 1, kit('#444444', '2027-01-04T00:00:00.000Z'));
    expect((await storedContext(organizationId))!.context).toEqual({
      organizationId,
      primaryColor: '#444444',
      accentColor: '#00AA55',
      backgroundColor: '#FFFFFF',
      textColor: '#111827',
      logoUrl: 'https://cdn.example.com/444444.png',
      logo: null,
      emailHeader: null,
      fontFamily: 'SYSTEM_UI',
      emailFooter: null,
      ticketLayout: 'CLASSIC',
      domain: null,
      version: 0,
      changedAt: '2027-01-04T00:00:00.000Z',
    });
  });

  it('stores every field of a version 2 context, and the next preview renders with it', async () => {
    const organizationId = await knownOrganization(jsm, subgraph, 'Sarajevo Film Festival');
    const sha = (c: string) => c.repeat(64);
    const context = {
      ...kit('#0B5394', '2027-01-05T00:00:00.000Z'),
      logoUrl: `https://assets.example/assets/${sha('a')}`,
      backgroundColor: '#FDF6E3',
      textColor: '#073642',
      logo: { sha256: sha('c'), contentType: 'image/png' as const, width: 400, height: 120 },
      emailHeader: { sha256: sha('b'), contentType: 'image/jpeg' as const, width: 600, height: 200 },
      fontFamily: 'MERRIWEATHER',
      emailFooter: 'SFF d.o.o.\nZelenih beretki 12',
      ticketLayout: 'POSTER' as const,
      domain: 'tickets.sff.test',
      version: 4,
    };
    await announceKit(organizationId, 4, context);
    expect((await storedContext(organizationId))!.context).toEqual({ organizationId, ...context });
    const { html } = await preview(organizationId, 'eventReminder');
    expect(html).toContain(
      `<meta name="bilten-brand" content="brand-version:4 brand-primary:#0B5394 brand-logo:${sha('a')} brand-domain:tickets.sff.test">`,
    );
    expect(html).toContain(`src="https://assets.example/assets/${sha('b')}"`);
    expect(html).toContain('background-color:#FDF6E3');
    expect(html).toContain('font-family:Merriweather');
    expect(html).toContain('SFF d.o.o.<br>Zelenih beretki 12');
  });
});

// ---------------------------------------------------------------- previews

interface Preview {
  kind: string;
  locale: string;
  subject: string;
  html: string;
  text: string;
  shortTitle: string;
  shortBody: string;
}

const PREVIEW = `query($input: PreviewNotificationInput!) {
  previewNotification(input: $input) { kind locale subject html text shortTitle shortBody }
}`;

const adminOf = (organizationId: string) => subgraph.bearer({ orgs: { [organizationId]: 'ADMIN' } });

async function preview(organizationId: string, kind: KindName, locale?: string) {
  const { data, errors } = await subgraph.gql<{ previewNotification: Preview }>(
    PREVIEW,
    { input: { organizationId, kind: kindToEnum(kind), ...(locale ? { locale } : {}) } },
    await adminOf(organizationId),
  );
  expect(errors).toBeUndefined();
  return data!.previewNotification;
}

describe('previewNotification', () => {
  let branded: string;
  beforeAll(async () => {
    branded = await knownOrganization(jsm, subgraph, 'Kino Meeting Point');
    await announceKit(branded, 1, kit('#AA1122', new Date().toISOString()));
  });

  it.each(Object.keys(KINDS) as KindName[])(
    'shows %s in the organization brand, in English by default and in Bosnian',
    async (kind) => {
      const english = await preview(branded, kind);
      expect(english).toMatchObject({ kind: kindToEnum(kind), locale: 'en' });
      expect(english.html).toContain('background:#AA1122');
      expect(english.html).toContain('border-top:4px solid #00AA55');
      expect(english.html).toContain('src="https://cdn.example.com/AA1122.png"');
      expect(english.text).toContain('Sent by Bilten for Kino Meeting Point.');
      expect(english.shortTitle).toMatch(/\S/);
      const bosnian = await preview(branded, kind, 'bs');
      expect(bosnian.locale).toBe('bs');
      expect(bosnian.text).toContain('Poslao Bilten za Kino Meeting Point.');
      expect(bosnian.text).not.toBe(english.text);
      // Only mails that can be turned off show the unsubscribe link.
      expect(english.text.includes('Unsubscribe from these emails')).toBe(!KINDS[kind].critical);
    },
  );

  it("uses Bilten's colours, with the organizer's name when known, for an organization without a kit", async () => {
    const named = await knownOrganization(jsm, subgraph, 'Dom mladih');
    const withName = await preview(named, 'eventReminder');
    expect(withName.html).toContain(`background:${DEFAULT_COLOURS.primaryColor}`);
    expect(withName.html).not.toContain('<img');
    expect(withName.text).toContain('Sent by Bilten for Dom mladih.');
    const unknown = await preview(uuidv7(), 'eventReminder');
    expect(unknown.html).toContain(`background:${DEFAULT_COLOURS.primaryColor}`);
    expect(unknown.text).toContain('Sent by Bilten.');
  });

  it('never puts an invalid value stored in brand_contexts into CSS or an image', async () => {
    const organizationId = uuidv7();
    const evil = '#112233;background:url(https://evil.example/x)';
    const context = {
      ...defaultBrandedContext(organizationId),
      primaryColor: evil,
      accentColor: '"><script>',
      backgroundColor: evil,
      textColor: evil,
      fontFamily: 'x;background:url(https://evil.example/f)',
      logoUrl: 'http://insecure.example/logo.png',
      emailFooter: '<script>alert(1)</script>',
      domain: 'evil.example/x',
    };
    await subgraph.sql`insert into messaging.brand_contexts (organization_id, context, changed_at)
      values (${organizationId}, ${subgraph.sql.json(context)}, now())`;
    const { html } = await preview(organizationId, 'announcement');
    expect(html).not.toContain('evil.example');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('insecure.example');
    expect(html).toContain(`background:${DEFAULT_COLOURS.primaryColor}`);
    expect(html).toContain(`border-top:4px solid ${DEFAULT_COLOURS.accentColor}`);
    expect(html).toContain('brand-domain:none');
  });

  it.each([
    ['anonymous callers', () => Promise.resolve({}), 'UNAUTHENTICATED'],
    ['customers', () => subgraph.bearer({}), 'FORBIDDEN'],
    [
      'STAFF of the organization',
      (org: string) => subgraph.bearer({ orgs: { [org]: 'STAFF' } }),
      'FORBIDDEN',
    ],
    [
      'the OWNER of another organization',
      () => subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } }),
      'FORBIDDEN',
    ],
    ['platform ADMINs, who are no organizer', () => subgraph.bearer({ roles: ['ADMIN'] }), 'FORBIDDEN'],
  ])('refuses %s', async (_, headersFor, code) => {
    const { data, errors } = await subgraph.gql<{ previewNotification: Preview }>(
      PREVIEW,
      { input: { organizationId: branded, kind: 'ORDER_CONFIRMED' } },
      await headersFor(branded),
    );
    expect(data).toBeNull();
    expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
  });

  it.each(['fr', 'BS', 'bs-BA', ''])('answers BAD_USER_INPUT for the locale %j', async (locale) => {
    const { data, errors } = await subgraph.gql<{ previewNotification: Preview }>(
      PREVIEW,
      { input: { organizationId: branded, kind: 'ORDER_CONFIRMED', locale } },
      await adminOf(branded),
    );
    expect(data).toBeNull();
    expect(errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });
});
