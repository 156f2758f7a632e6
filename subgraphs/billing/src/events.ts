// Billing publishes and consumes no domain events yet: payment succeeded, failed and refunded
// arrive with the billing issue, as contracts in packages/contracts, re-exported here like catalog's.
export {};
