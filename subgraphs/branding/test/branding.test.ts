import { brandKitChanged } from '@bilten/contracts/branding';
import { organizationCreated } from '@bilten/contracts/identity';
import { newEvent } from '@bilten/platform';
import {
  recordEvents,
  startTestSubgraph,
  statementsOf,
  TEST_NATS_URL,
  type TestBus,
  type TestSubgraph,
  type UserError,
  waitFor,
} from '@bilten/testkit';
import { expectFieldErrors, queryEntities, rowCount } from '@bilten/testkit/checks';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BRAND } from '../src/domain/brand-kits.ts';
import { brandingSubgraph } from '../src/server.ts';

let subgraph: TestSubgraph;
let testBus: TestBus;
let nats: NatsConnection;
let jsm: JetStreamManager;
let kitsAnnounced: Awaited<ReturnType<typeof recordEvents<typeof brandKitChanged.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(brandingSubgraph, 'jetstream');
  ({ testBus } = subgraph);
  kitsAnnounced = await recordEvents(testBus.bus, brandKitChanged);
  nats = await connect({ servers: TEST_NATS_URL });
  jsm = await jetstreamManager(nats);
});

afterAll(async () => {
  await nats?.close();
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface BrandKit {
  id: string;
  organization: { __typename: string; id: string } | null;
  primaryColor: string;
  accentColor: string;
  logoUrl: string | null;
  emailFooter: string | null;
  version: number;
  updatedAt: string;
}

const gql = <T>(query: string, variables?: Record<string, unknown>) => subgraph.gql<T>(query, variables);

const kitRows = (organizationId: string) =>
  subgraph.sql`select id, primary_color, accent_color, logo_asset_id, email_footer, version, updated_at
      from branding.brand_kits where organization_id = ${organizationId}`;
const kitCount = () => rowCount(subgraph.sql, 'branding.brand_kits');

/** Resolves once branding's consumer has acknowledged every message in the test's stream. */
async function consumerCaughtUp() {
  const stream = testBus.stream!;
  await waitFor(async () => {
    // The stream also carries branding's own brand_kit.changed: only organization.created counts.
    const last = await jsm.streams.getMessage(stream, {
      last_by_subj: `${testBus.subjectPrefix}${organizationCreated.type}`,
    });
    const consumer = await jsm.consumers.info(stream, 'branding-default-brand-kit');
    return (
      consumer.num_pending === 0 &&
      consumer.num_ack_pending === 0 &&
      consumer.ack_floor.stream_seq >= (last?.seq ?? 0)
    );
  });
}

/** Publishes identity's `organization.created`, as identity would, and waits until branding has handled it. */
async function announceOrganization(organizationId = uuidv7()): Promise<string> {
  await testBus.bus.publish(
    newEvent(organizationCreated, organizationId, 1, {
      organizationId,
      name: 'Org',
      slug: 'org',
      testMode: false,
    }),
  );
  await consumerCaughtUp();
  return organizationId;
}

const KIT_FIELDS =
  'id organization { __typename id } primaryColor accentColor logoUrl emailFooter version updatedAt';
const UPDATE_BRAND_KIT = `mutation($input: UpdateBrandKitInput!) {
  updateBrandKit(input: $input) { brandKit { ${KIT_FIELDS} } errors { code message field } }
}`;

type UpdateResult = { updateBrandKit: { brandKit: BrandKit | null; errors: UserError[] } | null };

const callUpdateBrandKit = (input: Record<string, unknown>, headers: Record<string, string>) =>
  subgraph.gql<UpdateResult>(UPDATE_BRAND_KIT, { input }, headers);

/** As an ADMIN of the organization in `input`. */
async function updateBrandKit(input: Record<string, unknown>) {
  const admin = await subgraph.bearer({ orgs: { [String(input.organizationId)]: 'ADMIN' } });
  const { data, errors } = await callUpdateBrandKit(input, admin);
  expect(errors).toBeUndefined();
  return data!.updateBrandKit!;
}

const brandKitOf = async (organizationId: string) =>
  (
    await gql<{ brandKit: BrandKit | null }>(
      `query($id: ID!) { brandKit(organizationId: $id) { ${KIT_FIELDS} } }`,
      {
        id: organizationId,
      },
    )
  ).data!.brandKit;

// ---------------------------------------------------------------- the default kit

describe('default brand kit from bilten.identity.organization.created on JetStream', () => {
  it('creates exactly one default kit when the event is published twice', async () => {
    const organizationId = uuidv7();
    const payload = { organizationId, name: 'Sarajevo Jazz', slug: 'sarajevo-jazz', testMode: false };
    const first = newEvent(organizationCreated, payload.organizationId, 1, payload);
    await testBus.bus.publish(first);
    await testBus.bus.publish(newEvent(organizationCreated, payload.organizationId, 1, payload));
    await testBus.bus.publish(first); // the very same message again (same Nats-Msg-Id)
    await consumerCaughtUp();

    const consumer = await jsm.consumers.info(testBus.stream!, 'branding-default-brand-kit');
    expect(consumer.delivered.consumer_seq).toBeGreaterThanOrEqual(2);
    const rows = await kitRows(organizationId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      primary_color: DEFAULT_BRAND.primaryColor,
      accent_color: DEFAULT_BRAND.accentColor,
      logo_asset_id: null,
      version: 1,
    });
    // The default kit is version 1 of its history.
    expect(
      await subgraph.sql`select version, changed_by from branding.brand_kit_versions where kit_id = ${rows[0]!.id}`,
    ).toEqual([{ version: 1, changed_by: null }]);
    expect(await brandKitOf(organizationId)).toMatchObject({
      id: rows[0]!.id,
      organization: { __typename: 'Organization', id: organizationId },
      primaryColor: DEFAULT_BRAND.primaryColor,
      accentColor: DEFAULT_BRAND.accentColor,
      logoUrl: null,
      version: 1,
    });
    expect(subgraph.logs.filter((line) => line.msg === 'event handling failed')).toEqual([]);
  });

  it('answers brandKit null, not an error, for unknown and non-UUID organizations', async () => {
    const { data, errors } = await gql<Record<string, unknown>>(
      'query($a: ID!, $b: ID!) { a: brandKit(organizationId: $a) { id } b: brandKit(organizationId: $b) { id } }',
      { a: uuidv7(), b: 'org-1' },
    );
    expect(errors).toBeUndefined();
    expect(data).toEqual({ a: null, b: null });
  });
});

// ---------------------------------------------------------------- updates

describe('updateBrandKit', () => {
  it('answers NOT_FOUND on input.organizationId for an organization without a kit and stores nothing', async () => {
    const organizationId = uuidv7();
    const before = await kitCount();
    expect(await updateBrandKit({ organizationId, primaryColor: '#112233' })).toEqual({
      brandKit: null,
      errors: [{ code: 'NOT_FOUND', message: expect.any(String), field: ['input', 'organizationId'] }],
    });
    expect(await kitRows(organizationId)).toEqual([]);
    expect(await kitCount()).toBe(before);
  });

  it('changes only the fields given, upper-cases colours and clears the footer with null', async () => {
    const organizationId = await announceOrganization();
    const created = (await brandKitOf(organizationId))!;

    const first = await updateBrandKit({
      organizationId,
      primaryColor: '#1a2b3c',
      emailFooter: '  Sarajevo Jazz d.o.o.\nFerhadija 1  ',
    });
    expect(first.errors).toEqual([]);
    expect(first.brandKit).toMatchObject({
      id: created.id,
      primaryColor: '#1A2B3C',
      accentColor: DEFAULT_BRAND.accentColor,
      emailFooter: 'Sarajevo Jazz d.o.o.\nFerhadija 1',
      version: 2,
    });
    expect(Date.parse(first.brandKit!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));

    const second = await updateBrandKit({ organizationId, accentColor: '#0f0f0f' });
    expect(second.brandKit).toMatchObject({
      primaryColor: '#1A2B3C',
      accentColor: '#0F0F0F',
      emailFooter: 'Sarajevo Jazz d.o.o.\nFerhadija 1',
      version: 3,
    });

    const third = await updateBrandKit({ organizationId, emailFooter: null });
    expect(third.brandKit).toMatchObject({
      primaryColor: '#1A2B3C',
      accentColor: '#0F0F0F',
      emailFooter: null,
      version: 4,
    });
    expect(await brandKitOf(organizationId)).toEqual(third.brandKit);
    const [row] = await kitRows(organizationId);
    expect(row).toMatchObject({
      primary_color: '#1A2B3C',
      accent_color: '#0F0F0F',
      email_footer: null,
      version: 4,
    });
  });
});

describe('updateBrandKit access', () => {
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
    [
      'API keys, even of the organization',
      (org: string) => subgraph.bearer({ kind: 'api_key', org, scopes: ['events:write'], mode: 'LIVE' }),
      'FORBIDDEN',
    ],
  ])('refuses %s and changes nothing', async (_, headersFor, code) => {
    const organizationId = await announceOrganization();
    const before = await kitRows(organizationId);
    const { data, errors } = await callUpdateBrandKit(
      { organizationId, primaryColor: '#000000' },
      await headersFor(organizationId),
    );
    expect(data).toBeNull();
    expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
    expect(await kitRows(organizationId)).toEqual(before);
  });

  it('lets OWNERs restyle too', async () => {
    const organizationId = await announceOrganization();
    const owner = await subgraph.bearer({ orgs: { [organizationId]: 'OWNER' } });
    const { data } = await callUpdateBrandKit({ organizationId, primaryColor: '#010203' }, owner);
    expect(data!.updateBrandKit!.brandKit!.primaryColor).toBe('#010203');
  });
});

