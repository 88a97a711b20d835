/**
 * Exact lockout: a burst of concurrent guesses, from one instance or several over the same database,
 * evaluates at most `threshold` PINs; the wait escalates, decays and expires on the clock.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../src/errors/app-error.ts";
import { counterRules } from "../src/services/attempts.ts";
import { cliContext } from "../src/services/context.ts";
import { type Db, openDb } from "../src/store/db.ts";
import { createLockoutCountersRepo } from "../src/store/repos/lockout-counters.ts";
import { createSignInsRepo } from "../src/store/repos/sign-ins.ts";
import {
  createTestInstance,
  dialects,
  type FreshDatabase,
  freshDatabase,
  OWASP_ARGON2ID,
  outcomeOf,
  type TestInstance,
  testPepper,
} from "./helpers/instance.ts";

const hashVerifies = async (t: TestInstance): Promise<number> => {
  const metric = await t.services.metrics.hashDuration.get();
  return metric.values
    .filter((v) => v.metricName === "pindesk_hash_duration_seconds_count" && v.labels.operation === "verify")
    .reduce((sum, v) => sum + v.value, 0);
};

const outcome = (p: Promise<unknown>) => outcomeOf(p, "success");

const tally = (results: string[]) =>
  results.reduce<Record<string, number>>((acc, r) => {
    acc[r] = (acc[r] ?? 0) + 1;
    return acc;
  }, {});

describe.each(dialects)("lockout on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect, { hashParams: OWASP_ARGON2ID });
  });
  afterAll(() => t?.close());

  const addUser = async (upn: string, pin: string) => {
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName: upn });
    await t.services.pins.set(cliContext, upn, pin);
  };
  const wrongPins = async (upn: string, times: number) => {
    for (let i = 0; i < times; i++) await outcome(t.services.pins.verify(cliContext, upn, "999991"));
  };
  /** Runs `body` under a changed lockout policy, then puts the default policy back. */
  const underLockout = async (
    lockout: { mode?: "permanent"; threshold?: number; decaySeconds?: number },
    body: () => Promise<void>,
  ) => {
    await t.services.policies.update(cliContext, { lockout });
    try {
      await body();
    } finally {
      await t.services.policies.reset(cliContext);
    }
  };

  it("500 concurrent wrong PINs over HTTP: exactly threshold evaluated, the rest refused as locked", async () => {
    await addUser("burst@contoso.com", "482915");
    const before = await hashVerifies(t);
    const { clientId, clientSecret } = await t.services.apps.create(cliContext, "burst", ["Pin.Verify"]);
    const token = await t.app.inject({
      method: "POST",
      url: "/oauth2/v2.0/token",
      payload: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret },
    });
    const authorization = `Bearer ${token.json().access_token}`;
    const responses = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        t.app.inject({
          method: "POST",
          url: "/api/v1/verify",
          headers: { authorization },
          payload: { userPrincipalName: "burst@contoso.com", pin: String(100000 + i * 7) },
        }),
      ),
    );
    const statuses = tally(responses.map((r) => String(r.statusCode)));
    // Exactly `threshold` PINs are evaluated. Under concurrency the last wrong answers may already see
    // the lock another request set, so they say 423 rather than 401; nothing else is possible.
    expect(Object.keys(statuses).sort()).toEqual(["401", "423"]);
    expect(statuses["401"]).toBeLessThanOrEqual(9);
    expect(statuses["401"]).toBeGreaterThanOrEqual(1);
    expect((await hashVerifies(t)) - before).toBe(10);
    const locks = await t.services.audit.query({
      action: "pin.locked",
      targetUpn: "burst@contoso.com",
      limit: 10,
    });
    expect(locks).toHaveLength(1);
    // The right PIN is refused too while locked.
    expect(await outcome(t.services.pins.verify(cliContext, "burst@contoso.com", "482915"))).toBe(
      "pinLocked",
    );
  });

  it("a burst mixing the right PIN: each success resets the count, and no more than threshold wrong PINs are evaluated between resets", async () => {
    await addUser("mixed@contoso.com", "582014");
    const before = await hashVerifies(t);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        outcome(
          t.services.pins.verify(cliContext, "mixed@contoso.com", i % 20 === 0 ? "582014" : `9${i}1357`),
        ),
      ),
    );
    const counts = tally(results);
    const successes = counts.success ?? 0;
    expect(
      Object.keys(counts).every((k) =>
        ["success", "invalidPin", "pinLocked", "attemptsInProgress"].includes(k),
      ),
    ).toBe(true);
    // Wrong PINs evaluated: at most threshold before the first success and between two successes.
    const evaluated = (await hashVerifies(t)) - before;
    expect(evaluated - successes).toBeLessThanOrEqual(10 * (successes + 1));
    expect(counts.invalidPin ?? 0).toBeLessThanOrEqual(9 * (successes + 1));
  });

  it("regression: a right PIN checked beside a wrong one never leaves the account locked", async () => {
    for (let trial = 0; trial < 12; trial++) {
      const upn = `race${trial}@contoso.com`;
      await addUser(upn, "482915");
      await wrongPins(upn, 8);
      const [wrong, right] = await Promise.all([
        outcome(t.services.pins.verify(cliContext, upn, "999993")),
        outcome(t.services.pins.verify(cliContext, upn, "482915")),
      ]);
      expect(right).toBe("success");
      expect(wrong).toBe("invalidPin");
      expect((await t.services.pins.status(upn)).state).toBe("Steady State");
    }
  });

  it("regression: a burst of right PINs is never answered pinLocked when nothing is locked", async () => {
    await addUser("rush@contoso.com", "482915");
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        outcome(t.services.pins.verify(cliContext, "rush@contoso.com", "482915")),
      ),
    );
    const counts = tally(results);
    expect(counts.pinLocked).toBeUndefined();
    expect((counts.success ?? 0) + (counts.attemptsInProgress ?? 0)).toBe(30);
    expect(counts.success).toBeGreaterThanOrEqual(10);
    expect((await t.services.pins.status("rush@contoso.com")).state).toBe("Steady State");
  });

  it("unknown users lock the same way (no enumeration through lockout)", async () => {
    const before = await hashVerifies(t);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        outcome(t.services.pins.verify(cliContext, "ghost@contoso.com", "482915")),
      ),
    );
    const counts = tally(results);
    expect((counts.invalidPin ?? 0) + (counts.pinLocked ?? 0)).toBe(50);
    expect(counts.invalidPin).toBeLessThanOrEqual(9);
    // As many (dummy) hashes as for a real user: exactly the threshold.
    expect((await hashVerifies(t)) - before).toBe(10);
    expect(await t.services.pins.status("ghost@contoso.com").catch((e: AppError) => e.code)).toBe(
      "userNotFound",
    );
  });

  it("a wrong current PIN on change consumes an attempt", async () => {
    await addUser("changer@contoso.com", "630158");
    expect(await outcome(t.services.pins.change(cliContext, "changer@contoso.com", "000019", "730164"))).toBe(
      "invalidPin",
    );
    const status = await t.services.pins.status("changer@contoso.com");
    expect(status.attemptsRemaining).toBe(9);
  });

  it("temporary locks expire on the clock and escalate", async () => {
    await addUser("clock@contoso.com", "482915");
    const wrong = () => outcome(t.services.pins.verify(cliContext, "clock@contoso.com", "999991"));
    for (let i = 0; i < 10; i++) await wrong();
    expect((await t.services.pins.status("clock@contoso.com")).state).toBe("Account Lockout");
    t.clock.advance(59_000);
    expect(await outcome(t.services.pins.verify(cliContext, "clock@contoso.com", "482915"))).toBe(
      "pinLocked",
    );
    t.clock.advance(1_000);
    // Second lock: 120 s.
    for (let i = 0; i < 10; i++) await wrong();
    const status = await t.services.pins.status("clock@contoso.com");
    expect(status.state).toBe("Account Lockout");
    expect(status.lockedUntil).toBe(new Date(t.clock.now() + 120_000).toISOString());
    t.clock.advance(120_000);
    expect(await outcome(t.services.pins.verify(cliContext, "clock@contoso.com", "482915"))).toBe("success");
  });

  it("permanent mode stays locked until an admin unblocks", async () => {
    await underLockout({ mode: "permanent", threshold: 3 }, async () => {
      await addUser("perm@contoso.com", "482915");
      await wrongPins("perm@contoso.com", 3);
      t.clock.advance(365 * 86_400_000);
      let err: unknown;
      try {
        await t.services.pins.verify(cliContext, "perm@contoso.com", "482915");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("pinLocked");
      expect((err as AppError).details.lockedUntil).toBeNull();
      await t.services.pins.unblock(cliContext, "perm@contoso.com");
      expect(await outcome(t.services.pins.verify(cliContext, "perm@contoso.com", "482915"))).toBe("success");
    });
  });

  it("lowering the threshold locks those already past it at once, so every view agrees, and unblock frees them", async () => {
    await addUser("lowered@contoso.com", "482915");
    await addUser("lowered.unblock@contoso.com", "482915");
    await addUser("lowered.below@contoso.com", "482915");
    await wrongPins("lowered@contoso.com", 5);
    await wrongPins("lowered.unblock@contoso.com", 3);
    await wrongPins("lowered.below@contoso.com", 2);
    const locks = async (userId: string) =>
      (await t.services.audit.query({ action: "pin.locked", targetUserId: userId, limit: 10 })).map(
        (e) => e.reason,
      );
    const lowered = await t.services.users.get("lowered@contoso.com");
    await underLockout({ threshold: 3 }, async () => {
      const status = await t.services.pins.status("lowered@contoso.com");
      expect(status.state).toBe("Account Lockout");
      expect(status.lockedAt).toBe(new Date(t.clock.now()).toISOString());
      expect(status.lockedUntil).toBe(new Date(t.clock.now() + 60_000).toISOString());
      expect(await locks(lowered.id)).toEqual(["thresholdLowered"]);
      // The help desk's list, its Account Lockout filter and the dashboard say the same.
      const listed = await t.services.admin.searchUsers(cliContext, { state: "Account Lockout", limit: 100 });
      expect(listed.users.map((u) => u.userPrincipalName)).toEqual(
        expect.arrayContaining(["lowered@contoso.com", "lowered.unblock@contoso.com"]),
      );
      expect(listed.users.map((u) => u.userPrincipalName)).not.toContain("lowered.below@contoso.com");
      expect((await t.services.pins.status("lowered.below@contoso.com")).state).toBe("Steady State");

      const unblocked = await t.services.pins.unblock(cliContext, "lowered.unblock@contoso.com");
      expect(unblocked.unblocked).toEqual(["PIN"]);
      expect(await outcome(t.services.pins.verify(cliContext, "lowered.unblock@contoso.com", "482915"))).toBe(
        "success",
      );

      // The right PIN is refused while the lock lasts, and works once it has run out.
      expect(await outcome(t.services.pins.verify(cliContext, "lowered@contoso.com", "482915"))).toBe(
        "pinLocked",
      );
      t.clock.advance(60_000);
      expect(await outcome(t.services.pins.verify(cliContext, "lowered@contoso.com", "482915"))).toBe(
        "success",
      );
    });
  });

  it("failures past the threshold with no lock set lock at the next guess, once; status and unblock know them", async () => {
    await addUser("halfway.burst@contoso.com", "482915");
    await addUser("halfway.unblock@contoso.com", "482915");
    // As a process that stopped between counting the 10th failure and setting the lock leaves them.
    for (const upn of ["halfway.burst@contoso.com", "halfway.unblock@contoso.com"]) {
      const user = await t.services.users.get(upn);
      await t.db.kysely
        .updateTable("lockout_counters")
        .set({ failed_count: 10, last_failed_at: t.clock.now(), locked_at: null, locked_until: null })
        .where("subject", "=", `pin:${user.id}`)
        .execute();
    }
    const before = await t.services.pins.status("halfway.burst@contoso.com");
    expect(before).toMatchObject({ state: "Account Lockout", attemptsRemaining: 0, lockedAt: null });
    expect(before.description).toContain("the next sign-in is refused and locks the PIN");

    const hashesBefore = await hashVerifies(t);
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        outcome(t.services.pins.verify(cliContext, "halfway.burst@contoso.com", "482915")),
      ),
    );
    expect(new Set(results)).toEqual(new Set(["pinLocked"]));
    expect((await hashVerifies(t)) - hashesBefore).toBe(0);
    const burst = await t.services.users.get("halfway.burst@contoso.com");
    const locks = await t.services.audit.query({ action: "pin.locked", targetUserId: burst.id, limit: 10 });
    expect(locks.map((e) => e.reason)).toEqual(["tooManyFailures"]);
    expect((await t.services.pins.status("halfway.burst@contoso.com")).lockedUntil).toBe(
      new Date(t.clock.now() + 60_000).toISOString(),
    );

    const unblocked = await t.services.pins.unblock(cliContext, "halfway.unblock@contoso.com");
    expect(unblocked.unblocked).toEqual(["PIN"]);
    expect(await outcome(t.services.pins.verify(cliContext, "halfway.unblock@contoso.com", "482915"))).toBe(
      "success",
    );
  });

  it("past a lowered threshold, no lock is set while a guess taken before is still being evaluated", async () => {
    await addUser("inflight.right@contoso.com", "482915");
    await wrongPins("inflight.right@contoso.com", 5);
    const user = await t.services.users.get("inflight.right@contoso.com");
    const subject = `pin:${user.id}`;
    // A right guess took its place with the 5 failures counted, and is being evaluated...
    await t.db.kysely
      .updateTable("lockout_counters")
      .set({ pending: 1, pending_at: t.clock.now() })
      .where("subject", "=", subject)
      .execute();
    await underLockout({ threshold: 3 }, async () => {
      // ...when the threshold drops to 3 and another guess comes: it must not lock under that guess.
      expect(await outcome(t.services.pins.verify(cliContext, "inflight.right@contoso.com", "482915"))).toBe(
        "attemptsInProgress",
      );
      // The right guess completes and forgets the failures counted when it took its place.
      await createLockoutCountersRepo(t.db).recordSuccess(subject, 5);
      expect(await outcome(t.services.pins.verify(cliContext, "inflight.right@contoso.com", "482915"))).toBe(
        "success",
      );
    });
  });

  it("past a lowered threshold, a wrong guess does not lock while a right one is still being evaluated", async () => {
    await addUser("inflight.pair@contoso.com", "482915");
    await wrongPins("inflight.pair@contoso.com", 5);
    const user = await t.services.users.get("inflight.pair@contoso.com");
    const subject = `pin:${user.id}`;
    const counters = createLockoutCountersRepo(t.db);
    // Two guesses took their places with the 5 failures counted: A (wrong) and B (right).
    await t.db.kysely
      .updateTable("lockout_counters")
      .set({ pending: 2, pending_at: t.clock.now() })
      .where("subject", "=", subject)
      .execute();
    await underLockout({ threshold: 3 }, async () => {
      const rules = counterRules((await t.services.policies.pinPolicy()).lockout);
      // A fails first: 6 failures, past 3, but B is still in flight, so no lock yet...
      expect((await counters.recordFailure(subject, t.clock.now(), rules)).lock).toBeUndefined();
      // ...and B's success forgets the 5 it was reserved with: nothing is left locked behind it.
      await counters.recordSuccess(subject, 5);
      expect((await t.services.pins.status("inflight.pair@contoso.com")).state).toBe("Steady State");
      expect(await outcome(t.services.pins.verify(cliContext, "inflight.pair@contoso.com", "482915"))).toBe(
        "success",
      );
    });
  });

  it("a guess refused while others fill the threshold is on the audit record", async () => {
    await addUser("inflight@contoso.com", "482915");
    const user = await t.services.users.get("inflight@contoso.com");
    // Ten guesses in flight (just reserved, not yet evaluated) hold every place.
    await t.db.kysely
      .updateTable("lockout_counters")
      .set({ pending: 10, pending_at: t.clock.now() })
      .where("subject", "=", `pin:${user.id}`)
      .execute();
    expect(await outcome(t.services.pins.verify(cliContext, "inflight@contoso.com", "482915"))).toBe(
      "attemptsInProgress",
    );
    const denied = await t.services.audit.query({
      action: "pin.verify",
      targetUpn: "inflight@contoso.com",
      limit: 10,
    });
    expect(denied.map((e) => [e.outcome, e.reason])).toEqual([["denied", "attemptsInProgress"]]);
  });

  it("failures older than the decay time stop counting", async () => {
    await underLockout({ decaySeconds: 300 }, async () => {
      await addUser("decay@contoso.com", "482915");
      await wrongPins("decay@contoso.com", 5);
      expect((await t.services.pins.status("decay@contoso.com")).attemptsRemaining).toBe(5);
      t.clock.advance(301_000);
      expect((await t.services.pins.status("decay@contoso.com")).attemptsRemaining).toBe(10);
      let err: unknown;
      try {
        await t.services.pins.verify(cliContext, "decay@contoso.com", "999991");
      } catch (e) {
        err = e;
      }
      expect((err as AppError).details.attemptsRemaining).toBe(9);
    });
  });

  it("with a decay time, failures still inside it leave only the places left to a burst", async () => {
    await underLockout({ decaySeconds: 300 }, async () => {
      await addUser("decayburst@contoso.com", "482915");
      await wrongPins("decayburst@contoso.com", 9);
      // Older than a stale reservation (30 s), younger than the decay time: the 9 failures still count.
      t.clock.advance(60_000);
      const before = await hashVerifies(t);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          outcome(t.services.pins.verify(cliContext, "decayburst@contoso.com", `7${i}2468`)),
        ),
      );
      expect((await hashVerifies(t)) - before).toBe(1);
      expect(results.filter((r) => r === "invalidPin" || r === "pinLocked")).toHaveLength(40);
      expect((await t.services.pins.status("decayburst@contoso.com")).state).toBe("Account Lockout");
    });
  });

  it("an expired temporary PIN is refused and only a new reset helps", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "temp@contoso.com", displayName: "Temp" });
    const { temporaryPin } = await t.services.pins.resetTemporary(cliContext, "temp@contoso.com", {
      expiresInHours: 1,
    });
    t.clock.advance(3_600_001);
    expect(await outcome(t.services.pins.verify(cliContext, "temp@contoso.com", temporaryPin))).toBe(
      "temporaryPinExpired",
    );
  });
});

