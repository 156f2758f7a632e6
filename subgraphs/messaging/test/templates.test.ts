import { describe, expect, it } from 'vitest';
import { createRenderer, DEFAULT_COLOURS, validFor } from '../src/adapters/renderer.ts';
import { TEMPLATES } from '../src/adapters/templates/index.ts';
import { type Brand, type DataOf, FONT_STACKS, type RenderedEmail } from '../src/domain/channels.ts';
import { KINDS, type KindName } from '../src/domain/delivery-rules.ts';

const renderer = createRenderer();
const KIND_NAMES = Object.keys(KINDS) as KindName[];
const recipient = { name: 'Amra Hodžić' };
const BRAND: Brand = {
  primaryColor: '#aa1122',
  accentColor: '#00AA55',
  backgroundColor: '#FFFFFF',
  textColor: '#111827',
  fontFamily: FONT_STACKS.SYSTEM_UI!,
  logoUrl: 'https://cdn.example.com/logo.png',
  emailHeaderUrl: null,
  emailFooter: null,
  domain: null,
  version: 1,
  organizerName: 'Kino Meeting Point',
};

const sampleOf = <K extends KindName>(kind: K, changes: Partial<DataOf<K>> = {}): DataOf<K> =>
  ({ ...TEMPLATES[kind].sample, recipient, ...changes }) as DataOf<K>;

const email = <K extends KindName>(kind: K, locale: string, data: DataOf<K>, brand: Brand | null = null) =>
  renderer.email(kind, locale, data, brand, {});

/** Intl separates a currency code from the amount with a no-break space. */
const plain = (text: string) => text.replace(/\u00a0/g, ' ');

/** The rendered HTML's CSS and attributes: where a colour could end up. */
const styles = (html: string) => [...html.matchAll(/(?:style|bgcolor)="([^"]*)"/g)].map((match) => match[1]);