describe('updateBrandKit validation', () => {
  let organizationId: string;
  beforeAll(async () => {
    organizationId = await announceOrganization();
  });

  it.each([
    ['a colour name', { primaryColor: 'red' }, ['primaryColor']],
    ['a three-digit hex colour', { primaryColor: '#abc' }, ['primaryColor']],
    ['a hex colour without #', { primaryColor: '1A2B3C' }, ['primaryColor']],
    ['non-hex digits', { accentColor: '#GGGGGG' }, ['accentColor']],
    ['an eight-digit colour', { accentColor: '#1A2B3C4D' }, ['accentColor']],
    ['a colour with CSS injected', { accentColor: '#1A2B3C; background: url(x)' }, ['accentColor']],
    ['an empty colour', { accentColor: '' }, ['accentColor']],
    ['a colour cleared with null', { textColor: null }, ['textColor']],
    ['a font cleared with null', { fontFamily: null }, ['fontFamily']],
    ['a logo id that is not a UUID', { logoAssetId: 'logo.png' }, ['logoAssetId']],
    ['an unknown logo id', { logoAssetId: uuidv7() }, ['logoAssetId']],
    ['a footer with markup', { emailFooter: 'Hi <a href="https://evil.example">there</a>' }, ['emailFooter']],
    ['a footer over 500 characters', { emailFooter: 'x'.repeat(501) }, ['emailFooter']],
    ['a footer with a NUL', { emailFooter: 'a\u0000b' }, ['emailFooter']],
    ['text below 4.5:1 on the background', { textColor: '#777777' }, ['textColor']],
    ['button text below 4.5:1 on the primary colour', { primaryColor: '#AABBCC' }, ['primaryColor']],
    ['a non-UUID organizationId', { organizationId: 'org-1' }, ['organizationId']],
  ])('rejects %s with a field error and changes nothing', async (_, override, field) => {
    const before = await kitRows(organizationId);
    const payload = await updateBrandKit({ organizationId, ...override });
    expect(payload.brandKit).toBeNull();
    expectFieldErrors(payload.errors, field);
    expect(await kitRows(organizationId)).toEqual(before);
  });
});

