import { escapeHtml, type UserError } from '@bilten/platform';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { graphqlAsVisitor } from './graphql-as-visitor.ts';

/**
 * The pages the links in account mails open when there is no web app (`PUBLIC_WEB_URL` unset in
 * messaging): confirm an email address, choose a new password, accept an invitation.
 *
 * A GET only shows a form, the token in a hidden field: mail scanners fetch links, and fetching
 * one must change nothing. The form POSTs (form-urlencoded) back to the same path, which runs the
 * GraphQL mutation through this gateway's own `/graphql` (in-process, as the client: its address,
 * user agent and request id), so the pages get the rules, limits, throttles and logs of any
 * client. No cookies anywhere, so a forged POST carries no authority; every answer still forbids
 * scripts, framing, caching and referrers (the token is in the URL), and prints nothing unescaped.
 * Nothing here logs a URL: the token in it would end up in the logs.
 */

/** Messaging builds its links from the same paths (`linkBaseOf` in subgraphs/messaging/src/config.ts). */
const ACCOUNT_PAGE_PATHS = {
  verifyEmail: '/account/verify-email',
  resetPassword: '/account/reset-password',
  acceptInvitation: '/account/accept-invitation',
} as const;

/** Every page the gateway serves itself: no script, no framing, no caching, no referrer. */
export const ACCOUNT_PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/** Identity takes tokens of at most 200 characters; a form body needs only a few hundred bytes. */
const MAX_TOKEN_LENGTH = 200;
const BODY_LIMIT_BYTES = 16 * 1024;

// ---------------------------------------------------------------- HTML

const STYLE = `body{font-family:system-ui,sans-serif;line-height:1.5;color:#111827;background:#f9fafb;margin:0}
main{max-width:28rem;margin:3rem auto;padding:1.5rem 2rem;background:#fff;border:1px solid #e5e7eb;border-radius:8px}
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:.75rem 0 .25rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #9ca3af;border-radius:4px}
button{margin-top:1rem;padding:.6rem 1rem;font-size:1rem;background:#2563eb;color:#fff;border:0;border-radius:6px;cursor:pointer}
.error{color:#991b1b;background:#fef2f2;border:1px solid #fecaca;padding:.5rem .75rem;border-radius:4px}`;

/** A whole page; `content` is HTML already escaped by its builder. */
export function page(title: string, content: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow">',
    `<title>${escapeHtml(title)} · Bilten</title>`,
    `<style>${STYLE}</style>`,
    '</head><body><main>',
    `<h1>${escapeHtml(title)}</h1>`,
    content,
    '</main></body></html>',
  ].join('\n');
}

const paragraph = (text: string) => `<p>${escapeHtml(text)}</p>`;
const errorParagraph = (text: string) => `<p class="error" role="alert">${escapeHtml(text)}</p>`;

interface Field {
  label: string;
  name: string;
  type: 'email' | 'password';
  autocomplete: string;
  value?: string;
  minLength?: number;
}

/**
 * A form that posts to its own page. The action is relative ("verify-email"), so it keeps any
 * path prefix a proxy adds and drops the query string: the token travels in the body.
 */
function form(path: string, token: string, submit: string, fields: Field[] = []): string {
  const inputs = fields.map(
    (field) =>
      `<label for="${field.name}">${escapeHtml(field.label)}</label>` +
      `<input id="${field.name}" name="${field.name}" type="${field.type}" autocomplete="${field.autocomplete}" required` +
      (field.minLength ? ` minlength="${field.minLength}"` : '') +
      (field.value ? ` value="${escapeHtml(field.value)}"` : '') +
      '>',
  );
  return [
    `<form method="post" action="${escapeHtml(path.split('/').at(-1)!)}">`,
    `<input type="hidden" name="token" value="${escapeHtml(token)}">`,
    ...inputs,
    `<button type="submit">${escapeHtml(submit)}</button>`,
    '</form>',
  ].join('\n');
}

function send(reply: FastifyReply, status: number, html: string) {
  return reply.status(status).headers(ACCOUNT_PAGE_HEADERS).send(html);
}

