import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // What each channel's provider last answered for a real message, shared by every PinDesk process
  // and kept across restarts: a stand-in message (for an unknown user name) is answered the same, so
  // it cannot be told from a real one by a process that has not sent anything yet.
  await db.schema
    .createTable("channel_answers")
    .addColumn("channel", "text", (c) => c.primaryKey())
    .addColumn("accepted", "integer", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("ms", "integer", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  await db.schema.dropTable("channel_answers").execute();
};
