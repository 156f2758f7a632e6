import { createFileLinks, type FileLinks } from '@bilten/platform';
import type { BillingConfig } from '../config.ts';

// A receipt's link (`GET /receipts/{id}.pdf?token=…`) opens its PDF without signing in: a guest
// buyer gets their receipt from the mail alone (see createFileLinks).

const DEV_SECRET = 'bilten-development-only-receipt-link-secret';

export type ReceiptLinks = FileLinks;

export const createReceiptLinks = (
  config: Pick<BillingConfig, 'NODE_ENV' | 'RECEIPT_LINK_SECRET' | 'MAIL_LINK_SECRET'>,
): ReceiptLinks =>
  createFileLinks({
    env: config,
    kind: 'receipt',
    variable: 'RECEIPT_LINK_SECRET',
    secret: config.RECEIPT_LINK_SECRET,
    developmentSecret: DEV_SECRET,
    salt: 'bilten-billing',
  });
