import type { Db } from "../db.ts";
import type { ChannelAnswersTable, OutboxTable } from "../schema.ts";

export type OutboxRow = OutboxTable;

export type ChannelAnswer = ChannelAnswersTable;

export const createOutboxRepo = ({ kysely }: Db) => ({
  /** Keeps what a channel's provider just answered a real message, for every process (see outbox.ts). */
  async saveChannelAnswer(answer: ChannelAnswer): Promise<void> {
    await kysely
      .insertInto("channel_answers")
      .values(answer)
      .onConflict((oc) =>
        oc
          .column("channel")
          .doUpdateSet({ accepted: answer.accepted, reason: answer.reason, ms: answer.ms, at: answer.at })
          // Of two processes noting answers at once, the newer answer stays.
          .where("channel_answers.at", "<=", answer.at),
      )
      .execute();
  },

  async channelAnswer(channel: "email" | "sms"): Promise<ChannelAnswer | undefined> {
    return kysely.selectFrom("channel_answers").selectAll().where("channel", "=", channel).executeTakeFirst();
  },

  async insert(row: OutboxRow): Promise<void> {
    await kysely.insertInto("outbox").values(row).execute();
  },

  async get(id: string): Promise<OutboxRow | undefined> {
    return kysely.selectFrom("outbox").selectAll().where("id", "=", id).executeTakeFirst();
  },

  async listForUser(userId: string, limit: number): Promise<OutboxRow[]> {
    return kysely
      .selectFrom("outbox")
      .selectAll()
      .where("user_id", "=", userId)
      .orderBy("created_at", "desc")
      .limit(limit)
      .execute();
  },

  async dueIds(now: number, limit: number): Promise<string[]> {
    const rows = await kysely
      .selectFrom("outbox")
      .select("id")
      .where((eb) =>
        eb.or([
          eb.and([eb("status", "=", "queued"), eb("next_attempt_at", "<=", now)]),
          // A sender that died mid-send: its claim expires and the message is tried again.
          eb.and([eb("status", "=", "sending"), eb("locked_until", "<=", now)]),
        ]),
      )
      .orderBy("next_attempt_at")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  },

  /**
   * Claims a message for sending with one conditional UPDATE: of several PinDesk processes (or
   * concurrent calls) exactly one gets it, so a message is never sent twice.
   */
  async claim(id: string, now: number, lockMs: number): Promise<OutboxRow | undefined> {
    const result = await kysely
      .updateTable("outbox")
      .set((eb) => ({
        status: "sending",
        locked_until: now + lockMs,
        attempts: eb("attempts", "+", 1),
        updated_at: now,
      }))
      .where("id", "=", id)
      .where((eb) =>
        eb.or([
          eb.and([eb("status", "=", "queued"), eb("next_attempt_at", "<=", now)]),
          eb.and([eb("status", "=", "sending"), eb("locked_until", "<=", now)]),
        ]),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    return this.get(id);
  },

  /**
   * Gives up on a message still waiting for its next try (never one being sent right now): true when
   * it was waiting and is now settled with `patch`.
   */
  async settleIfWaiting(id: string, patch: Partial<OutboxRow>): Promise<boolean> {
    const result = await kysely
      .updateTable("outbox")
      .set(patch)
      .where("id", "=", id)
      .where("status", "=", "queued")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  },

  async settle(id: string, patch: Partial<OutboxRow>): Promise<void> {
    await kysely.updateTable("outbox").set(patch).where("id", "=", id).execute();
  },
});

export type OutboxRepo = ReturnType<typeof createOutboxRepo>;
