import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { SecretBox } from "../crypto/tokens.ts";
import { maskEmail, maskPhone } from "../domain/portal-policy.ts";
import { humanTime } from "../domain/time-words.ts";
import type { Clock } from "../services/context.ts";
import type { OutboxRepo, OutboxRow } from "../store/repos/outbox.ts";
import type { SendResult, Transport } from "./transports.ts";

/** How the reason of a message replaced by a newer one begins (see `supersede`). */
export const SUPERSEDED = "replaced by a newer code";

export type OutboxState = "queued" | "sending" | "retrying" | "accepted" | "failed" | "expired";

export interface OutboxMessageView {
  id: string;
  channel: "email" | "sms";
  destinationMasked: string;
  purpose: string;
  subject: string;
  /** As stored: queued (also between retries), sending, accepted, failed, expired. */
  status: string;
  /** What a person should read: "retrying" is a queued message that has already failed at least once. */
  state: OutboxState;
  /** The state in plain words, the same for the user and the help desk. */
  statusText: string;
  attempts: number;
  maxAttempts: number;
  lastError: string | null;
  /**
   * The provider's last reason as anyone may read it (a person on the Forgot PIN page): a refusal
   * that names the recipient says so with the masked address instead of the address itself.
   */
  lastErrorMasked: string | null;
  createdAt: string;
  updatedAt: string;
  settledAt: string | null;
  nextAttemptAt: string | null;
  expiresAt: string | null;
}

/** Waits between attempts: 30 s, 2 min, 10 min, 30 min; the fifth failure is final. */
export const RETRY_DELAYS_MS: readonly number[] = [30_000, 120_000, 600_000, 1_800_000];
const CLAIM_MS = 60_000;

const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();

const stateOf = (row: OutboxRow): OutboxState =>
  row.status === "queued" && row.attempts > 0 ? "retrying" : (row.status as OutboxState);

const describe = (row: OutboxRow, maxAttempts: number): string => {
  const reason = row.last_error ?? "no reason given";
  switch (stateOf(row)) {
    case "queued":
      return "Waiting to be sent.";
    case "sending":
      return `Being sent now (attempt ${row.attempts} of ${maxAttempts}).`;
    case "retrying":
      return `Retrying: attempt ${row.attempts} of ${maxAttempts} failed (${reason}); next attempt at ${humanTime(row.next_attempt_at)}.`;
    case "accepted":
      return `Accepted by the provider at ${humanTime(row.settled_at)}.`;
    case "failed":
      return `Not delivered after ${row.attempts} attempt${row.attempts === 1 ? "" : "s"}: ${reason}.`;
    case "expired":
      return `Not delivered, and no longer worth delivering: ${reason}.`;
    default:
      return row.status;
  }
};
/**
 * Whether a provider's reason names the recipient: their address, its local part, or the digits of
 * their phone number.
 */
export const mentionsRecipient = (reason: string, destination: string): boolean => {
  const text = reason.toLowerCase();
  const to = destination.toLowerCase();
  if (to !== "" && text.includes(to)) return true;
  const local = to.split("@")[0] ?? "";
  if (to.includes("@") && local.length >= 3 && text.includes(local)) return true;
  const digits = to.replace(/\D/g, "");
  return digits.length >= 6 && text.replace(/\D/g, "").includes(digits.slice(-6));
};

/**
 * Every message to a person goes through here, so its delivery can be followed: queued → accepted by
 * the provider, or failed with the provider's reason after retries with backoff. The body (which can
 * hold a one-time code) is sealed while waiting and erased once the message is settled. A message
 * with an expiry (a code valid 10 minutes) is marked expired, never delivered, once it would arrive dead.
 */
