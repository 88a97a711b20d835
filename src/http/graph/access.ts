import type { FastifyRequest } from "fastify";
import { AppError } from "../../errors/app-error.ts";
import type { Services } from "../../services/index.ts";
import type { User } from "../../store/repos/users.ts";
import { authenticate, type Caller } from "../auth.ts";

declare module "fastify" {
  interface FastifyRequest {
    graphCaller?: Caller;
  }
}

export type Operation =
  | "users.read"
  | "users.write"
  | "users.delete"
  | "qr.read"
  | "qr.write"
  | "qr.updatePin"
  | "policy.read"
  | "policy.write";

/**
 * Graph's permission tables (least-privileged names first), from the API reference of each operation.
 * Application permissions are checked here; a delegated caller needs one of the delegated scopes and,
 * on top, a directory role that allows the action on that user (checked by the services).
 */
const APPLICATION: Readonly<Record<Operation, readonly string[]>> = {
  "users.read": ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  "users.write": ["User.ReadWrite.All", "Directory.ReadWrite.All"],
  // Graph's user-delete: User.ReadWrite.All only (Directory.ReadWrite.All does not delete users).
  "users.delete": ["User.ReadWrite.All"],
  "qr.read": [
    "UserAuthMethod-QR.Read.All",
    "UserAuthMethod-QR.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
  ],
  "qr.write": ["UserAuthenticationMethod.ReadWrite.All", "UserAuthMethod-QR.ReadWrite.All"],
  // Graph: "Application: Not supported." Only the user (or an admin acting as themselves) changes a PIN.
  "qr.updatePin": [],
  "policy.read": ["Policy.Read.AuthenticationMethod", "Policy.ReadWrite.AuthenticationMethod"],
  "policy.write": ["Policy.ReadWrite.AuthenticationMethod"],
};

/** Delegated scopes. A scope without ".All" covers only the signed-in user's own objects. */
const DELEGATED: Readonly<Record<Operation, readonly string[]>> = {
  "users.read": [
    "User.Read",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
  ],
  "users.write": ["User.ReadWrite.All", "Directory.ReadWrite.All"],
  "users.delete": ["User.ReadWrite.All"],
  "qr.read": [
    "UserAuthMethod-QR.Read",
    "UserAuthMethod-QR.Read.All",
    "UserAuthMethod-QR.ReadWrite",
    "UserAuthMethod-QR.ReadWrite.All",
    "UserAuthenticationMethod.Read",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite",
    "UserAuthenticationMethod.ReadWrite.All",
  ],
  "qr.write": [
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-QR.ReadWrite",
    "UserAuthMethod-QR.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite",
  ],
  "qr.updatePin": ["Directory.AccessAsUser.All"],
  "policy.read": ["Policy.Read.AuthenticationMethod", "Policy.ReadWrite.AuthenticationMethod"],
  "policy.write": ["Policy.ReadWrite.AuthenticationMethod"],
};

/** "Access the directory as the signed-in user": the user's own rights, whatever the operation. */
const AS_USER = "Directory.AccessAsUser.All";

export const applicationPermissionsFor = (op: Operation): readonly string[] => APPLICATION[op];
export const delegatedScopesFor = (op: Operation): readonly string[] => DELEGATED[op];

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a path's user reference names the signed-in user (by id or UPN), without a database lookup. */
export const refersTo = (ref: string, user: Pick<User, "id" | "userPrincipalName">): boolean =>
  GUID.test(ref)
    ? ref.toLowerCase() === user.id.toLowerCase()
    : ref.trim().toLowerCase() === user.userPrincipalName.toLowerCase();

export const assertPermission = (caller: Caller, op: Operation, self: boolean): void => {
  if (caller.kind === "app") {
    const accepted = APPLICATION[op];
    if (accepted.length === 0) {
      throw new AppError("insufficientPermissions", {
        required: [],
        problem:
          "This operation is not available to applications; the user must call it with a delegated token.",
      });
    }
    if (!accepted.some((p) => caller.permissions.includes(p))) {
      throw new AppError("insufficientPermissions", { required: accepted, granted: caller.permissions });
    }
    return;
  }
  const accepted = DELEGATED[op];
  // A scope without ".All" covers the caller's own objects; the policy has no owner, so its scopes
  // (Policy.Read.AuthenticationMethod, …) are tenant-wide by name.
  const tenantWide = op.startsWith("policy.");
  const ok = caller.scopes.some(
    (scope) =>
      scope === AS_USER || (accepted.includes(scope) && (tenantWide || self || scope.endsWith(".All"))),
  );
  if (!ok)
    throw new AppError("insufficientPermissions", {
      required: [...accepted, AS_USER],
      granted: caller.scopes,
    });
};

// --- Directory roles for delegated callers ---

/**
 * Graph's rules for another user's authentication methods (rbac-authentication-methods-apis-write-others
 * and -read-others): only these roles count on the Graph routes. Other administrator roles PinDesk's
 * own portal knows (Helpdesk Administrator resetting PINs, Security Administrator reading) do not.
 * Which targets each role reaches is then Entra's table in domain/roles.ts.
 */
const METHOD_WRITERS: readonly string[] = [
  "Global Administrator",
  "Privileged Authentication Administrator",
  "Authentication Administrator",
];
const METHOD_READERS: readonly string[] = [...METHOD_WRITERS, "Global Reader"];

