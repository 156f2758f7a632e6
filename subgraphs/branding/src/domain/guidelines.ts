import type { AssetKind, AssetRow, BrandKitSettings } from '../db/schema.ts';

// The brand guidelines, as pure functions of a kit's settings and the asset rows they name: the
// same check answers `validateBrandKit`, blocks `updateBrandKit` and restores, and recomputes
// `BrandKit.warnings`.

export type GuidelineSeverity = 'ERROR' | 'WARNING';
export type GuidelineCode =
  | 'INVALID_COLOR'
  | 'TEXT_CONTRAST'
  | 'BUTTON_CONTRAST'
  | 'LARGE_TEXT_CONTRAST'
  | 'LOGO_TOO_SMALL'
  | 'LOGO_ASPECT_RATIO'
  | 'ASSET_NOT_FOUND'
  | 'ASSET_WRONG_KIND'
  | 'EMAIL_FOOTER_INVALID';

export interface GuidelineFinding {
  severity: GuidelineSeverity;
  code: GuidelineCode;
  /** The input field at fault, e.g. `['input', 'textColor']`. */
  field: string[];
  message: string;
  /** Contrast findings: the ratio found, unrounded. */
  ratio: number | null;
  /** Contrast findings: the ratio required. */
  required: number | null;
}

/** WCAG 2.2 AA (1.4.3): body text. */
export const TEXT_CONTRAST_MIN = 4.5;
/** WCAG 2.2 AA (1.4.3 large text, 1.4.11 non-text contrast): large text and UI components. */
export const LARGE_TEXT_CONTRAST_MIN = 3;

/** Logos: the smallest a layout can show sharply (raster only: an SVG scales). */
export const LOGO_MIN_WIDTH = 256;
export const LOGO_MIN_HEIGHT = 64;
/** Width ÷ height every layout shows without cropping or letterboxing (outside: a warning). */
export const LOGO_ASPECT_GOOD = { min: 1, max: 8 } as const;
/** Width ÷ height beyond which no layout can show the logo at all (outside: an error). */
export const LOGO_ASPECT_LIMIT = { min: 1 / 2, max: 10 } as const;
export const EMAIL_FOOTER_MAX = 500;

const HEX_COLOR = /^#[0-9A-Fa-f]{6}$/;

