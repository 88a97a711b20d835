import type { Selectable } from "kysely";
import type { Db } from "../db.ts";
import type { PinCredentialsTable } from "../schema.ts";

export type PinCredentialRow = Selectable<PinCredentialsTable>;

export const createPinCredentialsRepo = ({ kysely }: Db) => ({
  async get(userId: string): Promise<PinCredentialRow | undefined> {
    return kysely.selectFrom("pin_credentials").selectAll().where("user_id", "=", userId).executeTakeFirst();
  },

  async upsert(row: PinCredentialRow, trx = kysely): Promise<void> {
    const { user_id: _id, created_at: _created, ...changes } = row;
    await trx
      .insertInto("pin_credentials")
      .values(row)
      .onConflict((oc) => oc.column("user_id").doUpdateSet(changes))
      .execute();
  },

  /** Records that the PIN was re-checked against this policy version (at a successful sign-in). */
  async setPolicyVersion(userId: string, version: number): Promise<void> {
    await kysely
      .updateTable("pin_credentials")
      .set({ policy_version: version })
      .where("user_id", "=", userId)
      .execute();
  },

  /** Re-hash under the current key; conditional on the old hash so a concurrent PIN change wins. */
  async replaceHash(userId: string, oldHash: string, newHash: string): Promise<void> {
    await kysely
      .updateTable("pin_credentials")
      .set({ hash: newHash })
      .where("user_id", "=", userId)
      .where("hash", "=", oldHash)
      .execute();
  },

  async markMustChange(userId: string, reason: string, at: number, by: string): Promise<void> {
    await kysely
      .updateTable("pin_credentials")
      .set({ must_change_reason: reason, must_change_at: at, must_change_by: by })
      .where("user_id", "=", userId)
      .execute();
  },

  async delete(userId: string, trx = kysely): Promise<boolean> {
    const result = await trx.deleteFrom("pin_credentials").where("user_id", "=", userId).executeTakeFirst();
    return result.numDeletedRows > 0n;
  },
});

export type PinCredentialsRepo = ReturnType<typeof createPinCredentialsRepo>;
