/** What the checkout benchmark needs before it starts: a published event and signed-in buyers. */
import { copyAccounts, graphql } from '@bilten/testkit';
import { v7 as uuidv7 } from 'uuid';
import { eventInput, type TestStack } from '../../stack/test/support.ts';

export type Headers = Record<string, string>;

const CREATE_EVENT = `mutation($input: CreateEventInput!) { createEvent(input: $input) { event { id } errors { code message } } }`;
const ADD_TICKET_TYPE = `mutation($input: AddTicketTypeInput!) { addTicketType(input: $input) { ticketType { id } errors { code message } } }`;
const PUBLISH = `mutation($input: EventIdInput!) { publishEvent(input: $input) { errors { code message } } }`;
const LOGIN = `mutation($input: LoginInput!) { login(input: $input) { accessToken errors { code message } } }`;

async function mutate<T>(stack: TestStack, query: string, input: unknown, headers: Headers, field: string) {
  const { body } = await graphql<Record<string, T & { errors: unknown[] }>, unknown>(
    stack.url,
    query,
    { input },
    headers,
  );
  const payload = body.data?.[field];
  if (!payload || payload.errors.length) throw new Error(`${field}: ${JSON.stringify(body)}`);
  return payload;
}

/**
 * An event published through catalog with one ticket type of `capacity` tickets (more than the run
 * buys: no SOLD_OUT), resolved once orders' copy (catalog's outbox → JetStream → orders) has it.
 */
export async function publishedEvent(
  stack: TestStack,
  organizer: Headers,
  organizationId: string,
  capacity: number,
) {
  const { event } = await mutate<{ event: { id: string } }>(
    stack,
    CREATE_EVENT,
    eventInput(organizationId, `Checkout ${capacity}`, { capacity }),
    organizer,
    'createEvent',
  );
  const { ticketType } = await mutate<{ ticketType: { id: string } }>(
    stack,
    ADD_TICKET_TYPE,
    { eventId: event.id, name: 'Regular', price: { amount: 2500, currency: 'EUR' }, capacity },
    organizer,
    'addTicketType',
  );
  await mutate(stack, PUBLISH, { id: event.id }, organizer, 'publishEvent');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const [copy] = await stack.sql<Array<{ types: number }>>`
      select count(t.id)::int as types from orders.offers o join orders.offer_ticket_types t on t.event_id = o.event_id
      where o.event_id = ${event.id} and o.status = 'PUBLISHED'`;
    if (copy?.types === 1) break;
    if (Date.now() > deadline) throw new Error(`orders never got the offer of ${event.id}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { eventId: event.id, ticketTypeId: ticketType.id };
}

export interface Buyer {
  email: string;
  headers: Headers;
}

/**
 * `count` verified accounts signed in through the gateway. One is registered through the gateway;
 * the others copy its row (same password hash) in SQL, as registering them would only measure
 * argon2id.
 */
export async function buyers(stack: TestStack, count: number, loginConcurrency: number): Promise<Buyer[]> {
  const template = await stack.signUp();
  const ids = Array.from({ length: count - 1 }, () => uuidv7());
  const emails = ids.map((_, i) => `checkout-buyer-${i}-${template.userId.slice(-8)}@example.com`);
  await copyAccounts(
    stack.sql,
    template.userId,
    ids.map((id, i) => ({ id, email: emails[i]!, displayName: 'Checkout buyer' })),
  );
  let next = 0;
  const signedIn: Buyer[] = [];
  await Promise.all(
    Array.from({ length: loginConcurrency }, async () => {
      while (next < emails.length) {
        const email = emails[next++]!;
        const { body } = await graphql<{ login: { accessToken: string | null } }, unknown>(stack.url, LOGIN, {
          input: { email, password: template.password },
        });
        const token = body.data?.login.accessToken;
        if (!token) throw new Error(`login failed: ${JSON.stringify(body)}`);
        signedIn.push({ email, headers: { authorization: `Bearer ${token}` } });
      }
    }),
  );
  return [{ email: template.email, headers: template.headers }, ...signedIn];
}
