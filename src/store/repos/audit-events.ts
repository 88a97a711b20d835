import { type Selectable, sql } from "kysely";
import type { Db } from "../db.ts";
import type { AuditEventsTable } from "../schema.ts";

export type AuditRow = Selectable<AuditEventsTable>;

export interface AuditQuery {
  targetUserId?: string;
  targetUpn?: string;
  actor?: string;
  /** Any of these actors (the forms one person's actions are recorded under). */
  actors?: readonly string[];
  action?: string;
  outcome?: string;
  from?: number;
  to?: number;
  /** Keyset cursor: events strictly older than this id (ids are time-ordered UUIDv7). */
  before?: string;
  /** Keyset cursor in the listing's own order: events after (at, id) when listed newest first. */
  after?: { at: number; id: string };
  limit: number;
}

export const createAuditEventsRepo = ({ kysely }: Db) => ({
  async insert(row: AuditRow): Promise<void> {
    await kysely.insertInto("audit_events").values(row).execute();
  },

  async query(q: AuditQuery): Promise<AuditRow[]> {
    let query = kysely
      .selectFrom("audit_events")
      .selectAll()
      .orderBy("at", "desc")
      .orderBy("id", "desc")
      .limit(q.limit);
    if (q.targetUserId) query = query.where("target_user_id", "=", q.targetUserId);
    if (q.targetUpn) query = query.where("target_upn", "=", q.targetUpn.toLowerCase());
    if (q.actor) query = query.where("actor", "=", q.actor);
    if (q.actors)
      query = q.actors.length > 0 ? query.where("actor", "in", q.actors) : query.where(sql<boolean>`1 = 0`);
    if (q.action) {
      query = q.action.endsWith("*")
        ? query.where("action", "like", `${q.action.slice(0, -1).replace(/[%_]/g, "")}%`)
        : query.where("action", "=", q.action);
    }
    if (q.outcome) query = query.where("outcome", "=", q.outcome);
    if (q.from !== undefined) query = query.where("at", ">=", q.from);
    if (q.to !== undefined) query = query.where("at", "<", q.to);
    if (q.before) query = query.where("id", "<", q.before);
    if (q.after) {
      const { at, id } = q.after;
      query = query.where((eb) => eb.or([eb("at", "<", at), eb.and([eb("at", "=", at), eb("id", "<", id)])]));
    }
    return query.execute();
  },
});

export type AuditEventsRepo = ReturnType<typeof createAuditEventsRepo>;
