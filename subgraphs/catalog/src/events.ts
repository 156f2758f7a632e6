/** What catalog publishes; the contracts themselves live in packages/contracts. It consumes nothing yet. */
export { eventCancelled, eventPublished, eventRescheduled } from '@bilten/contracts/catalog';
