/**
 * Organization roles and sessions take effect at once through the gateway: the claims of the
 * token a client holds are only a hint, the gateway forwards identity's current ones.
 */
import { graphql, linkTokenOf, type SignedInUser } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AcceptInvitationDocument,
  CreateEventDocument,
  CreateOrganizationDocument,
  InviteMemberDocument,
  LogoutDocument,
  MeDocument,
  RemoveMemberDocument,
} from './generated/operations.ts';
import { eventInput, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack('in-process');
});
afterAll(async () => {
  await stack?.dispose();
});

async function createOrganization(owner: SignedInUser, slug: string) {
  const { body } = await graphql(
    stack.url,
    CreateOrganizationDocument,
    { input: { name: `Org ${slug}`, slug } },
    owner.headers,
  );
  expect(body.data?.createOrganization.errors).toEqual([]);
  return body.data!.createOrganization.organization!.id;
}

const createEvent = async (organizationId: string, caller: SignedInUser) =>
  (
    await graphql(
      stack.url,
      CreateEventDocument,
      { input: eventInput(organizationId, 'Roles at once') },
      caller.headers,
    )
  ).body;

/** Polls `probe` until it holds, failing past `withinMs`; answers how long it took. */
async function within(withinMs: number, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (!(await probe())) {
    if (performance.now() - started > withinMs) throw new Error(`still not so after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return performance.now() - started;
}

describe('roles through the gateway', () => {
  it('lets the creator of an organization create its events with the token minted before it existed', async () => {
    const owner = await stack.signUp();
    const organizationId = await createOrganization(owner, 'roles-at-once');
    const created = await createEvent(organizationId, owner);
    expect(created.errors).toBeUndefined();
    expect(created.data?.createEvent.errors).toEqual([]);
    expect(created.data?.createEvent.event?.title).toBe('Roles at once');
  });

  it('grants an invited member their role at once, and takes it away within a second of removal', async () => {
    const owner = await stack.signUp();
    const organizationId = await createOrganization(owner, 'roles-removal');
    const member = await stack.signUp();
    const invited = await graphql(
      stack.url,
      InviteMemberDocument,
      { input: { organizationId, email: member.email, role: 'ADMIN' } },
      owner.headers,
    );
    expect(invited.body.data?.inviteMember.errors).toEqual([]);
    const mail = await stack.smtp.waitForMessage(
      (m) => m.envelope.to.includes(member.email) && (m.parsed.text ?? '').includes('/accept-invitation'),
    );
    const accepted = await graphql(
      stack.url,
      AcceptInvitationDocument,
      { input: { token: linkTokenOf(mail, '/accept-invitation') } },
      member.headers,
    );
    expect(accepted.body.data?.acceptInvitation).toMatchObject({ role: 'ADMIN', errors: [] });

    // The member's token was minted before they joined; no refresh in between.
    expect((await createEvent(organizationId, member)).data?.createEvent.errors).toEqual([]);

    const removed = await graphql(
      stack.url,
      RemoveMemberDocument,
      { input: { organizationId, userId: member.userId } },
      owner.headers,
    );
    expect(removed.body.data?.removeMember.errors).toEqual([]);
    const tookMs = await within(1_500, async () => {
      const attempt = await createEvent(organizationId, member);
      return attempt.errors?.[0]?.extensions?.code === 'FORBIDDEN';
    });
    expect(tookMs).toBeLessThan(1_500);
  });

  it('stops a logged-out session within a second, though its access token has not expired', async () => {
    const user = await stack.signUp();
    expect((await graphql(stack.url, MeDocument, {}, user.headers)).body.data?.me?.id).toBe(user.userId);
    const loggedOut = await graphql(stack.url, LogoutDocument, {
      input: { refreshToken: user.refreshToken },
    });
    expect(loggedOut.body.data?.logout.loggedOut).toBe(true);
    await within(1_500, async () => {
      const { status, body } = await graphql(stack.url, MeDocument, {}, user.headers);
      return body.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED' && status === 401 && !body.data?.me;
    });
  });
});
