// Orders publishes and consumes no domain events yet: order created and paid arrive with the
// orders issue, as contracts in packages/contracts, re-exported here like catalog's.
export {};