/** The roles a delegated caller acts with on an authentication-method operation. */
export const graphMethodRoles = (op: Operation, roles: readonly string[]): string[] => {
  const counted = op === "qr.read" ? METHOD_READERS : METHOD_WRITERS;
  return roles.filter((r) => counted.includes(r));
};

const denied = (message: string) => new AppError("forbiddenTarget", {}, message);

/** User Administrator may manage users who hold none of the privileged roles (Entra's list). */
const USER_ADMIN_TARGETS: readonly string[] = [
  "Directory Readers",
  "Groups Administrator",
  "Guest Inviter",
  "Helpdesk Administrator",
  "Message Center Reader",
  "Password Administrator",
  "Reports Reader",
  "User Administrator",
  "Usage Summary Reports Reader",
];
/** What an application may not change on a privileged user. */
const SENSITIVE_FIELDS: readonly string[] = ["accountEnabled", "userPrincipalName", "mail", "mobilePhone"];
const POLICY_WRITERS: readonly string[] = ["Global Administrator", "Authentication Policy Administrator"];
const POLICY_READERS: readonly string[] = [
  ...POLICY_WRITERS,
  "Global Reader",
  "Security Administrator",
  "Security Reader",
];

const has = (roles: readonly string[], any: readonly string[]) => roles.some((r) => any.includes(r));

/** Reading other users needs some directory role; a user without one may read only themselves. */
export const assertCanReadUser = (caller: Caller, target: User): void => {
  if (caller.kind !== "user" || caller.actor.id === target.id || caller.actor.roles.length > 0) return;
  throw denied("Without a directory role you can read only your own user (use /me).");
};

export const assertCanListUsers = (caller: Caller): void => {
  if (caller.kind !== "user" || caller.actor.roles.length > 0) return;
  throw denied("Without a directory role you can read only your own user (use /me).");
};

export const assertCanCreateUser = (caller: Caller): void => {
  if (caller.kind !== "user" || has(caller.actor.roles, ["Global Administrator", "User Administrator"]))
    return;
  throw denied("Creating users needs the User Administrator or Global Administrator role.");
};

/**
 * Whether the caller may change or delete `target`. An application may not delete, disable or change
 * the sign-in names and contact details of a user who holds a privileged role (Graph: app-only
 * User.ReadWrite.All "isn't enough privilege to delete users with administrative roles").
 */
export const assertCanManageUser = (
  caller: Caller,
  target: User,
  change: "delete" | { fields: readonly string[] } = { fields: [] },
): void => {
  if (caller.kind !== "user") {
    const privileged = !target.roles.every((r) => USER_ADMIN_TARGETS.includes(r));
    const sensitive = change === "delete" || change.fields.some((f) => SENSITIVE_FIELDS.includes(f));
    if (privileged && sensitive)
      throw denied(
        `Applications cannot ${change === "delete" ? "delete" : "disable, rename or change the contact details of"} a user who holds a privileged administrator role (${target.roles.join(", ")}); an administrator with the Global Administrator role does it, signed in.`,
      );
    return;
  }
  const roles = caller.actor.roles;
  if (roles.includes("Global Administrator")) return;
  if (roles.includes("User Administrator") && target.roles.every((r) => USER_ADMIN_TARGETS.includes(r)))
    return;
  throw denied(
    "Changing this user needs the Global Administrator role, or User Administrator for users without a privileged role.",
  );
};

export const assertCanReadPolicy = (caller: Caller): void => {
  if (caller.kind !== "user" || has(caller.actor.roles, POLICY_READERS)) return;
  throw denied("Reading the authentication methods policy needs Global Reader or an administrator role.");
};

export const assertCanWritePolicy = (caller: Caller): void => {
  if (caller.kind !== "user" || has(caller.actor.roles, POLICY_WRITERS)) return;
  throw denied(
    "Changing the authentication methods policy needs the Authentication Policy Administrator role.",
  );
};

/**
 * Route guard, run before the body is read: authenticates, resolves `/me`, and checks the caller's
 * permission or scope for the operation. Returns the user reference the path names.
 */
export const guard =
  (services: Services, op: Operation, options: { me?: boolean } = {}) =>
  async (request: FastifyRequest): Promise<void> => {
    const caller = await authenticate(services, request);
    request.graphCaller = caller;
    if (options.me && caller.kind !== "user") {
      throw new AppError(
        "invalidRequest",
        {},
        "/me request is only valid with delegated authentication flow.",
      );
    }
    const ref = (request.params as { user?: string } | undefined)?.user;
    const self =
      caller.kind === "user" && (options.me === true || (ref !== undefined && refersTo(ref, caller.user)));
    assertPermission(caller, op, self);
    if (caller.kind === "user" && op.startsWith("qr.")) {
      request.actor = { ...caller.actor, roles: graphMethodRoles(op, caller.actor.roles) };
    }
  };

export const callerOf = (request: FastifyRequest): Caller => {
  if (!request.graphCaller) throw new AppError("invalidToken", { problem: "not authenticated" });
  return request.graphCaller;
};

/** The user a path names: `/me` is the signed-in user, `/users/{id | userPrincipalName}` the given one. */
export const userRefOf = (request: FastifyRequest, me: boolean): string => {
  if (me) {
    const caller = callerOf(request);
    if (caller.kind !== "user")
      throw new AppError(
        "invalidRequest",
        {},
        "/me request is only valid with delegated authentication flow.",
      );
    return caller.user.id;
  }
  return (request.params as { user: string }).user;
};
