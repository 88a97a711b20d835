import { type Kysely, sql } from "kysely";
import { type Db, type Dialect, fixedStatement } from "../db.ts";
import type { Database } from "../schema.ts";

/** Only what the counter needs to know of the lockout policy (the policy module owns the rules). */
export interface CounterRules {
  readonly threshold: number;
  readonly decaySeconds: number;
  /** Wait for the n-th consecutive lockout in seconds; null = locked until an administrator unblocks. */
  readonly lockSeconds: (lockCount: number) => number | null;
}

export type Reservation =
  | { readonly reserved: true; readonly failedCount: number }
  | { readonly reserved: false; readonly missing: true }
  | {
      readonly reserved: false;
      readonly missing: false;
      readonly locked: true;
      readonly lockedUntil: number | null;
      /** This call set the lock: failures already at or past the threshold (see `settleReservation`). */
      readonly lockedNow?: { readonly lockCount: number };
    }
  /** Not locked, but attempts still being evaluated fill the threshold: try again in a moment. */
  | { readonly reserved: false; readonly missing: false; readonly locked: false };

/** The subjects of users' PIN counters start so ("pin:" + user id); the others are methods', Emergency Access's and unknown names'. */
export const PIN_SUBJECT_PREFIX = "pin:";

/**
 * A reservation whose request died before reporting (a crashed process) stops holding a place after
 * this long; no hash takes anywhere near it.
 */
export const PENDING_TTL_MS = 30_000;

export interface CounterState {
  failedCount: number;
  lockCount: number;
  locked: boolean;
  /**
   * Not locked, but the failures counted are at or past the threshold (it was lowered since, or a
   * process stopped between counting the failure and setting the lock): the next guess sets the lock.
   */
  atThreshold: boolean;
  lockedAt: number | null;
  lockedUntil: number | null;
  lastFailedAt: number | null;
}

/** A counter with nothing counted, locked or in flight. */
const CLEARED = {
  failed_count: 0,
  lock_count: 0,
  locked_at: null,
  locked_until: null,
  last_failed_at: null,
  pending: 0,
  pending_at: null,
} as const;

/** Rules under which only a lock in force counts as locked (no threshold to be at). */
const LOCKS_ONLY = { threshold: Number.POSITIVE_INFINITY, decaySeconds: 0 } as const;

type CounterRow = Pick<
  Database["lockout_counters"],
  "failed_count" | "locked_at" | "locked_until" | "last_failed_at"
>;

/**
 * What a counter row means at `now`: a lock in force, the failures that still count (none after a lock
 * that ran out, or after the decay time), and whether those failures are at or past the threshold.
 */
const standing = (row: CounterRow, now: number, rules: Pick<CounterRules, "threshold" | "decaySeconds">) => {
  const locked = row.locked_at !== null && (row.locked_until === null || row.locked_until > now);
  const expiredLock = row.locked_at !== null && !locked;
  const decayed =
    rules.decaySeconds > 0 &&
    row.last_failed_at !== null &&
    row.last_failed_at < now - rules.decaySeconds * 1000;
  const failedCount = expiredLock || decayed ? 0 : row.failed_count;
  return { locked, failedCount, atThreshold: !locked && failedCount >= rules.threshold };
};

/**
 * The reservation itself, as one statement over the counter row whose subject is `subjectSql` (a
 * placeholder, or an expression when another statement computes it): it takes a place only while
 * evaluated failures plus guesses in flight stay under the threshold, and returns the failures counted.
 * The text is fixed for a given subject expression and decay setting, so it is compiled once (see db.ts
 * `fixedStatement`); `reserveValues` gives the values in the order of its placeholders.
 */
const reserveText = (subjectSql: string, decay: boolean): string => {
  // A lock that has run out, or failures older than the decay time, start the count afresh.
  const fresh = decay ? "(locked_at IS NOT NULL OR last_failed_at < ?)" : "(locked_at IS NOT NULL)";
  const failed = `(CASE WHEN ${fresh} THEN 0 ELSE failed_count END)`;
  const pending = "(CASE WHEN pending_at IS NULL OR pending_at < ? THEN 0 ELSE pending END)";
  return `UPDATE lockout_counters
    SET failed_count = ${failed}, pending = ${pending} + 1, pending_at = ?, locked_at = NULL, locked_until = NULL
    WHERE subject = ${subjectSql}
      AND (locked_at IS NULL OR (locked_until IS NOT NULL AND locked_until <= ?))
      AND ${failed} + ${pending} < ?
    RETURNING failed_count`;
};

/**
 * The fixed reservation statement, chosen by `rules` (with or without a decay time). `wrap` builds
 * the whole statement around the reservation's text (by default the reservation alone). Bind it with
 * `reserveValues`, after the values of whatever `wrap` puts before the reservation.
 */
