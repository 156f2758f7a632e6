import type { Database, Outbox, PersonKeys } from '@bilten/platform';
import { z } from 'zod';
import { insertNewPlatformAlerts } from '../db/platform-alerts.ts';
import { platformAdmins } from '../db/security.ts';
import { platformAlertRaised } from '../events.ts';

const labelSet = z.record(z.string(), z.string().max(10_000));
const timestamp = z.iso.datetime({ offset: true });

/**
 * Alertmanager's webhook payload, version 4 (what its webhook_config posts): only what the admins
 * are told is checked; the group's own fields (groupKey, receiver, common labels) are not used.
 */
export const alertmanagerPayload = z.object({
  version: z.literal('4'),
  status: z.enum(['firing', 'resolved']),
  alerts: z
    .array(
      z.object({
        status: z.enum(['firing', 'resolved']),
        labels: labelSet.and(z.object({ alertname: z.string().min(1).max(200) })),
        annotations: labelSet.default({}),
        startsAt: timestamp,
        endsAt: timestamp,
        fingerprint: z.string().min(1).max(64),
      }),
    )
    .min(1)
    .max(1000),
});
export type AlertmanagerPayload = z.infer<typeof alertmanagerPayload>;
type Alert = AlertmanagerPayload['alerts'][number];

const SUMMARY_MAX = 1000;

/** What the admins read: the summary annotation, else the description, else the alert's name. */
function summaryOf(alert: Alert): string {
  const text = [alert.annotations.summary, alert.annotations.description]
    .map((value) => value?.trim())
    .find(Boolean);
  return (text ?? alert.labels.alertname).slice(0, SUMMARY_MAX);
}

const labelOr = (value: string | undefined, max: number) => value?.trim().slice(0, max) || null;

/**
 * Alertmanager's notification (issue 19) as alerts to the platform admins, whom only identity knows:
 * one `platformAlertRaised` per alert not announced before, in one transaction with the rows that
 * remember them. Alertmanager repeats a group's notification every repeat_interval and may send
 * one twice: a (fingerprint, startsAt, status) already seen publishes nothing.
 */
export async function announcePlatformAlerts(
  deps: { db: Database; outbox: Outbox; personKeys: PersonKeys },
  payload: AlertmanagerPayload,
): Promise<{ received: number; announced: number }> {
  const alerts = payload.alerts.map((alert) => ({
    alert,
    key: {
      fingerprint: alert.fingerprint,
      startsAt: new Date(alert.startsAt),
      status: alert.status,
      alertname: alert.labels.alertname,
    },
  }));
  const announced = await deps.db.transaction(async (tx) => {
    const inserted = await insertNewPlatformAlerts(
      tx,
      alerts.map(({ key }) => key),
    );
    if (inserted.length === 0) return 0;
    const isNew = new Set(
      inserted.map((row) => `${row.fingerprint}|${row.startsAt.getTime()}|${row.status}`),
    );
    // Deleting as it goes: an alert listed twice in one notification is announced once.
    const fresh = alerts.filter(({ key }) =>
      isNew.delete(`${key.fingerprint}|${key.startsAt.getTime()}|${key.status}`),
    );
    const recipients = await platformAdmins(tx, deps.personKeys);
    for (const { alert, key } of fresh) {
      await deps.outbox.publish(tx, platformAlertRaised, alert.fingerprint, {
        alertname: key.alertname,
        status: alert.status,
        severity: labelOr(alert.labels.severity, 64),
        service: labelOr(alert.labels.service, 100),
        summary: summaryOf(alert),
        runbook: labelOr(alert.annotations.runbook ?? alert.annotations.runbook_url, 500),
        startsAt: key.startsAt.toISOString(),
        fingerprint: alert.fingerprint,
        recipients,
      });
    }
    return fresh.length;
  });
  return { received: payload.alerts.length, announced };
}
