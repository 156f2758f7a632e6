import { securityAlertRaised } from '@bilten/contracts/identity';
import { defineWorkflow, type WorkflowDeps, workflowConsumer } from './workflows.ts';

/**
 * Identity's security alerts (issue 18, R4.4): every platform admin it names gets the alert in-app
 * and by email. Its own kind, critical in ACCOUNT_SECURITY, so no preference (an admin who turned
 * announcements off) keeps it away. Once per (alert, admin): the inbox drops a redelivered alert
 * and deliveries are unique per source event.
 */
export const securityAlertWorkflow = defineWorkflow({
  name: 'security-alert',
  kind: 'securityAlert',
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
    alertId: payload.alertId,
    rule: payload.rule,
    severity: payload.severity,
    summary: payload.summary,
    raisedAt: payload.raisedAt,
    incidentId: payload.incidentId,
  }),
});

export const securityAlertConsumer = (deps: WorkflowDeps) => workflowConsumer(securityAlertWorkflow, deps);