export const reservationStatement = <Row>(
  dialect: Dialect,
  subjectSql: string,
  wrap: (reservation: string) => string = (reservation) => reservation,
) => {
  const withoutDecay = fixedStatement<Row>(dialect, wrap(reserveText(subjectSql, false)));
  const withDecay = fixedStatement<Row>(dialect, wrap(reserveText(subjectSql, true)));
  return (rules: CounterRules) => (rules.decaySeconds > 0 ? withDecay : withoutDecay);
};

/**
 * What a right guess does to its counter (see `recordSuccess`), with `?` for the failures counted at
 * its reservation and then the subject. Statements that write a success together with more use it too.
 */
export const successText = (dialect: Dialect): string => {
  const max = dialect === "postgres" ? "GREATEST" : "MAX";
  return `UPDATE lockout_counters SET pending = ${max}(pending - 1, 0), failed_count = ${max}(failed_count - ?, 0), lock_count = 0 WHERE subject = ?`;
};

/** The values of `reserveText(subjectSql, rules.decaySeconds > 0)`, in placeholder order. */
export const reserveValues = (
  subjectValues: readonly unknown[],
  now: number,
  rules: CounterRules,
): unknown[] => {
  const failed = rules.decaySeconds > 0 ? [now - rules.decaySeconds * 1000] : [];
  const pending = now - PENDING_TTL_MS;
  return [...failed, pending, now, ...subjectValues, now, ...failed, pending, rules.threshold];
};

/**
 * Failure counters for anything guessable (PINs, answers, codes), keyed by subject. Exactness under
 * concurrency comes from the database, never from process memory: an attempt is reserved by one
 * conditional UPDATE before the secret is evaluated, so a burst of requests, from any number of
 * server processes, cannot evaluate more than `threshold` guesses.
 */
