import type { Selectable } from "kysely";
import type { Db } from "../db.ts";
import type { ApiClientsTable } from "../schema.ts";

export type ApiClientRow = Selectable<ApiClientsTable>;

export const createApiClientsRepo = ({ kysely }: Db) => ({
  async insert(row: ApiClientRow): Promise<void> {
    await kysely.insertInto("api_clients").values(row).execute();
  },
  async get(id: string): Promise<ApiClientRow | undefined> {
    return kysely.selectFrom("api_clients").selectAll().where("id", "=", id).executeTakeFirst();
  },
  async list(): Promise<ApiClientRow[]> {
    return kysely.selectFrom("api_clients").selectAll().orderBy("created_at").execute();
  },
  async delete(id: string): Promise<boolean> {
    const result = await kysely.deleteFrom("api_clients").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  },
  async touch(id: string, now: number): Promise<void> {
    await kysely.updateTable("api_clients").set({ last_used_at: now }).where("id", "=", id).execute();
  },
});

export type ApiClientsRepo = ReturnType<typeof createApiClientsRepo>;
