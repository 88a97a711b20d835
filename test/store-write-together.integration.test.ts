/**
 * `writeTogether` (a sign-in's success writes): all of the statements or none, and never inside a
 * transaction that another caller has open on the same connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Db, fixedStatement, migrateToLatest, openDb } from "../src/store/db.ts";
import { dialects, type FreshDatabase, freshDatabase } from "./helpers/instance.ts";

describe.each(dialects)("writeTogether on %s", (dialect) => {
  let database: FreshDatabase;
  let db: Db;
  const ensure = fixedStatement(
    dialect,
    "INSERT INTO lockout_counters (subject, failed_count, lock_count, pending) VALUES (?, ?, 0, 0)",
  );
  const setFailed = fixedStatement(dialect, "UPDATE lockout_counters SET failed_count = ? WHERE subject = ?");
  const failed = async (subject: string) =>
    (
      await db.kysely
        .selectFrom("lockout_counters")
        .select("failed_count")
        .where("subject", "=", subject)
        .executeTakeFirst()
    )?.failed_count;

  beforeAll(async () => {
    database = await freshDatabase(dialect);
    db = openDb(database.url);
    await migrateToLatest(db);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  it("writes every statement", async () => {
    await db.writeTogether([ensure("a", 1), setFailed(3, "a"), ensure("b", 2)]);
    expect([await failed("a"), await failed("b")]).toEqual([3, 2]);
  });

  it("writes none of them when one fails", async () => {
    // The second insert of "c" breaks the primary key after the first has been written.
    await expect(db.writeTogether([ensure("c", 1), setFailed(5, "a"), ensure("c", 1)])).rejects.toThrow();
    expect([await failed("c"), await failed("a")]).toEqual([undefined, 3]);
  });

  it("waits for a transaction in progress instead of writing inside it", async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let opened = () => {};
    const open = new Promise<void>((resolve) => {
      opened = resolve;
    });
    const rolledBack = db
      .transaction(async (trx) => {
        await trx.executeQuery(ensure("d", 1));
        opened();
        await held;
        throw new Error("rolled back on purpose");
      })
      .catch((error: Error) => error.message);
    await open;
    // Started while the other transaction is open (on SQLite, on the one connection it holds).
    const together = db.writeTogether([ensure("e", 4)]);
    release();
    expect(await rolledBack).toBe("rolled back on purpose");
    await together;
    expect([await failed("d"), await failed("e")]).toEqual([undefined, 4]);
  });
});