export const createLockoutCountersRepo = (db: Db) => {
  const { kysely } = db;
  // Every successful sign-in runs it, and every guess the reservation: fixed statements (see db.ts).
  const success = fixedStatement(db.dialect, successText(db.dialect));
  const reservation = reservationStatement<{ failed_count: number }>(db.dialect, "?");

  // Inside a transaction, PostgreSQL holds the rows read until it ends; SQLite's transactions already
  // hold the whole database (BEGIN IMMEDIATE, see db.ts).
  const forUpdate = <Q extends { forUpdate(): Q }>(query: Q): Q =>
    db.dialect === "postgres" ? query.forUpdate() : query;

  const read = async (subject: string) =>
    kysely.selectFrom("lockout_counters").selectAll().where("subject", "=", subject).executeTakeFirst();

  /**
   * Sets the `lockCount`-th lock on `subject` if its counted failures reached the threshold, no lock is
   * set yet (exactly one caller does) and no other guess is in flight (always so at the normal threshold;
   * past a lowered one, the guesses in flight settle the count first). Returns the lock if this call set it.
   */
  const setLock = async (subject: string, now: number, rules: CounterRules, lockCount: number) => {
    const wait = rules.lockSeconds(lockCount);
    const lockedUntil = wait === null ? null : now + wait * 1000;
    const locked = await kysely
      .updateTable("lockout_counters")
      .set({ locked_at: now, locked_until: lockedUntil, lock_count: lockCount })
      .where("subject", "=", subject)
      .where("locked_at", "is", null)
      .where("failed_count", ">=", rules.threshold)
      // No guess in flight (a crashed one's place has run out): a right one must find no lock to leave behind.
      .where((eb) =>
        eb.or([
          eb("pending", "=", 0),
          eb("pending_at", "is", null),
          eb("pending_at", "<", now - PENDING_TTL_MS),
        ]),
      )
      .returning(["lock_count"])
      .executeTakeFirst();
    return locked ? { lockedUntil, lockCount } : undefined;
  };

  /**
   * Counters whose failures are at or past the threshold with no lock set and no guess in flight (what
   * a lowered threshold leaves behind), in subject order.
   */
  const pastThreshold = async (now: number, rules: CounterRules) => {
    const rows = await kysely
      .selectFrom("lockout_counters")
      .select([
        "subject",
        "failed_count",
        "locked_at",
        "locked_until",
        "last_failed_at",
        "lock_count",
        "pending",
        "pending_at",
      ])
      .where("locked_at", "is", null)
      .where("failed_count", ">=", rules.threshold)
      .orderBy("subject")
      .execute();
    const idle = (row: (typeof rows)[number]) =>
      row.pending === 0 || row.pending_at == null || row.pending_at < now - PENDING_TTL_MS;
    return rows.filter((row) => standing(row, now, rules).atThreshold && idle(row));
  };

  /**
   * What a reservation that got no place means. Failures at or past the threshold with no lock set
   * (the threshold was lowered, or a process stopped between counting a failure and locking) are a
   * lock: it is set now, so the user is told "locked", the lock runs out as any other, and unblock
   * finds it. Not while guesses taken before are still being evaluated: a right one among them must
   * find no lock to leave behind, and a wrong one sets the lock itself. Otherwise guesses in flight
   * fill the threshold.
   */
  const settleReservation = async (
    failedCount: number | undefined,
    subject: string,
    now: number,
    rules: CounterRules,
  ): Promise<Reservation> => {
    if (failedCount !== undefined) return { reserved: true, failedCount };
    const current = await read(subject);
    if (!current) return { reserved: false, missing: true };
    const { locked, atThreshold } = standing(current, now, rules);
    if (locked) return { reserved: false, missing: false, locked: true, lockedUntil: current.locked_until };
    if (atThreshold) {
      const lock = await setLock(subject, now, rules, current.lock_count + 1);
      if (lock) {
        const { lockedUntil, lockCount } = lock;
        return { reserved: false, missing: false, locked: true, lockedUntil, lockedNow: { lockCount } };
      }
      // Another guess set it first (or a success lowered the count): report the row as it is now.
      const after = await read(subject);
      if (after && standing(after, now, rules).locked)
        return { reserved: false, missing: false, locked: true, lockedUntil: after.locked_until };
    }
    return { reserved: false, missing: false, locked: false };
  };

  return {
    async ensure(subject: string): Promise<void> {
      await kysely
        .insertInto("lockout_counters")
        .values({ subject, ...CLEARED })
        .onConflict((oc) => oc.column("subject").doNothing())
        .execute();
    },

    /**
     * Takes a place for one guess. Evaluated failures plus guesses still being evaluated may never
     * exceed the threshold, so a burst of concurrent requests, from any number of server processes,
     * evaluates at most `threshold` wrong guesses before the lock. One conditional UPDATE decides it:
     * the row itself is the lock, so no read-then-write race is possible.
     */
    async reserve(subject: string, now: number, rules: CounterRules): Promise<Reservation> {
      const { rows } = await kysely.executeQuery(reservation(rules)(...reserveValues([subject], now, rules)));
      return settleReservation(rows[0]?.failed_count, subject, now, rules);
    },

    /** What a reservation that did not get a place (or the row's absence) means for `subject`. */
    settleReservation,

    /**
     * A reserved guess was wrong: it becomes a counted failure, and the failure that reaches the
     * threshold sets the lock (exactly one does: the lock is set only where it is not set yet).
     * Returns the failures now counted and the lock if this call set it.
     */
    async recordFailure(
      subject: string,
      now: number,
      rules: CounterRules,
    ): Promise<{ failedCount: number; lock?: { lockedUntil: number | null; lockCount: number } }> {
      const row = await kysely
        .updateTable("lockout_counters")
        .set({
          pending: db.greatest(sql<number>`pending - 1`, 0),
          failed_count: sql<number>`failed_count + 1`,
          last_failed_at: now,
        })
        .where("subject", "=", subject)
        .returning(["failed_count", "lock_count"])
        .executeTakeFirst();
      if (!row) return { failedCount: 0 };
      if (row.failed_count < rules.threshold) return { failedCount: row.failed_count };
      const lock = await setLock(subject, now, rules, row.lock_count + 1);
      return { failedCount: row.failed_count, ...(lock && { lock }) };
    },

    /**
     * Sets the lock on every counter whose counted failures are at or past the threshold with no lock
     * set and no guess being evaluated: what a lowered threshold means for those already past it (a
     * policy save runs it in its own transaction). Returns the subjects locked.
     */
    async lockAtThreshold(now: number, rules: CounterRules): Promise<string[]> {
      const locked: string[] = [];
      // In subject order, as every other statement that locks several counters (see lockRows).
      for (const row of await pastThreshold(now, rules)) {
        if (await setLock(row.subject, now, rules, row.lock_count + 1)) locked.push(row.subject);
      }
      return locked;
    },

    /** How many counters whose subject starts with `prefix` `lockAtThreshold` would lock now. */
    async countPastThreshold(now: number, rules: CounterRules, prefix: string): Promise<number> {
      return (await pastThreshold(now, rules)).filter((row) => row.subject.startsWith(prefix)).length;
    },

    /**
     * Holds the rows of `subjects` until the transaction ends (PostgreSQL; SQLite's transactions hold
     * the whole database), taken in subject order so that two transactions locking several counters
     * cannot wait on each other.
     */
    async lockRows(subjects: readonly string[]): Promise<void> {
      if (db.dialect !== "postgres" || subjects.length === 0) return;
      await kysely
        .selectFrom("lockout_counters")
        .select("subject")
        .where("subject", "in", [...subjects])
        .orderBy("subject")
        .forUpdate()
        .execute();
    },

    /**
     * A reserved guess was right: the failures counted when it took its place are forgotten (and the
     * escalation of temporary locks starts over); failures that landed while it was being evaluated
     * still count. No lock can be in force here: a lock needs `threshold` counted failures, which the
     * reservation rule never allows while this guess held a place.
     */
    async recordSuccess(
      subject: string,
      failedAtReservation: number,
      trx: Kysely<Database> = kysely,
    ): Promise<void> {
      await trx.executeQuery(success(failedAtReservation, subject));
    },

    /**
     * Deletes idle counters whose subject starts with `prefix` (counters kept for unknown user names,
     * which would otherwise grow with every name ever tried): not locked, nothing in flight, and no
     * failure since `idleBefore`. Returns how many went.
     */
    async pruneIdle(prefix: string, idleBefore: number, now: number): Promise<number> {
      // A range on the primary key rather than LIKE, so both databases use the index.
      const upper = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      const result = await kysely
        .deleteFrom("lockout_counters")
        .where("subject", ">=", prefix)
        .where("subject", "<", upper)
        .where((eb) =>
          eb.or([
            eb("locked_at", "is", null),
            eb.and([eb("locked_until", "is not", null), eb("locked_until", "<", now)]),
          ]),
        )
        .where((eb) => eb.or([eb("last_failed_at", "is", null), eb("last_failed_at", "<", idleBefore)]))
        .where((eb) => eb.or([eb("pending", "=", 0), eb("pending_at", "<", now - PENDING_TTL_MS)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Gives back a reserved place without counting a failure (the guess could not be evaluated). */
    async release(subject: string): Promise<void> {
      await kysely
        .updateTable("lockout_counters")
        .set({ pending: db.greatest(sql<number>`pending - 1`, 0) })
        .where("subject", "=", subject)
        .execute();
    },

    /**
     * Clears failures and any lock. Returns whether the subject was locked: a lock in force, or, under
     * `rules`, failures at or past the threshold that the next guess would have turned into one. Run it
     * in a transaction when that answer matters (an unblock), so nothing lands between read and write.
     */
    async clear(
      subject: string,
      now: number,
      rules: Pick<CounterRules, "threshold" | "decaySeconds"> = LOCKS_ONLY,
    ): Promise<boolean> {
      const before = await forUpdate(
        kysely.selectFrom("lockout_counters").selectAll().where("subject", "=", subject),
      ).executeTakeFirst();
      await kysely.updateTable("lockout_counters").set(CLEARED).where("subject", "=", subject).execute();
      if (!before) return false;
      const { locked, atThreshold } = standing(before, now, rules);
      return locked || atThreshold;
    },

    /**
     * Clears failures and locks of several subjects (a user's method counters) in one statement.
     * Returns the subjects that were locked, so the caller can say what it unblocked.
     */
    async clearMany(
      subjects: readonly string[],
      now: number,
      rules: Pick<CounterRules, "threshold" | "decaySeconds"> = LOCKS_ONLY,
    ): Promise<string[]> {
      if (subjects.length === 0) return [];
      const before = await forUpdate(
        kysely
          .selectFrom("lockout_counters")
          .select(["subject", "failed_count", "locked_at", "locked_until", "last_failed_at"])
          .where("subject", "in", [...subjects]),
      ).execute();
      await kysely
        .updateTable("lockout_counters")
        .set(CLEARED)
        .where("subject", "in", [...subjects])
        .execute();
      return before
        .filter((r) => {
          const { locked, atThreshold } = standing(r, now, rules);
          return locked || atThreshold;
        })
        .map((r) => r.subject);
    },

    async state(
      subject: string,
      now: number,
      rules: Pick<CounterRules, "threshold" | "decaySeconds">,
    ): Promise<CounterState> {
      const row = await read(subject);
      if (!row) {
        return {
          failedCount: 0,
          lockCount: 0,
          locked: false,
          atThreshold: false,
          lockedAt: null,
          lockedUntil: null,
          lastFailedAt: null,
        };
      }
      const { locked, failedCount, atThreshold } = standing(row, now, rules);
      return {
        failedCount,
        lockCount: row.lock_count,
        locked,
        atThreshold,
        lockedAt: locked ? row.locked_at : null,
        lockedUntil: locked ? row.locked_until : null,
        lastFailedAt: row.last_failed_at,
      };
    },
  };
};

export type LockoutCountersRepo = ReturnType<typeof createLockoutCountersRepo>;
