/**
 * The PostgreSQL pool PinDesk's queries run on: statements marked PREPARED become named prepared
 * statements (parsed and planned once per connection), and each connection is wrapped once, so the
 * query builder keeps its per-connection state instead of rebuilding it at every query.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PREPARED, preparingPool } from "../src/store/db.ts";
import { dialects, type FreshDatabase, freshDatabase } from "./helpers/instance.ts";

describe.runIf(dialects.includes("postgres"))("the PostgreSQL pool", () => {
  let database: FreshDatabase;
  let pool: pg.Pool;
  let preparing: ReturnType<typeof preparingPool>;

  beforeAll(async () => {
    database = await freshDatabase("postgres");
    pool = new pg.Pool({ connectionString: database.url, max: 1 });
    preparing = preparingPool(pool);
  });
  afterAll(async () => {
    await preparing.end();
    await database.drop();
  });

  const prepared = async (client: pg.PoolClient) =>
    (
      await client.query<{ name: string; statement: string }>(
        "select name, statement from pg_prepared_statements order by name",
      )
    ).rows;

  it("runs a PREPARED statement as a named prepared statement, once per connection", async () => {
    const client = await preparing.connect();
    try {
      const text = `${PREPARED} select $1::int + 1 as n`;
      expect((await client.query(text, [41])).rows).toEqual([{ n: 42 }]);
      expect((await client.query(text, [1])).rows).toEqual([{ n: 2 }]);
      await client.query("select $1::int as plain", [1]);
      const statements = await prepared(client);
      expect(statements).toHaveLength(1);
      expect(statements[0]?.name).toMatch(/^pindesk_[0-9a-f]{20}$/);
      expect(statements[0]?.statement).toBe(text);
    } finally {
      client.release();
    }
  });

  it("hands out the same wrapper each time a connection is checked out", async () => {
    const first = await preparing.connect();
    first.release();
    const second = await preparing.connect();
    try {
      expect(second).toBe(first);
      // Still the same server connection, with its prepared statement kept.
      expect(await prepared(second)).toHaveLength(1);
    } finally {
      second.release();
    }
  });

  it("wraps a new connection after a broken one is dropped", async () => {
    const first = await preparing.connect();
    first.release(new Error("connection dropped"));
    const second = await preparing.connect();
    try {
      expect(second).not.toBe(first);
      expect((await second.query(`${PREPARED} select 1 as one`)).rows).toEqual([{ one: 1 }]);
    } finally {
      second.release();
    }
  });
});