describe.each(dialects)("lockout across two instances on one %s database", (dialect) => {
  let database: FreshDatabase;
  let a: TestInstance;
  let b: TestInstance;
  beforeAll(async () => {
    database = await freshDatabase(dialect);
    const pepper = testPepper();
    a = await createTestInstance(dialect, { database, pepper, keepDatabase: true });
    b = await createTestInstance(dialect, { database, pepper, keepDatabase: true });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  it("a burst split over both instances still evaluates exactly threshold wrong PINs", async () => {
    await a.services.users.create(cliContext, { userPrincipalName: "two@contoso.com", displayName: "Two" });
    await a.services.pins.set(cliContext, "two@contoso.com", "482915");
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        outcome((i % 2 ? a : b).services.pins.verify(cliContext, "two@contoso.com", `7${i}0031`)),
      ),
    );
    const counts = tally(results);
    expect((counts.invalidPin ?? 0) + (counts.pinLocked ?? 0)).toBe(300);
    expect(counts.invalidPin).toBeLessThanOrEqual(9);
    expect((await hashVerifies(a)) + (await hashVerifies(b))).toBe(10);
  });
});

describe.runIf(dialects.includes("postgres"))("the sign-in reservation's commit on postgres", () => {
  let t: TestInstance;
  let single: Db;
  beforeAll(async () => {
    t = await createTestInstance("postgres");
    // One connection, so that every statement below runs in the same session.
    single = openDb(t.databaseUrl, { poolSize: 1 });
  });
  afterAll(async () => {
    await single?.close();
    await t?.close();
  });

  const setting = async () =>
    (await sql<{ synchronous_commit: string }>`SHOW synchronous_commit`.execute(single.kysely)).rows[0]
      ?.synchronous_commit;

  it("does not wait for the disk, and only for itself: the session's later commits still do", async () => {
    await t.services.users.create(cliContext, { userPrincipalName: "wal@contoso.com", displayName: "Wal" });
    await t.services.pins.set(cliContext, "wal@contoso.com", "482915");
    await outcome(t.services.pins.verify(cliContext, "wal@contoso.com", "482915"));
    const rules = counterRules((await t.services.policies.pinPolicy()).lockout);
    const signIns = createSignInsRepo(single);
    const reserve = () =>
      signIns.findAndReserve("wal@contoso.com", "pin:", "pin-unknown:wal", Date.now(), rules);
    const sessionDefault = await setting();
    expect(sessionDefault).toBeDefined();

    // Inside its transaction the reservation has turned synchronous commit off...
    await sql`BEGIN`.execute(single.kysely);
    const inside = await reserve();
    expect(inside.failedCount).toBe(0);
    expect(await setting()).toBe("off");
    await sql`ROLLBACK`.execute(single.kysely);
    // ...and the setting ends with that transaction, on its own as in autocommit.
    expect(await setting()).toBe(sessionDefault);
    const alone = await reserve();
    expect(alone.failedCount).toBe(0);
    expect(await setting()).toBe(sessionDefault);
    // The reservation itself is committed and counted.
    const counter = await t.db.kysely
      .selectFrom("lockout_counters")
      .select("pending")
      .where("subject", "=", alone.subject)
      .executeTakeFirstOrThrow();
    expect(counter.pending).toBe(1);
  });
});

