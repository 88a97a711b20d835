import type { Db } from "../db.ts";

export interface StoredPolicy {
  name: string;
  version: number;
  body: unknown;
  createdAt: number;
  createdBy: string;
}

/** Policies are append-only: every change is a new version, so the history of rules is kept. */
export const createPoliciesRepo = ({ kysely }: Db) => ({
  async latest(name: string): Promise<StoredPolicy | undefined> {
    const row = await kysely
      .selectFrom("policies")
      .selectAll()
      .where("name", "=", name)
      .orderBy("version", "desc")
      .limit(1)
      .executeTakeFirst();
    return (
      row && {
        name: row.name,
        version: row.version,
        body: JSON.parse(row.body),
        createdAt: row.created_at,
        createdBy: row.created_by,
      }
    );
  },

  /** Appends version `expectedVersion + 1`; the primary key makes a concurrent writer fail rather than be lost. */
  async append(
    name: string,
    expectedVersion: number,
    body: unknown,
    now: number,
    by: string,
  ): Promise<number> {
    const version = expectedVersion + 1;
    await kysely
      .insertInto("policies")
      .values({ name, version, body: JSON.stringify(body), created_at: now, created_by: by })
      .execute();
    return version;
  },
});

export type PoliciesRepo = ReturnType<typeof createPoliciesRepo>;
