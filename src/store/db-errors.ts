/**
 * Database constraint violations, told apart by what they protect rather than by driver. PostgreSQL
 * names the constraint (`users_upn_key_key`); SQLite names the columns (`users.upn_key`). Both are
 * reduced to "table.column[,column]" so callers can map them to the error a client should see.
 */
export interface ConstraintViolation {
  readonly kind: "unique" | "foreignKey";
  /** e.g. "users.upn_key", "policies.name,version"; undefined when the driver did not say. */
  readonly target: string | undefined;
}

// PostgreSQL's names for the constraints PinDesk's migrations create (default and explicit names).
const POSTGRES_TARGETS: Readonly<Record<string, string>> = {
  users_upn_key_key: "users.upn_key",
  users_pkey: "users.id",
  policies_pk: "policies.name,version",
  qr_codes_user_kind: "qr_codes.user_id,kind",
  qr_pin_methods_pkey: "qr_pin_methods.user_id",
  api_clients_pkey: "api_clients.id",
  security_answers_pk: "security_answers.user_id,question_id",
};

/**
 * PostgreSQL refused a text value it cannot store (a NUL character, or one outside the encoding):
 * the caller's input, not a fault of the service.
 */
export const isUnstorableText = (error: unknown): boolean => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === "22021" || code === "22P05";
};

export const constraintViolationOf = (error: unknown): ConstraintViolation | undefined => {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, constraint, message } = error as { code?: unknown; constraint?: unknown; message?: unknown };
  if (code === "23505" || code === "23503") {
    const name = typeof constraint === "string" ? constraint : undefined;
    return {
      kind: code === "23505" ? "unique" : "foreignKey",
      target: name === undefined ? undefined : (POSTGRES_TARGETS[name] ?? name),
    };
  }
  if (typeof code === "string" && code.startsWith("SQLITE_CONSTRAINT")) {
    if (code === "SQLITE_CONSTRAINT_FOREIGNKEY") return { kind: "foreignKey", target: undefined };
    if (code !== "SQLITE_CONSTRAINT_UNIQUE" && code !== "SQLITE_CONSTRAINT_PRIMARYKEY") return undefined;
    // "UNIQUE constraint failed: policies.name, policies.version"
    const columns = typeof message === "string" ? /constraint failed: (.+)$/.exec(message)?.[1] : undefined;
    if (!columns) return { kind: "unique", target: undefined };
    const parts = columns.split(",").map((c) => c.trim());
    const table = parts[0]?.split(".")[0];
    return { kind: "unique", target: `${table}.${parts.map((p) => p.split(".")[1]).join(",")}` };
  }
  return undefined;
};

export const isUniqueViolation = (error: unknown, target?: string): boolean => {
  const violation = constraintViolationOf(error);
  return violation?.kind === "unique" && (target === undefined || violation.target === target);
};

// Connection-level failures: the database is down, restarting, unreachable or gone.
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "3D000", // invalid_catalog_name: the database was dropped
  "53300", // too_many_connections
  "SQLITE_BUSY", // another process held the write lock past busy_timeout
  "SQLITE_CANTOPEN",
  "SQLITE_IOERR",
  "SQLITE_FULL",
  "SQLITE_READONLY",
]);

/** The request failed because the database cannot be reached, not because of anything the caller sent. */
export const isDatabaseUnavailable = (error: unknown): boolean => {
  if (typeof error !== "object" || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === "string" && (UNAVAILABLE_CODES.has(code) || code.startsWith("08"))) return true;
  if (typeof code === "string" && code.startsWith("SQLITE_IOERR")) return true;
  return (
    typeof message === "string" &&
    /Connection terminated|connection timeout|Client has encountered a connection error|The database connection is not open/i.test(
      message,
    )
  );
};
