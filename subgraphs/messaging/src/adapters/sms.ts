import type { Logger } from '@bilten/platform';
import type { MessagingConfig } from '../config.ts';
import { DeliveryFailure, type Sent, type SmsSender } from '../domain/channels.ts';
import { maskPhone } from '../domain/preferences.ts';

/** Ten concatenated segments: what providers accept in one message; longer bodies are cut. */
export const SMS_MAX_LENGTH = 1_600;

/** How long the provider may take to answer before the attempt counts as a transient failure. */
const SMS_TIMEOUT_MS = 10_000;

/** Twilio's codes for a number that cannot receive this message (not a number, not a mobile). */
const INVALID_NUMBER_CODES = new Set([21211, 21614]);

/** `body` shortened to what one message may carry, ending in an ellipsis when cut. */
export const smsBody = (body: string): string =>
  body.length <= SMS_MAX_LENGTH ? body : `${body.slice(0, SMS_MAX_LENGTH - 1)}…`;

type SmsConfig = Pick<
  MessagingConfig,
  'SMS_API_URL' | 'SMS_ACCOUNT_SID' | 'SMS_AUTH_TOKEN' | 'SMS_FROM' | 'PUBLIC_GATEWAY_URL'
>;

/** The HTTP adapter when SMS_API_URL is set, otherwise SMS are written to the log. */
export function createSmsSender(config: SmsConfig, log: Logger): SmsSender {
  if (!config.SMS_API_URL) {
    log.warn('SMS_API_URL is not set: SMS are written to the log, not sent');
    return createLogSmsSender(log);
  }
  const { SMS_ACCOUNT_SID: sid, SMS_AUTH_TOKEN: token, SMS_FROM: from } = config;
  if (!sid || !token || !from)
    throw new Error('SMS_API_URL needs SMS_ACCOUNT_SID, SMS_AUTH_TOKEN and SMS_FROM as well');
  return createHttpSmsSender({
    apiUrl: config.SMS_API_URL,
    accountSid: sid,
    authToken: token,
    from,
    statusCallback: `${config.PUBLIC_GATEWAY_URL.replace(/\/+$/, '')}/webhooks/sms`,
  });
}

/** Development and tests without a provider: the number masked, the body in full. */
export function createLogSmsSender(log: Logger): SmsSender {
  return {
    async send(to, body) {
      log.info({ to: maskPhone(to), body: smsBody(body) }, 'SMS written to the log (SMS_API_URL unset)');
      return { transport: 'sms-log', providerMessageId: null };
    },
  };
}

/** A Twilio-style Messages API: form-encoded POST, Basic auth with the account SID and token. */
export function createHttpSmsSender(options: {
  apiUrl: string;
  accountSid: string;
  authToken: string;
  from: string;
  /** Where the provider reports delivery statuses; omitted when null. */
  statusCallback: string | null;
}): SmsSender {
  const url = `${options.apiUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  return {
    async send(to, body): Promise<Sent> {
      const form = new URLSearchParams({ To: to, From: options.from, Body: smsBody(body) });
      if (options.statusCallback) form.set('StatusCallback', options.statusCallback);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { authorization, accept: 'application/json' },
          body: form,
          redirect: 'manual',
          signal: AbortSignal.timeout(SMS_TIMEOUT_MS),
        });
      } catch (error) {
        throw new DeliveryFailure(`SMS provider unreachable: ${(error as Error).message}`, false);
      }
      const answer = (await response.json().catch(() => null)) as {
        sid?: unknown;
        code?: unknown;
        message?: unknown;
      } | null;
      // Accepted is accepted: retrying for a missing sid would send the message twice.
      if (response.ok)
        return {
          transport: 'sms-http',
          providerMessageId: typeof answer?.sid === 'string' ? answer.sid : null,
        };
      const problem = `SMS provider answered ${response.status}${typeof answer?.message === 'string' ? `: ${answer.message.slice(0, 200)}` : ''}`;
      if (response.status === 429 || response.status >= 500) throw new DeliveryFailure(problem, false);
      if (typeof answer?.code === 'number' && INVALID_NUMBER_CODES.has(answer.code))
        throw new DeliveryFailure(problem, true, 'INVALID_NUMBER');
      throw new DeliveryFailure(problem, true);
    },
  };
}
