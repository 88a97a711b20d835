/**
 * How the CLI reports a failure: one `error:` line saying what went wrong, the details a person needs
 * (which field, which range), and a `next step:` line. A stack trace only with --debug.
 */
import { ConfigError } from "../config.ts";
import { KeyringError } from "../crypto/keyring.ts";
import { AppError } from "../errors/app-error.ts";
import { UsageError } from "./io.ts";

/** A failure the CLI understands, with its own next step. Exit code 1 unless said otherwise. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly nextStep: string,
    readonly details: string[] = [],
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

export interface Report {
  lines: string[];
  exitCode: number;
}

type Coded = Error & { code?: unknown; errno?: unknown; path?: unknown; errors?: unknown };

const codeOf = (error: unknown): string | undefined => {
  const code = (error as Coded | undefined)?.code;
  return typeof code === "string" ? code : undefined;
};

/** The first line of an error's message; AggregateError (several addresses tried) has none of its own. */
export const oneLine = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error).split("\n", 1)[0] ?? "";
  const own = error.message.split("\n", 1)[0]?.trim();
  if (own) return own;
  const inner = (error as Coded).errors;
  if (Array.isArray(inner) && inner[0] instanceof Error) return oneLine(inner[0]);
  return codeOf(error) ?? error.name;
};

/** A database URL safe to print: the password (and password-like parameters) masked. */
export const redactUrl = (url: string): string => {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    for (const key of [...parsed.searchParams.keys()])
      if (/pass|secret|key|token/i.test(key)) parsed.searchParams.set(key, "***");
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@");
  }
};

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "the connection was refused (nothing is listening at that address and port)",
  ENOTFOUND: "the host name was not found",
  EAI_AGAIN: "the host name could not be looked up (DNS is not answering)",
  ETIMEDOUT: "the connection timed out",
  EHOSTUNREACH: "the host cannot be reached from this machine",
  ENETUNREACH: "the network cannot be reached from this machine",
  ECONNRESET: "the server closed the connection",
};

const FILE_REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  EISDIR: "it is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  ENOSPC: "the disk is full",
};

export const fileReason = (error: unknown): string => FILE_REASONS[codeOf(error) ?? ""] ?? oneLine(error);

/** Translates a failure to open or migrate the database into what to check. */
export const databaseProblem = (error: unknown, databaseUrl: string): CliError => {
  const url = redactUrl(databaseUrl);
  const code = codeOf(error);
  if (databaseUrl.startsWith("sqlite:")) {
    const file = databaseUrl.slice("sqlite:".length);
    const reason =
      code === "SQLITE_NOTADB"
        ? "the file is not a SQLite database"
        : code === "SQLITE_CANTOPEN"
          ? "the file cannot be opened or created"
          : code === "SQLITE_READONLY"
            ? "the file is read-only"
            : code && FILE_REASONS[code]
              ? FILE_REASONS[code]
              : oneLine(error);
    return new CliError(
      `cannot open the database at ${url}: ${reason}`,
      code === "SQLITE_NOTADB"
        ? `point PINDESK_DATABASE_URL at PinDesk's database file, or at a new path (e.g. sqlite:./data/pindesk.db) to start empty.`
        : `check that the directory of ${file} exists and that this user may write to it, or set PINDESK_DATABASE_URL=sqlite:<path> to another place.`,
      [],
      error,
    );
  }
  const network = code ? NETWORK_REASONS[code] : undefined;
  if (network) {
    return new CliError(
      `cannot reach the database at ${url}: ${network}`,
      "check that PostgreSQL is running and accepts connections at that host and port, and that PINDESK_DATABASE_URL is right (postgres://user:password@host:5432/database).",
      [],
      error,
    );
  }
  if (code === "3D000") {
    return new CliError(
      `cannot reach the database at ${url}: ${oneLine(error)}`,
      "create that database (e.g. createdb <name>) or point PINDESK_DATABASE_URL at an existing one; PinDesk creates its tables itself.",
      [],
      error,
    );
  }
  if (code?.startsWith("28")) {
    return new CliError(
      `cannot reach the database at ${url}: ${oneLine(error)}`,
      "check the user name and password in PINDESK_DATABASE_URL, and that PostgreSQL (pg_hba.conf) lets this user connect from this machine.",
      [],
      error,
    );
  }
  return new CliError(
    `cannot reach the database at ${url}: ${oneLine(error)}`,
    "check PINDESK_DATABASE_URL and that the database server is running; run the command again with --debug for the full details.",
    [],
    error,
  );
};