// ---------------------------------------------------------------- brandKitChanged

describe('bilten.branding.brand_kit.changed', () => {
  const announcedFor = (organizationId: string) =>
    kitsAnnounced.filter((event) => event.payload.organizationId === organizationId);

  it('announces the default kit once, then every update as the whole v2 context; refusals announce nothing', async () => {
    const organizationId = await announceOrganization();
    // A replay of organization.created inserts no kit, so it must announce none either.
    await announceOrganization(organizationId);
    const created = (await brandKitOf(organizationId))!;
    const staff = await subgraph.bearer({ orgs: { [organizationId]: 'STAFF' } });
    const refused = await callUpdateBrandKit({ organizationId, primaryColor: '#000000' }, staff);
    expect(refused.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const invalid = await updateBrandKit({ organizationId, accentColor: 'red' });
    expect(invalid.brandKit).toBeNull();

    const updated = (
      await updateBrandKit({
        organizationId,
        primaryColor: '#1a2b3c',
        emailFooter: 'Hvala!',
        ticketLayout: 'COMPACT',
      })
    ).brandKit!;
    // Events of one aggregate are relayed in order: once the update's is here, any other came before it.
    await waitFor(async () => announcedFor(organizationId).length >= 2);

    const events = announcedFor(organizationId);
    const defaults = {
      organizationId,
      primaryColor: DEFAULT_BRAND.primaryColor,
      accentColor: DEFAULT_BRAND.accentColor,
      backgroundColor: '#FFFFFF',
      textColor: '#111827',
      logoUrl: null,
      logo: null,
      emailHeader: null,
      fontFamily: 'SYSTEM_UI',
      emailFooter: null,
      ticketLayout: 'CLASSIC',
      domain: null,
    };
    expect(events.map((event) => event.payload)).toEqual([
      { ...defaults, version: 1, changedAt: new Date(created.updatedAt).toISOString() },
      {
        ...defaults,
        primaryColor: '#1A2B3C',
        emailFooter: 'Hvala!',
        ticketLayout: 'COMPACT',
        version: 2,
        changedAt: new Date(updated.updatedAt).toISOString(),
      },
    ]);
    expect(events.map((event) => event.version)).toEqual([2, 2]);
    expect(events.map((event) => event.aggregateId)).toEqual([created.id, created.id]);
  });
});

// ---------------------------------------------------------------- federation

describe('federation _entities', () => {
  const organizations: string[] = [];
  const kits = new Map<string, BrandKit>();

  beforeAll(async () => {
    for (let i = 0; i < 10; i++) organizations.push(uuidv7());
    for (const organizationId of organizations)
      await testBus.bus.publish(
        newEvent(organizationCreated, organizationId, 1, {
          organizationId,
          name: 'Org',
          slug: 'org',
          testMode: false,
        }),
      );
    await consumerCaughtUp();
    for (const organizationId of organizations) kits.set(organizationId, (await brandKitOf(organizationId))!);
  });

  const entities = (representations: Array<{ __typename: string; id: string }>, selection: string) =>
    queryEntities(subgraph, representations, selection);
  const ORGANIZATION_BRANDING = '... on Organization { id branding { id primaryColor } }';
  const asOrganizations = (ids: string[]) => ids.map((id) => ({ __typename: 'Organization', id }));

  it('answers Organization.branding for 10 organizations in the order asked', async () => {
    const asked = [...organizations].reverse();
    const { data, errors } = await entities(asOrganizations(asked), ORGANIZATION_BRANDING);
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual(
      asked.map((id) => ({
        id,
        branding: { id: kits.get(id)!.id, primaryColor: DEFAULT_BRAND.primaryColor },
      })),
    );
  });

  it('gives unknown and non-UUID organizations no branding, without an error', async () => {
    const { data, errors } = await entities(
      asOrganizations([uuidv7(), 'not-a-uuid', organizations[0]!]),
      ORGANIZATION_BRANDING,
    );
    expect(errors).toBeUndefined();
    expect(data!._entities.map((e) => e?.branding ?? null)).toEqual([
      null,
      null,
      { id: kits.get(organizations[0]!)!.id, primaryColor: DEFAULT_BRAND.primaryColor },
    ]);
  });

  it('answers BrandKit representations in order; unknown and non-UUID ids are null', async () => {
    const [a, b] = [kits.get(organizations[3]!)!, kits.get(organizations[8]!)!];
    const { data, errors } = await entities(
      [
        { __typename: 'BrandKit', id: a.id },
        { __typename: 'BrandKit', id: uuidv7() },
        { __typename: 'BrandKit', id: '#1F2937' },
        { __typename: 'BrandKit', id: b.id },
      ],
      '... on BrandKit { id organization { id } }',
    );
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual([
      { id: a.id, organization: { id: organizations[3] } },
      null,
      null,
      { id: b.id, organization: { id: organizations[8] } },
    ]);
  });

  it('costs one statement for the branding of 10 organizations', async () => {
    expect(
      await statementsOf(subgraph.service.url, () =>
        entities(asOrganizations(organizations), ORGANIZATION_BRANDING),
      ),
    ).toBe(1);
  });

  it('costs one statement for 10 brand kits', async () => {
    const representations = [...kits.values()].map((kit) => ({ __typename: 'BrandKit', id: kit.id }));
    expect(
      await statementsOf(subgraph.service.url, () =>
        entities(representations, '... on BrandKit { id accentColor }'),
      ),
    ).toBe(1);
  });
});
