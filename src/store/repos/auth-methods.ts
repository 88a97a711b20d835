import type { Db } from "../db.ts";
import type { AuthMethodsTable, AuthMethodType } from "../schema.ts";

export type AuthMethodRow = AuthMethodsTable;

export const createAuthMethodsRepo = ({ kysely }: Db) => ({
  async listFor(userId: string): Promise<AuthMethodRow[]> {
    return kysely
      .selectFrom("auth_methods")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at", "asc")
      .execute();
  },

  async get(id: string): Promise<AuthMethodRow | undefined> {
    return kysely.selectFrom("auth_methods").selectAll().where("id", "=", id).executeTakeFirst();
  },

  async byLookup(type: AuthMethodType, lookupHash: string): Promise<AuthMethodRow | undefined> {
    return kysely
      .selectFrom("auth_methods")
      .selectAll()
      .where("type", "=", type)
      .where("lookup_hash", "=", lookupHash)
      .executeTakeFirst();
  },

  async insert(row: AuthMethodRow): Promise<void> {
    await kysely.insertInto("auth_methods").values(row).execute();
  },

  async markVerified(id: string, now: number): Promise<void> {
    await kysely
      .updateTable("auth_methods")
      .set({ verified: 1, last_used_at: now })
      .where("id", "=", id)
      .execute();
  },

  async update(
    id: string,
    patch: Partial<Pick<AuthMethodRow, "name" | "data" | "last_used_at">>,
  ): Promise<void> {
    await kysely.updateTable("auth_methods").set(patch).where("id", "=", id).execute();
  },

  /**
   * Accepts a TOTP time step only if it is newer than the last accepted one. One conditional UPDATE, so
   * of two concurrent submissions of the same code exactly one succeeds.
   */
  async claimStep(id: string, step: number, now: number): Promise<boolean> {
    const result = await kysely
      .updateTable("auth_methods")
      .set({ last_step: step, last_used_at: now })
      .where("id", "=", id)
      .where((eb) => eb.or([eb("last_step", "is", null), eb("last_step", "<", step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async delete(id: string): Promise<void> {
    await kysely.deleteFrom("auth_methods").where("id", "=", id).execute();
  },

  async deleteUnverifiedBefore(userId: string, type: AuthMethodType): Promise<void> {
    await kysely
      .deleteFrom("auth_methods")
      .where("user_id", "=", userId)
      .where("type", "=", type)
      .where("verified", "=", 0)
      .execute();
  },
});

export type AuthMethodsRepo = ReturnType<typeof createAuthMethodsRepo>;
