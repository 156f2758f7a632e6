/**
 * The one jsdom call branding makes (adapters/image-checks.ts: a window for DOMPurify). Declared
 * here because @types/jsdom would bring the DOM lib into the whole program.
 */
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string);
    readonly window: unknown;
  }
}
