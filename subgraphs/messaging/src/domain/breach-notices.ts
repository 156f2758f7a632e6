import { breachNotificationRequested } from '@bilten/contracts/identity';
import { defineWorkflow, type WorkflowDeps, workflowConsumer } from './workflows.ts';

/**
 * Identity's breach notices (GDPR article 34, issue 18): each recipient gets the notice by email and
 * in-app, whatever their preferences (ACCOUNT_SECURITY is critical). Once per (incident, user):
 * identity names each affected user in one request only, and a redelivered request stores and
 * enqueues nothing twice (the inbox, and deliveries unique per source event).
 */
export const breachNoticeWorkflow = defineWorkflow({
  name: 'breach-notice',
  kind: 'breachNotice',
  event: breachNotificationRequested,
  channels: ['IN_APP', 'EMAIL'],
  async *recipients({ payload }) {
    yield payload.recipients.map((recipient) => ({
      userId: recipient.userId,
      email: recipient.email,
      name: recipient.displayName,
    }));
  },
  data: async ({ payload }) => ({
    incidentId: payload.incidentId,
    title: payload.title,
    description: payload.description,
    dataCategories: payload.dataCategories.join(', '),
    measuresTaken: payload.measuresTaken,
    contact: payload.contact,
  }),
});

export const breachNoticeConsumer = (deps: WorkflowDeps) => workflowConsumer(breachNoticeWorkflow, deps);
