import { randomUUID } from "node:crypto";
import { safeEqual } from "../crypto/hasher.ts";
import { digestToken, randomToken } from "../crypto/tokens.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import { createRepos } from "../store/index.ts";
import type { ApiClientRow, ApiClientsRepo } from "../store/repos/api-clients.ts";
import type { AuditService } from "./audit-service.ts";
import type { Clock, RequestContext } from "./context.ts";

/** Application permissions an API client can hold (Graph's names where Graph has one). */
export const KNOWN_PERMISSIONS = [
  "Pin.Verify",
  "Pin.Read.All",
  "Pin.ReadWrite.All",
  "Policy.Read.PinPolicy",
  "Policy.ReadWrite.PinPolicy",
  "AuditLog.Read.All",
  "User.Read.All",
  "User.ReadWrite.All",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
  "UserAuthMethod-QR.Read.All",
  "UserAuthMethod-QR.ReadWrite.All",
  "UserAuthenticationMethod.Read.All",
  "UserAuthenticationMethod.ReadWrite.All",
  "Policy.Read.AuthenticationMethod",
  "Policy.ReadWrite.AuthenticationMethod",
] as const;

export interface ApiClientInfo {
  clientId: string;
  name: string;
  permissions: string[];
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
}

const toInfo = (row: ApiClientRow): ApiClientInfo => ({
  clientId: row.id,
  name: row.name,
  permissions: JSON.parse(row.permissions) as string[],
  createdAt: new Date(row.created_at).toISOString(),
  createdBy: row.created_by,
  lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at).toISOString(),
});

export const createAppClientService = ({
  db,
  apiClients,
  audit,
  clock,
}: {
  db: Db;
  apiClients: ApiClientsRepo;
  audit: AuditService;
  clock: Clock;
}) => ({
  /** The secret is returned here once; only its digest is stored. */
  async create(
    ctx: RequestContext,
    name: string,
    permissions: string[],
  ): Promise<{ clientId: string; clientSecret: string }> {
    const trimmed = name.trim();
    if (trimmed === "" || trimmed.length > 200) {
      throw new AppError("invalidRequest", { field: "name", problem: "must be 1–200 characters" });
    }
    const unknown = permissions.filter((p) => !(KNOWN_PERMISSIONS as readonly string[]).includes(p));
    if (unknown.length > 0)
      throw new AppError("unknownPermission", { unknown, known: [...KNOWN_PERMISSIONS] });
    if (permissions.length === 0) {
      throw new AppError("invalidRequest", {
        field: "permission",
        problem: "give at least one --permission",
        known: [...KNOWN_PERMISSIONS],
      });
    }
    const clientId = randomUUID();
    const clientSecret = randomToken(32);
    await db.transaction(async (trx) => {
      const tx = createRepos({ ...db, kysely: trx });
      await tx.apiClients.insert({
        id: clientId,
        name: trimmed,
        secret_hash: digestToken(clientSecret),
        permissions: JSON.stringify([...new Set(permissions)]),
        created_at: clock.now(),
        created_by: ctx.actor.type,
        last_used_at: null,
      });
      await audit.record(
        ctx,
        {
          action: "app.created",
          outcome: "success",
          details: { clientId, name: trimmed, permissions: permissions.join(" ") },
        },
        tx.audit,
      );
    });
    return { clientId, clientSecret };
  },

  async list(): Promise<ApiClientInfo[]> {
    return (await apiClients.list()).map(toInfo);
  },

  async delete(ctx: RequestContext, clientId: string): Promise<void> {
    const deleted = await db.transaction(async (trx) => {
      const tx = createRepos({ ...db, kysely: trx });
      if (!(await tx.apiClients.delete(clientId))) return false;
      await audit.record(ctx, { action: "app.deleted", outcome: "success", details: { clientId } }, tx.audit);
      return true;
    });
    if (!deleted) throw new AppError("appNotFound", { clientId });
  },

  /** Returns the client when id and secret match; compares digests in constant time. */
  async authenticate(clientId: string, clientSecret: string): Promise<ApiClientInfo | undefined> {
    const row = await apiClients.get(clientId);
    if (!row || !safeEqual(row.secret_hash, digestToken(clientSecret))) return undefined;
    await apiClients.touch(row.id, clock.now());
    return toInfo(row);
  },
});

export type AppClientService = ReturnType<typeof createAppClientService>;
