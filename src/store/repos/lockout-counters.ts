import { sql } from "kysely";
import type { Db } from "../db.ts";

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
  | { readonly reserved: false; readonly missing: false; readonly lockedUntil: number | null };

export interface CounterState {
  failedCount: number;
  lockCount: number;
  locked: boolean;
  lockedAt: number | null;
  lockedUntil: number | null;
  lastFailedAt: number | null;
}

/**
 * Failure counters for anything guessable (PINs, answers, codes), keyed by subject. Exactness under
 * concurrency comes from the database, never from process memory: an attempt is reserved by one
 * conditional UPDATE before the secret is evaluated, so a burst of requests, from any number of
 * server processes, cannot evaluate more than `threshold` guesses.
 */
export const createLockoutCountersRepo = (db: Db) => {
  const { kysely } = db;

  const read = async (subject: string) =>
    kysely.selectFrom("lockout_counters").selectAll().where("subject", "=", subject).executeTakeFirst();

  return {
    async ensure(subject: string): Promise<void> {
      await kysely
        .insertInto("lockout_counters")
        .values({
          subject,
          failed_count: 0,
          lock_count: 0,
          locked_at: null,
          locked_until: null,
          last_failed_at: null,
        })
        .onConflict((oc) => oc.column("subject").doNothing())
        .execute();
    },

    async reserve(subject: string, now: number, rules: CounterRules): Promise<Reservation> {
      const decayCutoff = rules.decaySeconds > 0 ? now - rules.decaySeconds * 1000 : null;
      // A lock that has run out, or failures older than the decay time, start the count afresh.
      const fresh =
        decayCutoff === null
          ? sql<boolean>`(locked_at IS NOT NULL)`
          : sql<boolean>`(locked_at IS NOT NULL OR last_failed_at < ${decayCutoff})`;
      const row = await kysely
        .updateTable("lockout_counters")
        .set({
          failed_count: sql<number>`CASE WHEN ${fresh} THEN 1 ELSE failed_count + 1 END`,
          locked_at: null,
          locked_until: null,
          last_failed_at: now,
        })
        .where("subject", "=", subject)
        .where((eb) =>
          eb.or([
            eb.and([
              eb("locked_at", "is", null),
              decayCutoff === null
                ? eb("failed_count", "<", rules.threshold)
                : eb.or([eb("failed_count", "<", rules.threshold), eb("last_failed_at", "<", decayCutoff)]),
            ]),
            eb.and([
              eb("locked_at", "is not", null),
              eb("locked_until", "is not", null),
              eb("locked_until", "<=", now),
            ]),
          ]),
        )
        .returning(["failed_count"])
        .executeTakeFirst();
      if (row) return { reserved: true, failedCount: row.failed_count };

      const current = await read(subject);
      if (!current) return { reserved: false, missing: true };
      if (current.locked_at !== null)
        return { reserved: false, missing: false, lockedUntil: current.locked_until };
      // Threshold reached by attempts still being evaluated: the lock is about to be set.
      const wait = rules.lockSeconds(current.lock_count + 1);
      return { reserved: false, missing: false, lockedUntil: wait === null ? null : now + wait * 1000 };
    },

    /**
     * After a wrong guess: locks the subject if the threshold has been reached. Exactly one of several
     * concurrent failures sets the lock (the WHERE requires it to be unset). Returns the lock if this
     * call set it.
     */
    async lockIfThresholdReached(
      subject: string,
      now: number,
      rules: CounterRules,
    ): Promise<{ lockedUntil: number | null; lockCount: number } | undefined> {
      for (let tries = 0; tries < 3; tries++) {
        const current = await read(subject);
        if (!current || current.locked_at !== null || current.failed_count < rules.threshold)
          return undefined;
        const lockCount = current.lock_count + 1;
        const wait = rules.lockSeconds(lockCount);
        const lockedUntil = wait === null ? null : now + wait * 1000;
        const row = await kysely
          .updateTable("lockout_counters")
          .set({ locked_at: now, locked_until: lockedUntil, lock_count: lockCount })
          .where("subject", "=", subject)
          .where("locked_at", "is", null)
          .where("failed_count", ">=", rules.threshold)
          .where("lock_count", "=", current.lock_count)
          .returning(["lock_count"])
          .executeTakeFirst();
        if (row) return { lockedUntil, lockCount };
      }
      return undefined;
    },

    /**
     * After a correct guess: forgets the failures counted up to and including this attempt's
     * reservation; failures reserved by concurrent attempts after it still count.
     */
    async recordSuccess(subject: string, reservedCount: number): Promise<void> {
      await kysely
        .updateTable("lockout_counters")
        .set({
          failed_count: db.greatest(sql<number>`failed_count - ${reservedCount}`, 0),
          lock_count: 0,
        })
        .where("subject", "=", subject)
        .execute();
    },

    /** Clears failures and any lock. Returns whether a lock was in force. */
    async clear(subject: string, now: number): Promise<boolean> {
      const before = await read(subject);
      await kysely
        .updateTable("lockout_counters")
        .set({ failed_count: 0, lock_count: 0, locked_at: null, locked_until: null, last_failed_at: null })
        .where("subject", "=", subject)
        .execute();
      return (
        !!before && before.locked_at !== null && (before.locked_until === null || before.locked_until > now)
      );
    },

    async state(
      subject: string,
      now: number,
      rules: Pick<CounterRules, "decaySeconds">,
    ): Promise<CounterState> {
      const row = await read(subject);
      if (!row) {
        return {
          failedCount: 0,
          lockCount: 0,
          locked: false,
          lockedAt: null,
          lockedUntil: null,
          lastFailedAt: null,
        };
      }
      const locked = row.locked_at !== null && (row.locked_until === null || row.locked_until > now);
      const expiredLock = row.locked_at !== null && !locked;
      const decayed =
        rules.decaySeconds > 0 &&
        row.last_failed_at !== null &&
        row.last_failed_at < now - rules.decaySeconds * 1000;
      return {
        failedCount: expiredLock || decayed ? 0 : row.failed_count,
        lockCount: row.lock_count,
        locked,
        lockedAt: locked ? row.locked_at : null,
        lockedUntil: locked ? row.locked_until : null,
        lastFailedAt: row.last_failed_at,
      };
    },
  };
};

export type LockoutCountersRepo = ReturnType<typeof createLockoutCountersRepo>;
