import { platformAlertRaised } from '@bilten/contracts/identity';
import { defineWorkflow, type WorkflowDeps, workflowConsumer } from './workflows.ts';

/**
 * Alertmanager's alerts, through identity (issue 19): every platform admin it names gets each one
 * in-app, firing and resolved (Alertmanager mails them itself). Once per (alert, status, admin):
 * identity announces a (fingerprint, startsAt, status) once and the inbox drops a redelivery.
 */
export const platformAlertWorkflow = defineWorkflow({
  name: 'platform-alert',
  kind: 'platformAlert',
  event: platformAlertRaised,
  channels: ['IN_APP'],
  async *recipients({ payload }) {
    yield payload.recipients.map((recipient) => ({
      userId: recipient.userId,
      email: recipient.email,
      name: recipient.displayName,
    }));
  },
  data: async ({ payload }) => ({
    alertname: payload.alertname,
    status: payload.status,
    severity: payload.severity,
    service: payload.service,
    summary: payload.summary,
    runbook: payload.runbook,
    startsAt: payload.startsAt,
  }),
});

export const platformAlertConsumer = (deps: WorkflowDeps) => workflowConsumer(platformAlertWorkflow, deps);
