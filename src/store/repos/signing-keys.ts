import type { Selectable } from "kysely";
import type { Db } from "../db.ts";
import type { SigningKeysTable } from "../schema.ts";

export type SigningKeyRow = Selectable<SigningKeysTable>;

export const createSigningKeysRepo = ({ kysely }: Db) => ({
  async all(): Promise<SigningKeyRow[]> {
    return kysely.selectFrom("signing_keys").selectAll().orderBy("created_at").execute();
  },
  /** Inserts unless a key with this kid exists; several processes may race to create the first key. */
  async insert(row: SigningKeyRow): Promise<void> {
    await kysely
      .insertInto("signing_keys")
      .values(row)
      .onConflict((oc) => oc.column("kid").doNothing())
      .execute();
  },
});

export type SigningKeysRepo = ReturnType<typeof createSigningKeysRepo>;
