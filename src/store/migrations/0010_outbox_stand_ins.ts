import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // A message that stands in for one to an unknown user name: it goes through the same states as a
  // real one (queued, retrying, accepted, failed, expired) but is never handed to a provider, and no
  // count or list of deliveries includes it.
  await db.schema
    .alterTable("outbox")
    .addColumn("stand_in", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  await db.schema.alterTable("outbox").dropColumn("stand_in").execute();
};
