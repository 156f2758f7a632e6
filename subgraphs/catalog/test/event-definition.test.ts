import { describe, expect, it } from 'vitest';
import {
  call,
  EVENT,
  type Event,
  eventInput,
  footprint,
  headers,
  inAYear,
  MUTATIONS,
  mutate,
  seedEvent,
  seedPublished,
  seedTicketType,
  service,
  startCatalog,
  unexpectedErrors,
} from './support.ts';

startCatalog();

/** The event as it is now, seen by its owner. */
const reload = async (id: string) =>
  (await call<{ event: Event }>('owner', `query($id: ID!) { event(id: $id) { ${EVENT} } }`, { id })).data!
    .event;

describe('updateEvent keeps the rules of creating and publishing', () => {
  /** An update that must be refused with field errors on `fields`, leaving everything as it was. */
  async function refused(event: Event, changes: Record<string, unknown>, fields: string[][]) {
    const before = await footprint();
    const result = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: event.version,
      ...changes,
    });
    expect(result.event, JSON.stringify(changes)).toBeNull();
    expect(
      result.errors.map((error) => [error.code, error.field]),
      JSON.stringify(changes),
    ).toEqual(fields.map((field) => ['INVALID_INPUT', ['input', ...field]]));
    expect(await footprint()).toEqual(before);
    return result.errors;
  }

  it('keeps a published event somewhere: its last venue or online URL cannot be removed', async () => {
    const atVenue = await seedPublished({ title: 'At a venue' });
    await refused(atVenue, { venue: null }, [['venue']]);
    const online = await seedPublished({
      title: 'Online only',
      venue: null,
      onlineUrl: 'https://meet.example/a',
    });
    await refused(online, { onlineUrl: null }, [['onlineUrl']]);
    const hybrid = await seedPublished({ title: 'Hybrid', onlineUrl: 'https://meet.example/b' });
    await refused(hybrid, { venue: null, onlineUrl: null }, [['venue'], ['onlineUrl']]);
    // One of the two is enough; a draft needs neither.
    const leftOnline = await mutate('owner', 'updateEvent', {
      id: hybrid.id,
      expectedVersion: hybrid.version,
      venue: null,
    });
    expect(leftOnline.errors).toEqual([]);
    const draft = await seedEvent({ title: 'Nowhere yet' });
    expect(
      (await mutate('owner', 'updateEvent', { id: draft.id, expectedVersion: 1, venue: null })).errors,
    ).toEqual([]);
  });

  it("does not move a published event's start into the past", async () => {
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const event = await seedPublished({ title: 'No time travel' });
    await refused(event, { startsAt: past }, [['startsAt']]);
    const draft = await seedEvent({ title: 'Drafted in the past' });
    expect(
      (await mutate('owner', 'updateEvent', { id: draft.id, expectedVersion: 1, startsAt: past })).errors,
    ).toEqual([]);
  });

  it('keeps endsAt after startsAt, for drafts and published events alike', async () => {
    const draft = await seedEvent({ title: 'Draft that ends' });
    const published = await seedPublished({ title: 'Show that ends' });
    for (const event of [draft, published]) {
      await refused(event, { endsAt: event.startsAt }, [['endsAt']]);
      await refused(event, { endsAt: inAYear(-1) }, [['endsAt']]);
      await refused(event, { startsAt: inAYear(5) }, [['endsAt']]);
    }
  });

  it("does not end an event before its ticket types' sales do, as addTicketType requires", async () => {
    const draft = await seedEvent({ title: 'Draft with late sales' });
    const published = await seedEvent({ title: 'Show with late sales' });
    for (const event of [draft, published]) {
      await seedTicketType(event.id, { name: 'At the door', salesEndAt: event.endsAt });
      await seedTicketType(event.id, { name: 'Presale', salesEndAt: inAYear(-24) });
    }
    expect((await mutate('owner', 'publishEvent', { id: published.id })).errors).toEqual([]);
    for (const { id } of [draft, published]) {
      const event = await reload(id);
      const [error] = await refused(event, { endsAt: inAYear(2) }, [['endsAt']]);
      expect(error!.message).toContain('"At the door"');
      expect(error!.message).not.toContain('Presale');
      const later = await mutate('owner', 'updateEvent', {
        id,
        expectedVersion: event.version,
        endsAt: inAYear(6),
      });
      expect(later.errors).toEqual([]);
    }
  });
});

describe('bad input', () => {
  it('stores sanitized HTML beside the markdown, and refuses unsafe markup without storing anything', async () => {
    const event = await seedEvent({
      description: '# Line-up\n\n* **Ana** — `<script>` is just text here\n\n[Tickets](https://x.example)',
    });
    expect(event.descriptionHtml).toContain('<strong>Ana</strong>');
    expect(event.descriptionHtml).toContain('&lt;script&gt;');
    expect(event.descriptionHtml).toContain('rel="nofollow noopener noreferrer"');
    expect(event.descriptionHtml).not.toMatch(/<script/i);

    const unsafe = [
      '<script>alert(1)</script>',
      '<SCRIPT SRC=//evil.example/x.js></SCRIPT>',
      '[click](javascript:alert(1))',
      '[click](JAVASCRIPT:alert(1))',
      '[click](java&#x09;script:alert(1))',
      '<a href="javascript:alert(1)">x</a>',
      '<img src=x onerror=alert(1)>',
      '<p onmouseover="alert(1)">hover</p>',
      '<iframe src="https://evil.example"></iframe>',
      '[x](data:text/html;base64,PHNjcmlwdD4=)',
      '<svg onload=alert(1)>',
      '<style>body{display:none}</style>',
    ];
    const before = await footprint();
    for (const description of unsafe) {
      const { event: created, errors } = await mutate('owner', 'createEvent', eventInput({ description }));
      expect(created, description).toBeNull();
      expect(errors, description).toEqual([
        {
          code: 'INVALID_INPUT',
          message: expect.stringContaining('scripts'),
          field: ['input', 'description'],
        },
      ]);
    }
    const update = await mutate('owner', 'updateEvent', {
      id: event.id,
      expectedVersion: 1,
      description: unsafe[0],
    });
    expect(update.errors.map((e) => e.field)).toEqual([['input', 'description']]);
    expect(await footprint()).toEqual(before);
    expect(unexpectedErrors()).toEqual([]);
  });

  it.each([
    ['an invalid time zone', { timezone: 'Europe/Atlantis' }, 'timezone'],
    ['an unknown currency', { currency: 'ABC' }, 'currency'],
    ['a title over 200 characters', { title: 'x'.repeat(201) }, 'title'],
    ['a 1 MB description', { description: '<b>'.repeat(330_000) }, 'description'],
  ])('rejects %s in updateEvent with a field error', async (_, changes, field) => {
    const event = await seedEvent({ title: `Update target ${field}` });
    const before = await footprint();
    const result = await mutate('owner', 'updateEvent', { id: event.id, expectedVersion: 1, ...changes });
    expect(result.event).toBeNull();
    expect(result.errors.map((e) => e.field)).toEqual([['input', field]]);
    expect(await footprint()).toEqual(before);
  });

  it('answers a body over the limit with 413 and a clear error, not a 500', async () => {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers.owner },
      body: JSON.stringify({
        query: MUTATIONS.createEvent,
        variables: { input: eventInput({ description: 'x'.repeat(1_100_000) }) },
      }),
    });
    expect(response.status).toBe(413);
    expect(
      ((await response.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions
        .code,
    ).toBe('PAYLOAD_TOO_LARGE');
  });
});
