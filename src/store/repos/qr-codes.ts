import type { Kysely } from "kysely";
import { type Db, everyColumn, fixedStatement } from "../db.ts";
import type { Database, QrCodeKind, QrCodesTable } from "../schema.ts";
import type { PinCredentialRow } from "./pin-credentials.ts";
import { USER_WITH_PIN_SELECT, type User, type UserWithPinRow, userWithPinFromRow } from "./users.ts";

export type QrCodeRow = QrCodesTable;

const CODE_COLUMNS = everyColumn<QrCodeRow>()([
  "id",
  "user_id",
  "kind",
  "secret_hash",
  "start_at",
  "expire_at",
  "created_at",
  "updated_at",
  "last_used_at",
]);

type CodeWithHolderRow = UserWithPinRow & { [C in (typeof CODE_COLUMNS)[number] as `q_${C}`]: QrCodeRow[C] };

/** One row of a method's snapshot: the method joined with each of its codes (if any) and the PIN. */
type SnapshotRow = { method_created_at: number } & {
  [C in "id" | "kind" | "start_at" | "expire_at" | "created_at" | "updated_at" | "last_used_at"]:
    | QrCodeRow[C]
    | null;
} & {
  pin_created_at: PinCredentialRow["created_at"] | null;
  pin_changed_at: PinCredentialRow["changed_at"] | null;
  pin_is_temporary: PinCredentialRow["is_temporary"] | null;
  pin_must_change_reason: PinCredentialRow["must_change_reason"] | null;
};