describe.each(dialects)("housekeeping on %s", (dialect) => {
  let t: TestInstance;
  beforeAll(async () => {
    t = await createTestInstance(dialect);
  });
  afterAll(() => t?.close());

  const unknownCounters = async () =>
    (await t.db.kysely.selectFrom("lockout_counters").select("subject").execute()).filter((r) =>
      r.subject.startsWith("pin-unknown:"),
    ).length;

  it("forgets the counters of unknown names once idle for a day, but never while one is locked", async () => {
    for (const name of ["a", "b", "c"])
      await outcome(t.services.pins.verify(cliContext, `${name}@nowhere.example`, "482915"));
    // "locked" gets locked (permanent mode keeps it until an administrator unblocks).
    await t.services.policies.update(cliContext, { lockout: { mode: "permanent", threshold: 2 } });
    for (let i = 0; i < 2; i++)
      await outcome(t.services.pins.verify(cliContext, "locked@nowhere.example", "482915"));
    expect(await unknownCounters()).toBe(4);
    expect((await t.services.maintenance.runOnce()).unknownCountersRemoved).toBe(0);
    t.clock.advance(25 * 3_600_000);
    expect((await t.services.maintenance.runOnce()).unknownCountersRemoved).toBe(3);
    expect(await unknownCounters()).toBe(1);
    // The survivor is still locked: its answers did not change.
    expect(await outcome(t.services.pins.verify(cliContext, "locked@nowhere.example", "482915"))).toBe(
      "pinLocked",
    );
    await t.services.policies.reset(cliContext);
  });
});
