import type { Repos } from "../store/index.ts";
import type { Clock } from "./context.ts";

/** Counters of names nobody has, and the prefixes they are kept under (see pin-service.ts). */
export const UNKNOWN_SUBJECT_PREFIXES = ["pin-unknown:"] as const;

/** An unknown name's counter is kept this long after its last failure (longer than any lock it had). */
const UNKNOWN_IDLE_MS = 24 * 3_600_000;

export interface HousekeepingResult {
  readonly unknownCountersRemoved: number;
}

/**
 * Housekeeping a long-running server does in the background: forgets the lockout counters of user
 * names that do not exist once they have been idle a day, and expired single-use change tokens.
 */
export const createMaintenance = ({ repos, clock }: { repos: Repos; clock: Clock }) => {
  let timer: NodeJS.Timeout | undefined;
  const runOnce = async (): Promise<HousekeepingResult> => {
    const now = clock.now();
    let unknownCountersRemoved = 0;
    for (const prefix of UNKNOWN_SUBJECT_PREFIXES) {
      unknownCountersRemoved += await repos.counters.pruneIdle(prefix, now - UNKNOWN_IDLE_MS, now);
    }
    await repos.changeTokens.deleteExpired(now);
    return { unknownCountersRemoved };
  };
  return {
    runOnce,
    /** Every `intervalMs` (10 minutes by default); the timer never keeps the process alive. */
    start(intervalMs = 10 * 60_000, onError?: (error: unknown) => void): void {
      if (timer) return;
      timer = setInterval(() => {
        runOnce().catch((error) => onError?.(error));
      }, intervalMs);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
};

export type Maintenance = ReturnType<typeof createMaintenance>;
