import { type Selectable, sql, type UpdateQueryBuilder, type UpdateResult } from "kysely";
import type { Db } from "../db.ts";
import type { Database, PinCredentialsTable } from "../schema.ts";

export type PinCredentialRow = Selectable<PinCredentialsTable>;

/** Stored PINs (not temporary) grouped by profile tag, QR method, and whether a policy change marked them. */
export interface ProfileCount {
  readonly tag: string | null;
  readonly qr: boolean;
  /** "none": usable; "policyChange": marked by a policy change; "other": Must Change for another reason. */
  readonly mark: "none" | "policyChange" | "other";
  readonly count: number;
}

/** Tags per kind of user: `plain` for users without the QR code + PIN method, `qr` for users with it. */
export interface TagsByKind {
  readonly plain: readonly string[];
  readonly qr: readonly string[];
}

// Keeps IN lists well under SQLite's and PostgreSQL's parameter limits.
const CHUNK = 500;
const chunks = <T>(items: readonly T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
};

export const createPinCredentialsRepo = ({ kysely }: Db) => {
  type CredentialUpdate = UpdateQueryBuilder<Database, "pin_credentials", "pin_credentials", UpdateResult>;
  /**
   * Runs `change` over the credentials with these tags, separately for users without and with the QR
   * code + PIN method (their PINs follow different rules), in chunks. Returns the rows changed.
   */
  const updateByTag = async (
    tags: TagsByKind,
    change: (q: CredentialUpdate) => CredentialUpdate,
  ): Promise<number> => {
    let changed = 0;
    for (const [kind, list] of [
      ["plain", tags.plain],
      ["qr", tags.qr],
    ] as const) {
      for (const chunk of chunks(list)) {
        const result = await change(kysely.updateTable("pin_credentials"))
          .where("profile_tag", "in", chunk)
          .where((eb) => {
            const hasQr = eb.exists(
              eb
                .selectFrom("qr_pin_methods")
                .select("qr_pin_methods.user_id")
                .whereRef("qr_pin_methods.user_id", "=", "pin_credentials.user_id"),
            );
            return kind === "qr" ? hasQr : eb.not(hasQr);
          })
          .executeTakeFirst();
        changed += Number(result.numUpdatedRows);
      }
    }
    return changed;
  };

  return {
    async get(userId: string): Promise<PinCredentialRow | undefined> {
      return kysely
        .selectFrom("pin_credentials")
        .selectAll()
        .where("user_id", "=", userId)
        .executeTakeFirst();
    },

    async upsert(row: PinCredentialRow, trx = kysely): Promise<void> {
      const { user_id: _id, created_at: _created, ...changes } = row;
      await trx
        .insertInto("pin_credentials")
        .values(row)
        .onConflict((oc) => oc.column("user_id").doUpdateSet(changes))
        .execute();
    },

    /** Records that the PIN was re-checked against this policy version (at a successful sign-in). */
    async setPolicyVersion(userId: string, version: number): Promise<void> {
      await kysely
        .updateTable("pin_credentials")
        .set({ policy_version: version })
        .where("user_id", "=", userId)
        .execute();
    },

    /** Re-hash under the current key; conditional on the old hash so a concurrent PIN change wins. */
    async replaceHash(userId: string, oldHash: string, newHash: string): Promise<void> {
      await kysely
        .updateTable("pin_credentials")
        .set({ hash: newHash })
        .where("user_id", "=", userId)
        .where("hash", "=", oldHash)
        .execute();
    },

    async markMustChange(userId: string, reason: string, at: number, by: string): Promise<void> {
      await kysely
        .updateTable("pin_credentials")
        .set({ must_change_reason: reason, must_change_at: at, must_change_by: by })
        .where("user_id", "=", userId)
        .execute();
    },

    async profileCounts(): Promise<ProfileCount[]> {
      const rows = await kysely
        .selectFrom("pin_credentials as p")
        .leftJoin("qr_pin_methods as q", "q.user_id", "p.user_id")
        .select([
          "p.profile_tag as tag",
          sql<number>`case when q.user_id is null then 0 else 1 end`.as("qr"),
          sql<string>`case when p.must_change_reason is null then 'none' when p.must_change_reason = 'policyChange' then 'policyChange' else 'other' end`.as(
            "mark",
          ),
          (eb) => eb.fn.countAll<number | string>().as("count"),
        ])
        .where("p.is_temporary", "=", 0)
        .groupBy(["p.profile_tag", sql`case when q.user_id is null then 0 else 1 end`, "mark"])
        .execute();
      return rows.map((r) => ({
        tag: r.tag ?? null,
        qr: Number(r.qr) === 1,
        mark: r.mark as ProfileCount["mark"],
        count: Number(r.count),
      }));
    },

    /** Marks usable PINs with these tags as Must Change (policyChange). Returns how many were marked. */
    markPolicyChange: (tags: TagsByKind, at: number, by: string): Promise<number> =>
      updateByTag(tags, (q) =>
        q
          .set({ must_change_reason: "policyChange", must_change_at: at, must_change_by: by })
          .where("is_temporary", "=", 0)
          .where("must_change_reason", "is", null),
      ),

    /** Lifts a policy-change mark from PINs with these tags (the policy accepts them again). */
    clearPolicyChange: (tags: TagsByKind): Promise<number> =>
      updateByTag(tags, (q) =>
        q
          .set({ must_change_reason: null, must_change_at: null, must_change_by: null })
          .where("must_change_reason", "=", "policyChange"),
      ),

    async delete(userId: string, trx = kysely): Promise<boolean> {
      const result = await trx.deleteFrom("pin_credentials").where("user_id", "=", userId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
};

export type PinCredentialsRepo = ReturnType<typeof createPinCredentialsRepo>;