describe('every kind in every language', () => {
  it.each(KIND_NAMES)(
    'renders %s in en and bs from its sample data, in two different languages',
    async (kind) => {
      const rendered: Record<string, RenderedEmail> = {};
      for (const locale of ['en', 'bs']) {
        const mail = await email(kind, locale, sampleOf(kind), BRAND);
        const short = await renderer.short(kind, locale, sampleOf(kind));
        expect(mail.subject).toMatch(/\S/);
        expect(mail.subject).not.toMatch(/[\r\n]/);
        expect(mail.html).toMatch(/^<!doctype html>/i);
        // Every Liquid tag was rendered: none is left for a mail client to show.
        expect(mail.html).not.toMatch(/\{\{|\{%/);
        expect(mail.text).not.toMatch(/\{\{|\{%/);
        expect(mail.text).toContain(locale === 'en' ? 'Hello Amra Hodžić,' : 'Zdravo Amra Hodžić,');
        expect(short.title).toMatch(/\S/);
        expect(short.body).toMatch(/\S/);
        rendered[locale] = mail;
      }
      expect(rendered.bs!.text).not.toBe(rendered.en!.text);
      expect(rendered.bs!.html).not.toBe(rendered.en!.html);
    },
  );

  it('fails, rather than printing nothing, when the data lacks a variable the template names', async () => {
    const { place: _, ...withoutPlace } = TEMPLATES.eventReminder.sample.event;
    const data = { event: withoutPlace, recipient } as unknown as DataOf<'eventReminder'>;
    await expect(email('eventReminder', 'en', data)).rejects.toThrow(/place/);
    await expect(renderer.short('eventReminder', 'bs', data)).rejects.toThrow(/place/);
  });

  it('speaks English for a language it does not know, and Bosnian for bs-BA', async () => {
    const data = sampleOf('eventReminder');
    const english = await email('eventReminder', 'en', data);
    expect(await email('eventReminder', 'fr', data)).toEqual(english);
    expect(await email('eventReminder', '', data)).toEqual(english);
    expect((await email('eventReminder', 'bs-BA', data)).subject).toBe('Sutra: Sarajevo Jazz Night');
  });

  it('reads a string Bosnian lacks in English, the others in Bosnian', async () => {
    // The admin notice's Bosnian has only its "from" line: subject and short texts come from English.
    const data = sampleOf('adminNotice', { subject: 'Maintenance', body: 'Sunday, 02:00.' });
    const mail = await email('adminNotice', 'bs', data);
    expect(mail.subject).toBe('Maintenance');
    expect(mail.text).toContain('Poruka Bilten tima:');
    expect(mail.text).not.toContain('A message from the Bilten team');
    expect(await renderer.short('adminNotice', 'bs', data)).toEqual({
      title: 'Maintenance',
      body: 'Sunday, 02:00.',
      url: null,
    });
  });
});

describe('escaping', () => {
  const SCRIPT = '<script>alert("x")</script> & Co';

  it('escapes an event title in the HTML and keeps it intact in the subject and text', async () => {
    const data = sampleOf('eventPublished', {
      event: { ...TEMPLATES.eventPublished.sample.event, title: SCRIPT },
      organizer: { name: '<b>Kino</b>' },
    });
    const mail = await email('eventPublished', 'en', data);
    expect(mail.html).not.toContain('<script');
    expect(mail.html).not.toContain('<b>Kino');
    expect(mail.html).toContain('&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co');
    expect(mail.subject).toBe(`New from <b>Kino</b>: ${SCRIPT}`);
    expect(mail.text).toContain(`<b>Kino</b> published ${SCRIPT}, on`);
  });

  it("keeps an announcement body's paragraphs and line breaks, escaped in HTML and intact in text", async () => {
    const body = `First ${SCRIPT}\nsame paragraph\n\n<img src=x onerror=alert(1)>`;
    const mail = await email(
      'announcement',
      'bs',
      sampleOf('announcement', { body, subject: 'Hi\r\nBcc: x' }),
    );
    expect(mail.html).not.toMatch(/<script|<img src=x/);
    expect(mail.html).toContain(
      '<p style="margin: 0 0 12px">First &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co<br>same paragraph</p><p style="margin: 0 0 12px">&lt;img src=x onerror=alert(1)&gt;</p>',
    );
    expect(mail.text).toContain(body);
    // A subject is one line: no header can be smuggled in.
    expect(mail.subject).toBe('Hi Bcc: x');
  });

  it("escapes the recipient's name, and sends the address-in-use notice (anyone can trigger it) without any link", async () => {
    const data = { ...TEMPLATES.addressInUse.sample, recipient: { name: '<b>Amra</b>\r\nBcc: x' } };
    const mail = await email('addressInUse', 'en', data);
    expect(mail.html).toContain('Hello &lt;b&gt;Amra&lt;/b&gt; Bcc: x,');
    expect(mail.html).not.toContain('<a ');
    expect(mail.text).not.toMatch(/https?:/);
    expect(mail.text).toContain('Someone tried to create a Bilten account with this email address.');
  });

  it('takes a link out of an attribute only as an attribute value', async () => {
    const data = sampleOf('eventReminder', {
      event: { ...TEMPLATES.eventReminder.sample.event, url: 'https://x.example/"><script>1</script>' },
    });
    const mail = await email('eventReminder', 'en', data);
    expect(mail.html).toContain('href="https://x.example/&#34;&gt;&lt;script&gt;1&lt;/script&gt;"');
    expect(mail.html).not.toContain('<script>1');
  });
});

describe('brand', () => {
  it('paints the button and header in the primary colour, links in the accent, and shows the logo and organizer', async () => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), BRAND);
    const css = styles(mail.html).join(' ');
    expect(css).toContain('background:#AA1122');
    expect(css).toContain('color: #00AA55');
    expect(mail.html).toContain('<img src="https://cdn.example.com/logo.png" alt="Kino Meeting Point"');
    expect(mail.text).toContain('Sent by Bilten for Kino Meeting Point.');
    expect(css).not.toContain(DEFAULT_COLOURS.primaryColor);
  });

  it("uses Bilten's colours and name without a brand", async () => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'));
    const css = styles(mail.html).join(' ');
    expect(css).toContain(`background:${DEFAULT_COLOURS.primaryColor}`);
    expect(css).toContain(`color: ${DEFAULT_COLOURS.accentColor}`);
    expect(mail.html).not.toContain('<img');
    expect(mail.text).toContain('Sent by Bilten.');
  });

  it.each([
    ['CSS after a colour', '#112233; background: url(https://evil.example/x)'],
    ['a colour name', 'red'],
    ['a quote breaking out of the attribute', '#112233" onload="alert(1)'],
    ['a short hex colour', '#123'],
  ])("never puts %s into CSS: Bilten's colour instead", async (_, colour) => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), {
      ...BRAND,
      primaryColor: colour,
      accentColor: colour,
      logoUrl: 'javascript:alert(1)',
    });
    expect(mail.html).not.toContain(colour);
    expect(mail.html).not.toContain('evil.example');
    expect(mail.html).not.toContain('javascript:');
    const css = styles(mail.html).join(' ');
    expect(css).toContain(`background:${DEFAULT_COLOURS.primaryColor}`);
    expect(css).toContain(`color: ${DEFAULT_COLOURS.accentColor}`);
  });
});