/** An sRGB channel (0–255) linearised as WCAG 2.2 defines it (the 0.04045 threshold). */
function linearChannel(value: number): number {
  const c = value / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

/** WCAG 2.2 relative luminance of a `#RRGGBB` colour: 0 (black) to 1 (white). */
export function relativeLuminance(hex: string): number {
  if (!HEX_COLOR.test(hex)) throw new Error(`not a #RRGGBB colour: ${hex}`);
  const [r, g, b] = [1, 3, 5].map((at) => linearChannel(Number.parseInt(hex.slice(at, at + 2), 16)));
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** WCAG 2.2 contrast ratio (L1 + 0.05) / (L2 + 0.05), L1 the lighter: 1 to 21, unrounded. */
export function contrastRatio(a: string, b: string): number {
  const [la, lb] = [relativeLuminance(a), relativeLuminance(b)];
  const [lighter, darker] = la >= lb ? [la, lb] : [lb, la];
  return (lighter + 0.05) / (darker + 0.05);
}

/**
 * A ratio cut (not rounded) to 4 decimals for messages: 4.49999985 shows as 4.4999, never as a
 * 4.5000 that reads like a pass.
 */
export const ratioDigits = (ratio: number) => (Math.floor(ratio * 10_000) / 10_000).toFixed(4);

export type KitField = keyof BrandKitSettings;

/** The asset fields of a kit: which kind each must be and how its finding names it. */
export const ASSET_FIELDS: Array<{ field: KitField; kind: AssetKind; label: string }> = [
  { field: 'logoAssetId', kind: 'LOGO', label: 'the logo' },
  { field: 'logoOnDarkAssetId', kind: 'LOGO', label: 'the logo for dark backgrounds' },
  { field: 'faviconAssetId', kind: 'FAVICON', label: 'the favicon' },
  { field: 'emailHeaderAssetId', kind: 'EMAIL_HEADER', label: 'the email header' },
  { field: 'coverAssetId', kind: 'COVER', label: 'the cover image' },
];

/** The asset ids a kit names (what the check needs read). */
export const assetIdsOf = (settings: BrandKitSettings): string[] =>
  ASSET_FIELDS.map(({ field }) => settings[field] as string | null).filter((id): id is string => Boolean(id));

const finding = (
  severity: GuidelineSeverity,
  code: GuidelineCode,
  field: KitField,
  message: string,
  contrast?: { ratio: number; required: number },
): GuidelineFinding => ({
  severity,
  code,
  field: ['input', field],
  message,
  ratio: contrast?.ratio ?? null,
  required: contrast?.required ?? null,
});

function colorFindings(kit: BrandKitSettings): GuidelineFinding[] {
  const findings: GuidelineFinding[] = [];
  const colors = ['primaryColor', 'accentColor', 'backgroundColor', 'textColor'] as const;
  for (const field of colors) {
    if (!HEX_COLOR.test(kit[field])) {
      findings.push(
        finding('ERROR', 'INVALID_COLOR', field, `${field} must be a hex colour like #1A2B3C (#RRGGBB)`),
      );
    }
  }
  const valid = (field: (typeof colors)[number]) => HEX_COLOR.test(kit[field]);
  const pair = (
    code: GuidelineCode,
    field: KitField,
    foreground: string,
    background: string,
    required: number,
    what: string,
  ) => {
    const ratio = contrastRatio(foreground, background);
    // Compared unrounded: 4.4999:1 is below 4.5:1.
    if (ratio >= required) return;
    findings.push(
      finding(
        required === TEXT_CONTRAST_MIN ? 'ERROR' : 'WARNING',
        code,
        field,
        `${what} ${foreground.toUpperCase()} on ${background.toUpperCase()} has contrast ${ratioDigits(ratio)}:1; ` +
          `WCAG 2.2 AA needs at least ${required}:1 for ${code === 'LARGE_TEXT_CONTRAST' ? 'large text and UI components' : code === 'BUTTON_CONTRAST' ? 'button text' : 'body text'}`,
        { ratio, required },
      ),
    );
  };
  const { primaryColor, accentColor, backgroundColor, textColor } = kit;
  if (valid('textColor') && valid('backgroundColor'))
    pair('TEXT_CONTRAST', 'textColor', textColor, backgroundColor, TEXT_CONTRAST_MIN, 'text');
  // Buttons are the primary colour with their label in the background colour.
  if (valid('backgroundColor') && valid('primaryColor'))
    pair('BUTTON_CONTRAST', 'primaryColor', backgroundColor, primaryColor, TEXT_CONTRAST_MIN, 'button text');
  if (valid('primaryColor') && valid('backgroundColor'))
    pair(
      'LARGE_TEXT_CONTRAST',
      'primaryColor',
      primaryColor,
      backgroundColor,
      LARGE_TEXT_CONTRAST_MIN,
      'primary',
    );
  if (valid('accentColor') && valid('backgroundColor'))
    pair(
      'LARGE_TEXT_CONTRAST',
      'accentColor',
      accentColor,
      backgroundColor,
      LARGE_TEXT_CONTRAST_MIN,
      'accent',
    );
  return findings;
}

const ratioText = (ratio: number) => (ratio >= 1 ? `${+ratio.toFixed(2)}:1` : `1:${+(1 / ratio).toFixed(2)}`);

function logoFindings(field: KitField, label: string, asset: AssetRow): GuidelineFinding[] {
  const findings: GuidelineFinding[] = [];
  const { width, height } = asset;
  const vector = asset.contentType === 'image/svg+xml';
  if (!vector && (width < LOGO_MIN_WIDTH || height < LOGO_MIN_HEIGHT)) {
    findings.push(
      finding(
        'ERROR',
        'LOGO_TOO_SMALL',
        field,
        `${label} is ${width}×${height} pixels; it needs at least ${LOGO_MIN_WIDTH} wide and ${LOGO_MIN_HEIGHT} high`,
      ),
    );
  }
  const aspect = width / height;
  if (aspect < LOGO_ASPECT_LIMIT.min || aspect > LOGO_ASPECT_LIMIT.max) {
    findings.push(
      finding(
        'ERROR',
        'LOGO_ASPECT_RATIO',
        field,
        `${label} is ${ratioText(aspect)} (width to height); no layout can show a logo outside 1:2 to 10:1`,
      ),
    );
  } else if (aspect < LOGO_ASPECT_GOOD.min || aspect > LOGO_ASPECT_GOOD.max) {
    findings.push(
      finding(
        'WARNING',
        'LOGO_ASPECT_RATIO',
        field,
        `${label} is ${ratioText(aspect)} (width to height); outside 1:1 to 8:1 some layouts shrink or pad it`,
      ),
    );
  }
  return findings;
}

function assetFindings(kit: BrandKitSettings, organizationId: string, assets: AssetRow[]) {
  const byId = new Map(assets.map((asset) => [asset.id.toLowerCase(), asset]));
  const findings: GuidelineFinding[] = [];
  for (const { field, kind, label } of ASSET_FIELDS) {
    const id = kit[field] as string | null;
    if (!id) continue;
    const asset = byId.get(id.toLowerCase());
    // Another organization's asset is reported exactly like a missing one: its id tells nothing.
    if (!asset || asset.organizationId !== organizationId) {
      findings.push(
        finding('ERROR', 'ASSET_NOT_FOUND', field, `${label}: no asset of this organization has id ${id}`),
      );
      continue;
    }
    if (asset.kind !== kind) {
      findings.push(
        finding(
          'ERROR',
          'ASSET_WRONG_KIND',
          field,
          `${label} must be a ${kind} asset; this one is a ${asset.kind}`,
        ),
      );
      continue;
    }
    if (kind === 'LOGO') findings.push(...logoFindings(field, label, asset));
    if (kind === 'FAVICON' && asset.width !== asset.height) {
      findings.push(
        finding(
          'WARNING',
          'LOGO_ASPECT_RATIO',
          field,
          `${label} is ${asset.width}×${asset.height} pixels; browsers show favicons square, so it will be padded`,
        ),
      );
    }
  }
  return findings;
}

// Control characters but the line break (CR LF or LF), and anything shaped like a tag.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to reject them
const FOOTER_CONTROL = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f]/;
// A tag, comment or declaration (`<b>`, `</a>`, `<!--`, `<?xml`); `a < b > c` is plain text.
const MARKUP = /<[/!?]?[A-Za-z!?-][^>]*>/;

function footerFindings(footer: string | null): GuidelineFinding[] {
  if (footer === null) return [];
  const problem =
    footer.length > EMAIL_FOOTER_MAX
      ? `the email footer has ${footer.length} characters; at most ${EMAIL_FOOTER_MAX}`
      : MARKUP.test(footer)
        ? 'the email footer must be plain text: no <…> markup'
        : FOOTER_CONTROL.test(footer)
          ? 'the email footer must not contain control characters (line breaks are fine)'
          : undefined;
  return problem ? [finding('ERROR', 'EMAIL_FOOTER_INVALID', 'emailFooter', problem)] : [];
}

/**
 * Every guideline finding of the kit as it would be saved, errors and warnings, in field order.
 * `assets` are the rows of the ids it names (any organization's: others' are reported missing).
 */
export function checkGuidelines(
  kit: BrandKitSettings,
  organizationId: string,
  assets: AssetRow[],
): GuidelineFinding[] {
  return [
    ...colorFindings(kit),
    ...assetFindings(kit, organizationId, assets),
    ...footerFindings(kit.emailFooter),
  ];
}

export const errorsOf = (findings: GuidelineFinding[]) => findings.filter((f) => f.severity === 'ERROR');
export const warningsOf = (findings: GuidelineFinding[]) => findings.filter((f) => f.severity === 'WARNING');
