import { randomUUID } from "node:crypto";
import type { SecretBox } from "../crypto/tokens.ts";
import { maskEmail, maskPhone } from "../domain/portal-policy.ts";
import type { Clock } from "../services/context.ts";
import type { OutboxRepo, OutboxRow } from "../store/repos/outbox.ts";
import type { Transport } from "./transports.ts";

export interface OutboxMessageView {
  id: string;
  channel: "email" | "sms";
  destinationMasked: string;
  purpose: string;
  subject: string;
  status: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  settledAt: string | null;
  nextAttemptAt: string | null;
}

/** Waits between attempts: 30 s, 2 min, 10 min, 30 min; the fifth failure is final. */
export const RETRY_DELAYS_MS = [30_000, 120_000, 600_000, 1_800_000];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
const CLAIM_MS = 60_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const view = (row: OutboxRow): OutboxMessageView => ({
  id: row.id,
  channel: row.channel,
  destinationMasked: row.destination_masked,
  purpose: row.purpose,
  subject: row.subject,
  status: row.status,
  attempts: row.attempts,
  lastError: row.last_error,
  createdAt: iso(row.created_at) as string,
  updatedAt: iso(row.updated_at) as string,
  settledAt: iso(row.settled_at),
  nextAttemptAt: row.status === "queued" ? iso(row.next_attempt_at) : null,
});

/**
 * Every message to a person goes through here, so its delivery can be followed: queued → accepted by
 * the provider, or failed with the provider's reason after retries with backoff. The body (which can
 * hold a one-time code) is sealed while waiting and erased once the message is settled.
 */
export const createOutbox = ({
  repo,
  box,
  clock,
  transports,
  onError,
}: {
  repo: OutboxRepo;
  box: SecretBox;
  clock: Clock;
  transports: { email: Transport; sms: Transport };
  onError?: (error: unknown) => void;
}) => {
  let timer: NodeJS.Timeout | undefined;

  const attempt = async (id: string): Promise<OutboxMessageView | undefined> => {
    const row = await repo.claim(id, clock.now(), CLAIM_MS);
    if (!row?.body_sealed) return row ? view(row) : undefined;
    const result = await transports[row.channel].send({
      to: row.destination,
      subject: row.subject,
      text: box.open(row.body_sealed),
    });
    const now = clock.now();
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
    } else if (row.attempts >= MAX_ATTEMPTS) {
      await repo.settle(id, {
        status: "failed",
        last_error: result.reason,
        body_sealed: null,
        locked_until: null,
        next_attempt_at: null,
        settled_at: now,
        updated_at: now,
      });
    } else {
      await repo.settle(id, {
        status: "queued",
        last_error: result.reason,
        locked_until: null,
        next_attempt_at: now + (RETRY_DELAYS_MS[row.attempts - 1] ?? 1_800_000),
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
    }): Promise<OutboxMessageView> {
      const now = clock.now();
      const row: OutboxRow = {
        id: randomUUID(),
        user_id: message.userId,
        channel: message.channel,
        destination: message.destination,
        destination_masked:
          message.channel === "email" ? maskEmail(message.destination) : maskPhone(message.destination),
        purpose: message.purpose,
        subject: message.subject,
        body_sealed: box.seal(message.text),
        status: "queued",
        attempts: 0,
        next_attempt_at: now,
        locked_until: null,
        last_error: null,
        provider_message_id: null,
        created_at: now,
        updated_at: now,
        settled_at: null,
      };
      await repo.insert(row);
      return view(row);
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

    /** Background retries, every `intervalMs`; the timer never keeps the process alive. */
    start(intervalMs = 5_000): void {
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
