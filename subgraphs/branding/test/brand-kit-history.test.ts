import { createHash } from 'node:crypto';
import { brandKitChanged } from '@bilten/contracts/branding';
import { organizationCreated } from '@bilten/contracts/identity';
import { connectDatabase, type DatabaseHandle, newEvent } from '@bilten/platform';
import { recordEvents, startTestSubgraph, type TestSubgraph, type UserError, waitFor } from '@bilten/testkit';
import { queryEntities } from '@bilten/testkit/checks';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brandedContextOf } from '../src/domain/branded-context.ts';
import { brandingSubgraph } from '../src/server.ts';

const ASSETS_URL = 'https://assets.bilten.test';

let subgraph: TestSubgraph;
let database: DatabaseHandle;
let announced: Awaited<ReturnType<typeof recordEvents<typeof brandKitChanged.payload>>>;

beforeAll(async () => {
  subgraph = await startTestSubgraph(brandingSubgraph, 'in-process', {
    env: { PUBLIC_ASSETS_URL: ASSETS_URL },
  });
  announced = await recordEvents(subgraph.testBus.bus, brandKitChanged);
  database = connectDatabase({
    url: subgraph.database.url,
    poolSize: 1,
    applicationName: 'brand-kit-history-test',
  });
});

afterAll(async () => {
  await database?.close();
  await subgraph?.dispose();
});

// ---------------------------------------------------------------- helpers

interface Finding {
  severity: string;
  code: string;
  field: string[];
  message: string;
  ratio: number | null;
  required: number | null;
}
interface Kit {
  id: string;
  primaryColor: string;
  accentColor: string;
  textColor: string;
  emailFooter: string | null;
  ticketLayout: string;
  logo: { id: string; sha256: string } | null;
  emailHeader: { id: string } | null;
  logoUrl: string | null;
  domain: string | null;
  version: number;
  updatedAt: string;
  warnings: Finding[];
}
interface Payload {
  brandKit: Kit | null;
  errors: UserError[];
  findings: Finding[];
}

const FINDING = 'severity code field message ratio required';
const KIT = `id primaryColor accentColor textColor emailFooter ticketLayout logo { id sha256 } emailHeader { id }
  logoUrl domain version updatedAt warnings { ${FINDING} }`;
const PAYLOAD = `brandKit { ${KIT} } errors { code message field } findings { ${FINDING} }`;

const adminOf = (organizationId: string) => subgraph.bearer({ orgs: { [organizationId]: 'ADMIN' } });

/** A new organization with its default kit (version 1), as identity's event makes it. */
async function newOrganization(): Promise<string> {
  const organizationId = uuidv7();
  await subgraph.testBus.bus.publish(
    newEvent(organizationCreated, organizationId, 1, {
      organizationId,
      name: 'Org',
      slug: 'org',
      testMode: false,
    }),
  );
  await waitFor(async () => (await kitRow(organizationId)) ?? false);
  return organizationId;
}

const kitRow = async (organizationId: string) =>
  (await subgraph.sql`select * from branding.brand_kits where organization_id = ${organizationId}`)[0];
const versionRows = async (organizationId: string) =>
  subgraph.sql`select v.version, v.settings, v.restored_from, v.changed_by, v.request_id from branding.brand_kit_versions v
    join branding.brand_kits k on k.id = v.kit_id where k.organization_id = ${organizationId} order by v.version`;
const announcedFor = (organizationId: string) =>
  announced.filter((event) => event.payload.organizationId === organizationId);

async function update(input: Record<string, unknown>, headers?: Record<string, string>) {
  const { data, errors } = await subgraph.gql<{ updateBrandKit: Payload }>(
    `mutation($input: UpdateBrandKitInput!) { updateBrandKit(input: $input) { ${PAYLOAD} } }`,
    { input },
    headers ?? (await adminOf(String(input.organizationId))),
  );
  expect(errors).toBeUndefined();
  return data!.updateBrandKit;
}

async function restore(organizationId: string, version: number) {
  const { data, errors } = await subgraph.gql<{ restoreBrandKitVersion: Payload }>(
    `mutation($input: RestoreBrandKitVersionInput!) { restoreBrandKitVersion(input: $input) { ${PAYLOAD} } }`,
    { input: { organizationId, version } },
    await adminOf(organizationId),
  );
  expect(errors).toBeUndefined();
  return data!.restoreBrandKitVersion;
}

const hashOf = (text: string) => createHash('sha256').update(text).digest('hex');