export const createQrRepo = ({ kysely, dialect }: Db) => {
  // The QR sign-in's lookup: the code, its holder and the holder's PIN in one fixed statement (see db.ts).
  const codeWithHolderStatement = fixedStatement<CodeWithHolderRow>(
    dialect,
    `SELECT ${CODE_COLUMNS.map((c) => `q.${c} AS q_${c}`).join(", ")}, ${USER_WITH_PIN_SELECT}
     FROM qr_codes q JOIN users ON users.id = q.user_id LEFT JOIN pin_credentials p ON p.user_id = users.id
     WHERE q.id = ?`,
  );
  // The Graph GET's read: the method, its codes and the PIN's dates and flags (see db.ts).
  const snapshotStatement = fixedStatement<SnapshotRow>(
    dialect,
    `SELECT m.created_at AS method_created_at, c.id, c.kind, c.start_at, c.expire_at, c.created_at,
       c.updated_at, c.last_used_at, p.created_at AS pin_created_at, p.changed_at AS pin_changed_at,
       p.is_temporary AS pin_is_temporary, p.must_change_reason AS pin_must_change_reason
     FROM qr_pin_methods m LEFT JOIN qr_codes c ON c.user_id = m.user_id
       LEFT JOIN pin_credentials p ON p.user_id = m.user_id
     WHERE m.user_id = ?`,
  );
  /** Inserts the method; false when the user already has one (the primary key decides under concurrency). */
  const insertMethod = async (
    userId: string,
    now: number,
    trx: Kysely<Database> = kysely,
  ): Promise<boolean> => {
    const result = await trx
      .insertInto("qr_pin_methods")
      .values({ user_id: userId, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column("user_id").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  };
  return {
    async getMethod(userId: string) {
      return kysely.selectFrom("qr_pin_methods").selectAll().where("user_id", "=", userId).executeTakeFirst();
    },

    insertMethod,

    /**
     * Creates the method with its standard code, in one transaction. A method whose codes have all expired
     * (or were deleted) no longer counts: it is replaced. False when the user has an active method, or a
     * concurrent request created or replaced one first: the existing row is removed only if it is still the
     * one that was read, and the primary key decides between concurrent inserts, so exactly one wins.
     */
    async claimMethod(code: QrCodeRow, now: number, trx: Kysely<Database>): Promise<boolean> {
      const userId = code.user_id;
      const existing = await trx
        .selectFrom("qr_pin_methods")
        .select("created_at")
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (existing) {
        const active = await trx
          .selectFrom("qr_codes")
          .select("id")
          .where("user_id", "=", userId)
          .where("expire_at", ">", now)
          .executeTakeFirst();
        if (active) return false;
        const removed = await trx
          .deleteFrom("qr_pin_methods")
          .where("user_id", "=", userId)
          .where("created_at", "=", existing.created_at)
          .executeTakeFirst();
        if (Number(removed.numDeletedRows) !== 1) return false;
        await trx.deleteFrom("qr_codes").where("user_id", "=", userId).execute();
      }
      if (!(await insertMethod(userId, now, trx))) return false;
      await trx.insertInto("qr_codes").values(code).execute();
      return true;
    },

    /** Removes a method just created whose PIN could not be stored (the claim is undone). */
    async releaseMethod(userId: string, createdAt: number, trx: Kysely<Database>): Promise<void> {
      const removed = await trx
        .deleteFrom("qr_pin_methods")
        .where("user_id", "=", userId)
        .where("created_at", "=", createdAt)
        .executeTakeFirst();
      if (Number(removed.numDeletedRows) === 1)
        await trx.deleteFrom("qr_codes").where("user_id", "=", userId).execute();
    },

    async touchMethod(userId: string, now: number, trx: Kysely<Database> = kysely): Promise<void> {
      await trx
        .updateTable("qr_pin_methods")
        .set({ updated_at: now })
        .where("user_id", "=", userId)
        .execute();
    },

    async deleteMethod(userId: string, trx: Kysely<Database> = kysely): Promise<boolean> {
      await trx.deleteFrom("qr_codes").where("user_id", "=", userId).execute();
      const result = await trx.deleteFrom("qr_pin_methods").where("user_id", "=", userId).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    /** The method, its codes and the PIN's dates and flags in one query (the Graph GET is a hot path). */
    async snapshot(userId: string) {
      const { rows } = await kysely.executeQuery(snapshotStatement(userId));
      const first = rows[0];
      if (!first) return undefined;
      const codes: QrCodeRow[] = [];
      for (const r of rows) {
        if (r.id === null || r.kind === null) continue;
        codes.push({
          id: r.id,
          user_id: userId,
          kind: r.kind,
          secret_hash: "",
          start_at: r.start_at as number,
          expire_at: r.expire_at as number,
          created_at: r.created_at as number,
          updated_at: r.updated_at as number,
          last_used_at: r.last_used_at,
        });
      }
      return {
        methodCreatedAt: first.method_created_at,
        codes,
        pin:
          first.pin_created_at === null
            ? undefined
            : {
                createdAt: first.pin_created_at,
                changedAt: first.pin_changed_at as number,
                isTemporary: first.pin_is_temporary === 1,
                mustChangeReason: first.pin_must_change_reason,
              },
      };
    },

    async codesOf(userId: string): Promise<QrCodeRow[]> {
      return kysely.selectFrom("qr_codes").selectAll().where("user_id", "=", userId).execute();
    },

    async code(userId: string, kind: QrCodeKind): Promise<QrCodeRow | undefined> {
      return kysely
        .selectFrom("qr_codes")
        .selectAll()
        .where("user_id", "=", userId)
        .where("kind", "=", kind)
        .executeTakeFirst();
    },

    /** A code, its holder and the holder's PIN credential, in one round trip (the sign-in path). */
    async codeWithHolder(
      id: string,
    ): Promise<{ code: QrCodeRow; holder: { user: User; pin: PinCredentialRow | undefined } } | undefined> {
      const [row] = (await kysely.executeQuery(codeWithHolderStatement(id))).rows;
      if (!row) return undefined;
      const code = Object.fromEntries(CODE_COLUMNS.map((c) => [c, row[`q_${c}`]])) as unknown as QrCodeRow;
      return { code, holder: userWithPinFromRow(row) };
    },

    /** Replaces the user's code of this kind (a new id and secret invalidate the old printed code). */
    async replaceCode(row: QrCodeRow, trx: Kysely<Database> = kysely): Promise<void> {
      await trx
        .deleteFrom("qr_codes")
        .where("user_id", "=", row.user_id)
        .where("kind", "=", row.kind)
        .execute();
      await trx.insertInto("qr_codes").values(row).execute();
    },

    async updateExpiry(id: string, expireAt: number, now: number): Promise<void> {
      await kysely
        .updateTable("qr_codes")
        .set({ expire_at: expireAt, updated_at: now })
        .where("id", "=", id)
        .execute();
    },

    async deleteCode(userId: string, kind: QrCodeKind): Promise<boolean> {
      const result = await kysely
        .deleteFrom("qr_codes")
        .where("user_id", "=", userId)
        .where("kind", "=", kind)
        .executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async markUsed(id: string, now: number): Promise<void> {
      await kysely.updateTable("qr_codes").set({ last_used_at: now }).where("id", "=", id).execute();
    },
  };
};

export type QrRepo = ReturnType<typeof createQrRepo>;
