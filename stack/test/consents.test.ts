/**
 * Issue 18 (consent) through the public door: a user grants and withdraws consent in identity,
 * and the services that use it follow over NATS: messaging's marketing channels
 * (MARKETING_EMAIL, MARKETING_PUSH) and orders' sharing of the buyer's email with the organizer
 * (ORGANIZER_SHARING, per organization).
 */
import { waitFor } from '@bilten/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayCall, publishedEvent, startTestStack, type TestStack } from './support.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('jetstream');
});
afterAll(async () => {
  await stack?.dispose();
});

const GRANT = `mutation($input: GrantConsentInput!) {
  grantConsent(input: $input) { consent { purpose granted } errors { code message field } }
}`;
const WITHDRAW = `mutation($input: WithdrawConsentInput!) {
  withdrawConsent(input: $input) { consent { purpose granted } errors { code message field } }
}`;
const MARKETING = `query { myNotificationPreferences { categories { category enabledChannels } } }`;
const ORDER = `query($id: ID!) { order(id: $id) { id buyer { name contactEmail } } }`;

type Headers = Record<string, string>;
type Answer = { consent: { purpose: string; granted: boolean } | null; errors: unknown[] };

const grant = async (headers: Headers, input: Record<string, unknown>) =>
  (await gatewayCall<{ grantConsent: Answer }>(stack, GRANT, { input }, headers)).grantConsent;
const withdraw = async (headers: Headers, input: Record<string, unknown>) =>
  (await gatewayCall<{ withdrawConsent: Answer }>(stack, WITHDRAW, { input }, headers)).withdrawConsent;
const marketingChannels = async (headers: Headers) =>
  (
    await gatewayCall<{
      myNotificationPreferences: { categories: Array<{ category: string; enabledChannels: string[] }> };
    }>(stack, MARKETING, {}, headers)
  ).myNotificationPreferences.categories.find((entry) => entry.category === 'MARKETING')!.enabledChannels;
/** Polls until `probe` answers `expected` (the services follow identity's events within moments). */
const settles = async <T>(probe: () => Promise<T>, expected: T) => {
  await waitFor(async () => JSON.stringify(await probe()) === JSON.stringify(expected));
  expect(await probe()).toEqual(expected);
};

describe('consent through the gateway', () => {
  it('turns marketing channels on and off in messaging as the user grants and withdraws', async () => {
    const person = await stack.signUp({ displayName: 'Selma Consent' });
    expect(await marketingChannels(person.headers)).toEqual([]);

    const granted = await grant(person.headers, {
      purpose: 'MARKETING_EMAIL',
      textVersion: 'marketing-email/2026-11',
      source: 'account-settings',
    });
    expect(granted).toEqual({ consent: { purpose: 'MARKETING_EMAIL', granted: true }, errors: [] });
    await settles(() => marketingChannels(person.headers), ['EMAIL']);

    await grant(person.headers, {
      purpose: 'MARKETING_PUSH',
      textVersion: 'marketing-push/2026-11',
      source: 'app',
    });
    await settles(() => marketingChannels(person.headers), ['EMAIL', 'WEB_PUSH']);

    await withdraw(person.headers, { purpose: 'MARKETING_EMAIL', source: 'account-settings' });
    await settles(() => marketingChannels(person.headers), ['WEB_PUSH']);
  });

  it('shows the buyer’s email to the organizer only while the buyer shares it with that organization', async () => {
    const { owner, organizationId, eventId, ticketTypeId } = await publishedEvent(stack, 'sharing-org');
    const person = await stack.signUp({ displayName: 'Amar Buyer' });
    const reservation = await waitFor(async () => {
      const { reserveTickets } = await gatewayCall<{
        reserveTickets: { reservation: { id: string } | null };
      }>(
        stack,
        `mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) { reservation { id } } }`,
        { input: { eventId, items: [{ ticketTypeId, quantity: 1 }] } },
        person.headers,
      );
      return reserveTickets.reservation;
    });
    const { checkout } = await gatewayCall<{ checkout: { order: { id: string } } }>(
      stack,
      `mutation($input: CheckoutInput!) { checkout(input: $input) { order { id } errors { message } } }`,
      { input: { reservationId: reservation.id, buyer: { name: 'Amar Buyer', email: person.email } } },
      person.headers,
    );
    const orderId = checkout.order.id;
    const seenByOrganizer = async () =>
      (
        await gatewayCall<{ order: { buyer: { name: string; contactEmail: string | null } } }>(
          stack,
          ORDER,
          { id: orderId },
          owner.headers,
        )
      ).order.buyer;

    expect(await seenByOrganizer()).toEqual({ name: 'Amar Buyer', contactEmail: null });
    const sharing = { purpose: 'ORGANIZER_SHARING', organizationId };
    await grant(person.headers, { ...sharing, textVersion: 'organizer-sharing/2026-11', source: 'checkout' });
    await settles(seenByOrganizer, { name: 'Amar Buyer', contactEmail: person.email });

    await withdraw(person.headers, { ...sharing, source: 'account-settings' });
    await settles(seenByOrganizer, { name: 'Amar Buyer', contactEmail: null });
  });
});
