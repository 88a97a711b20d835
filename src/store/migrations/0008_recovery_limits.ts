import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // Rate limits that must hold across server processes (per client address, per user name, per user):
  // one row per counted request, counted over a sliding window.
  await db.schema
    .createTable("rate_events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("bucket", "text", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("rate_events_bucket_at").on("rate_events").columns(["bucket", "at"]).execute();

  // Forgot PIN for a user name that does not exist runs the same steps as for a real user: a code
  // nobody knows is "sent" and checked with the same tries. Keyed by a keyed hash of the name.
  await db.schema
    .createTable("recovery_decoys")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("code_hash", "text", (c) => c.notNull())
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema
    .createIndex("recovery_decoys_subject")
    .on("recovery_decoys")
    .columns(["subject", "created_at"])
    .execute();

  // A message whose content stops being useful (a code valid 10 minutes) is not delivered after that.
  await db.schema.alterTable("outbox").addColumn("expires_at", "bigint").execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  await db.schema.alterTable("outbox").dropColumn("expires_at").execute();
  await db.schema.dropTable("recovery_decoys").execute();
  await db.schema.dropTable("rate_events").execute();
};
