import { brandKitChanged, domainRemoved, domainVerified } from '@bilten/contracts/branding';
import { recordEvents, startTestSubgraph, type TestSubgraph, type UserError, waitFor } from '@bilten/testkit';
import { startTestDnsServer, type TestDnsServer } from '@bilten/testkit/dns';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brandingSubgraph } from '../src/server.ts';

const CNAME_TARGET = 'edge.bilten-domains.test';

let subgraph: TestSubgraph;
let dns: TestDnsServer;
let verifiedEvents: Awaited<ReturnType<typeof recordEvents<typeof domainVerified.payload>>>;
let removedEvents: Awaited<ReturnType<typeof recordEvents<typeof domainRemoved.payload>>>;
let kitEvents: Awaited<ReturnType<typeof recordEvents<typeof brandKitChanged.payload>>>;

beforeAll(async () => {
  dns = await startTestDnsServer();
  subgraph = await startTestSubgraph(brandingSubgraph, 'jetstream', {
    env: {
      DNS_SERVERS: dns.address,
      CUSTOM_DOMAIN_CNAME_TARGET: CNAME_TARGET,
      PLATFORM_DOMAINS: 'bilten.test,bilten.localhost,localhost',
      CUSTOM_DOMAINS_PER_ORGANIZATION: '3',
    },
  });
  verifiedEvents = await recordEvents(subgraph.testBus.bus, domainVerified);
  removedEvents = await recordEvents(subgraph.testBus.bus, domainRemoved);
  kitEvents = await recordEvents(subgraph.testBus.bus, brandKitChanged);
});

afterAll(async () => {
  await subgraph?.dispose();
  await dns?.close();
});

// ---------------------------------------------------------------- helpers

interface Domain {
  id: string;
  organizationId: string;
  hostname: string;
  displayHostname: string;
  state: string;
  verificationRecord: { type: string; name: string; value: string };
  cnameRecord: { type: string; name: string; value: string };
  failureReason: string | null;
  lastCheckedAt: string | null;
  verifiedAt: string | null;
}
type Payload = { customDomain: Domain | null; errors: UserError[] };

const DOMAIN_FIELDS = `id organizationId hostname displayHostname state failureReason lastCheckedAt verifiedAt
  verificationRecord { type name value } cnameRecord { type name value }`;
const ADD = `mutation($input: AddCustomDomainInput!) {
  addCustomDomain(input: $input) { customDomain { ${DOMAIN_FIELDS} } errors { code message field } } }`;
const VERIFY = `mutation($input: CustomDomainInput!) {
  verifyCustomDomain(input: $input) { customDomain { ${DOMAIN_FIELDS} } errors { code message field } } }`;
const REMOVE = `mutation($input: CustomDomainInput!) {
  removeCustomDomain(input: $input) { removedDomainId errors { code message field } } }`;

const adminOf = (organizationId: string) => subgraph.bearer({ orgs: { [organizationId]: 'ADMIN' } });

async function add(organizationId: string, hostname: string, headers?: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ addCustomDomain: Payload }>(
    ADD,
    { input: { organizationId, hostname } },
    headers ?? (await adminOf(organizationId)),
  );
  expect(errors).toBeUndefined();
  return data!.addCustomDomain;
}

async function verify(domain: Pick<Domain, 'id' | 'organizationId'>, headers?: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ verifyCustomDomain: Payload }>(
    VERIFY,
    { input: { domainId: domain.id } },
    headers ?? (await adminOf(domain.organizationId)),
  );
  expect(errors).toBeUndefined();
  return data!.verifyCustomDomain;
}

async function remove(domain: Pick<Domain, 'id' | 'organizationId'>, headers?: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{
    removeCustomDomain: { removedDomainId: string | null; errors: UserError[] };
  }>(REMOVE, { input: { domainId: domain.id } }, headers ?? (await adminOf(domain.organizationId)));
  expect(errors).toBeUndefined();
  return data!.removeCustomDomain;
}

/** An organization with a brand kit (inserted as identity's organization.created would have it made). */
async function organization(): Promise<{ organizationId: string; kitId: string }> {
  const organizationId = uuidv7();
  const kitId = uuidv7();
  await subgraph.sql`insert into branding.brand_kits (id, organization_id, primary_color, accent_color)
    values (${kitId}, ${organizationId}, '#112233', '#2563EB')`;
  return { organizationId, kitId };
}

/** Creates both records the domain asks for at the test DNS server. */
function publishRecords(domain: Domain) {
  dns.set(domain.verificationRecord.name, { TXT: [domain.verificationRecord.value] });
  dns.set(domain.hostname, { CNAME: domain.cnameRecord.value });
}

