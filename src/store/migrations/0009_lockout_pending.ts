import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // Guesses being evaluated are counted apart from evaluated failures: a right PIN checked at the
  // same time as wrong ones then never contributes to a lock, and the threshold still holds exactly.
  await db.schema
    .alterTable("lockout_counters")
    .addColumn("pending", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable("lockout_counters").addColumn("pending_at", "bigint").execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  await db.schema.alterTable("lockout_counters").dropColumn("pending_at").execute();
  await db.schema.alterTable("lockout_counters").dropColumn("pending").execute();
};
