import type { Kysely } from "kysely";
import type { Db } from "../db.ts";
import type { Database } from "../schema.ts";

export const createPinChangeTokensRepo = ({ kysely }: Db) => ({
  async insert(tokenHash: string, userId: string, now: number, expiresAt: number): Promise<void> {
    await kysely
      .insertInto("pin_change_tokens")
      .values({
        token_hash: tokenHash,
        user_id: userId,
        expires_at: expiresAt,
        used_at: null,
        created_at: now,
      })
      .execute();
  },

  async findValid(tokenHash: string, now: number): Promise<{ userId: string } | undefined> {
    const row = await kysely
      .selectFrom("pin_change_tokens")
      .select("user_id")
      .where("token_hash", "=", tokenHash)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    return row && { userId: row.user_id };
  },

  /** Single use: of concurrent consumers, exactly one gets the row. */
  async consume(tokenHash: string, now: number, trx: Kysely<Database> = kysely): Promise<string | undefined> {
    const row = await trx
      .updateTable("pin_change_tokens")
      .set({ used_at: now })
      .where("token_hash", "=", tokenHash)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .returning("user_id")
      .executeTakeFirst();
    return row?.user_id;
  },

  async deleteExpired(now: number): Promise<void> {
    await kysely.deleteFrom("pin_change_tokens").where("expires_at", "<", now).execute();
  },
});

export type PinChangeTokensRepo = ReturnType<typeof createPinChangeTokensRepo>;
