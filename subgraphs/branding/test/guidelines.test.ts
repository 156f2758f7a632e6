import { v7 as uuidv7 } from 'uuid';
import { describe, expect, it } from 'vitest';
import type { AssetRow, BrandKitSettings } from '../src/db/schema.ts';
import {
  checkGuidelines,
  contrastRatio,
  errorsOf,
  ratioDigits,
  relativeLuminance,
  warningsOf,
} from '../src/domain/guidelines.ts';

// Pure checks: no database, no bus.

const grey = (value: number) => `#${value.toString(16).padStart(2, '0').repeat(3).toUpperCase()}`;

const ORG = uuidv7();
const KIT: BrandKitSettings = {
  primaryColor: '#1F2937',
  accentColor: '#2563EB',
  backgroundColor: '#FFFFFF',
  textColor: '#111827',
  logoAssetId: null,
  logoOnDarkAssetId: null,
  faviconAssetId: null,
  emailHeaderAssetId: null,
  coverAssetId: null,
  fontFamily: 'SYSTEM_UI',
  emailFooter: null,
  ticketLayout: 'CLASSIC',
};

const asset = (overrides: Partial<AssetRow>): AssetRow => ({
  id: uuidv7(),
  organizationId: ORG,
  kind: 'LOGO',
  sha256: 'a'.repeat(64),
  contentType: 'image/png',
  width: 512,
  height: 128,
  byteSize: 1000,
  variants: [],
  originalName: null,
  createdBy: null,
  createdAt: new Date(),
  ...overrides,
});

const check = (overrides: Partial<BrandKitSettings>, assets: AssetRow[] = []) =>
  checkGuidelines({ ...KIT, ...overrides }, ORG, assets);
const codesOf = (findings: ReturnType<typeof check>) =>
  findings.map(({ severity, code, field }) => [severity, code, field.join('.')]);

describe('WCAG 2.2 relative luminance and contrast', () => {
  it('gives black 0, white 1 and black on white exactly 21:1, either way round', () => {
    expect(relativeLuminance('#000000')).toBe(0);
    expect(relativeLuminance('#FFFFFF')).toBe(1);
    expect(contrastRatio('#000000', '#FFFFFF')).toBe(21);
    expect(contrastRatio('#FFFFFF', '#000000')).toBe(21);
    expect(contrastRatio('#ABCDEF', '#abcdef')).toBe(1);
  });

  it('uses the 0.04045 threshold: a channel of 10 (0.0392) is linear, 11 (0.0431) is the power curve', () => {
    expect(relativeLuminance('#0A0A0A')).toBe(10 / 255 / 12.92);
    expect(relativeLuminance('#0B0B0B')).toBeCloseTo(((11 / 255 + 0.055) / 1.055) ** 2.4, 15);
    // Weighted 0.2126 R + 0.7152 G + 0.0722 B.
    expect(relativeLuminance('#FF0000')).toBeCloseTo(0.2126, 15);
    expect(relativeLuminance('#00FF00')).toBeCloseTo(0.7152, 15);
    expect(relativeLuminance('#0000FF')).toBeCloseTo(0.0722, 15);
  });

  it.each([
    // Pairs from the literature (WebAIM's checker, WCAG's understanding documents), to 2 decimals.
    ['#767676', '#FFFFFF', 4.54],
    ['#777777', '#FFFFFF', 4.48],
    ['#595959', '#FFFFFF', 7.0],
    ['#0000FF', '#FFFFFF', 8.59],
    ['#FF0000', '#FFFFFF', 4.0],
    ['#FFFFFF', '#2563EB', 5.17],
  ])('%s on %s is %s:1', (foreground, background, expected) => {
    expect(contrastRatio(foreground, background)).toBeCloseTo(expected, 2);
  });

  it('finds #767676 the lightest grey passing 4.5:1 on white, #777777 the darkest failing, none at exactly 4.5', () => {
    const ramp = Array.from({ length: 256 }, (_, value) => ({
      color: grey(value),
      ratio: contrastRatio(grey(value), '#FFFFFF'),
    }));
    const passing = ramp.filter(({ ratio }) => ratio >= 4.5);
    expect(passing.at(-1)).toEqual({ color: '#767676', ratio: 4.542224959605253 });
    expect(ramp[passing.length]).toEqual({ color: '#777777', ratio: 4.478089453577214 });
    expect(ramp.filter(({ ratio }) => ratio === 4.5)).toEqual([]);
  });

  it('compares unrounded: #7C7290 on white (4.5000006:1) passes, #9A6C5A (4.49999985:1) fails', () => {
    // The closest 8-bit colours to 4.5:1 on white from either side (a search of all 16.7 million;
    // no sRGB pair reaches 4.5 exactly in double precision).
    const above = contrastRatio('#7C7290', '#FFFFFF');
    const below = contrastRatio('#9A6C5A', '#FFFFFF');
    expect(above).toBe(4.500000635232021);
    expect(below).toBe(4.499999851006519);
    expect(check({ textColor: '#7C7290' })).toEqual([]);

    const [finding, ...others] = check({ textColor: '#9A6C5A' });
    expect(others).toEqual([]);
    expect(finding).toEqual({
      severity: 'ERROR',
      code: 'TEXT_CONTRAST',
      field: ['input', 'textColor'],
      // Cut, not rounded: 4.49999985 would round to a misleading 4.5000.
      message:
        'text #9A6C5A on #FFFFFF has contrast 4.4999:1; WCAG 2.2 AA needs at least 4.5:1 for body text',
      ratio: below,
      required: 4.5,
    });
    expect(ratioDigits(4.478089453577214)).toBe('4.4780');
  });

  it('holds large text and UI to 3:1 as warnings: #E969A1 (3.0000002:1) passes, #989A30 (2.9999998:1) warns', () => {
    expect(contrastRatio('#E969A1', '#FFFFFF')).toBe(3.0000001929942766);
    expect(contrastRatio('#989A30', '#FFFFFF')).toBe(2.9999997679914205);
    expect(check({ accentColor: '#E969A1' })).toEqual([]);
    expect(check({ accentColor: '#989A30' })).toEqual([
      {
        severity: 'WARNING',
        code: 'LARGE_TEXT_CONTRAST',
        field: ['input', 'accentColor'],
        message:
          'accent #989A30 on #FFFFFF has contrast 2.9999:1; WCAG 2.2 AA needs at least 3:1 for large text and UI components',
        ratio: 2.9999997679914205,
        required: 3,
      },
    ]);
  });
});

