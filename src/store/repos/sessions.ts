import type { Db } from "../db.ts";
import type { SessionsTable } from "../schema.ts";

export type SessionRow = SessionsTable;

export const createSessionsRepo = ({ kysely }: Db) => ({
  async insert(row: SessionRow): Promise<void> {
    await kysely.insertInto("sessions").values(row).execute();
  },

  async get(idHash: string): Promise<SessionRow | undefined> {
    return kysely.selectFrom("sessions").selectAll().where("id_hash", "=", idHash).executeTakeFirst();
  },

  async touch(idHash: string, now: number): Promise<void> {
    await kysely.updateTable("sessions").set({ last_seen_at: now }).where("id_hash", "=", idHash).execute();
  },

  /** Takes the session's pending challenge, once: a second call (a replay) finds none. */
  async takeChallenge(idHash: string): Promise<string | undefined> {
    const row = await kysely
      .selectFrom("sessions")
      .select("challenge")
      .where("id_hash", "=", idHash)
      .executeTakeFirst();
    if (!row?.challenge) return undefined;
    // Compare-and-clear: of two concurrent takers, only one clears the value it read.
    const cleared = await kysely
      .updateTable("sessions")
      .set({ challenge: null })
      .where("id_hash", "=", idHash)
      .where("challenge", "=", row.challenge)
      .executeTakeFirst();
    return Number(cleared.numUpdatedRows) === 1 ? row.challenge : undefined;
  },

  async setChallenge(idHash: string, challenge: string | null): Promise<void> {
    await kysely.updateTable("sessions").set({ challenge }).where("id_hash", "=", idHash).execute();
  },

  async revoke(idHash: string, now: number): Promise<void> {
    await kysely.updateTable("sessions").set({ revoked_at: now }).where("id_hash", "=", idHash).execute();
  },

  /** Other live full sessions of the user (where a push approval can be answered). */
  async activeFor(userId: string, now: number): Promise<SessionRow[]> {
    return kysely
      .selectFrom("sessions")
      .selectAll()
      .where("user_id", "=", userId)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", now)
      .where("stage", "=", "full")
      .execute();
  },
});

export type SessionsRepo = ReturnType<typeof createSessionsRepo>;