/** Translates a failure to listen on the configured address. */
export const listenProblem = (error: unknown, host: string, port: number): CliError => {
  const code = codeOf(error);
  if (code === "EADDRINUSE")
    return new CliError(
      `port ${port} is in use on ${host} by another program`,
      "choose another with --port or PINDESK_PORT, or stop the program that uses it.",
      [],
      error,
    );
  if (code === "EACCES")
    return new CliError(
      `port ${port} needs administrator rights on this system`,
      "choose a port above 1023 with --port or PINDESK_PORT (e.g. --port 8080), and put a reverse proxy in front for port 80 or 443.",
      [],
      error,
    );
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EAI_AGAIN")
    return new CliError(
      `cannot listen on ${host}: it is not an address of this machine`,
      "use --host 127.0.0.1 (this machine only) or --host 0.0.0.0 (every network interface), or fix PINDESK_HOST.",
      [],
      error,
    );
  return new CliError(
    `cannot listen on ${host}:${port}: ${oneLine(error)}`,
    "check --host and --port (or PINDESK_HOST and PINDESK_PORT); run the command again with --debug for the full details.",
    [],
    error,
  );
};

/** AppError details in plain lines: which field, what is wrong with it. */
const appErrorDetails = (error: AppError, optionFor: Record<string, string>): string[] => {
  const details = error.details as {
    violations?: { message?: string; code?: string }[];
    problems?: { field: string; message: string }[];
    field?: string;
    problem?: string;
    unknown?: string[];
    known?: string[];
  };
  const name = (field: string) => optionFor[field] ?? field;
  const lines: string[] = [];
  for (const v of details.violations ?? []) if (v.message) lines.push(v.message);
  for (const p of details.problems ?? []) lines.push(`${name(p.field)} ${p.message}`);
  if (typeof details.field === "string" && typeof details.problem === "string")
    lines.push(`${name(details.field)} ${details.problem}`);
  if (Array.isArray(details.unknown) && details.unknown.length > 0)
    lines.push(`not known: ${details.unknown.join(", ")}`);
  if (Array.isArray(details.known) && details.known.length > 0)
    lines.push(`known: ${details.known.join(", ")}`);
  // Some messages already spell out their details; do not say them twice.
  return lines.filter((line) => !error.message.includes(line));
};

/** Codes whose catalogue mitigation points at API response fields; on the CLI the details are printed. */
const FIX_WHAT_IS_LISTED = new Set([
  "invalidRequest",
  "invalidPolicy",
  "pinPolicyViolation",
  "unknownPermission",
]);

export interface ReportContext {
  /** The command as typed, e.g. "pin reset", for the --help pointer. */
  command: string;
  debug: boolean;
  /** Field names in service errors → the option that sets them in this command. */
  optionFor?: Record<string, string>;
}

const helpPointer = (command: string) => `"pindesk${command ? ` ${command}` : ""} --help"`;

/** Everything after the commander stage: what to print for a failure, and the exit code. */
export const reportFailure = (error: unknown, ctx: ReportContext): Report => {
  const lines: string[] = [];
  let exitCode = 1;
  let nextStep: string;
  let details: string[] = [];
  let message: string;
  if (error instanceof UsageError) {
    message = error.message;
    nextStep = error.nextStep ?? `run ${helpPointer(ctx.command)} to see the options and an example.`;
    exitCode = 2;
  } else if (error instanceof CliError) {
    message = error.message;
    nextStep = error.nextStep;
    details = error.details;
  } else if (error instanceof AppError) {
    message = error.message;
    details = appErrorDetails(error, ctx.optionFor ?? {});
    nextStep = FIX_WHAT_IS_LISTED.has(error.code)
      ? `fix what is listed above and run the command again (${helpPointer(ctx.command)} lists the options).`
      : error.mitigation;
  } else if (error instanceof ConfigError) {
    message = error.message;
    nextStep =
      "fix that setting (environment variable or option) and run the command again; the README's Configuration section lists every setting.";
  } else if (error instanceof KeyringError) {
    message = error.message;
    nextStep =
      "fix the pepper key as described: keys come from PINDESK_PEPPER, or from pepper-keys.json in the data directory (PINDESK_DATA_DIR) — restore that file from backup rather than deleting it.";
  } else {
    message = `unexpected failure: ${oneLine(error)}`;
    nextStep =
      "run the command again with --debug to see the full details; if it keeps happening, report them with the command you ran.";
  }
  lines.push(`error: ${message}`);
  for (const detail of details) lines.push(`  - ${detail}`);
  lines.push(`next step: ${nextStep}`);
  if (ctx.debug) {
    const cause = error instanceof CliError && error.cause !== undefined ? error.cause : error;
    lines.push(
      "",
      "details (--debug):",
      cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause),
    );
  }
  return { lines, exitCode };
};
