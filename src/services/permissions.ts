import { canManageAuthenticationMethods } from "../domain/roles.ts";
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
