import { randomUUID } from "node:crypto";
import { isDirectoryRole } from "../domain/roles.ts";
import { AppError } from "../errors/app-error.ts";
import type { User, UserPatch, UsersRepo } from "../store/repos/users.ts";
import type { AuditService } from "./audit-service.ts";
import type { Clock, RequestContext } from "./context.ts";

export interface NewUserInput {
  userPrincipalName: string;
  displayName: string;
  mail?: string | null | undefined;
  mobilePhone?: string | null | undefined;
  accountEnabled?: boolean | undefined;
  roles?: string[] | undefined;
}

const UPN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,113}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const MAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{2,}$/;
const PHONE = /^\+[0-9][0-9 ()-]{5,30}$/;

type Problem = { field: string; message: string };

export const validateUserFields = (input: Partial<NewUserInput>): Problem[] => {
  const problems: Problem[] = [];
  if (input.userPrincipalName !== undefined && !UPN.test(input.userPrincipalName.trim())) {
    problems.push({
      field: "userPrincipalName",
      message: "must look like name@domain.example (letters, digits and . _ - + before the @)",
    });
  }
  if (
    input.displayName !== undefined &&
    (input.displayName.trim() === "" || input.displayName.length > 256)
  ) {
    problems.push({ field: "displayName", message: "must be 1–256 characters" });
  }
  if (input.mail !== undefined && input.mail !== null && !MAIL.test(input.mail)) {
    problems.push({ field: "mail", message: "must be an email address such as ana@example.com" });
  }
  if (input.mobilePhone !== undefined && input.mobilePhone !== null && !PHONE.test(input.mobilePhone)) {
    problems.push({
      field: "mobilePhone",
      message: "must be in international form, starting with + and the country code, e.g. +44 7700 900123",
    });
  }
  for (const role of input.roles ?? []) {
    if (!isDirectoryRole(role))
      problems.push({ field: "roles", message: `"${role}" is not a known directory role` });
  }
  // PostgreSQL cannot store a NUL in text: refused here, for every way in (API, Graph, CLI, import).
  for (const field of ["userPrincipalName", "displayName", "mail", "mobilePhone"] as const) {
    const value = input[field];
    if (typeof value === "string" && value.includes("\u0000") && !problems.some((p) => p.field === field))
      problems.push({ field, message: "must not contain a NUL character" });
  }
  return problems;
};

/** A user as the PinDesk API and the CLI show it: ISO 8601 times, never epoch milliseconds. */
export const userView = (u: User) => ({
  id: u.id,
  userPrincipalName: u.userPrincipalName,
  displayName: u.displayName,
  mail: u.mail,
  mobilePhone: u.mobilePhone,
  accountEnabled: u.accountEnabled,
  roles: u.roles,
  createdDateTime: new Date(u.createdAt).toISOString(),
  lastSignInDateTime: u.lastSignInAt === null ? null : new Date(u.lastSignInAt).toISOString(),
});

export const createUserService = ({
  users,
  audit,
  clock,
}: {
  users: UsersRepo;
  audit: AuditService;
  clock: Clock;
}) => {
  const assertValid = (input: Partial<NewUserInput>) => {
    const problems = validateUserFields(input);
    if (problems.length > 0) throw new AppError("invalidRequest", { problems });
  };

  return {
    async create(ctx: RequestContext, input: NewUserInput): Promise<User> {
      assertValid(input);
      if (await users.findByUpn(input.userPrincipalName)) {
        throw new AppError("userAlreadyExists", { userPrincipalName: input.userPrincipalName });
      }
      const user = await users.insert(
        { id: randomUUID(), ...input, displayName: input.displayName.trim() },
        clock.now(),
      );
      await audit.record(ctx, {
        action: "user.created",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
      });
      return user;
    },

    /** The user, or undefined (callers that must not reveal existence decide what to answer). */
    async find(ref: { id: string } | { upn: string } | { idOrUpn: string }): Promise<User | undefined> {
      if ("id" in ref) return users.findById(ref.id);
      if ("upn" in ref) return users.findByUpn(ref.upn);
      return users.findByIdOrUpn(ref.idOrUpn);
    },

    async get(idOrUpn: string): Promise<User> {
      const user = await users.findByIdOrUpn(idOrUpn);
      if (!user) throw new AppError("userNotFound", { user: idOrUpn.slice(0, 256) });
      return user;
    },

    async update(ctx: RequestContext, idOrUpn: string, patch: UserPatch): Promise<User> {
      assertValid(patch);
      const user = await this.get(idOrUpn);
      if (patch.userPrincipalName !== undefined) {
        const other = await users.findByUpn(patch.userPrincipalName);
        if (other && other.id !== user.id)
          throw new AppError("userAlreadyExists", { userPrincipalName: patch.userPrincipalName });
      }
      const updated = (await users.update(user.id, patch, clock.now())) as User;
      await audit.record(ctx, {
        action: "user.updated",
        outcome: "success",
        target: { id: user.id, upn: updated.userPrincipalName },
        details: { fields: Object.keys(patch).join(",") },
      });
      return updated;
    },

    async delete(ctx: RequestContext, idOrUpn: string): Promise<void> {
      const user = await this.get(idOrUpn);
      await users.delete(user.id);
      await audit.record(ctx, {
        action: "user.deleted",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
      });
    },

    list: (options: { prefix?: string; displayNamePrefix?: string; after?: string; limit: number }) =>
      users.list(options),
  };
};

export type UserService = ReturnType<typeof createUserService>;
