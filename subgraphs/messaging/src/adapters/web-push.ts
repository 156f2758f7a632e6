import webpush from 'web-push';
import type { MessagingConfig } from '../config.ts';
import {
  DeliveryFailure,
  type PushSender,
  type PushTarget,
  type RenderedShort,
  type Sent,
} from '../domain/channels.ts';

/** How long one push service may take to answer before the attempt counts as a transient failure. */
const PUSH_TIMEOUT_MS = 10_000;

type VapidConfig = Pick<MessagingConfig, 'VAPID_PUBLIC_KEY' | 'VAPID_PRIVATE_KEY' | 'VAPID_SUBJECT'>;

/** The key browsers subscribe with (`applicationServerKey`), or null when web push is not configured. */
export const vapidPublicKey = (config: VapidConfig): string | null =>
  config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY ? config.VAPID_PUBLIC_KEY : null;

/**
 * Web Push (RFC 8030) with VAPID (RFC 8292) and the aes128gcm payload encryption (RFC 8291).
 * `web-push` builds the encrypted request; we send it with fetch ourselves so the timeout and the
 * reading of the push service's answer are ours (and a local push service may speak plain http).
 */
export function createPushSender(config: VapidConfig): PushSender {
  const publicKey = vapidPublicKey(config);
  if (!publicKey) {
    return {
      enabled: false,
      send: async () => {
        throw new DeliveryFailure('web push is not configured (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY)', true);
      },
    };
  }
  const vapidDetails = { subject: config.VAPID_SUBJECT, publicKey, privateKey: config.VAPID_PRIVATE_KEY! };
  // Bad keys should stop the start, not fail every push later.
  webpush.getVapidHeaders(
    'https://push.example',
    vapidDetails.subject,
    publicKey,
    vapidDetails.privateKey,
    'aes128gcm',
  );

  return {
    enabled: true,
    async send(target: PushTarget, message: RenderedShort, options): Promise<Sent> {
      // The service worker shows `icon` (the organization's logo) and may tint with `organization.color`.
      const payload = JSON.stringify({
        title: message.title,
        body: message.body,
        url: message.url,
        ...(message.icon && { icon: message.icon }),
        ...(message.organization && { organization: message.organization }),
      });
      const request = webpush.generateRequestDetails(target, payload, {
        vapidDetails,
        TTL: options.ttlSeconds,
        urgency: options.urgency,
        contentEncoding: 'aes128gcm',
      });
      let response: Response;
      try {
        response = await fetch(request.endpoint, {
          method: request.method,
          headers: request.headers as Record<string, string>,
          body: request.body,
          redirect: 'manual',
          signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
        });
      } catch (error) {
        throw new DeliveryFailure(`push service unreachable: ${(error as Error).message}`, false);
      }
      const answer = (await response.text().catch(() => '')).slice(0, 200);
      if (response.ok) return { transport: 'web-push', providerMessageId: response.headers.get('location') };
      const problem = `push service answered ${response.status}${answer ? `: ${answer}` : ''}`;
      // 404/410: the browser unsubscribed or the subscription expired; it will never work again.
      if (response.status === 404 || response.status === 410)
        throw new DeliveryFailure(problem, true, 'GONE');
      if (response.status === 429 || response.status >= 500) throw new DeliveryFailure(problem, false);
      // Other 4xx (payload too large, bad VAPID): sending the same again cannot succeed.
      throw new DeliveryFailure(problem, true);
    },
  };
}
