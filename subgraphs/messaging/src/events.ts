// Messaging consumes no domain events yet: receipts, follower alerts and verification mail arrive with
// the messaging issue, declared here as zod-typed definitions like identity's.
export {};
