/**
 * Revocation at once (issue 12): a signed-out session, a changed password or a revoked API key
 * stops the tokens already handed out within a second, at the gateway and at every subgraph
 * called directly, though none of those tokens has expired. Identity publishes each revocation as
 * a domain event; every process keeps them in memory from JetStream.
 */
import { graphql, type SignedInUser, waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const ME = '{ me { id } }';

/** What the gateway forwards for a credential: identity's exchanged token, asked for as the gateway asks. */
async function exchanged(
  path: '/internal/access/current' | '/internal/api-keys/exchange',
  credential: string,
) {
  const response = await fetch(new URL(path, stack.subgraphs.identity.url), {
    method: 'POST',
    headers: bearer(credential),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

/** The HTTP status of each subgraph, called directly (as only the gateway can in a deployment), for `token`. */
const directStatuses = (token: string) =>
  Promise.all(
    Object.values(stack.subgraphs).map(
      async (subgraph) => (await graphql(subgraph.url, '{ __typename }', undefined, bearer(token))).status,
    ),
  );
const SIX_OK = [200, 200, 200, 200, 200, 200];
const SIX_REFUSED = [401, 401, 401, 401, 401, 401];

/** Every token is refused by the gateway (401 UNAUTHENTICATED, no data) and by every subgraph. */
const refusedEverywhere = async (gatewayCredentials: string[], tokens: string[]) => {
  for (const credential of gatewayCredentials) {
    const { status, body } = await graphql<{ me: unknown }, never>(
      stack.url,
      ME,
      undefined,
      bearer(credential),
    );
    if (status !== 401 || body.errors?.[0]?.extensions?.code !== 'UNAUTHENTICATED' || body.data?.me)
      return false;
  }
  for (const token of tokens) {
    if ((await directStatuses(token)).join() !== SIX_REFUSED.join()) return false;
  }
  return true;
};

async function signIn(user: SignedInUser) {
  const { body } = await graphql<{ login: { accessToken: string; refreshToken: string } }, unknown>(
    stack.url,
    'mutation($input: LoginInput!) { login(input: $input) { accessToken refreshToken } }',
    { input: { email: user.email, password: user.password } },
  );
  return body.data!.login;
}

/** A new organization of `owner` with an API key that may read its events. */
async function organizationWithKey(owner: SignedInUser, slug: string) {
  const created = await graphql<{ createOrganization: { organization: { id: string } } }, unknown>(
    stack.url,
    'mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { organization { id } } }',
    { input: { name: `Org ${slug}`, slug } },
    owner.headers,
  );
  const organizationId = created.body.data!.createOrganization.organization.id;
  const key = await graphql<{ createApiKey: { apiKey: { id: string }; secret: string } }, unknown>(
    stack.url,
    'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id } secret } }',
    { input: { organizationId, name: 'revocation', scopes: ['events:read'], mode: 'TEST' } },
    owner.headers,
  );
  const { apiKey, secret } = key.body.data!.createApiKey;
  return { organizationId, id: apiKey.id, secret };
}

describe('sessions', () => {
  it('refuses the access token of a logged-out session within a second, at the gateway and every subgraph', async () => {
    const user = await stack.signUp();
    const forwarded = await exchanged('/internal/access/current', user.accessToken);
    expect(await directStatuses(user.accessToken)).toEqual(SIX_OK);
    expect(await directStatuses(forwarded)).toEqual(SIX_OK);

    const { body } = await graphql<{ logout: { loggedOut: boolean } }, unknown>(
      stack.url,
      'mutation($input: LogoutInput!) { logout(input: $input) { loggedOut } }',
      { input: { refreshToken: user.refreshToken } },
    );
    expect(body.data?.logout.loggedOut).toBe(true);
    await waitFor(() => refusedEverywhere([user.accessToken], [user.accessToken, forwarded]), 1_000);
  });

  it('refuses the tokens of every session within a second of logoutEverywhere, and a new sign-in works', async () => {
    const user = await stack.signUp();
    const other = await signIn(user);
    const tokens = [user.accessToken, other.accessToken];
    for (const token of tokens) expect(await directStatuses(token)).toEqual(SIX_OK);

    const { body } = await graphql<{ logoutEverywhere: { revokedSessions: number } }, unknown>(
      stack.url,
      'mutation { logoutEverywhere { revokedSessions } }',
      undefined,
      user.headers,
    );
    expect(body.data?.logoutEverywhere.revokedSessions).toBe(2);
    await waitFor(() => refusedEverywhere(tokens, tokens), 1_000);

    const again = await signIn(user);
    expect(await directStatuses(again.accessToken)).toEqual(SIX_OK);
    const me = await graphql(stack.url, ME, undefined, bearer(again.accessToken));
    expect(me.body).toEqual({ data: { me: { id: user.userId } } });
  });

  it('refuses the other sessions within a second of a password change, and keeps this one', async () => {
    const user = await stack.signUp();
    const other = await signIn(user);
    const { body } = await graphql<{ changePassword: { errors: unknown[] } }, unknown>(
      stack.url,
      'mutation($input: ChangePasswordInput!) { changePassword(input: $input) { errors { code } } }',
      { input: { currentPassword: user.password, newPassword: 'a changed passphrase, long enough' } },
      user.headers,
    );
    expect(body.data?.changePassword.errors).toEqual([]);
    await waitFor(() => refusedEverywhere([other.accessToken], [other.accessToken]), 1_000);
    expect(await directStatuses(user.accessToken)).toEqual(SIX_OK);
  });
});

describe('API keys', () => {
  it('refuses a revoked key and the token the gateway already exchanged for it within a second', async () => {
    const owner = await stack.signUp();
    const key = await organizationWithKey(owner, 'revoked-key');
    // The gateway now holds a token for the key; the same kind of token goes straight to subgraphs.
    expect((await graphql(stack.url, ME, undefined, bearer(key.secret))).status).toBe(200);
    const token = await exchanged('/internal/api-keys/exchange', key.secret);
    expect(await directStatuses(token)).toEqual(SIX_OK);

    const revoked = await graphql<{ revokeApiKey: { errors: unknown[] } }, unknown>(
      stack.url,
      'mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { errors { code } } }',
      { input: { id: key.id } },
      owner.headers,
    );
    expect(revoked.body.data?.revokeApiKey.errors).toEqual([]);
    await waitFor(() => refusedEverywhere([key.secret], [token]), 1_000);
  });

  it("refuses the keys' tokens of an organization within a second of its closure", async () => {
    const owner = await stack.signUp();
    const key = await organizationWithKey(owner, 'closed-with-key');
    const token = await exchanged('/internal/api-keys/exchange', key.secret);
    const closing = await graphql(
      stack.url,
      'mutation($input: DeleteOrganizationInput!) { deleteOrganization(input: $input) { errors { code } } }',
      { input: { id: key.organizationId } },
      owner.headers,
    );
    expect(closing.body.errors).toBeUndefined();
    await waitFor(async () => {
      const [row] =
        await stack.sql`select status from identity.organizations where id = ${key.organizationId}`;
      return row?.status === 'CLOSED';
    });
    await waitFor(() => refusedEverywhere([key.secret], [token]), 1_000);
  });
});

// Last in this file: it stops identity.
describe('while identity cannot be reached', () => {
  it('lets an API key go on with its last token, which every subgraph still checks for revocation', async () => {
    const EVENTS = '{ events(first: 1) { edges { cursor } } }';
    const owner = await stack.signUp();
    const key = await organizationWithKey(owner, 'identity-away');
    expect((await graphql(stack.url, EVENTS, undefined, bearer(key.secret))).body.errors).toBeUndefined();
    await stack.subgraphs.identity.stop();
    // Past the second the gateway reuses an exchange: it would ask identity now.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const { status, body } = await graphql(stack.url, EVENTS, undefined, bearer(key.secret));
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
  });
});
