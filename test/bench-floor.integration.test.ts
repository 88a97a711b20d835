/**
 * The benchmark's floor (bench/floor.ts) is only worth comparing with when it does the writes it
 * claims: every request a real reservation, a right PIN and a success written with its audit row,
 * over PinDesk's own schema, on each database. Its report rows are tested with the others, in
 * bench-cpu.test.ts.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { measureRawVerify } from "../bench/argon2.ts";
import { measureFloor } from "../bench/floor.ts";
import { openDb } from "../src/store/db.ts";
import { dialects, freshDatabase } from "./helpers/instance.ts";

describe.each(dialects)("the benchmark floor on %s", (dialect) => {
  it("reserves, verifies and writes the success and its audit row for every sign-in", async () => {
    const database = await freshDatabase(dialect);
    const pepper = `k1:${randomBytes(32).toString("base64")}`;
    try {
      let rawRounds = 0;
      const result = await measureFloor({
        database,
        pepper,
        concurrency: 4,
        users: 3,
        warmupMs: 50,
        warmupRequests: 6,
        durationMs: 150,
        rounds: 2,
        rawBaseline: (cpu) => {
          rawRounds++;
          return measureRawVerify({ cpu, pepper, concurrency: 4, warmupMs: 10, durationMs: 100 });
        },
      });
      expect(result.failed, result.failures.join("; ")).toBe(0);
      expect(rawRounds).toBe(2);
      expect(result.roundRatios).toHaveLength(2);
      expect(result.pairedRatio).toBeGreaterThan(0);

      const db = openDb(database.url);
      try {
        const audit = await db.kysely
          .selectFrom("audit_events")
          .select(["action", "outcome", "target_upn"])
          .execute();
        // Warm-up and rounds together: at least one audit row per completed sign-in, all successes.
        expect(audit.length).toBeGreaterThanOrEqual(6);
        expect(new Set(audit.map((a) => `${a.action}/${a.outcome}`))).toEqual(
          new Set(["pin.verify/success"]),
        );
        expect(new Set(audit.map((a) => a.target_upn))).toEqual(new Set(["floor-0", "floor-1", "floor-2"]));
        // Each success gave its place back: nothing is left in flight or counted.
        const counters = await db.kysely
          .selectFrom("lockout_counters")
          .select(["subject", "pending", "failed_count"])
          .execute();
        expect(counters).toHaveLength(3);
        for (const c of counters) expect([c.subject, c.pending, c.failed_count]).toEqual([c.subject, 0, 0]);
      } finally {
        await db.close();
      }
    } finally {
      await database.drop();
    }
  }, 60_000);
});