describe('checkGuidelines', () => {
  it('passes the default kit without a finding', () => {
    expect(check({})).toEqual([]);
  });

  it('errors on button text (the background) on a light primary, and warns on the primary as large text', () => {
    // White on #AABBCC: 1.9:1 for both uses.
    expect(codesOf(check({ primaryColor: '#AABBCC' }))).toEqual([
      ['ERROR', 'BUTTON_CONTRAST', 'input.primaryColor'],
      ['WARNING', 'LARGE_TEXT_CONTRAST', 'input.primaryColor'],
    ]);
    const [button] = check({ primaryColor: '#AABBCC' });
    expect(button!.message).toMatch(
      /^button text #FFFFFF on #AABBCC has contrast 1\.\d{4}:1; .* 4\.5:1 for button text$/,
    );
  });

  it('checks dark themes the same way (light text on a dark background)', () => {
    expect(
      check({
        backgroundColor: '#111111',
        textColor: '#EEEEEE',
        primaryColor: '#FFD166',
        accentColor: '#7DD3FC',
      }),
    ).toEqual([]);
    expect(codesOf(check({ backgroundColor: '#111111', textColor: '#333333' }))).toEqual([
      ['ERROR', 'TEXT_CONTRAST', 'input.textColor'],
      ['ERROR', 'BUTTON_CONTRAST', 'input.primaryColor'],
      ['WARNING', 'LARGE_TEXT_CONTRAST', 'input.primaryColor'],
    ]);
  });

  it.each(['red', '#abc', '1A2B3C', '#GGGGGG', '#1A2B3C4D', '#1A2B3C; background: url(x)', ''])(
    'answers INVALID_COLOR for %j and skips the contrasts it is part of',
    (bad) => {
      expect(codesOf(check({ textColor: bad }))).toEqual([['ERROR', 'INVALID_COLOR', 'input.textColor']]);
    },
  );

  it('accepts lower-case hex', () => {
    expect(check({ textColor: '#111827'.toLowerCase(), accentColor: '#2563eb' })).toEqual([]);
  });

  describe('assets', () => {
    it('accepts a logo of this organization, 256×64 or more, 1:1 to 8:1', () => {
      const logos = [
        asset({ width: 256, height: 64 }),
        asset({ width: 512, height: 512 }),
        asset({ width: 1024, height: 128 }),
      ];
      for (const logo of logos)
        expect(check({ logoAssetId: logo.id, logoOnDarkAssetId: logo.id }, [logo])).toEqual([]);
    });

    it('refuses a logo under 256 wide or 64 high (raster), but not an SVG, which scales', () => {
      const narrow = asset({ width: 255, height: 200 });
      const flat = asset({ width: 400, height: 63 });
      const vector = asset({ width: 120, height: 40, contentType: 'image/svg+xml' });
      expect(codesOf(check({ logoAssetId: narrow.id, logoOnDarkAssetId: flat.id }, [narrow, flat]))).toEqual([
        ['ERROR', 'LOGO_TOO_SMALL', 'input.logoAssetId'],
        ['ERROR', 'LOGO_TOO_SMALL', 'input.logoOnDarkAssetId'],
      ]);
      expect(check({ logoAssetId: narrow.id }, [narrow])[0]!.message).toBe(
        'the logo is 255×200 pixels; it needs at least 256 wide and 64 high',
      );
      expect(check({ logoAssetId: vector.id }, [vector])).toEqual([]);
    });

    it('warns on a logo between 1:2 and 1:1 or 8:1 and 10:1, and refuses one beyond', () => {
      const cases: Array<[number, number, string | null]> = [
        [512, 1024, 'WARNING'], // 1:2
        [300, 400, 'WARNING'],
        [1024, 128, null], // 8:1
        [1025, 128, 'WARNING'],
        [1280, 128, 'WARNING'], // 10:1
        [1281, 128, 'ERROR'],
        [256, 513, 'ERROR'],
      ];
      for (const [width, height, severity] of cases) {
        const logo = asset({ width, height });
        const findings = check({ logoAssetId: logo.id }, [logo]).filter(
          ({ code }) => code === 'LOGO_ASPECT_RATIO',
        );
        expect(
          findings.map((f) => f.severity),
          `${width}×${height}`,
        ).toEqual(severity ? [severity] : []);
      }
      const tall = asset({ width: 300, height: 400 });
      expect(check({ logoAssetId: tall.id }, [tall])[0]!.message).toBe(
        'the logo is 1:1.33 (width to height); outside 1:1 to 8:1 some layouts shrink or pad it',
      );
    });

    it('reports a missing asset, another organization’s and a non-UUID id alike as ASSET_NOT_FOUND', () => {
      const theirs = asset({ organizationId: uuidv7() });
      expect(
        codesOf(
          check({ logoAssetId: uuidv7(), coverAssetId: theirs.id, faviconAssetId: 'logo.png' }, [theirs]),
        ),
      ).toEqual([
        ['ERROR', 'ASSET_NOT_FOUND', 'input.logoAssetId'],
        ['ERROR', 'ASSET_NOT_FOUND', 'input.faviconAssetId'],
        ['ERROR', 'ASSET_NOT_FOUND', 'input.coverAssetId'],
      ]);
    });

    it('refuses an asset of the wrong kind in each field', () => {
      const cover = asset({ kind: 'COVER', width: 1600, height: 900 });
      const logo = asset({ kind: 'LOGO' });
      expect(
        codesOf(
          check(
            {
              logoAssetId: cover.id,
              logoOnDarkAssetId: cover.id,
              faviconAssetId: logo.id,
              emailHeaderAssetId: logo.id,
              coverAssetId: logo.id,
            },
            [cover, logo],
          ),
        ),
      ).toEqual([
        ['ERROR', 'ASSET_WRONG_KIND', 'input.logoAssetId'],
        ['ERROR', 'ASSET_WRONG_KIND', 'input.logoOnDarkAssetId'],
        ['ERROR', 'ASSET_WRONG_KIND', 'input.faviconAssetId'],
        ['ERROR', 'ASSET_WRONG_KIND', 'input.emailHeaderAssetId'],
        ['ERROR', 'ASSET_WRONG_KIND', 'input.coverAssetId'],
      ]);
      expect(check({ logoAssetId: cover.id }, [cover])[0]!.message).toBe(
        'the logo must be a LOGO asset; this one is a COVER',
      );
    });

    it('warns on a favicon that is not square; accepts the right kinds', () => {
      const favicon = asset({ kind: 'FAVICON', width: 64, height: 48 });
      const square = asset({ kind: 'FAVICON', width: 512, height: 512 });
      const header = asset({ kind: 'EMAIL_HEADER', width: 1200, height: 300 });
      const cover = asset({ kind: 'COVER', width: 1600, height: 900 });
      expect(codesOf(check({ faviconAssetId: favicon.id }, [favicon]))).toEqual([
        ['WARNING', 'LOGO_ASPECT_RATIO', 'input.faviconAssetId'],
      ]);
      expect(
        check({ faviconAssetId: square.id, emailHeaderAssetId: header.id, coverAssetId: cover.id }, [
          square,
          header,
          cover,
        ]),
      ).toEqual([]);
    });
  });

  describe('email footer', () => {
    it('accepts plain text up to 500 characters with line breaks', () => {
      expect(
        check({ emailFooter: `Sarajevo Jazz d.o.o.\r\nFerhadija 1 · 71000 Sarajevo\n${'x'.repeat(440)}` }),
      ).toEqual([]);
      expect(check({ emailFooter: 'é'.repeat(500) })).toEqual([]);
      expect(check({ emailFooter: 'a < b and c > d' })).toEqual([]);
    });

    it.each([
      ['501 characters', 'x'.repeat(501)],
      ['a tag', 'Hello <b>world</b>'],
      ['a script', '<script>alert(1)</script>'],
      ['an HTML comment', 'a <!-- b --> c'],
      ['a tab', 'a\tb'],
      ['a NUL', 'a\u0000b'],
      ['an escape', 'a\u001b[31mred'],
    ])('refuses %s as EMAIL_FOOTER_INVALID', (_, footer) => {
      expect(codesOf(check({ emailFooter: footer }))).toEqual([
        ['ERROR', 'EMAIL_FOOTER_INVALID', 'input.emailFooter'],
      ]);
    });
  });

  it('splits errors from warnings', () => {
    const findings = check({ primaryColor: '#AABBCC', textColor: 'nope' });
    expect(errorsOf(findings).map((f) => f.code)).toEqual(['INVALID_COLOR', 'BUTTON_CONTRAST']);
    expect(warningsOf(findings).map((f) => f.code)).toEqual(['LARGE_TEXT_CONTRAST']);
  });
});