/** "this link has expired; ask for a new one" → "This link has expired; ask for a new one." */
const sentence = (message: string) => {
  const text = message.trim();
  if (!text) return text;
  return `${text[0]!.toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
};

// ---------------------------------------------------------------- GraphQL, the way clients call it

interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** A refusal to show: the HTTP status of the page and what to tell the person. */
interface Refusal {
  status: number;
  message: string;
  /** The input it concerns (the last element of the user error's `field`), if any. */
  field?: string;
}

/** Codes whose messages are meant for the caller; anything else gets a generic apology. */
const STATUS_OF_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  EMAIL_NOT_VERIFIED: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
};
const UNAVAILABLE: Refusal = {
  status: 502,
  message: 'Something went wrong on our side. Please try again in a few minutes.',
};

type Outcome<P> = { payload: P; refusal?: undefined } | { refusal: Refusal };

/** The first user error of a payload, as a refusal. */
const refusalOf = (errors: UserError[]): Refusal | undefined =>
  errors[0] && {
    status: errors[0].code === 'ALREADY_EXISTS' || errors[0].code === 'CONFLICT' ? 409 : 400,
    message: sentence(errors[0].message),
    field: errors[0].field?.at(-1),
  };

/**
 * Runs one mutation through this gateway's `/graphql` in-process (`inject`: no socket, the same
 * route, hooks, plugins and limits), on behalf of the page's visitor; answers its payload, or a
 * refusal for a GraphQL error or the payload's first user error.
 */
async function mutate<P extends { errors: UserError[] }>(
  app: FastifyInstance,
  request: FastifyRequest,
  operation: { query: string; field: string },
  input: Record<string, unknown>,
  authorization?: string,
): Promise<Outcome<P>> {
  try {
    const response = await graphqlAsVisitor(
      app,
      request,
      { query: operation.query, variables: { input } },
      authorization,
    );
    const answer = response.json() as GraphQLAnswer<Record<string, P>>;
    const error = answer.errors?.[0];
    if (error) {
      const status = STATUS_OF_CODE[error.extensions?.code ?? ''];
      return { refusal: status ? { status, message: sentence(error.message) } : UNAVAILABLE };
    }
    const payload = answer.data?.[operation.field];
    if (!payload) return { refusal: UNAVAILABLE };
    const refusal = refusalOf(payload.errors);
    return refusal ? { refusal } : { payload };
  } catch (err) {
    request.log.error({ err }, 'account page could not reach /graphql');
    return { refusal: UNAVAILABLE };
  }
}

const VERIFY_EMAIL = {
  field: 'verifyEmail',
  query: `mutation AccountPageVerifyEmail($input: VerifyEmailInput!) {
  verifyEmail(input: $input) { user { displayName } errors { code message field } }
}`,
};
const RESET_PASSWORD = {
  field: 'resetPassword',
  query: `mutation AccountPageResetPassword($input: ResetPasswordInput!) {
  resetPassword(input: $input) { user { id } errors { code message field } }
}`,
};
const SIGN_IN = {
  field: 'login',
  query: `mutation AccountPageSignIn($input: LoginInput!) {
  login(input: $input) { accessToken refreshToken errors { code message field } }
}`,
};
const ACCEPT_INVITATION = {
  field: 'acceptInvitation',
  query: `mutation AccountPageAcceptInvitation($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) { organization { name } role errors { code message field } }
}`,
};
const SIGN_OUT = {
  field: 'logout',
  query: `mutation AccountPageSignOut($input: LogoutInput!) { logout(input: $input) { errors { code message field } } }`,
};

// ---------------------------------------------------------------- the pages

const ROLE_NAMES: Record<string, string> = {
  OWNER: 'an owner',
  ADMIN: 'an administrator',
  STAFF: 'a staff member',
};

const formValue = (body: unknown, name: string): string =>
  body instanceof URLSearchParams ? (body.get(name) ?? '') : '';

/** The token of a GET's query or a POST's form; undefined when missing or not one identity issues. */
function tokenOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TOKEN_LENGTH
    ? value
    : undefined;
}

const brokenLink = (reply: FastifyReply) =>
  send(
    reply,
    400,
    page(
      'This link is incomplete',
      paragraph(
        'The link has no valid token. Open the link from the email again, or copy the whole address into your browser.',
      ),
    ),
  );

const queryToken = (request: FastifyRequest) => tokenOf((request.query as Record<string, unknown>).token);

const VERIFY_TITLE = 'Confirm your email address';
const RESET_TITLE = 'Choose a new password';
const INVITATION_TITLE = 'Accept your invitation';

const resetForm = (token: string, problem?: string) =>
  [
    problem ? errorParagraph(problem) : '',
    paragraph('Choose a new password for your Bilten account: 8 to 128 characters, not a common one.'),
    form(ACCOUNT_PAGE_PATHS.resetPassword, token, 'Set the new password', [
      {
        label: 'New password',
        name: 'password',
        type: 'password',
        autocomplete: 'new-password',
        minLength: 8,
      },
      { label: 'Repeat it', name: 'confirm', type: 'password', autocomplete: 'new-password', minLength: 8 },
    ]),
  ].join('\n');

const invitationForm = (token: string, email: string, problem?: string) =>
  [
    problem ? errorParagraph(problem) : '',
    paragraph(
      'Sign in with the email address the invitation was sent to. No account yet? Create one with that address and confirm it first, then open this link again.',
    ),
    form(ACCOUNT_PAGE_PATHS.acceptInvitation, token, 'Sign in and accept', [
      { label: 'Email', name: 'email', type: 'email', autocomplete: 'username', value: email },
      { label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password' },
    ]),
  ].join('\n');

/** The three pages, in a scope of their own: only they parse form bodies and answer in HTML. */
export function registerAccountPages(app: FastifyInstance): void {
  app.register(async (scope) => {
    // Form bodies only (no JSON, no text): nothing else posts here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, new URLSearchParams(body as string)),
    );
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      if (status >= 500) request.log.error({ err: error }, 'account page failed');
      const message =
        status === 415
          ? 'This page only accepts its own form.'
          : status === 413
            ? 'That was more than this form takes.'
            : status >= 500
              ? UNAVAILABLE.message
              : 'The form could not be read.';
      return send(reply, status, page('Something went wrong', paragraph(message)));
    });

    scope.get(ACCOUNT_PAGE_PATHS.verifyEmail, async (request, reply) => {
      const token = queryToken(request);
      if (!token) return brokenLink(reply);
      const content = [
        paragraph('Press the button to confirm that this email address belongs to your Bilten account.'),
        form(ACCOUNT_PAGE_PATHS.verifyEmail, token, 'Confirm my email address'),
      ];
      return send(reply, 200, page(VERIFY_TITLE, content.join('\n')));
    });

    scope.post(ACCOUNT_PAGE_PATHS.verifyEmail, async (request, reply) => {
      const token = tokenOf(formValue(request.body, 'token'));
      if (!token) return brokenLink(reply);
      const verified = await mutate<{ user: { displayName: string } | null; errors: UserError[] }>(
        app,
        request,
        VERIFY_EMAIL,
        { token },
      );
      if (verified.refusal) {
        return send(
          reply,
          verified.refusal.status,
          page(VERIFY_TITLE, errorParagraph(verified.refusal.message)),
        );
      }
      const name = verified.payload.user?.displayName;
      const content = paragraph(
        `${name ? `Thank you, ${name}: your` : 'Your'} email address is confirmed. You can close this page.`,
      );
      return send(reply, 200, page('Email address confirmed', content));
    });

    scope.get(ACCOUNT_PAGE_PATHS.resetPassword, async (request, reply) => {
      const token = queryToken(request);
      if (!token) return brokenLink(reply);
      return send(reply, 200, page(RESET_TITLE, resetForm(token)));
    });

    scope.post(ACCOUNT_PAGE_PATHS.resetPassword, async (request, reply) => {
      const token = tokenOf(formValue(request.body, 'token'));
      if (!token) return brokenLink(reply);
      const newPassword = formValue(request.body, 'password');
      if (newPassword !== formValue(request.body, 'confirm')) {
        return send(reply, 400, page(RESET_TITLE, resetForm(token, 'The two passwords differ.')));
      }
      const reset = await mutate<{ errors: UserError[] }>(app, request, RESET_PASSWORD, {
        token,
        newPassword,
      });
      if (reset.refusal) {
        // A password the rules refuse: try another with the same link. A bad link: nothing to retry.
        const retry = reset.refusal.field === 'newPassword';
        const content = retry
          ? resetForm(token, reset.refusal.message)
          : errorParagraph(reset.refusal.message);
        return send(reply, reset.refusal.status, page(RESET_TITLE, content));
      }
      const content = paragraph(
        'Your new password is set, and every session of your account was signed out. Sign in with the new password.',
      );
      return send(reply, 200, page('Password changed', content));
    });

    scope.get(ACCOUNT_PAGE_PATHS.acceptInvitation, async (request, reply) => {
      const token = queryToken(request);
      if (!token) return brokenLink(reply);
      return send(reply, 200, page(INVITATION_TITLE, invitationForm(token, '')));
    });

    scope.post(ACCOUNT_PAGE_PATHS.acceptInvitation, async (request, reply) => {
      const token = tokenOf(formValue(request.body, 'token'));
      if (!token) return brokenLink(reply);
      const email = formValue(request.body, 'email');
      const password = formValue(request.body, 'password');
      const signedIn = await mutate<{
        accessToken: string | null;
        refreshToken: string | null;
        errors: UserError[];
      }>(app, request, SIGN_IN, { email, password });
      if (signedIn.refusal || !signedIn.payload.accessToken) {
        const refusal = signedIn.refusal ?? UNAVAILABLE;
        return send(
          reply,
          refusal.status,
          page(INVITATION_TITLE, invitationForm(token, email, refusal.message)),
        );
      }
      const { accessToken, refreshToken } = signedIn.payload;
      try {
        const accepted = await mutate<{
          organization: { name: string } | null;
          role: string | null;
          errors: UserError[];
        }>(app, request, ACCEPT_INVITATION, { token }, `Bearer ${accessToken}`);
        if (accepted.refusal) {
          const { status, message } = accepted.refusal;
          return send(reply, status, page(INVITATION_TITLE, errorParagraph(message)));
        }
        const { organization, role } = accepted.payload;
        const content = paragraph(
          `You joined ${organization?.name ?? 'the organization'} as ${ROLE_NAMES[role ?? ''] ?? 'a member'}. Your apps show it from your next sign-in.`,
        );
        return send(reply, 200, page('Invitation accepted', content));
      } finally {
        // The session existed only to accept: end it, so no sign-in lingers from this page.
        if (refreshToken) await mutate(app, request, SIGN_OUT, { refreshToken });
      }
    });
  });
}
