import { canManageAuthenticationMethods, canManagePolicies, canReadPolicies } from "../domain/roles.ts";
import { AppError } from "../errors/app-error.ts";
import type { User } from "../store/repos/users.ts";
import type { Actor } from "./context.ts";

/**
 * Delegated administrators act within their directory role (Entra's rules). Applications are checked
 * by permission at the route; the CLI runs with the operator's own access to the server.
 */
export const assertCanManage = (actor: Actor, targetUser: User): void => {
  if (actor.type !== "user") return;
  if (!canManageAuthenticationMethods(actor.roles, targetUser.roles)) {
    throw new AppError("forbiddenTarget", { targetRoles: targetUser.roles });
  }
};

/** The roles that may change organisation-wide policies, named in the refusal so the admin knows whom to ask. */
export const POLICY_WRITER_ROLES = ["Global Administrator", "Authentication Policy Administrator"] as const;

/**
 * Every policy write (PIN, lockout, QR code, sign-in and recovery) checks this inside the service, so no
 * route or caller can skip it. Applications are checked by permission at their route; the CLI and
 * PinDesk itself are trusted.
 */
export const assertCanManagePolicies = (actor: Actor): void => {
  if (actor.type === "cli" || actor.type === "system" || actor.type === "app") return;
  if (actor.type === "user" && canManagePolicies(actor.roles)) return;
  throw new AppError("policyChangeForbidden", {
    requiredRoles: [...POLICY_WRITER_ROLES],
    yourRoles: actor.type === "user" ? [...actor.roles] : [],
  });
};

export const assertCanReadPolicies = (actor: Actor): void => {
  if (actor.type !== "user" || canReadPolicies(actor.roles)) return;
  throw new AppError("policyReadForbidden", { yourRoles: [...actor.roles] });
};
