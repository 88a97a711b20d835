import { type LockoutPolicy, lockDurationSeconds } from "../domain/pin-policy.ts";
import type { CounterRules, LockoutCountersRepo } from "../store/repos/lockout-counters.ts";
import type { Clock } from "./context.ts";

export type AttemptResult =
  | { readonly outcome: "ok"; readonly reservedCount: number }
  | {
      readonly outcome: "wrong";
      readonly attemptsRemaining: number;
      readonly lockedNow: boolean;
      readonly lockedUntil: number | null;
    }
  | { readonly outcome: "locked"; readonly lockedUntil: number | null };

export const counterRules = (lockout: LockoutPolicy): CounterRules => ({
  threshold: lockout.threshold,
  decaySeconds: lockout.decaySeconds,
  lockSeconds: (n) => lockDurationSeconds(lockout, n),
});

/**
 * One guarded guess at a secret. The attempt is reserved in the database *before* `evaluate` runs, so a
 * burst of concurrent guesses, from any number of processes, evaluates at most `threshold` of them.
 * Every entry point that checks the same secret passes the same subject and so shares one counter.
 */
export const createAttemptGuard = ({ counters, clock }: { counters: LockoutCountersRepo; clock: Clock }) => ({
  async attempt(
    subject: string,
    lockout: LockoutPolicy,
    evaluate: () => Promise<boolean>,
  ): Promise<AttemptResult> {
    const rules = counterRules(lockout);
    let reservation = await counters.reserve(subject, clock.now(), rules);
    if (!reservation.reserved && reservation.missing) {
      await counters.ensure(subject);
      reservation = await counters.reserve(subject, clock.now(), rules);
    }
    if (!reservation.reserved) {
      return { outcome: "locked", lockedUntil: reservation.missing ? null : reservation.lockedUntil };
    }
    const { failedCount } = reservation;
    if (await evaluate()) {
      await counters.recordSuccess(subject, failedCount);
      return { outcome: "ok", reservedCount: failedCount };
    }
    const lock = await counters.lockIfThresholdReached(subject, clock.now(), rules);
    const attemptsRemaining = Math.max(lockout.threshold - failedCount, 0);
    if (lock)
      return { outcome: "wrong", attemptsRemaining: 0, lockedNow: true, lockedUntil: lock.lockedUntil };
    if (attemptsRemaining === 0) {
      // A concurrent failure set the lock first; report it as it stands.
      const state = await counters.state(subject, clock.now(), rules);
      return { outcome: "wrong", attemptsRemaining: 0, lockedNow: false, lockedUntil: state.lockedUntil };
    }
    return { outcome: "wrong", attemptsRemaining, lockedNow: false, lockedUntil: null };
  },
});

export type AttemptGuard = ReturnType<typeof createAttemptGuard>;
