import type { KindName } from '../../domain/delivery-rules.ts';
import { addressInUse } from './address-in-use.ts';
import { adminNotice } from './admin-notice.ts';
import { announcement } from './announcement.ts';
import { breachNotice } from './breach-notice.ts';
import { emailVerification } from './email-verification.ts';
import { eventCancelled } from './event-cancelled.ts';
import { eventPublished } from './event-published.ts';
import { eventReminder } from './event-reminder.ts';
import { eventRescheduled } from './event-rescheduled.ts';
import { invitation } from './invitation.ts';
import type { KindTemplate } from './kind-template.ts';
import { orderConfirmed } from './order-confirmed.ts';
import { passwordReset } from './password-reset.ts';
import { paymentFailed } from './payment-failed.ts';
import { platformAlert } from './platform-alert.ts';
import { receipt } from './receipt.ts';
import { refundIssued } from './refund-issued.ts';
import { securityAlert } from './security-alert.ts';
import { ticketTransfer } from './ticket-transfer.ts';
import { usageJump } from './usage-jump.ts';
import { waitingListOffer } from './waiting-list-offer.ts';

export { LOCALES, type Locale } from './kind-template.ts';

/** Every kind's template; the mapped type makes a kind without one a compile error. */
export const TEMPLATES: { [K in KindName]: KindTemplate<K> } = {
  emailVerification,
  passwordReset,
  invitation,
  addressInUse,
  orderConfirmed,
  paymentFailed,
  refundIssued,
  receipt,
  ticketTransfer,
  waitingListOffer,
  eventPublished,
  eventRescheduled,
  eventCancelled,
  eventReminder,
  announcement,
  adminNotice,
  breachNotice,
  securityAlert,
  usageJump,
  platformAlert,
};
