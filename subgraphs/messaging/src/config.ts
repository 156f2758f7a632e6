import { port, serviceEnv } from '@bilten/platform';
import { z } from 'zod';

/** Messaging's variables: the kit's common ones, its port, where mail goes and what links point to. */
export const messagingEnv = serviceEnv({
  MESSAGING_PORT: port(4005),
  SMTP_URL: z
    .url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' })
    .optional()
    .or(z.literal('').transform(() => undefined)),
  MAIL_FROM: z
    .string()
    .regex(/^[^\r\n]+@[^\r\n]+$/, 'must be one line with an address, e.g. "Bilten <no-reply@bilten.local>"')
    .default('Bilten <no-reply@bilten.local>'),
  PUBLIC_WEB_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .default('http://localhost:3000'),
});
export type MessagingConfig = z.infer<typeof messagingEnv>;