const domainRow = async (id: string) =>
  (await subgraph.sql`select * from branding.custom_domains where id = ${id}`)[0];
const domainsNamed = (hostname: string) =>
  subgraph.sql`select id, organization_id from branding.custom_domains where hostname = ${hostname}`;
const outboxOf = (id: string) =>
  subgraph.sql`select type from branding.outbox where aggregate_id = ${id} order by sequence`;

const brandKitForHost = async (hostname: string) =>
  (
    await subgraph.gql<{ brandKitForHost: { id: string } | null }>(
      'query($h: String!) { brandKitForHost(hostname: $h) { id } }',
      { h: hostname },
    )
  ).data!.brandKitForHost;

const internalLookup = (hostname: string) =>
  fetch(new URL(`/internal/domains/${encodeURIComponent(hostname)}`, subgraph.service.url));

// ---------------------------------------------------------------- adding

describe('addCustomDomain', () => {
  it('claims the hostname PENDING_VERIFICATION with the TXT and CNAME records to create', async () => {
    const { organizationId } = await organization();
    const { customDomain, errors } = await add(organizationId, 'Tickets.Example-Org.Test.');
    expect(errors).toEqual([]);
    expect(customDomain).toMatchObject({
      organizationId,
      hostname: 'tickets.example-org.test',
      displayHostname: 'tickets.example-org.test',
      state: 'PENDING_VERIFICATION',
      failureReason: null,
      lastCheckedAt: null,
      verifiedAt: null,
      verificationRecord: {
        type: 'TXT',
        name: '_bilten-challenge.tickets.example-org.test',
        value: expect.stringMatching(/^bilten-verification=[0-9a-f]{40}$/),
      },
      cnameRecord: { type: 'CNAME', name: 'tickets.example-org.test', value: CNAME_TARGET },
    });
  });

  it('stores an IDN hostname as punycode and shows it in Unicode', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'Tickets.Bücher.Test');
    expect(customDomain).toMatchObject({
      hostname: 'tickets.xn--bcher-kva.test',
      displayHostname: 'tickets.bücher.test',
      verificationRecord: { name: '_bilten-challenge.tickets.xn--bcher-kva.test' },
    });
    // The same name in any spelling is the same domain.
    const again = await add(organizationId, 'tickets.xn--bcher-kva.test.');
    expect(again).toEqual({ customDomain, errors: [] });
  });

  it('answers the same organization adding a hostname again with its existing domain', async () => {
    const { organizationId } = await organization();
    const first = await add(organizationId, 'again.example-org.test');
    const second = await add(organizationId, 'AGAIN.example-org.test.');
    expect(second).toEqual(first);
    expect(await domainsNamed('again.example-org.test')).toHaveLength(1);
  });

  it('refuses a hostname another organization claimed, without saying which', async () => {
    const a = await organization();
    const b = await organization();
    const first = await add(a.organizationId, 'claimed.example-org.test');
    const second = await add(b.organizationId, 'Claimed.Example-Org.Test.');
    expect(second.customDomain).toBeNull();
    expect(second.errors).toEqual([
      {
        code: 'ALREADY_EXISTS',
        message: 'claimed.example-org.test is already claimed by another organization',
        field: ['input', 'hostname'],
      },
    ]);
    expect(second.errors[0]!.message).not.toContain(a.organizationId);
    expect(await domainsNamed('claimed.example-org.test')).toEqual([
      { id: first.customDomain!.id, organization_id: a.organizationId },
    ]);
  });

  it('lets exactly one of two organizations adding the same hostname at once win', async () => {
    const orgs = await Promise.all([organization(), organization(), organization(), organization()]);
    const results = await Promise.all(orgs.map((org) => add(org.organizationId, 'race.example-org.test')));
    expect(results.filter((result) => result.customDomain)).toHaveLength(1);
    expect(results.filter((result) => result.errors[0]?.code === 'ALREADY_EXISTS')).toHaveLength(3);
    expect(await domainsNamed('race.example-org.test')).toHaveLength(1);
  });

  it.each([
    ['an IPv4 address', '203.0.113.7', /IP address/],
    ['an IPv6 address', '2001:db8::7', /IP address/],
    ['a URL', 'https://tickets.example-org.test', /hostname only/],
    ['the platform domain', 'bilten.test', /platform/],
    ['a name under the platform domain', 'acme.bilten.test', /platform/],
    ['a name under localhost', 'acme.localhost', /platform/],
    ['the CNAME target', 'Edge.Bilten-Domains.Test', /platform/],
    ['a name under the CNAME target', 'x.edge.bilten-domains.test', /platform/],
    ['a bare public suffix', 'co.uk', /public suffix/],
    ['a bare private public suffix', 'github.io', /public suffix/],
    ['a wildcard', '*.example-org.test', /wildcards/],
    ['a single label', 'tickets', /full hostname/],
    ['an empty hostname', '', /give a hostname/],
    ['a name over 253 characters', `${'a.'.repeat(127)}test`, /at most 253/],
  ])('refuses %s with INVALID_INPUT on hostname and stores nothing', async (_, hostname, reason) => {
    const { organizationId } = await organization();
    const result = await add(organizationId, hostname);
    expect(result.customDomain).toBeNull();
    expect(result.errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.stringMatching(reason), field: ['input', 'hostname'] },
    ]);
    expect(
      await subgraph.sql`select 1 from branding.custom_domains where organization_id = ${organizationId}`,
    ).toEqual([]);
  });

  it('caps the domains of one organization (3 here), even when added at once', async () => {
    const { organizationId } = await organization();
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => add(organizationId, `cap${n}.example-org.test`)),
    );
    expect(results.filter((result) => result.customDomain)).toHaveLength(3);
    expect(results.filter((result) => result.errors[0]?.code === 'CONFLICT')).toHaveLength(2);
    expect(results.find((result) => result.errors.length)!.errors[0]!.message).toMatch(/at most 3/);
  });

  it.each([
    ['anonymous callers', () => Promise.resolve({}), 'UNAUTHENTICATED'],
    ['STAFF', (org: string) => subgraph.bearer({ orgs: { [org]: 'STAFF' } }), 'FORBIDDEN'],
    [
      'the OWNER of another organization',
      () => subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } }),
      'FORBIDDEN',
    ],
  ])('refuses %s', async (_, headersFor, code) => {
    const { organizationId } = await organization();
    const { data, errors } = await subgraph.gql(
      ADD,
      { input: { organizationId, hostname: 'nope.example-org.test' } },
      await headersFor(organizationId),
    );
    expect(data).toBeNull();
    expect(errors?.map((error) => error.extensions?.code)).toEqual([code]);
    expect(await domainsNamed('nope.example-org.test')).toEqual([]);
  });
});

