import { setTimeout as sleep } from "node:timers/promises";
import { type LockoutPolicy, lockDurationSeconds } from "../domain/pin-policy.ts";
import { AppError } from "../errors/app-error.ts";
import type { CounterRules, LockoutCountersRepo, Reservation } from "../store/repos/lockout-counters.ts";
import type { Clock } from "./context.ts";

export type AttemptResult =
  | { readonly outcome: "ok" }
  | {
      readonly outcome: "wrong";
      readonly attemptsRemaining: number;
      readonly lockedNow: boolean;
      readonly lockedUntil: number | null;
    }
  | {
      readonly outcome: "locked";
      readonly lockedUntil: number | null;
      /** This guess found the failures at or past the threshold and set the lock itself. */
      readonly lockedNow?: boolean;
    };

export const counterRules = (lockout: LockoutPolicy): CounterRules => ({
  threshold: lockout.threshold,
  decaySeconds: lockout.decaySeconds,
  lockSeconds: (n) => lockDurationSeconds(lockout, n),
});

/**
 * How long a guess waits for a place while others are being evaluated (a hash takes ~15 ms): the
 * burst either ends in a lock, which it then reports, or frees places as guesses complete.
 */
const BUSY_WAITS_MS = [5, 10, 20, 40, 80, 160, 320, 640, 640];

/**
 * One guarded guess at a secret. The attempt is reserved in the database *before* `evaluate` runs, so a
 * burst of concurrent guesses, from any number of processes, evaluates at most `threshold` of them.
 * Every entry point that checks the same secret passes the same subject and so shares one counter.
 * When other guesses being evaluated fill the threshold for longer than the short wait, the guess is
 * refused with `attemptsInProgress` (429): not a lock, and not counted.
 */
export const createAttemptGuard = ({
  counters,
  clock,
  waits = BUSY_WAITS_MS,
}: {
  counters: LockoutCountersRepo;
  clock: Clock;
  waits?: readonly number[];
}) => ({
  async attempt(
    subject: string,
    lockout: LockoutPolicy,
    evaluate: () => Promise<boolean>,
    options: {
      /**
       * Records the success instead of the guard, so the caller can write it together with what a
       * success writes anyway; it must do what the counters' `recordSuccess` does.
       */
      recordSuccess?: (failedAtReservation: number) => Promise<void>;
      /** The first reservation, already made by the caller in the statement that found the user. */
      reserved?: Reservation;
      /**
       * Runs before the guess is refused with attemptsInProgress: not counted, but the help desk is told
       * to look in the audit log for someone guessing, so the caller records it there.
       */
      onInProgress?: () => Promise<void>;
    } = {},
  ): Promise<AttemptResult> {
    const rules = counterRules(lockout);
    let reservation = options.reserved ?? (await counters.reserve(subject, clock.now(), rules));
    if (!reservation.reserved && reservation.missing) {
      await counters.ensure(subject);
      reservation = await counters.reserve(subject, clock.now(), rules);
    }
    for (const wait of waits) {
      if (reservation.reserved || reservation.missing || reservation.locked) break;
      await sleep(wait * (0.5 + Math.random()));
      reservation = await counters.reserve(subject, clock.now(), rules);
    }
    if (!reservation.reserved) {
      if (reservation.missing) return { outcome: "locked", lockedUntil: null };
      if (!reservation.locked) {
        await options.onInProgress?.();
        throw new AppError("attemptsInProgress");
      }
      return {
        outcome: "locked",
        lockedUntil: reservation.lockedUntil,
        ...(reservation.lockedNow && { lockedNow: true }),
      };
    }
    let right: boolean;
    try {
      right = await evaluate();
    } catch (error) {
      // Not a wrong guess: give the place back rather than count it.
      await counters.release(subject);
      throw error;
    }
    if (right) {
      await (options.recordSuccess
        ? options.recordSuccess(reservation.failedCount)
        : counters.recordSuccess(subject, reservation.failedCount));
      return { outcome: "ok" };
    }
    const { failedCount, lock } = await counters.recordFailure(subject, clock.now(), rules);
    if (lock)
      return { outcome: "wrong", attemptsRemaining: 0, lockedNow: true, lockedUntil: lock.lockedUntil };
    const attemptsRemaining = Math.max(lockout.threshold - failedCount, 0);
    if (attemptsRemaining === 0) {
      // A concurrent failure set the lock first; report it as it stands.
      const state = await counters.state(subject, clock.now(), rules);
      return { outcome: "wrong", attemptsRemaining: 0, lockedNow: false, lockedUntil: state.lockedUntil };
    }
    return { outcome: "wrong", attemptsRemaining, lockedNow: false, lockedUntil: null };
  },
});

export type AttemptGuard = ReturnType<typeof createAttemptGuard>;
