/**
 * The benchmark's floor (bench/floor.ts) is only worth comparing with when it does the writes it
 * claims: every request a real reservation, a right PIN and a success written with its audit row,
 * over PinDesk's own schema, on each database.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { measureRawVerify } from "../bench/argon2.ts";
import { type FloorResult, measureFloor } from "../bench/floor.ts";
import type { LoadResult } from "../bench/load.ts";
import { buildReport } from "../bench/report.ts";
import type { SignInResult } from "../bench/signin.ts";
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

describe("the benchmark report with a floor", () => {
  const load = (perSecond: number): LoadResult => ({
    completed: perSecond * 5,
    failed: 0,
    seconds: 5,
    perSecond,
    meanMs: 50,
    failures: [],
  });
  const signIn: SignInResult = {
    concurrency: 8,
    load: load(135),
    rounds: [{ rawPerSecond: 150, perSecond: 135 }],
    pairedRatio: 0.8,
    healthIdle: { samples: 10, p50: 1, p99: 2, max: 2 },
    healthUnderLoad: { samples: 10, p50: 1, p99: 5, max: 6 },
    healthErrors: 0,
    hashVerifies: 675,
    hashMeanMs: 12,
  };
  const floor: FloorResult = {
    perSecond: 140,
    pairedRatio: 0.84,
    roundRatios: [0.84],
    failed: 0,
    failures: [],
    cpu: {
      raw: { operations: 750, eventLoopMs: 0.25, otherThreadsMs: 13, postgresMs: 0 },
      floor: { operations: 700, eventLoopMs: 1.25, otherThreadsMs: 13.1, postgresMs: 1 },
    },
  };

  it("shows the floor's ratio, PinDesk's share of it, and says so when the target is missed", () => {
    const { text, summary } = buildReport({
      threads: 2,
      durationMs: 5000,
      warmupMs: 3000,
      warmupRequests: 3000,
      rawConcurrency: 8,
      totalSeconds: 60,
      baselineBefore: load(150),
      baselineAfter: load(150),
      signIns: [{ dialect: "postgres", result: signIn, floor }],
      lockouts: [],
      warnings: [],
      failures: [],
    });
    const row = text.split("\n").find((l) => l.includes("floor: bare node:http"));
    expect(row).toContain("0.840");
    expect(row).toContain("PinDesk 0.952 of it");
    const cpuRow = text.split("\n").find((l) => l.includes("CPU per floor sign-in, postgres"));
    expect(cpuRow).toContain("event loop +1.00 ms");
    expect(cpuRow).toContain("PostgreSQL server +1.00 ms");
    expect(text).toContain("below the 0.9 target (the floor on this machine: 0.84)");
    const json = (summary.signIn as Record<string, { floor: Record<string, unknown> } | undefined>).postgres
      ?.floor;
    expect(json).toMatchObject({ ratio: 0.84, pinDeskOfFloor: 0.952, verifiesPerSecond: 140 });
  });
});
