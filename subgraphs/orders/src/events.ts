// Orders publishes no domain events yet: order created and paid arrive with
// the orders issue, declared here as zod-typed definitions like identity's.
export {};