describe('brand context (issue 17)', () => {
  const LOGO = `https://assets.example/assets/${'a'.repeat(64)}`;
  const HEADER = `https://assets.example/assets/${'b'.repeat(64)}`;
  const full: Brand = {
    ...BRAND,
    backgroundColor: '#FDF6E3',
    textColor: '#073642',
    fontFamily: FONT_STACKS.MERRIWEATHER!,
    logoUrl: LOGO,
    emailHeaderUrl: HEADER,
    emailFooter: 'Kino Meeting Point d.o.o.\nFerhadija 12, Sarajevo',
    domain: 'tickets.example-org.test',
    version: 7,
  };
  const local = createRenderer({ site: 'http://localhost:4000', gateway: 'http://localhost:4000/' });

  it('paints the content in its background, text colour and font, with its header image and footer', async () => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), full);
    const css = styles(mail.html).join(' ');
    expect(css).toContain('background-color:#FDF6E3');
    expect(css).toContain('color:#073642');
    expect(css).toContain(`font-family:${FONT_STACKS.MERRIWEATHER}`);
    // The header image replaces the logo bar.
    expect(mail.html).toContain(`src="${HEADER}"`);
    expect(mail.html).not.toContain(`src="${LOGO}"`);
    expect(mail.html).toContain('Kino Meeting Point d.o.o.<br>Ferhadija 12, Sarajevo');
    expect(mail.text).toContain('Kino Meeting Point d.o.o.\nFerhadija 12, Sarajevo');
    expect(mail.html).toContain(
      `<meta name="bilten-brand" content="brand-version:7 brand-primary:#AA1122 brand-logo:${'a'.repeat(64)} brand-domain:tickets.example-org.test">`,
    );
  });

  it('shows the logo bar without a header image, and marks a brand without logo or domain', async () => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), {
      ...full,
      emailHeaderUrl: null,
    });
    expect(mail.html).toContain(`<img src="${LOGO}"`);
    const plain = await email('eventReminder', 'en', sampleOf('eventReminder'));
    expect(plain.html).toContain(
      '<meta name="bilten-brand" content="brand-version:0 brand-primary:#1F2937 brand-logo:none brand-domain:none">',
    );
    expect(styles(plain.html).join(' ')).toContain(`font-family:${FONT_STACKS.SYSTEM_UI}`);
  });

  it("takes http images from the gateway's own origin only, and resolves a header path against it", async () => {
    const mail = await local.email(
      'eventReminder',
      'en',
      sampleOf('eventReminder'),
      {
        ...full,
        logoUrl: `http://localhost:4000/assets/${'c'.repeat(64)}`,
        emailHeaderUrl: `/assets/${'d'.repeat(64)}`,
      },
      {},
    );
    expect(mail.html).toContain(`src="http://localhost:4000/assets/${'d'.repeat(64)}"`);
    expect(mail.html).toContain(`brand-logo:${'c'.repeat(64)}`);
    const elsewhere = await local.email(
      'eventReminder',
      'en',
      sampleOf('eventReminder'),
      {
        ...full,
        logoUrl: 'http://evil.example/assets/logo.png',
        emailHeaderUrl: 'http://localhost:4001/x.png',
      },
      {},
    );
    expect(elsewhere.html).not.toContain('evil.example');
    expect(elsewhere.html).not.toContain('localhost:4001');
    expect(elsewhere.html).toContain('brand-logo:none');
  });

  it.each([
    ['javascript: URLs', { logoUrl: 'javascript:alert(1)', emailHeaderUrl: 'javascript:alert(2)' }],
    [
      'data: URLs',
      { logoUrl: 'data:image/svg+xml,<svg onload=alert(1)>', emailHeaderUrl: 'data:text/html,x' },
    ],
    ['credentials in a URL', { logoUrl: 'https://user:secret@cdn.example/l.png', emailHeaderUrl: null }],
    [
      'a quote breaking out of src',
      { logoUrl: 'https://cdn.example/l.png" onerror="alert(1)', emailHeaderUrl: null },
    ],
  ])('drops %s', async (_, images) => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), { ...full, ...images });
    expect(mail.html).not.toMatch(/javascript:|data:image|data:text|secret|onerror="/);
    expect(mail.html).toContain('brand-logo:none');
  });

  it.each([
    ['CSS injection', '#FFFFFF; background-image: url(https://evil.example/x)'],
    ['an attribute break-out', '#FFFFFF" onmouseover="alert(1)'],
    ['a named colour', 'white'],
  ])('never puts %s in the background or text colour', async (_, colour) => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), {
      ...full,
      backgroundColor: colour,
      textColor: colour,
    });
    expect(mail.html).not.toContain(colour);
    expect(mail.html).not.toContain('evil.example');
    const css = styles(mail.html).join(' ');
    expect(css).toContain(`background-color:${DEFAULT_COLOURS.backgroundColor}`);
    expect(css).toContain(`color:${DEFAULT_COLOURS.textColor}`);
  });

  it('takes fonts from the allow-list only', async () => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), {
      ...full,
      fontFamily: 'x; background:url(https://evil.example/f)',
    });
    expect(mail.html).not.toContain('evil.example');
    expect(styles(mail.html).join(' ')).toContain(`font-family:${FONT_STACKS.SYSTEM_UI}`);
  });

  it('shows markup in the footer as text, never as markup', async () => {
    const mail = await email('eventReminder', 'en', sampleOf('eventReminder'), {
      ...full,
      emailFooter: '<script>alert(1)</script>\n<a href="https://evil.example">win</a>{{ recipient.name }}',
    });
    expect(mail.html).not.toContain('<script>alert');
    expect(mail.html).not.toContain('<a href="https://evil.example"');
    expect(mail.html).toContain(
      '&lt;script&gt;alert(1)&lt;/script&gt;<br>&lt;a href=&quot;https://evil.example&quot;&gt;win&lt;/a&gt;{{ recipient.name }}',
    );
    // The footer is data, not a template: its Liquid is printed as written.
    expect(mail.text).toContain('{{ recipient.name }}');
  });

  it('puts no domain that is no hostname into links or the marker', async () => {
    const site = createRenderer({ site: 'https://web.example', gateway: 'https://gateway.example' });
    const data = sampleOf('eventReminder', {
      event: { ...TEMPLATES.eventReminder.sample.event, url: 'https://web.example/events/1' },
    });
    for (const domain of ['evil.example/x?', 'javascript:alert(1)//', 'a"b.example', 'EVIL.example']) {
      const mail = await site.email('eventReminder', 'en', data, { ...full, domain }, {});
      expect(mail.html).toContain('href="https://web.example/events/1"');
      expect(mail.html).toContain('brand-domain:none');
    }
  });
});

