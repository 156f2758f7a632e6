/** Descriptions whose cost grows faster than their size are refused before it is paid (issue 12). */
import { describe, expect, it } from 'vitest';
import { call, eventInput, footprint, MUTATIONS, mutate, startCatalog, unexpectedErrors } from './support.ts';

startCatalog();

const table = (columns: number, rows: number) =>
  `${'| a '.repeat(columns)}\n${'| - '.repeat(columns)}\n${'a\n'.repeat(rows)}`;

describe('createEvent refuses a description that would cost more than any description needs', () => {
  it.each([
    // PostgreSQL's text-search parser read from every <!-- to the end: 11–14 s, past the gateway's deadline.
    ['24 000 HTML comment openers', '<!--'.repeat(24_000), /HTML comments/],
    // The same parser re-reads a run like a_a_a from nearly every position.
    ['a long run without spaces', 'a_'.repeat(5_000), /longer than 256 characters/],
    // marked's recursion overflowed the stack (INTERNAL).
    ['99 000 quote markers', '>'.repeat(99_000), /longer than 256 characters/],
    ['quotes nested 4 000 deep', '> '.repeat(4_000), /nest .* 20 levels/],
    ['lists nested 4 500 deep', `${'- '.repeat(4_500)}a`, /nest .* 20 levels/],
    ['emphasis nested 1 500 deep', `${'*a '.repeat(1_500)}b${' a*'.repeat(1_500)}`, /nest .* 20 levels/],
    // marked looks for the end of every opening * or _ in the rest of the paragraph.
    ['a paragraph of unclosed emphasis', '*a_ '.repeat(2_400), /too many unclosed/],
    // marked pads every row to the header's width: 900 × 900 cells.
    ['a table of 900 columns', table(900, 900), /at most 5000 cells/],
    // Much of marked's work on a paragraph grows with the square of its length.
    ['a paragraph of 20 000 characters', 'word '.repeat(4_000), /blank line at least every 10000/],
  ])('refuses %s at once, with a field error, storing nothing', async (_, description, message) => {
    const before = await footprint();
    const started = performance.now();
    const payload = await mutate('owner', 'createEvent', eventInput({ description }));
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(payload.event).toBeNull();
    expect(payload.errors).toEqual([
      { code: 'INVALID_INPUT', message: expect.stringMatching(message), field: ['input', 'description'] },
    ]);
    expect(await footprint()).toEqual(before);
    expect(unexpectedErrors()).toEqual([]);
  });

  it('still renders what descriptions are made of: nested lists, quotes, tables, emphasis, code, links', async () => {
    const description = [
      '## Line-up',
      '- **Ana** at 20:00\n  - *opening* with `strings`\n    > "best set of the year"',
      '| Day | Doors |\n| --- | ---: |\n| Fri | 19:00 |\n| Sat | 18:00 |',
      `Tickets at [our shop](https://tickets.example/e/1?utm_source=mail&utm_medium=email) ~~soon~~ now.`,
      'Long paragraph. '.repeat(500),
    ].join('\n\n');
    const payload = await mutate('owner', 'createEvent', eventInput({ description }));
    expect(payload.errors).toEqual([]);
    expect(payload.event!.descriptionHtml).toContain('<blockquote>');
    expect(payload.event!.descriptionHtml).toContain('<td align="right">19:00</td>');
    expect(payload.event!.descriptionHtml).toContain('<del>soon</del>');
  });

  it('refuses the same in updateEvent', async () => {
    const created = await mutate('owner', 'createEvent', eventInput());
    const { data } = await call<{ updateEvent: { errors: Array<{ field: string[] }> } }>(
      'owner',
      MUTATIONS.updateEvent,
      { input: { id: created.event!.id, expectedVersion: 1, description: '<!--'.repeat(24_000) } },
    );
    expect(data!.updateEvent.errors.map((error) => error.field)).toEqual([['input', 'description']]);
  });
});