// ---------------------------------------------------------------- verification

describe('verifyCustomDomain', () => {
  it('keeps a domain without its TXT record pending, naming what was expected and found', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'notxt.example-org.test');
    dns.set('notxt.example-org.test', { CNAME: CNAME_TARGET });
    const result = await verify(customDomain!);
    expect(result.errors).toEqual([]);
    expect(result.customDomain).toMatchObject({ state: 'PENDING_VERIFICATION', verifiedAt: null });
    expect(result.customDomain!.failureReason).toBe(
      `TXT record _bilten-challenge.notxt.example-org.test: expected "${customDomain!.verificationRecord.value}", found none`,
    );
    expect(result.customDomain!.lastCheckedAt).not.toBeNull();
    expect(dns.questionsFor('_bilten-challenge.notxt.example-org.test')).toBeGreaterThan(0);
    expect(await outboxOf(customDomain!.id)).toEqual([]);
  });

  it('names a wrong TXT value and a wrong CNAME, each with what was found', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'wrong.example-org.test');
    dns.set('_bilten-challenge.wrong.example-org.test', {
      TXT: ['bilten-verification=stale', 'v=spf1 -all'],
    });
    dns.set('wrong.example-org.test', { CNAME: 'elsewhere.example.net' });
    const { customDomain: checked } = await verify(customDomain!);
    expect(checked!.state).toBe('PENDING_VERIFICATION');
    expect(checked!.failureReason).toBe(
      `TXT record _bilten-challenge.wrong.example-org.test: expected "${customDomain!.verificationRecord.value}", found "bilten-verification=stale", "v=spf1 -all"; ` +
        `CNAME record wrong.example-org.test: expected "${CNAME_TARGET}", found "elsewhere.example.net"`,
    );
  });

  it('keeps a domain with the TXT but no CNAME pending with the CNAME reason', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'nocname.example-org.test');
    dns.set(customDomain!.verificationRecord.name, { TXT: [customDomain!.verificationRecord.value] });
    const { customDomain: checked } = await verify(customDomain!);
    expect(checked!.state).toBe('PENDING_VERIFICATION');
    expect(checked!.failureReason).toBe(
      `CNAME record nocname.example-org.test: expected "${CNAME_TARGET}", found none`,
    );
  });

  it('says DNS could not be asked when the server does not answer, and stays pending', async () => {
    const silent = await startTestDnsServer();
    const port = silent.port;
    await silent.close(); // nothing listens there now: every question times out
    const alone = await startTestSubgraph(brandingSubgraph, 'in-process', {
      env: { DNS_SERVERS: `127.0.0.1:${port}`, CUSTOM_DOMAIN_CNAME_TARGET: CNAME_TARGET },
    });
    try {
      const organizationId = uuidv7();
      const admin = await alone.bearer({ orgs: { [organizationId]: 'ADMIN' } });
      const added = await alone.gql<{ addCustomDomain: Payload }>(
        ADD,
        { input: { organizationId, hostname: 'nodns.example-org.test' } },
        admin,
      );
      const domain = added.data!.addCustomDomain.customDomain!;
      const { data, errors } = await alone.gql<{ verifyCustomDomain: Payload }>(
        VERIFY,
        { input: { domainId: domain.id } },
        admin,
      );
      expect(errors).toBeUndefined();
      expect(data!.verifyCustomDomain.customDomain).toMatchObject({
        state: 'PENDING_VERIFICATION',
        failureReason: expect.stringMatching(/^could not ask DNS: the DNS servers (refused|did not answer)/),
      });
    } finally {
      await alone.dispose();
    }
  }, 30_000);

  it('verifies a domain whose records are right: VERIFIED, certificate due, domain.verified announced once', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'tickets.verified-org.test');
    publishRecords(customDomain!);
    const { customDomain: verified, errors } = await verify(customDomain!);
    expect(errors).toEqual([]);
    expect(verified).toMatchObject({ state: 'VERIFIED', failureReason: null });
    expect(verified!.verifiedAt).not.toBeNull();
    const row = await domainRow(verified!.id);
    expect(row!.certificate_due_at).toBeInstanceOf(Date);
    expect(row!.certificate_due_at.getTime()).toBeLessThanOrEqual(Date.now());
    expect(await outboxOf(verified!.id)).toEqual([{ type: domainVerified.type }]);
    await waitFor(async () => verifiedEvents.some((event) => event.payload.domainId === verified!.id));
    expect(verifiedEvents.find((event) => event.payload.domainId === verified!.id)!.payload).toEqual({
      domainId: verified!.id,
      organizationId,
      hostname: 'tickets.verified-org.test',
      occurredAt: expect.any(String),
    });

    // Asked again: answered as it is, no second event, no DNS question.
    const asked = dns.questionsFor(customDomain!.verificationRecord.name);
    const again = await verify(customDomain!);
    expect(again.customDomain).toMatchObject({ state: 'VERIFIED', verifiedAt: verified!.verifiedAt });
    expect(dns.questionsFor(customDomain!.verificationRecord.name)).toBe(asked);
    expect(await outboxOf(verified!.id)).toHaveLength(1);
  });

  it('verifies an IDN domain through its punycode records', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'tickets.bücher-verified.test');
    publishRecords(customDomain!);
    expect((await verify(customDomain!)).customDomain!.state).toBe('VERIFIED');
  });

  it('verifies a FAILED domain again', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'failed.example-org.test');
    await subgraph.sql`update branding.custom_domains set state = 'FAILED', failure_reason = 'gave up'
      where id = ${customDomain!.id}`;
    const pending = await verify(customDomain!);
    expect(pending.customDomain!.state).toBe('PENDING_VERIFICATION');
    publishRecords(customDomain!);
    expect((await verify(customDomain!)).customDomain!.state).toBe('VERIFIED');
  });

  it('tells an apex domain why its CNAME may be missing', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'apex-org.test');
    dns.set(customDomain!.verificationRecord.name, { TXT: [customDomain!.verificationRecord.value] });
    const { customDomain: checked } = await verify(customDomain!);
    expect(checked!.failureReason).toMatch(
      /no CNAME on a domain itself: use a name under it, e\.g\. tickets\.apex-org\.test/,
    );
  });
});