/** An uploaded asset as the upload flow stores it (the bytes themselves do not matter here). */
async function insertAsset(
  organizationId: string,
  kind: string,
  width: number,
  height: number,
  variants: Array<{ name: string; contentType: string; width: number; height: number }> = [],
) {
  const id = uuidv7();
  const stored = variants.map((variant) => ({
    ...variant,
    sha256: hashOf(`${id}-${variant.name}`),
    byteSize: 100,
  }));
  await subgraph.sql`insert into branding.assets (id, organization_id, kind, sha256, content_type, width, height,
      byte_size, variants)
    values (${id}, ${organizationId}, ${kind}, ${hashOf(id)}, 'image/png', ${width}, ${height}, 1000,
      ${subgraph.sql.json(stored)})`;
  return { id, sha256: hashOf(id), variants: Object.fromEntries(stored.map((v) => [v.name, v])) };
}

// ---------------------------------------------------------------- saving

describe('updateBrandKit with the guidelines', () => {
  it('saves a kit with warnings, answers them in findings, and BrandKit.warnings recomputes them', async () => {
    const organizationId = await newOrganization();
    // #989A30 on white: 2.9999998:1, just under 3:1 for large text and UI.
    const saved = await update({ organizationId, accentColor: '#989a30' });
    const warning = {
      severity: 'WARNING',
      code: 'LARGE_TEXT_CONTRAST',
      field: ['input', 'accentColor'],
      message:
        'accent #989A30 on #FFFFFF has contrast 2.9999:1; WCAG 2.2 AA needs at least 3:1 for large text and UI components',
      ratio: 2.9999997679914205,
      required: 3,
    };
    expect(saved.errors).toEqual([]);
    expect(saved.findings).toEqual([warning]);
    expect(saved.brandKit).toMatchObject({ accentColor: '#989A30', version: 2, warnings: [warning] });

    const { data } = await subgraph.gql<{ brandKit: Kit }>(
      `query($id: ID!) { brandKit(organizationId: $id) { ${KIT} } }`,
      { id: organizationId },
    );
    expect(data!.brandKit.warnings).toEqual([warning]);
  });

  it('refuses a kit with errors: INVALID_INPUT per field with the ratio in findings; nothing saved or announced', async () => {
    const organizationId = await newOrganization();
    await waitFor(async () => announcedFor(organizationId).length === 1);
    const before = await kitRow(organizationId);

    const refused = await update({
      organizationId,
      // #9A6C5A on white: 4.49999985:1, which rounds to 4.5 but is below it.
      textColor: '#9A6C5A',
      primaryColor: 'blue',
      emailFooter: '<b>bold</b>',
      accentColor: '#989A30',
    });
    expect(refused.brandKit).toBeNull();
    expect(refused.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        field: ['input', 'primaryColor'],
        message: expect.stringContaining('#RRGGBB'),
      },
      {
        code: 'INVALID_INPUT',
        field: ['input', 'textColor'],
        message:
          'text #9A6C5A on #FFFFFF has contrast 4.4999:1; WCAG 2.2 AA needs at least 4.5:1 for body text',
      },
      {
        code: 'INVALID_INPUT',
        field: ['input', 'emailFooter'],
        message: expect.stringContaining('plain text'),
      },
    ]);
    expect(refused.findings.map((f) => [f.severity, f.code, f.field[1], f.ratio, f.required])).toEqual([
      ['ERROR', 'INVALID_COLOR', 'primaryColor', null, null],
      ['ERROR', 'TEXT_CONTRAST', 'textColor', 4.499999851006519, 4.5],
      ['WARNING', 'LARGE_TEXT_CONTRAST', 'accentColor', 2.9999997679914205, 3],
      ['ERROR', 'EMAIL_FOOTER_INVALID', 'emailFooter', null, null],
    ]);
    expect(await kitRow(organizationId)).toEqual(before);
    expect((await versionRows(organizationId)).map((row) => row.version)).toEqual([1]);
    // A later save's event follows any the refusal might have made: only the default kit's and the save's exist.
    await update({ organizationId, ticketLayout: 'POSTER' });
    await waitFor(async () => announcedFor(organizationId).length >= 2);
    expect(announcedFor(organizationId).map((event) => event.payload.version)).toEqual([1, 2]);
  });

  it('validateBrandKit answers the same findings for ADMINs and saves nothing; others are refused', async () => {
    const organizationId = await newOrganization();
    const before = await kitRow(organizationId);
    const query = `query($input: UpdateBrandKitInput!) {
      validateBrandKit(input: $input) { valid errors { ${FINDING} } warnings { ${FINDING} } } }`;
    const input = { organizationId, textColor: '#777777', accentColor: '#989A30' };
    const { data, errors } = await subgraph.gql<{
      validateBrandKit: { valid: boolean; errors: Finding[]; warnings: Finding[] };
    }>(query, { input }, await adminOf(organizationId));
    expect(errors).toBeUndefined();
    expect(data!.validateBrandKit.valid).toBe(false);
    expect(data!.validateBrandKit.errors).toMatchObject([
      { code: 'TEXT_CONTRAST', ratio: 4.478089453577214, message: expect.stringContaining('4.4780:1') },
    ]);
    expect(data!.validateBrandKit.warnings).toMatchObject([{ code: 'LARGE_TEXT_CONTRAST' }]);

    const good = await subgraph.gql<{ validateBrandKit: { valid: boolean; errors: Finding[] } }>(
      query,
      { input: { organizationId, textColor: '#767676' } },
      await adminOf(organizationId),
    );
    expect(good.data!.validateBrandKit).toEqual({ valid: true, errors: [], warnings: [] });
    expect(await kitRow(organizationId)).toEqual(before);

    for (const [headers, code] of [
      [{}, 'UNAUTHENTICATED'],
      [await subgraph.bearer({ orgs: { [organizationId]: 'STAFF' } }), 'FORBIDDEN'],
      [await subgraph.bearer({ orgs: { [uuidv7()]: 'OWNER' } }), 'FORBIDDEN'],
    ] as const) {
      const refused = await subgraph.gql(query, { input }, headers);
      expect(refused.errors?.map((error) => error.extensions?.code)).toEqual([code]);
    }
    const bad = await subgraph.gql(
      query,
      { input: { organizationId, fontFamily: null } },
      await adminOf(organizationId),
    );
    expect(bad.errors).toMatchObject([
      { message: expect.stringContaining('input.fontFamily'), extensions: { code: 'BAD_USER_INPUT' } },
    ]);
  });
});

