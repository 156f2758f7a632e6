import { securityAlertRaised } from '@bilten/contracts/identity';
import { defineWorkflow, type WorkflowDeps, workflowConsumer } from './workflows.ts';

/**
 * Identity's security alerts (issue 18, R4.4): every platform admin it names gets the alert in-app
 * and by email, as an admin notice. Once per (alert, admin): the inbox drops a redelivered alert
 * and deliveries are unique per source event.
 */
export const securityAlertWorkflow = defineWorkflow({
  name: 'security-alert',
  kind: 'adminNotice',
  event: securityAlertRaised,
  channels: ['IN_APP', 'EMAIL'],
  async *recipients({ payload }) {
    yield payload.recipients.map((recipient) => ({
      userId: recipient.userId,
      email: recipient.email,
      name: recipient.displayName,
    }));
  },
  data: async ({ payload }) => ({
    subject: `Security alert (${payload.severity}): ${payload.rule}`,
    body: [
      payload.summary,
      `Raised at ${payload.raisedAt}.`,
      payload.incidentId ? `Incident ${payload.incidentId} was opened for it.` : 'No incident was opened.',
    ].join('\n\n'),
  }),
});

export const securityAlertConsumer = (deps: WorkflowDeps) => workflowConsumer(securityAlertWorkflow, deps);
