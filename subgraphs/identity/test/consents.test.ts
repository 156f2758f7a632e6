import { randomUUID } from 'node:crypto';
import { consentChanged } from '@bilten/contracts/identity';
import { insertAccounts, recordEvents, startTestSubgraph, type TestSubgraph, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identitySubgraph } from '../src/server.ts';
import { codeOf } from './support.ts';

let subgraph: TestSubgraph;
let published: Awaited<ReturnType<typeof recordEvents<typeof consentChanged.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(identitySubgraph, 'jetstream');
  published = await recordEvents(subgraph.testBus.bus, consentChanged);
});

afterAll(async () => {
  await subgraph?.dispose();
});

async function newUser() {
  const id = randomUUID();
  await insertAccounts(subgraph.sql, [{ id, email: `${id}@example.com`, displayName: 'Someone' }]);
  return { id, headers: await subgraph.bearer({ sub: id }) };
}

async function newOrganization() {
  const id = randomUUID();
  await subgraph.sql`
    insert into identity.organizations (id, name, slug) values (${id}, 'Org', ${`org-${id.slice(0, 8)}`})`;
  return id;
}

const CONSENT = 'purpose organizationId granted textVersion source changedAt';
const GRANT = `mutation($input: GrantConsentInput!) {
  grantConsent(input: $input) { consent { ${CONSENT} } errors { code message field } }
}`;
const WITHDRAW = `mutation($input: WithdrawConsentInput!) {
  withdrawConsent(input: $input) { consent { ${CONSENT} } errors { code message field } }
}`;
const MY_CONSENTS = `query { myConsents { ${CONSENT} organization { id } } }`;
const HISTORY = `query($first: Int, $after: String) {
  myConsentHistory(first: $first, after: $after) {
    edges { cursor node { purpose organizationId granted textVersion source ipAddress occurredAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

type Consent = {
  purpose: string;
  organizationId: string | null;
  granted: boolean;
  textVersion: string;
  source: string;
  changedAt: string;
};
type Payload = { consent: Consent | null; errors: Array<{ code: string; message: string; field: string[] }> };
type Change = Omit<Consent, 'changedAt'> & { ipAddress: string | null; occurredAt: string };
type History = {
  myConsentHistory: {
    edges: Array<{ cursor: string; node: Change }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
};

const grant = async (headers: Record<string, string>, input: Record<string, unknown>) =>
  (await subgraph.gql<{ grantConsent: Payload }>(GRANT, { input }, headers)).data!.grantConsent;
const withdraw = async (headers: Record<string, string>, input: Record<string, unknown>) =>
  (await subgraph.gql<{ withdrawConsent: Payload }>(WITHDRAW, { input }, headers)).data!.withdrawConsent;
const historyOf = async (headers: Record<string, string>, first = 20, after?: string) =>
  (await subgraph.gql<History>(HISTORY, { first, after }, headers)).data!.myConsentHistory;
const eventsOf = (userId: string) => published.filter((event) => event.payload.userId === userId);

const EMAIL = {
  purpose: 'MARKETING_EMAIL',
  textVersion: 'marketing-email/2026-11',
  source: 'account-settings',
};

describe('consent per purpose', () => {
  it('grants and withdraws with time, source, text version and IP, keeps history and publishes each change', async () => {
    const user = await newUser();
    const before = Date.now();
    const granted = await grant(user.headers, EMAIL);
    expect(granted.errors).toEqual([]);
    expect(granted.consent).toMatchObject({ ...EMAIL, organizationId: null, granted: true });
    expect(Date.parse(granted.consent!.changedAt)).toBeGreaterThanOrEqual(before - 1000);

    const withdrawn = await withdraw(user.headers, {
      purpose: 'MARKETING_EMAIL',
      source: 'unsubscribe-link',
    });
    expect(withdrawn.errors).toEqual([]);
    // The withdrawal is recorded under the text of the consent it withdraws.
    expect(withdrawn.consent).toMatchObject({
      purpose: 'MARKETING_EMAIL',
      granted: false,
      textVersion: EMAIL.textVersion,
      source: 'unsubscribe-link',
    });

    const mine = await subgraph.gql<{ myConsents: Consent[] }>(MY_CONSENTS, {}, user.headers);
    expect(mine.data!.myConsents).toEqual([
      expect.objectContaining({ purpose: 'MARKETING_EMAIL', granted: false }),
    ]);

    const history = await historyOf(user.headers);
    expect(history.edges.map(({ node }) => [node.granted, node.source])).toEqual([
      [false, 'unsubscribe-link'],
      [true, 'account-settings'],
    ]);
    expect(history.edges[0]!.node.ipAddress).toMatch(/127\.0\.0\.1|::1/);

    await waitFor(async () => eventsOf(user.id).length >= 2);
    expect(eventsOf(user.id)).toHaveLength(2);
    expect(eventsOf(user.id).map((event) => event.payload)).toEqual([
      expect.objectContaining({ purpose: 'MARKETING_EMAIL', organizationId: null, granted: true }),
      expect.objectContaining({ purpose: 'MARKETING_EMAIL', organizationId: null, granted: false }),
    ]);
  });

  it('records nothing when an answer changes nothing; a new text version is a new grant', async () => {
    const user = await newUser();
    expect(
      (await withdraw(user.headers, { purpose: 'ANALYTICS', source: 'account-settings' })).consent,
    ).toBeNull();
    const first = await grant(user.headers, EMAIL);
    const again = await grant(user.headers, { ...EMAIL, source: 'checkout' });
    expect(again.consent).toEqual(first.consent);
    await withdraw(user.headers, { purpose: 'MARKETING_EMAIL', source: 'account-settings' });
    await withdraw(user.headers, { purpose: 'MARKETING_EMAIL', source: 'account-settings' });
    await grant(user.headers, EMAIL);
    const renewed = await grant(user.headers, { ...EMAIL, textVersion: 'marketing-email/2026-12' });
    expect(renewed.consent!.textVersion).toBe('marketing-email/2026-12');
    expect((await historyOf(user.headers)).edges).toHaveLength(4);
    await waitFor(async () => eventsOf(user.id).length >= 4);
    expect(eventsOf(user.id)).toHaveLength(4);
  });

  it('gives ORGANIZER_SHARING per organization, and no other purpose', async () => {
    const user = await newUser();
    const [one, two] = [await newOrganization(), await newOrganization()];
    const sharing = {
      purpose: 'ORGANIZER_SHARING',
      textVersion: 'organizer-sharing/2026-11',
      source: 'checkout',
    };
    expect((await grant(user.headers, { ...sharing, organizationId: one })).consent).toMatchObject({
      organizationId: one,
      granted: true,
    });
    await grant(user.headers, { ...sharing, organizationId: two });
    await withdraw(user.headers, {
      purpose: 'ORGANIZER_SHARING',
      organizationId: two,
      source: 'account-settings',
    });
    const mine = await subgraph.gql<{ myConsents: Array<Consent & { organization: { id: string } }> }>(
      MY_CONSENTS,
      {},
      user.headers,
    );
    const byOrganization = Object.fromEntries(
      mine.data!.myConsents.map((consent) => [consent.organization.id, consent.granted]),
    );
    expect(byOrganization).toEqual({ [one]: true, [two]: false });
    await waitFor(async () => eventsOf(user.id).length >= 3);
    expect(eventsOf(user.id)).toHaveLength(3);
    expect(eventsOf(user.id).at(-1)!.payload).toMatchObject({ organizationId: two, granted: false });
  });

  it('refuses bad input with a user error and records nothing', async () => {
    const user = await newUser();
    const organizationId = await newOrganization();
    const cases: Array<[Record<string, unknown>, string[], string]> = [
      [{ ...EMAIL, organizationId }, ['input', 'organizationId'], 'INVALID_INPUT'],
      [{ ...EMAIL, purpose: 'ORGANIZER_SHARING' }, ['input', 'organizationId'], 'INVALID_INPUT'],
      [
        { ...EMAIL, purpose: 'ORGANIZER_SHARING', organizationId: randomUUID() },
        ['input', 'organizationId'],
        'NOT_FOUND',
      ],
      [{ ...EMAIL, textVersion: 'latest' }, ['input', 'textVersion'], 'INVALID_INPUT'],
      [{ ...EMAIL, textVersion: 'marketing-email/2026-13' }, ['input', 'textVersion'], 'INVALID_INPUT'],
      [{ ...EMAIL, source: 'Account Settings' }, ['input', 'source'], 'INVALID_INPUT'],
      [{ ...EMAIL, organizationId: 'not-an-id' }, ['input', 'organizationId'], 'INVALID_INPUT'],
    ];
    for (const [input, field, code] of cases) {
      const answer = await grant(user.headers, input);
      expect(answer.consent, JSON.stringify(input)).toBeNull();
      expect(answer.errors).toEqual([expect.objectContaining({ code, field })]);
    }
    const bad = await withdraw(user.headers, { purpose: 'ANALYTICS', organizationId, source: 'x' });
    expect(bad.errors[0]!.field).toEqual(['input', 'organizationId']);
    expect((await historyOf(user.headers)).edges).toEqual([]);
    const rows = await subgraph.sql`select 1 from identity.consents where user_id = ${user.id}`;
    expect(rows).toHaveLength(0);
  });

  it('shows each user only their own consents; anonymous callers are refused', async () => {
    const [me, other] = [await newUser(), await newUser()];
    await grant(other.headers, { ...EMAIL, purpose: 'ANALYTICS', textVersion: 'analytics/2026-11' });
    expect(
      (await subgraph.gql<{ myConsents: Consent[] }>(MY_CONSENTS, {}, me.headers)).data!.myConsents,
    ).toEqual([]);
    expect((await historyOf(me.headers)).edges).toEqual([]);
    expect(codeOf(await subgraph.gql(MY_CONSENTS))).toBe('UNAUTHENTICATED');
    expect(codeOf(await subgraph.gql(GRANT, { input: EMAIL }))).toBe('UNAUTHENTICATED');
  });

  it('pages the history newest first and serializes concurrent changes', async () => {
    const user = await newUser();
    // Ten grants of the same consent at once: exactly one is a change.
    await Promise.all(Array.from({ length: 10 }, () => grant(user.headers, EMAIL)));
    await withdraw(user.headers, { purpose: 'MARKETING_EMAIL', source: 'account-settings' });
    await grant(user.headers, EMAIL);
    const first = await historyOf(user.headers, 2);
    expect(first.edges.map(({ node }) => node.granted)).toEqual([true, false]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await historyOf(user.headers, 2, first.pageInfo.endCursor!);
    expect(rest.edges.map(({ node }) => node.granted)).toEqual([true]);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    expect(codeOf(await subgraph.gql(HISTORY, { after: 'nonsense!' }, user.headers))).toBe('BAD_USER_INPUT');
  });
});
