import type { Kysely } from "kysely";

// Landed migrations are never edited; add a new numbered file instead.
// biome-ignore lint/suspicious/noExplicitAny: migrations run against the database as it was, not today's schema type.
export const up = async (db: Kysely<any>): Promise<void> => {
  // Every authentication method a user enrols besides the PIN (TOTP, FIDO2, RFID badge, email, SMS, push).
  await db.schema
    .createTable("auth_methods")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    // Secrets the server must read back (TOTP key) are sealed with the secret box.
    .addColumn("secret_sealed", "text")
    // Keyed digest for secrets looked up by value (RFID card numbers) or WebAuthn credential ids.
    .addColumn("lookup_hash", "text")
    .addColumn("data", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("verified", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_step", "bigint")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_used_at", "bigint")
    .execute();
  await db.schema.createIndex("auth_methods_user").on("auth_methods").column("user_id").execute();
  await db.schema
    .createIndex("auth_methods_lookup")
    .on("auth_methods")
    .columns(["type", "lookup_hash"])
    .unique()
    .execute();

  await db.schema
    .createTable("sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    // "partial" while methods of the authentication set remain; "full" once all are presented.
    .addColumn("stage", "text", (c) => c.notNull())
    .addColumn("completed", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("challenge", "text")
    .addColumn("csrf_hash", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("last_seen_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema.createIndex("sessions_user").on("sessions").column("user_id").execute();

  await db.schema
    .createTable("push_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("session_hash", "text", (c) => c.notNull())
    .addColumn("number", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("decided_at", "bigint")
    .execute();
  await db.schema.createIndex("push_requests_user").on("push_requests").column("user_id").execute();

  await db.schema
    .createTable("recovery_codes")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("code_hash", "text", (c) => c.notNull())
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("method_id", "text")
    .addColumn("outbox_id", "text")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
  await db.schema.createIndex("recovery_codes_user").on("recovery_codes").column("user_id").execute();

  // Messages to people, with their delivery followed: queued → accepted | failed (retried with backoff).
  await db.schema
    .createTable("outbox")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
    .addColumn("channel", "text", (c) => c.notNull())
    .addColumn("destination", "text", (c) => c.notNull())
    .addColumn("destination_masked", "text", (c) => c.notNull())
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    // The body can hold a one-time code: sealed, and erased once the message is settled.
    .addColumn("body_sealed", "text")
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "bigint")
    .addColumn("locked_until", "bigint")
    .addColumn("last_error", "text")
    .addColumn("provider_message_id", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("settled_at", "bigint")
    .execute();
  await db.schema.createIndex("outbox_due").on("outbox").columns(["status", "next_attempt_at"]).execute();
  await db.schema.createIndex("outbox_user").on("outbox").columns(["user_id", "created_at"]).execute();

  await db.schema
    .createTable("security_answers")
    .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("question_id", "text", (c) => c.notNull())
    .addColumn("answer_hash", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("security_answers_pk", ["user_id", "question_id"])
    .execute();

  // Single-use links: first-administrator setup, recovery links sent by the help desk.
  await db.schema
    .createTable("one_time_links")
    .addColumn("token_hash", "text", (c) => c.primaryKey())
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("user_id", "text", (c) => c.references("users.id").onDelete("cascade"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("used_at", "bigint")
    .execute();
};

// biome-ignore lint/suspicious/noExplicitAny: see up().
export const down = async (db: Kysely<any>): Promise<void> => {
  for (const table of [
    "one_time_links",
    "security_answers",
    "outbox",
    "recovery_codes",
    "push_requests",
    "sessions",
    "auth_methods",
  ]) {
    await db.schema.dropTable(table).execute();
  }
};