export const createOutbox = ({
  repo,
  box,
  clock,
  transports,
  retryDelaysMs = RETRY_DELAYS_MS,
  onError,
}: {
  repo: OutboxRepo;
  box: SecretBox;
  clock: Clock;
  transports: { email: Transport; sms: Transport };
  /** Waits between attempts; one attempt more than there are waits. */
  retryDelaysMs?: readonly number[];
  onError?: (error: unknown) => void;
}) => {
  let timer: NodeJS.Timeout | undefined;
  const maxAttempts = retryDelaysMs.length + 1;
  // A channel's last answer stands for its provider's state for as long as the longest wait between
  // two tries of a message: within that, a real message still being retried would have renewed it.
  const ANSWER_CURRENT_MS = Math.max(...retryDelaysMs, 60_000);
  // What the provider of each channel last answered for a real message, and how long it took: a
  // stand-in is answered the same, so its states follow a real message's through an outage too. It is
  // kept in the database, so a process that has sent nothing yet (just started, or one of several)
  // answers its stand-ins as the others' real messages were answered. An answer about one recipient
  // (a permanent refusal) says nothing about the channel and is not kept.
  const send = async (row: OutboxRow): Promise<SendResult> => {
    const channel = row.channel;
    if (row.stand_in === 1) {
      // A channel this process cannot send on fails a real message at once, so its stand-in too.
      const unavailable = transports[channel].unavailable;
      if (unavailable) return { accepted: false, reason: unavailable, permanent: true };
      // Only a recent answer says how the provider is doing now: real messages (and their retries)
      // renew it while they are being sent.
      const last = await repo.channelAnswer(channel);
      if (last && last.at > clock.now() - ANSWER_CURRENT_MS) {
        await sleep(Math.min(last.ms, 10_000));
        return last.accepted === 1
          ? { accepted: true, providerMessageId: null }
          : { accepted: false, reason: last.reason ?? "the provider gave no reason", permanent: false };
      }
      return { accepted: true, providerMessageId: null };
    }
    const started = performance.now();
    const result = await transports[channel].send({
      to: row.destination,
      subject: row.subject,
      text: box.open(row.body_sealed ?? ""),
    });
    // A refusal that names the recipient is about that recipient, not the channel (and must never be
    // shown for anyone else).
    if (result.accepted || !(result.permanent || mentionsRecipient(result.reason, row.destination))) {
      // The message itself is already with the provider: failing to note the answer must not make it
      // look unsent (and be sent twice).
      await repo
        .saveChannelAnswer({
          channel,
          accepted: result.accepted ? 1 : 0,
          reason: result.accepted ? null : result.reason,
          ms: Math.round(performance.now() - started),
          at: clock.now(),
        })
        .catch((error: unknown) => onError?.(error));
    }
    return result;
  };

  // The attempts a message can get: all of them, or those due before its content expires (a code
  // valid 10 minutes gets tries at 0 s, 30 s and 2.5 min, not the fourth at 12.5 min), so "attempt 1
  // of 3" never promises tries that will not happen. Waits only ever run late, never early.
  const attemptsFor = (row: OutboxRow): number => {
    const expiresAt = row.expires_at ?? null;
    if (expiresAt === null) return maxAttempts;
    let due = row.created_at;
    let possible = 1;
    for (const wait of retryDelaysMs) {
      due += wait;
      if (due >= expiresAt) break;
      possible++;
    }
    return Math.max(row.attempts, Math.min(possible, maxAttempts));
  };

  const view = (row: OutboxRow): OutboxMessageView => {
    const possible = attemptsFor(row);
    return {
      id: row.id,
      channel: row.channel,
      destinationMasked: row.destination_masked,
      purpose: row.purpose,
      subject: row.subject,
      status: row.status,
      state: stateOf(row),
      statusText: describe(row, possible),
      attempts: row.attempts,
      maxAttempts: possible,
      lastError: row.last_error,
      lastErrorMasked:
        row.last_error !== null && mentionsRecipient(row.last_error, row.destination)
          ? `the ${row.channel === "email" ? "mail server" : "SMS provider"} refused the address ${row.destination_masked}`
          : row.last_error,
      createdAt: iso(row.created_at) as string,
      updatedAt: iso(row.updated_at) as string,
      settledAt: iso(row.settled_at),
      nextAttemptAt: row.status === "queued" ? iso(row.next_attempt_at) : null,
      expiresAt: iso(row.expires_at),
    };
  };

  // Given up on, never to be sent: the body is erased and no try is due.
  const expired = (now: number, reason: string): Partial<OutboxRow> => ({
    status: "expired",
    last_error: reason,
    body_sealed: null,
    locked_until: null,
    next_attempt_at: null,
    settled_at: now,
    updated_at: now,
  });
  const expire = async (id: string, now: number, reason: string) => repo.settle(id, expired(now, reason));

  /** A new message, due now: what a real message and a stand-in differ in is given. */
  const queued = (
    message: Pick<
      OutboxRow,
      "id" | "user_id" | "channel" | "destination" | "destination_masked" | "purpose" | "subject" | "stand_in"
    > & { body: string; expiresAt: number | null },
  ): OutboxRow => {
    const { body, expiresAt, ...fields } = message;
    const now = clock.now();
    return {
      ...fields,
      body_sealed: box.seal(body),
      status: "queued",
      attempts: 0,
      next_attempt_at: now,
      locked_until: null,
      last_error: null,
      provider_message_id: null,
      created_at: now,
      updated_at: now,
      settled_at: null,
      expires_at: expiresAt,
    };
  };

  const attempt = async (id: string): Promise<OutboxMessageView | undefined> => {
    const row = await repo.claim(id, clock.now(), CLAIM_MS);
    if (!row?.body_sealed) return row ? view(row) : undefined;
    const expiresAt = row.expires_at ?? null;
    if (expiresAt !== null && clock.now() >= expiresAt) {
      await expire(
        id,
        clock.now(),
        `${row.last_error ? `${row.last_error}; ` : ""}the code in it expired at ${humanTime(expiresAt)} before it could be delivered, so it was not sent — ask for a new code`,
      );
      const settled = await repo.get(id);
      return settled && view(settled);
    }
    const result = await send(row);
    const now = clock.now();
    const nextAt = now + (retryDelaysMs[row.attempts - 1] ?? retryDelaysMs.at(-1) ?? 60_000);
    if (result.accepted) {
      await repo.settle(id, {
        status: "accepted",
        provider_message_id: result.providerMessageId,
        body_sealed: null,
        locked_until: null,
        next_attempt_at: null,
        last_error: null,
        settled_at: now,
        updated_at: now,
      });
    } else if (row.attempts >= maxAttempts || result.permanent) {
      await repo.settle(id, {
        status: "failed",
        last_error: result.reason,
        body_sealed: null,
        locked_until: null,
        next_attempt_at: null,
        settled_at: now,
        updated_at: now,
      });
    } else if (expiresAt !== null && nextAt >= expiresAt) {
      // The next try would deliver a dead code: stop here and say why.
      await expire(
        id,
        now,
        `${result.reason}; not tried again: the code in it expires at ${humanTime(expiresAt)}, before the next try — ask for a new code`,
      );
    } else {
      await repo.settle(id, {
        status: "queued",
        last_error: result.reason,
        locked_until: null,
        next_attempt_at: nextAt,
        updated_at: now,
      });
    }
    const settled = await repo.get(id);
    return settled && view(settled);
  };

  const outbox = {
    async enqueue(message: {
      userId: string | null;
      channel: "email" | "sms";
      destination: string;
      purpose: string;
      subject: string;
      text: string;
      /** When the content stops being useful (a code's expiry). */
      expiresAt?: number;
    }): Promise<OutboxMessageView> {
      const row = queued({
        id: randomUUID(),
        user_id: message.userId,
        channel: message.channel,
        destination: message.destination,
        destination_masked:
          message.channel === "email" ? maskEmail(message.destination) : maskPhone(message.destination),
        purpose: message.purpose,
        subject: message.subject,
        body: message.text,
        expiresAt: message.expiresAt ?? null,
        stand_in: 0,
      });
      await repo.insert(row);
      return view(row);
    },

    /**
     * A message that stands in for one to an unknown user name: nobody is sent anything, but it goes
     * through the same states, attempts and waits as a real message on that channel, answered as the
     * channel's provider last answered a real one. So its delivery status cannot tell a made-up name
     * from a real one, in an outage as much as on a good day. No count or list of deliveries shows it.
     */
    async enqueueStandIn(message: {
      id: string;
      channel: "email" | "sms";
      purpose: string;
      subject: string;
      expiresAt: number;
    }): Promise<OutboxMessageView> {
      const row = queued({
        id: message.id,
        user_id: null,
        channel: message.channel,
        destination: "",
        destination_masked: "",
        purpose: message.purpose,
        subject: message.subject,
        body: "",
        expiresAt: message.expiresAt,
        stand_in: 1,
      });
      await repo.insert(row);
      return view(row);
    },

    /**
     * A message that a newer one replaces (a code superseded by a new code): if it is still waiting for
     * its next try it is marked expired with `reason` and never sent, so an old code cannot arrive late
     * and be refused. One already handed to the provider cannot be called back.
     */
    async supersede(id: string, reason: string): Promise<boolean> {
      return repo.settleIfWaiting(id, expired(clock.now(), reason));
    },

    /** Tries to send one message now (no-op if another sender holds it or it is not due). */
    deliver: attempt,

    /** Sends every due message; returns how many were attempted. */
    async processDue(limit = 50): Promise<number> {
      const ids = await repo.dueIds(clock.now(), limit);
      await Promise.all(ids.map((id) => attempt(id)));
      return ids.length;
    },

    async get(id: string): Promise<OutboxMessageView | undefined> {
      const row = await repo.get(id);
      return row && view(row);
    },

    async listForUser(userId: string, limit: number): Promise<OutboxMessageView[]> {
      return (await repo.listForUser(userId, limit)).map(view);
    },

    /** Why a channel cannot deliver at all (nothing configured), or null when it can. */
    unavailable(channel: "email" | "sms"): string | null {
      return transports[channel].unavailable ?? null;
    },

    /**
     * Background retries, every `intervalMs` (by default often enough for the shortest retry wait); the
     * timer never keeps the process alive.
     */
    start(intervalMs = Math.max(250, Math.min(5_000, retryDelaysMs[0] ?? 5_000))): void {
      if (timer) return;
      timer = setInterval(() => {
        outbox.processDue().catch((error) => onError?.(error));
      }, intervalMs);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
  return outbox;
};

export type Outbox = ReturnType<typeof createOutbox>;