// ---------------------------------------------------------------- assets

describe('kit assets', () => {
  it('names the logo and email header; logoUrl, the asset fields and the announced context follow them', async () => {
    const organizationId = await newOrganization();
    const logo = await insertAsset(organizationId, 'LOGO', 1024, 256, [
      { name: 'w512', contentType: 'image/png', width: 512, height: 128 },
      { name: 'w128', contentType: 'image/png', width: 128, height: 32 },
    ]);
    const header = await insertAsset(organizationId, 'EMAIL_HEADER', 1200, 300, [
      { name: 'email600', contentType: 'image/jpeg', width: 600, height: 150 },
    ]);
    const saved = await update({
      organizationId,
      logoAssetId: logo.id.toUpperCase(),
      emailHeaderAssetId: header.id,
    });
    expect(saved.errors).toEqual([]);
    expect(saved.brandKit).toMatchObject({
      logo: { id: logo.id, sha256: logo.sha256 },
      emailHeader: { id: header.id },
      logoUrl: `${ASSETS_URL}/assets/${logo.variants.w512!.sha256}`,
      domain: null,
    });
    await waitFor(async () => announcedFor(organizationId).length >= 2);
    expect(announcedFor(organizationId).at(-1)!.payload).toMatchObject({
      logoUrl: `${ASSETS_URL}/assets/${logo.variants.w512!.sha256}`,
      logo: { sha256: logo.variants.w512!.sha256, contentType: 'image/png', width: 512, height: 128 },
      emailHeader: {
        sha256: header.variants.email600!.sha256,
        contentType: 'image/jpeg',
        width: 600,
        height: 150,
      },
      version: 2,
    });
  });

  it('refuses another organization’s asset, a wrong kind and a small logo, naming each field', async () => {
    const organizationId = await newOrganization();
    const theirs = await insertAsset(await newOrganization(), 'LOGO', 512, 128);
    const cover = await insertAsset(organizationId, 'COVER', 1600, 900);
    const small = await insertAsset(organizationId, 'LOGO', 200, 50);
    const refused = await update({
      organizationId,
      logoAssetId: theirs.id,
      logoOnDarkAssetId: small.id,
      emailHeaderAssetId: cover.id,
    });
    expect(refused.brandKit).toBeNull();
    expect(refused.findings.map((f) => [f.code, f.field[1]])).toEqual([
      ['ASSET_NOT_FOUND', 'logoAssetId'],
      ['LOGO_TOO_SMALL', 'logoOnDarkAssetId'],
      ['ASSET_WRONG_KIND', 'emailHeaderAssetId'],
    ]);
    expect(refused.errors.map((error) => error.field)).toEqual([
      ['input', 'logoAssetId'],
      ['input', 'logoOnDarkAssetId'],
      ['input', 'emailHeaderAssetId'],
    ]);
    expect((await kitRow(organizationId))!.version).toBe(1);
  });

  it('answers BrandKit.domain and the context’s domain from the ACTIVE custom domain', async () => {
    const organizationId = await newOrganization();
    const hostname = `tickets-${uuidv7().slice(-8)}.example-org.test`;
    await subgraph.sql`insert into branding.custom_domains (id, organization_id, hostname, state, verification_token)
      values (${uuidv7()}, ${organizationId}, ${hostname}, 'ACTIVE', 'token')`;
    const { data } = await subgraph.gql<{ brandKit: Kit }>(
      'query($id: ID!) { brandKit(organizationId: $id) { domain } }',
      {
        id: organizationId,
      },
    );
    expect(data!.brandKit.domain).toBe(hostname);
    const context = await brandedContextOf(database.db, { PUBLIC_ASSETS_URL: ASSETS_URL }, organizationId);
    expect(context).toMatchObject({ organizationId, domain: hostname, version: 1, logo: null });
    expect(await brandedContextOf(database.db, { PUBLIC_ASSETS_URL: ASSETS_URL }, uuidv7())).toBeNull();
  });
});

