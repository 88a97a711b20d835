import { type Kysely, type Selectable, sql } from "kysely";
import { type Db, type Dialect, everyColumn, fixedStatement } from "../db.ts";
import type { AuditEventsTable, Database } from "../schema.ts";

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

/** Every column of an audit row, in the order the fixed insert statements bind them. */
export const AUDIT_COLUMNS = everyColumn<AuditRow>()([
  "id",
  "at",
  "actor",
  "target_user_id",
  "target_upn",
  "action",
  "outcome",
  "reason",
  "ip",
  "user_agent",
  "request_id",
  "details",
]);

/** The insert of one audit row, with a `?` for each of AUDIT_COLUMNS (see `auditValues`). */
export const AUDIT_INSERT = `INSERT INTO audit_events (${AUDIT_COLUMNS.join(", ")}) VALUES (${AUDIT_COLUMNS.map(() => "?").join(", ")})`;

/** A row's values in the order of AUDIT_INSERT's placeholders. */
export const auditValues = (row: AuditRow): unknown[] => AUDIT_COLUMNS.map((c) => row[c] ?? null);

/** The insert of one audit row, as a fixed statement: every operation writes one. */
export const auditInsertStatement = (dialect: Dialect) => {
  const insertRow = fixedStatement(dialect, AUDIT_INSERT);
  return (row: AuditRow) => insertRow(...auditValues(row));
};

export const createAuditEventsRepo = ({ kysely, dialect }: Db) => {
  const insertRow = auditInsertStatement(dialect);
  return {
    /** Inserts the event; within `trx` when it is written together with what it records. */
    async insert(row: AuditRow, trx: Kysely<Database> = kysely): Promise<void> {
      await trx.executeQuery(insertRow(row));
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
        query = query.where((eb) =>
          eb.or([eb("at", "<", at), eb.and([eb("at", "=", at), eb("id", "<", id)])]),
        );
      }
      return query.execute();
    },
  };
};

export type AuditEventsRepo = ReturnType<typeof createAuditEventsRepo>;
