import type { Kysely } from "kysely";
import { v7 as uuidv7 } from "uuid";
import type { Db } from "../db.ts";
import type { Database } from "../schema.ts";

export const createPinHistoryRepo = ({ kysely }: Db) => ({
  async recent(userId: string, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const rows = await kysely
      .selectFrom("pin_history")
      .select("hash")
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => r.hash);
  },

  /** Records a retired PIN hash and keeps only the newest `keep` entries. */
  async push(
    userId: string,
    hash: string,
    now: number,
    keep: number,
    trx: Kysely<Database> = kysely,
  ): Promise<void> {
    await trx
      .insertInto("pin_history")
      .values({ id: uuidv7(), user_id: userId, hash, created_at: now })
      .execute();
    const kept = trx
      .selectFrom("pin_history")
      .select("id")
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(Math.max(keep, 0));
    await trx.deleteFrom("pin_history").where("user_id", "=", userId).where("id", "not in", kept).execute();
  },
});

export type PinHistoryRepo = ReturnType<typeof createPinHistoryRepo>;