// ---------------------------------------------------------------- access

describe('access to domains by id', () => {
  let domain: Domain;
  beforeAll(async () => {
    const { organizationId } = await organization();
    domain = (await add(organizationId, 'private.example-org.test')).customDomain!;
  });

  it.each([
    ['the OWNER of another organization', () => subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } })],
    ['STAFF of the organization', () => subgraph.bearer({ orgs: { [domain.organizationId]: 'STAFF' } })],
    ['a customer', () => subgraph.bearer({})],
  ])('%s can neither see, verify nor remove it (as for an unknown id)', async (_, headersFor) => {
    const headers = await headersFor();
    const read = await subgraph.gql<{ customDomain: unknown }>(
      'query($id: ID!) { customDomain(id: $id) { id } }',
      { id: domain.id },
      headers,
    );
    expect(read).toMatchObject({ data: { customDomain: null } });
    expect(read.errors).toBeUndefined();
    const notFound = [{ code: 'NOT_FOUND', message: 'no such custom domain', field: ['input', 'domainId'] }];
    expect(await verify(domain, headers)).toEqual({ customDomain: null, errors: notFound });
    expect(await remove(domain, headers)).toEqual({ removedDomainId: null, errors: notFound });
    expect(await verify({ ...domain, id: uuidv7() })).toEqual({ customDomain: null, errors: notFound });
    expect((await domainRow(domain.id))!.state).toBe('PENDING_VERIFICATION');
    expect((await domainRow(domain.id))!.last_checked_at).toBeNull();
  });

  it('lets ADMINs read it by id and in Organization.customDomains; others get FORBIDDEN for the list', async () => {
    const admin = await adminOf(domain.organizationId);
    const read = await subgraph.gql<{ customDomain: { id: string } | null }>(
      'query($id: ID!) { customDomain(id: $id) { id hostname } }',
      { id: domain.id },
      admin,
    );
    expect(read.data!.customDomain).toEqual({ id: domain.id, hostname: 'private.example-org.test' });
    const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { customDomains { id } } } }`;
    const reps = { r: [{ __typename: 'Organization', id: domain.organizationId }] };
    const list = await subgraph.gql<{ _entities: Array<{ customDomains: Array<{ id: string }> }> }>(
      ENTITIES,
      reps,
      admin,
    );
    expect(list.data!._entities[0]!.customDomains).toEqual([{ id: domain.id }]);
    const outsider = await subgraph.gql(
      ENTITIES,
      reps,
      await subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } }),
    );
    expect(outsider.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it('rejects a non-UUID domain id as invalid input', async () => {
    const result = await verify({ id: 'not-an-id', organizationId: domain.organizationId });
    expect(result.customDomain).toBeNull();
    expect(result.errors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'domainId'] });
  });
});

// ---------------------------------------------------------------- host lookups and removal

describe('brandKitForHost, the internal route and removal', () => {
  it('answers the kit and 200 only once verified; removal frees the hostname and announces it', async () => {
    const { organizationId, kitId } = await organization();
    const { customDomain } = await add(organizationId, 'shop.host-org.test');
    expect(await brandKitForHost('shop.host-org.test')).toBeNull();
    expect((await internalLookup('shop.host-org.test')).status).toBe(404);

    publishRecords(customDomain!);
    await verify(customDomain!);
    expect(await brandKitForHost('SHOP.Host-Org.Test.')).toEqual({ id: kitId });
    const found = await internalLookup('Shop.Host-Org.Test.');
    expect(found.status).toBe(200);
    expect(await found.json()).toEqual({ organizationId, state: 'VERIFIED', hostname: 'shop.host-org.test' });

    expect(await remove(customDomain!)).toEqual({ removedDomainId: customDomain!.id, errors: [] });
    expect(await domainRow(customDomain!.id)).toBeUndefined();
    expect(await brandKitForHost('shop.host-org.test')).toBeNull();
    expect((await internalLookup('shop.host-org.test')).status).toBe(404);
    await waitFor(async () => removedEvents.some((event) => event.payload.domainId === customDomain!.id));

    // Free again: another organization may claim it now.
    const other = await organization();
    expect((await add(other.organizationId, 'shop.host-org.test')).customDomain).not.toBeNull();
  });

  it('answers null and 400 for names that cannot be hosts, 404 for unknown ones', async () => {
    expect(await brandKitForHost('127.0.0.1')).toBeNull();
    expect(await brandKitForHost('')).toBeNull();
    expect((await internalLookup('127.0.0.1')).status).toBe(400);
    expect((await internalLookup('bad_name.example.org')).status).toBe(400);
    expect((await internalLookup('unknown.example-org.test')).status).toBe(404);
  });

  it('re-announces the brand without a domain when the ACTIVE domain is removed', async () => {
    const { organizationId } = await organization();
    const { customDomain } = await add(organizationId, 'active.example-org.test');
    await subgraph.sql`update branding.custom_domains set state = 'ACTIVE', activated_at = now()
      where id = ${customDomain!.id}`;
    const before = kitEvents.length;
    await remove(customDomain!);
    await waitFor(async () =>
      kitEvents.slice(before).some((event) => event.payload.organizationId === organizationId),
    );
    const announced = kitEvents
      .slice(before)
      .find((event) => event.payload.organizationId === organizationId)!;
    expect(announced.payload.domain).toBeNull();
  });
});