// ---------------------------------------------------------------- concurrency and history

describe('versions', () => {
  it('lands concurrent saves as consecutive versions, losing none', async () => {
    const organizationId = await newOrganization();
    const headers = await adminOf(organizationId);
    const changes = [
      { emailFooter: 'Footer' },
      { ticketLayout: 'POSTER' },
      { fontFamily: 'INTER' },
      { accentColor: '#0F766E' },
      { primaryColor: '#111111' },
    ];
    const saved = await Promise.all(changes.map((change) => update({ organizationId, ...change }, headers)));
    expect(saved.map((payload) => payload.brandKit!.version).sort()).toEqual([2, 3, 4, 5, 6]);
    expect(await kitRow(organizationId)).toMatchObject({
      version: 6,
      email_footer: 'Footer',
      ticket_layout: 'POSTER',
      font_family: 'INTER',
      accent_color: '#0F766E',
      primary_color: '#111111',
    });
    const rows = await versionRows(organizationId);
    expect(rows.map((row) => row.version)).toEqual([1, 2, 3, 4, 5, 6]);
    // Each version holds everything saved before it: the last one, all five changes.
    expect(rows.at(-1)!.settings).toMatchObject(Object.assign({}, ...changes));
    await waitFor(async () => announcedFor(organizationId).length >= 6);
    expect(announcedFor(organizationId).map((event) => event.payload.version)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('pages BrandKit.versions newest first for ADMINs only; a save that changes nothing is no version', async () => {
    const organizationId = await newOrganization();
    const headers = await adminOf(organizationId);
    for (const primaryColor of ['#111111', '#222222', '#333333'])
      await update({ organizationId, primaryColor }, headers);
    const unchanged = await update({ organizationId, primaryColor: '#333333' }, headers);
    expect(unchanged.brandKit!.version).toBe(4);

    const query = `query($id: ID!, $after: String) { brandKit(organizationId: $id) {
      versions(first: 2, after: $after) { edges { cursor node { version primaryColor restoredFrom changedBy logoAssetId fontFamily } }
        pageInfo { hasNextPage endCursor } } } }`;
    type Page = {
      brandKit: {
        versions: {
          edges: Array<{ node: { version: number; primaryColor: string; changedBy: string | null } }>;
          pageInfo: { hasNextPage: boolean; endCursor: string };
        };
      };
    };
    const first = await subgraph.gql<Page>(query, { id: organizationId }, headers);
    expect(first.errors).toBeUndefined();
    expect(
      first.data!.brandKit.versions.edges.map((edge) => [edge.node.version, edge.node.primaryColor]),
    ).toEqual([
      [4, '#333333'],
      [3, '#222222'],
    ]);
    expect(first.data!.brandKit.versions.pageInfo.hasNextPage).toBe(true);
    const second = await subgraph.gql<Page>(
      query,
      { id: organizationId, after: first.data!.brandKit.versions.pageInfo.endCursor },
      headers,
    );
    expect(second.data!.brandKit.versions.edges.map((edge) => edge.node)).toEqual([
      {
        version: 2,
        primaryColor: '#111111',
        restoredFrom: null,
        changedBy: expect.any(String),
        logoAssetId: null,
        fontFamily: 'SYSTEM_UI',
      },
      {
        version: 1,
        primaryColor: '#1F2937',
        restoredFrom: null,
        changedBy: null,
        logoAssetId: null,
        fontFamily: 'SYSTEM_UI',
      },
    ]);
    expect(second.data!.brandKit.versions.pageInfo.hasNextPage).toBe(false);

    const staff = await subgraph.gql(
      query,
      { id: organizationId },
      await subgraph.bearer({ orgs: { [organizationId]: 'STAFF' } }),
    );
    expect(staff.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    const badCursor = await subgraph.gql(query, { id: organizationId, after: 'bm9wZQ' }, headers);
    expect(badCursor.errors?.map((error) => error.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('restores a version as a new one, re-checked: an asset deleted since blocks it and nothing is saved', async () => {
    const organizationId = await newOrganization();
    const logo = await insertAsset(organizationId, 'LOGO', 512, 128);
    await update({ organizationId, primaryColor: '#0B3D2E', logoAssetId: logo.id }); // v2
    await update({ organizationId, primaryColor: '#4B1D3F', logoAssetId: null }); // v3

    const restored = await restore(organizationId, 1);
    expect(restored.errors).toEqual([]);
    expect(restored.brandKit).toMatchObject({ version: 4, primaryColor: '#1F2937', logo: null });
    const rows = await versionRows(organizationId);
    expect(rows.at(-1)).toMatchObject({ version: 4, restored_from: 1, settings: rows[0]!.settings });
    expect(rows.at(-1)!.changed_by).toEqual(expect.any(String));
    await waitFor(async () => announcedFor(organizationId).some((event) => event.payload.version === 4));

    // The logo v2 named is deleted (nothing uses it now): restoring v2 is refused, nothing changes.
    await subgraph.sql`delete from branding.assets where id = ${logo.id}`;
    const refused = await restore(organizationId, 2);
    expect(refused.brandKit).toBeNull();
    expect(refused.errors).toEqual([
      {
        code: 'INVALID_INPUT',
        field: ['input', 'version'],
        message: `logoAssetId: the logo: no asset of this organization has id ${logo.id}`,
      },
    ]);
    expect(refused.findings.map((f) => [f.code, f.field])).toEqual([
      ['ASSET_NOT_FOUND', ['input', 'logoAssetId']],
    ]);
    expect((await kitRow(organizationId))!.version).toBe(4);

    const missing = await restore(organizationId, 99);
    expect(missing).toEqual({
      brandKit: null,
      errors: [
        {
          code: 'NOT_FOUND',
          field: ['input', 'version'],
          message: 'the kit has no version 99 (its latest is 4)',
        },
      ],
      findings: [],
    });
    const staff = await subgraph.gql(
      'mutation($input: RestoreBrandKitVersionInput!) { restoreBrandKitVersion(input: $input) { errors { code } } }',
      { input: { organizationId, version: 1 } },
      await subgraph.bearer({ orgs: { [organizationId]: 'STAFF' } }),
    );
    expect(staff.errors?.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    expect((await kitRow(organizationId))!.version).toBe(4);
  });
});

// ---------------------------------------------------------------- Event.branding

describe('Event.branding', () => {
  it('answers the organizer’s kit, and null without an organizer or for an unknown one', async () => {
    const organizationId = await newOrganization();
    const kit = await kitRow(organizationId);
    const { data, errors } = await queryEntities(
      subgraph,
      [
        { __typename: 'Event', id: uuidv7(), organizer: { id: organizationId } },
        { __typename: 'Event', id: uuidv7(), organizer: null },
        { __typename: 'Event', id: uuidv7(), organizer: { id: uuidv7() } },
      ] as unknown as Array<{ __typename: string; id: string }>,
      '... on Event { branding { id primaryColor } }',
    );
    expect(errors).toBeUndefined();
    expect(data!._entities).toEqual([
      { branding: { id: kit!.id, primaryColor: '#1F2937' } },
      { branding: null },
      { branding: null },
    ]);
  });
});
