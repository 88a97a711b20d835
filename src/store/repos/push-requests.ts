import type { Db } from "../db.ts";
import type { PushRequestsTable } from "../schema.ts";

export type PushRequestRow = PushRequestsTable;

export const createPushRequestsRepo = ({ kysely }: Db) => ({
  async insert(row: PushRequestRow): Promise<void> {
    await kysely.insertInto("push_requests").values(row).execute();
  },
  async get(id: string): Promise<PushRequestRow | undefined> {
    return kysely.selectFrom("push_requests").selectAll().where("id", "=", id).executeTakeFirst();
  },
  async pendingFor(userId: string, now: number): Promise<PushRequestRow[]> {
    return kysely
      .selectFrom("push_requests")
      .selectAll()
      .where("user_id", "=", userId)
      .where("status", "=", "pending")
      .where("expires_at", ">", now)
      .orderBy("created_at", "desc")
      .execute();
  },
  /** Decides a pending request once; a second decision (or a late one) changes nothing. */
  async decide(id: string, status: "approved" | "denied", now: number): Promise<boolean> {
    const result = await kysely
      .updateTable("push_requests")
      .set({ status, decided_at: now })
      .where("id", "=", id)
      .where("status", "=", "pending")
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },
});

export type PushRequestsRepo = ReturnType<typeof createPushRequestsRepo>;