describe('content', () => {
  it('lists every ticket of a confirmed order and attaches each as a PDF', async () => {
    const mail = await email('orderConfirmed', 'en', sampleOf('orderConfirmed'));
    const [first, second] = TEMPLATES.orderConfirmed.sample.tickets;
    expect(mail.attachments).toEqual([
      { filename: 'ticket-1.pdf', url: first!.url },
      { filename: 'ticket-2.pdf', url: second!.url },
    ]);
    expect(mail.text).toContain(`Ticket 1:\n${first!.url}\nTicket 2:\n${second!.url}`);
    expect(mail.html).toContain(`href="${first!.url}"`);
    expect(plain(mail.text)).toContain('2 tickets for Sarajevo Jazz Night, BAM 50.00 paid.');
    const bs = await email('orderConfirmed', 'bs', sampleOf('orderConfirmed'));
    expect(plain(bs.text)).toContain('plaćeno 50,00 KM');
  });

  it('shows an event time in its own zone and the language', async () => {
    // 18:00 UTC in June is 20:00 in Sarajevo.
    const en = await renderer.short('eventReminder', 'en', sampleOf('eventReminder'));
    expect(en.body).toBe(
      'Saturday, 12 June 2027 at 20:00 (Europe/Sarajevo), Kino Meeting Point, Hamdije Kreševljakovića 13, Sarajevo',
    );
    const bs = await renderer.short('eventReminder', 'bs', sampleOf('eventReminder'));
    expect(bs.body).toMatch(/^subota, 12\. juni 2027\. u 20:00 \(Europe\/Sarajevo\)/);
  });

  it('says how long a link is valid in each language', async () => {
    const at = (hours: number) => new Date(Date.UTC(2027, 0, 1) + hours * 3_600_000).toISOString();
    expect(validFor(at(0), at(24), 'en')).toBe('24 hours');
    expect(validFor(at(0), at(24), 'bs')).toBe('24 sata');
    expect(validFor(at(0), at(1), 'bs')).toBe('1 sat');
    expect(validFor(at(0), at(5), 'bs')).toBe('5 sati');
    expect(validFor(at(0), at(168), 'en')).toBe('7 days');
    expect(validFor(at(0), at(0.5), 'en')).toBe('30 minutes');
    expect(validFor(at(0), at(0.5), 'bs')).toBe('30 minuta');
    const mail = await email('emailVerification', 'en', sampleOf('emailVerification'));
    expect(mail.text).toContain('This link expires in 24 hours.');
    expect(mail.text).toContain(
      'Confirm your email address:\nhttps://bilten.example/verify-email?token=sample',
    );
    expect(mail.html).toContain('href="https://bilten.example/verify-email?token=sample"');
  });

  it('tells a cancelled paid ticket its refund and a free one that nothing is to do', async () => {
    const paid = await email('eventCancelled', 'en', sampleOf('eventCancelled'));
    expect(plain(paid.text)).toContain(
      'You get BAM 50.00 back in full, to the payment method you paid with.',
    );
    expect(paid.text).toContain('The organizer says: the main act fell ill.');
    const free = await email(
      'eventCancelled',
      'bs',
      sampleOf('eventCancelled', { refund: null, reason: null }),
    );
    expect(free.text).toContain('Vaše ulaznice su bile besplatne');
    expect(free.text).not.toContain('Organizator kaže');
  });

  it('shows the unsubscribe link only when given, in HTML and text', async () => {
    const url = 'https://api.example/unsubscribe?token=a&b=c';
    const data = sampleOf('eventPublished');
    const optional = await renderer.email('eventPublished', 'en', data, null, { unsubscribeUrl: url });
    expect(optional.html).toContain('href="https://api.example/unsubscribe?token=a&amp;b=c"');
    expect(optional.text).toContain(`Unsubscribe from these emails:\n${url}`);
    const critical = await email('eventPublished', 'en', data);
    expect(critical.html).not.toContain('unsubscribe');
    expect(critical.text).not.toContain('Unsubscribe');
  });

  it('gives short texts the link the kind has, cut to fit a push or SMS', async () => {
    expect((await renderer.short('orderConfirmed', 'en', sampleOf('orderConfirmed'))).url).toBe(
      `/orders/${TEMPLATES.orderConfirmed.sample.orderId}`,
    );
    expect((await renderer.short('receipt', 'en', sampleOf('receipt'))).url).toBe(
      TEMPLATES.receipt.sample.url,
    );
    expect((await renderer.short('passwordReset', 'en', sampleOf('passwordReset'))).url).toBeNull();
    const long = await renderer.short(
      'announcement',
      'en',
      sampleOf('announcement', { body: 'word '.repeat(200) }),
    );
    expect(long.body).toHaveLength(280);
    expect(long.body.endsWith('…')).toBe(true);
  });
});

describe('performance', () => {
  it('renders a message (HTML, text, subject) well under 5 ms once compiled', async () => {
    const data = sampleOf('orderConfirmed');
    await email('orderConfirmed', 'bs', data, BRAND);
    const count = 2000;
    const started = performance.now();
    for (let i = 0; i < count; i++) await email('orderConfirmed', 'bs', data, BRAND);
    const perMessage = (performance.now() - started) / count;
    console.info(`render time per message: ${perMessage.toFixed(3)} ms`);
    expect(perMessage).toBeLessThan(2);
  });
});
