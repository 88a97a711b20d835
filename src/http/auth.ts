import type { FastifyRequest } from "fastify";
import { AppError } from "../errors/app-error.ts";
import type { Actor, RequestContext } from "../services/context.ts";
import type { Services } from "../services/index.ts";
import type { User } from "../store/repos/users.ts";

declare module "fastify" {
  interface FastifyRequest {
    actor?: Actor;
  }
}

export const bearerOf = (request: FastifyRequest): string | undefined => {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
};

/**
 * A preHandler that requires an application token holding any of `permissions`.
 * (".All" and non-".All" forms of a permission are distinct, as in Graph.)
 */
export const requireAppPermission =
  (services: Services, ...permissions: string[]) =>
  async (request: FastifyRequest): Promise<void> => {
    const token = bearerOf(request);
    if (!token)
      throw new AppError("invalidToken", { problem: "no bearer token in the Authorization header" });
    const claims = await services.tokens.verifyAppToken(token);
    if (!permissions.some((p) => claims.roles.includes(p))) {
      throw new AppError("insufficientPermissions", { required: permissions, granted: claims.roles });
    }
    request.actor = { type: "app", id: claims.clientId, name: claims.appName, permissions: claims.roles };
  };

/** Who called with a bearer token: an application (by permission) or a signed-in user (by role and scope). */
export type Caller =
  | {
      readonly kind: "app";
      readonly actor: Extract<Actor, { type: "app" }>;
      readonly permissions: readonly string[];
    }
  | {
      readonly kind: "user";
      readonly actor: Extract<Actor, { type: "user" }>;
      readonly scopes: readonly string[];
      readonly user: User;
    };

/**
 * Accepts an application token or a delegated user token. A user token acts with the roles it names and
 * the user still holds (so a role removed since the token was issued no longer counts), and stops
 * working as soon as the user is disabled or deleted.
 */
export const authenticate = async (services: Services, request: FastifyRequest): Promise<Caller> => {
  const token = bearerOf(request);
  if (!token) throw new AppError("invalidToken", { problem: "no bearer token in the Authorization header" });
  const verified = await services.tokens.verifyToken(token);
  if (verified.kind === "app") {
    const actor = {
      type: "app",
      id: verified.clientId,
      name: verified.appName,
      permissions: verified.roles,
    } as const;
    request.actor = actor;
    return { kind: "app", actor, permissions: verified.roles };
  }
  const user = await services.users.find({ id: verified.userId });
  if (!user?.accountEnabled) {
    throw new AppError("invalidToken", { problem: "the signed-in user no longer exists or is disabled" });
  }
  const roles = verified.roles.filter((r) => user.roles.includes(r));
  const actor = { type: "user", id: user.id, upn: user.userPrincipalName, roles } as const;
  request.actor = actor;
  return { kind: "user", actor, scopes: verified.scopes, user };
};

export const contextOf = (request: FastifyRequest): RequestContext => ({
  actor: request.actor ?? { type: "anonymous" },
  ip: request.ip,
  userAgent: request.headers["user-agent"],
  requestId: request.id,
});
