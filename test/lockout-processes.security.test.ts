/**
 * The lockout race across two real `pindesk serve` processes on one database: 500 concurrent wrong PINs
 * at one user evaluate exactly `threshold` PINs between them. (The benchmark runs the same race.)
 */
import { afterAll, describe, expect, it } from "vitest";
import { runLockoutRace } from "../bench/lockout.ts";
import { dialects, freshDatabase, testPepper } from "./helpers/instance.ts";

describe.each(dialects)("lockout across two server processes on %s", (dialect) => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it("500 concurrent wrong PINs: exactly threshold evaluated, one lock, the right PIN refused after", async () => {
    const database = await freshDatabase(dialect);
    drops.push(database.drop);
    const result = await runLockoutRace({ database, pepper: testPepper(), burst: 500, baseEnv: process.env });
    expect(result.failures).toEqual([]);
    expect(result.evaluated).toBe(result.threshold);
    expect(result.evaluatedPerProcess).toHaveLength(2);
    // Both processes really served the burst (the race is between them, not within one). Which of
    // them evaluates the ten PINs is itself a race: one process may win every place.
    expect(result.answeredPerProcess).toEqual([250, 250]);
    expect((result.statuses["401"] ?? 0) + (result.statuses["423"] ?? 0)).toBe(500);
    expect(result.statuses["401"]).toBeLessThanOrEqual(result.threshold - 1);
    expect(result.lockEvents).toBe(1);
    expect(result.rightPinAfter).toBe(423);
  }, 120_000);
});
