import { type Db, fixedStatement, PREPARED } from "../db.ts";
import { AUDIT_INSERT, type AuditRow, auditInsertStatement, auditValues } from "./audit-events.ts";
import { type CounterRules, reservationStatement, reserveValues, successText } from "./lockout-counters.ts";
import type { PinCredentialRow } from "./pin-credentials.ts";
import { USER_WITH_PIN_SELECT, type User, type UserWithPinRow, upnKey, userWithPinFromRow } from "./users.ts";

/** Everything a successful PIN sign-in writes once the PIN has been found right. */
export interface VerifiedSignIn {
  /** The counter whose place the guess took, and the failures it counted when it took it. */
  readonly subject: string;
  readonly failedAtReservation: number;
  readonly userId: string;
  readonly at: number;
  /** Set when the PIN was just re-checked against a newer policy version. */
  readonly policyVersion?: number | undefined;
  /** The QR code the sign-in came with, whose last use is recorded. */
  readonly qrCodeId?: string | undefined;
  readonly audit: AuditRow;
}

/**
 * The writes of a successful sign-in, in as few trips as the database allows: one statement on
 * PostgreSQL (data-modifying CTEs: every round trip costs more than the statement), one transaction
 * on SQLite (one commit). The counter update is the one `recordSuccess` runs (lockout-counters.ts
 * `successText`): inside the statement on PostgreSQL, its own statement in the transaction on SQLite.
 */
export const createSignInsRepo = (db: Db) => {
  // SQLite's writes of a success, in one transaction (see recordVerified).
  const success = fixedStatement(db.dialect, successText(db.dialect));
  const signedIn = fixedStatement(db.dialect, "UPDATE users SET last_sign_in_at = ? WHERE id = ?");
  const policyChecked = fixedStatement(
    db.dialect,
    "UPDATE pin_credentials SET policy_version = ? WHERE user_id = ?",
  );
  const qrUsed = fixedStatement(db.dialect, "UPDATE qr_codes SET last_used_at = ? WHERE id = ?");
  const insertAudit = auditInsertStatement(db.dialect);
  // PostgreSQL's lookup and reservation in one statement (see findAndReserve), compiled once. Its own
  // commit does not wait for the WAL to reach the disk (`set_config(…, true)`: this transaction only).
  // Every outcome of the guess commits synchronously before anything is answered: the counted failure,
  // the success's writes, the audit event. That commit flushes the WAL up to and past the reservation,
  // so no answer ever rests on a reservation a crash could take back; a crash before it loses only a
  // guess that was never answered. It saves one disk flush per sign-in.
  const findAndReserveStatement = reservationStatement<
    UserWithPinRow & { found_id: string | null; reserved_failed_count: number | null }
  >(
    db.dialect,
    "COALESCE((SELECT ? || id FROM found), ?)",
    (reservation) => `${PREPARED}
      WITH found AS (
        SELECT ${USER_WITH_PIN_SELECT} FROM users LEFT JOIN pin_credentials p ON p.user_id = users.id
        WHERE users.upn_key = ?
      ),
      reserved AS (${reservation})
      SELECT found.*, found.id AS found_id, (SELECT failed_count FROM reserved) AS reserved_failed_count,
        set_config('synchronous_commit', 'off', true) AS commit_mode
      FROM (SELECT 1 AS one) AS one LEFT JOIN found ON TRUE`,
  );
  // PostgreSQL's writes of a success in one statement (see recordVerified), prepared once per connection.
  // One statement for each combination of the optional writes: a statement that names a table locks it
  // and opens its indexes even when it changes nothing there (measured: ~90 µs of the server's CPU per
  // sign-in for the two that most sign-ins do not need).
  const verifiedText = (checked: boolean, used: boolean) => {
    const writes = [
      `counter AS (${successText("postgres")} RETURNING subject)`,
      "signed_in AS (UPDATE users SET last_sign_in_at = ? WHERE id = ? RETURNING id)",
      ...(checked
        ? ["checked AS (UPDATE pin_credentials SET policy_version = ? WHERE user_id = ? RETURNING user_id)"]
        : []),
      ...(used ? ["used AS (UPDATE qr_codes SET last_used_at = ? WHERE id = ? RETURNING id)"] : []),
    ];
    return `${PREPARED}
    WITH ${writes.join(",\n    ")}
    ${AUDIT_INSERT}`;
  };
  const verifiedStatements = new Map<string, ReturnType<typeof fixedStatement>>();
  const verifiedOnPostgres = (checked: boolean, used: boolean) => {
    const key = `${checked}/${used}`;
    let statement = verifiedStatements.get(key);
    if (!statement) {
      statement = fixedStatement(db.dialect, verifiedText(checked, used));
      verifiedStatements.set(key, statement);
    }
    return statement;
  };
  return {
    /**
     * PostgreSQL only: finds the user and their credential and reserves a guess on their counter (the
     * counter of `unknownSubject` when there is no such user) in one statement, one round trip instead
     * of two before the hash. `failedCount` is undefined when no place was taken (see `reserve`).
     */
    async findAndReserve(
      upn: string,
      knownPrefix: string,
      unknownSubject: string,
      now: number,
      rules: CounterRules,
    ): Promise<{
      found: { user: User; pin: PinCredentialRow | undefined } | undefined;
      subject: string;
      failedCount: number | undefined;
    }> {
      const { rows } = await db.kysely.executeQuery(
        findAndReserveStatement(rules)(
          upnKey(upn),
          ...reserveValues([knownPrefix, unknownSubject], now, rules),
        ),
      );
      const row = rows[0];
      const found = row && row.found_id !== null ? userWithPinFromRow(row) : undefined;
      return {
        found,
        subject: found ? `${knownPrefix}${found.user.id}` : unknownSubject,
        failedCount: row?.reserved_failed_count ?? undefined,
      };
    },

    async recordVerified(v: VerifiedSignIn): Promise<void> {
      const { kysely } = db;

      if (db.dialect === "postgres") {
        const checked = v.policyVersion !== undefined;
        const used = v.qrCodeId !== undefined;
        await kysely.executeQuery(
          verifiedOnPostgres(checked, used)(
            // counter
            v.failedAtReservation,
            v.subject,
            // signed_in
            v.at,
            v.userId,
            // checked
            ...(checked ? [v.policyVersion, v.userId] : []),
            // used
            ...(used ? [v.at, v.qrCodeId] : []),
            ...auditValues(v.audit),
          ),
        );
        return;
      }
      await db.writeTogether([
        success(v.failedAtReservation, v.subject),
        signedIn(v.at, v.userId),
        ...(v.policyVersion !== undefined ? [policyChecked(v.policyVersion, v.userId)] : []),
        ...(v.qrCodeId !== undefined ? [qrUsed(v.at, v.qrCodeId)] : []),
        insertAudit(v.audit),
      ]);
    },
  };
};

export type SignInsRepo = ReturnType<typeof createSignInsRepo>;
