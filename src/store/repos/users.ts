import { type Selectable, sql } from "kysely";
import type { Db } from "../db.ts";
import type { UsersTable } from "../schema.ts";

export type UserRow = Selectable<UsersTable>;

export interface User {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  mobilePhone: string | null;
  accountEnabled: boolean;
  roles: string[];
  createdAt: number;
  updatedAt: number;
  lastSignInAt: number | null;
}

export const upnKey = (upn: string): string => upn.trim().toLowerCase();

const toUser = (row: UserRow): User => ({
  id: row.id,
  userPrincipalName: row.user_principal_name,
  displayName: row.display_name,
  mail: row.mail,
  mobilePhone: row.mobile_phone,
  accountEnabled: row.account_enabled === 1,
  roles: JSON.parse(row.roles) as string[],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastSignInAt: row.last_sign_in_at,
});

export interface NewUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail?: string | null;
  mobilePhone?: string | null;
  accountEnabled?: boolean;
  roles?: string[];
}

export type UserPatch = Partial<
  Pick<User, "userPrincipalName" | "displayName" | "mail" | "mobilePhone" | "accountEnabled" | "roles">
>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const createUsersRepo = ({ kysely }: Db) => ({
  async insert(user: NewUser, now: number): Promise<User> {
    const row: UserRow = {
      id: user.id,
      user_principal_name: user.userPrincipalName.trim(),
      upn_key: upnKey(user.userPrincipalName),
      display_name: user.displayName,
      mail: user.mail ?? null,
      mobile_phone: user.mobilePhone ?? null,
      account_enabled: user.accountEnabled === false ? 0 : 1,
      roles: JSON.stringify(user.roles ?? []),
      created_at: now,
      updated_at: now,
      last_sign_in_at: null,
    };
    await kysely.insertInto("users").values(row).execute();
    return toUser(row);
  },

  async findById(id: string): Promise<User | undefined> {
    const row = await kysely
      .selectFrom("users")
      .selectAll()
      .where("id", "=", id.toLowerCase())
      .executeTakeFirst();
    return row && toUser(row);
  },

  async findByUpn(upn: string): Promise<User | undefined> {
    const row = await kysely
      .selectFrom("users")
      .selectAll()
      .where("upn_key", "=", upnKey(upn))
      .executeTakeFirst();
    return row && toUser(row);
  },

  /** Graph addresses users by id or by userPrincipalName in the same path segment. */
  async findByIdOrUpn(idOrUpn: string): Promise<User | undefined> {
    return GUID.test(idOrUpn) ? this.findById(idOrUpn) : this.findByUpn(idOrUpn);
  },

  async update(id: string, patch: UserPatch, now: number): Promise<User | undefined> {
    await kysely
      .updateTable("users")
      .set({
        ...(patch.userPrincipalName !== undefined && {
          user_principal_name: patch.userPrincipalName.trim(),
          upn_key: upnKey(patch.userPrincipalName),
        }),
        ...(patch.displayName !== undefined && { display_name: patch.displayName }),
        ...(patch.mail !== undefined && { mail: patch.mail }),
        ...(patch.mobilePhone !== undefined && { mobile_phone: patch.mobilePhone }),
        ...(patch.accountEnabled !== undefined && { account_enabled: patch.accountEnabled ? 1 : 0 }),
        ...(patch.roles !== undefined && { roles: JSON.stringify(patch.roles) }),
        updated_at: now,
      })
      .where("id", "=", id)
      .execute();
    return this.findById(id);
  },

  async touchSignIn(id: string, now: number): Promise<void> {
    await kysely.updateTable("users").set({ last_sign_in_at: now }).where("id", "=", id).execute();
  },

  async delete(id: string): Promise<boolean> {
    const result = await kysely.deleteFrom("users").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  },

  /** Keyset-paged listing by UPN, optionally filtered by UPN or display-name prefix (case-insensitive). */
  async list(options: {
    prefix?: string;
    displayNamePrefix?: string;
    after?: string;
    limit: number;
  }): Promise<User[]> {
    let query = kysely.selectFrom("users").selectAll().orderBy("upn_key").limit(options.limit);
    if (options.prefix) {
      const key = upnKey(options.prefix);
      query = query.where("upn_key", ">=", key).where("upn_key", "<", `${key}\uffff`);
    }
    if (options.displayNamePrefix) {
      // LIKE with its wildcards escaped: the prefix is data, not a pattern.
      const pattern = `${options.displayNamePrefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      query = query.where(sql<boolean>`lower(display_name) like ${pattern} escape '\\'`);
    }
    if (options.after) query = query.where("upn_key", ">", upnKey(options.after));
    return (await query.execute()).map(toUser);
  },
});

export type UsersRepo = ReturnType<typeof createUsersRepo>;
