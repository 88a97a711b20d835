import { randomInt, randomUUID } from "node:crypto";
import type { Db } from "../../store/db.ts";
import type { Clock } from "../context.ts";

export interface WindowRule {
  /** At most this many counted requests … */
  readonly max: number;
  /** … within this window. */
  readonly windowMs: number;
}

const SWEEP_AFTER_MS = 86_400_000;

export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly retryAt: number };

/**
 * Sliding-window rate limits kept in the database, so they hold however many PinDesk processes serve
 * the requests. A request is admitted by inserting its event first and counting after: of concurrent
 * requests at the limit none can slip through (at worst one more is refused). A refused request's
 * event is removed again, so hammering a limit does not extend it.
 */
export const createRateLimiter = ({ db, clock }: { db: Db; clock: Clock }) => {
  const { kysely } = db;

  /** Now and then, events older than any window (a day) go, including cooldown marks nobody counts. */
  const sweep = async (now: number) => {
    if (randomInt(100) !== 0) return;
    await kysely
      .deleteFrom("rate_events")
      .where("at", "<", now - SWEEP_AFTER_MS)
      .execute();
  };

  const eventsSince = async (bucket: string, since: number) =>
    kysely
      .selectFrom("rate_events")
      .select("at")
      .where("bucket", "=", bucket)
      .where("at", ">", since)
      .orderBy("at", "asc")
      .execute();

  return {
    /** Counts one request in `bucket` if the rule allows it. */
    async admit(bucket: string, rule: WindowRule): Promise<Admission> {
      const now = clock.now();
      // Old events never matter again; removing them here keeps every bucket small.
      await kysely
        .deleteFrom("rate_events")
        .where("bucket", "=", bucket)
        .where("at", "<=", now - rule.windowMs)
        .execute();
      await sweep(now);
      const id = randomUUID();
      await kysely.insertInto("rate_events").values({ id, bucket, at: now }).execute();
      const events = await eventsSince(bucket, now - rule.windowMs);
      if (events.length <= rule.max) return { admitted: true };
      await kysely.deleteFrom("rate_events").where("id", "=", id).execute();
      // Free again once the oldest counted request leaves the window.
      return { admitted: false, retryAt: (events[0]?.at ?? now) + rule.windowMs };
    },

    /**
     * How full `bucket` is, without counting anything: the requests in the window, and when the next
     * is admitted if the rule is at its limit (null when one would be admitted now).
     */
    async state(bucket: string, rule: WindowRule): Promise<{ counted: number; retryAt: number | null }> {
      const events = await eventsSince(bucket, clock.now() - rule.windowMs);
      const full = events.length >= rule.max;
      const freeing = events[events.length - rule.max];
      return { counted: events.length, retryAt: full && freeing ? freeing.at + rule.windowMs : null };
    },

    /** The newest event in `bucket`, if any within `windowMs` (for cooldowns). */
    async last(bucket: string, windowMs: number): Promise<number | undefined> {
      const events = await eventsSince(bucket, clock.now() - windowMs);
      return events.at(-1)?.at;
    },

    /** Records an event without a limit (a cooldown's start). */
    async record(bucket: string): Promise<void> {
      await kysely.insertInto("rate_events").values({ id: randomUUID(), bucket, at: clock.now() }).execute();
    },
  };
};

export type RateLimiter = ReturnType<typeof createRateLimiter>;
