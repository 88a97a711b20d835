import { v7 as uuidv7 } from "uuid";
import type { AuditEventsRepo, AuditQuery, AuditRow } from "../store/repos/audit-events.ts";
import { actorLabel, type Clock, type RequestContext } from "./context.ts";

export type AuditOutcome = "success" | "failure" | "denied";

export interface AuditInput {
  action: string;
  outcome: AuditOutcome;
  target?: { id: string | null; upn: string | null } | undefined;
  reason?: string | undefined;
  /** Non-secret facts only (counts, expiry times, names). Never a PIN, code, answer or secret. */
  details?: Record<string, string | number | boolean | null> | undefined;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  targetUserId: string | null;
  targetUpn: string | null;
  action: string;
  outcome: string;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown> | null;
}

const MAX_TEXT = 512;
const clip = (value: string | null | undefined): string | null =>
  value === undefined || value === null ? null : value.slice(0, MAX_TEXT);

export const toAuditEvent = (row: AuditRow): AuditEvent => ({
  id: row.id,
  at: new Date(row.at).toISOString(),
  actor: row.actor,
  targetUserId: row.target_user_id,
  targetUpn: row.target_upn,
  action: row.action,
  outcome: row.outcome,
  reason: row.reason,
  ip: row.ip,
  userAgent: row.user_agent,
  requestId: row.request_id,
  details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
});

export const createAuditService = ({ audit, clock }: { audit: AuditEventsRepo; clock: Clock }) => {
  /** The stored form of an event: clipped, lower-cased target, never a secret (callers pass none). */
  const rowFor = (ctx: RequestContext, input: AuditInput): AuditRow => ({
    id: uuidv7(),
    at: clock.now(),
    actor: clip(actorLabel(ctx.actor)) ?? "unknown",
    target_user_id: input.target?.id ?? null,
    target_upn: clip(input.target?.upn?.toLowerCase()),
    action: input.action,
    outcome: input.outcome,
    reason: clip(input.reason),
    ip: clip(ctx.ip),
    user_agent: clip(ctx.userAgent),
    request_id: clip(ctx.requestId),
    details: input.details ? JSON.stringify(input.details) : null,
  });
  return {
    rowFor,

    /** Writes one event; `into` is the repository of an open transaction when the event belongs to it. */
    async record(
      ctx: RequestContext,
      input: AuditInput,
      into: Pick<AuditEventsRepo, "insert"> = audit,
    ): Promise<void> {
      await into.insert(rowFor(ctx, input));
    },

    async query(q: AuditQuery): Promise<AuditEvent[]> {
      return (await audit.query(q)).map(toAuditEvent);
    },
  };
};

export type AuditService = ReturnType<typeof createAuditService>;
