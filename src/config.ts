import { availableParallelism } from "node:os";
import path from "node:path";

/**
 * The only module that reads process.env. Everything else receives a frozen Config.
 */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** Raw PINDESK_PEPPER value ("kid:base64,kid:base64" or one base64 key); undefined → key file in dataDir. */
  readonly pepper: string | undefined;
  readonly logLevel: string;
  readonly publicUrl: string;
  /** Whether PINDESK_PUBLIC_URL was given (otherwise publicUrl is derived from host and port). */
  readonly publicUrlSet: boolean;
  readonly tokenTtlSeconds: number;
  readonly tenantId: string;
  readonly trustProxy: boolean;
  readonly bodyLimitBytes: number;
  readonly hashThreads: number;
  readonly delivery: DeliveryConfig;
  /** Sign-in attempts per minute per client address on unauthenticated sign-in routes. */
  readonly signInRatePerMinute: number;
}

export interface DeliveryConfig {
  readonly smtp:
    | {
        readonly host: string;
        readonly port: number;
        /** true = implicit TLS (port 465); false = STARTTLS when the server offers it. */
        readonly secure: boolean;
        readonly requireTls: boolean;
        readonly user: string | undefined;
        readonly password: string | undefined;
      }
    | undefined;
  readonly from: string;
  readonly sms:
    | { readonly url: string; readonly bodyTemplate: string; readonly authorization: string | undefined }
    | undefined;
  /** Route email to a built-in SMTP sink that prints messages (local development). */
  readonly devMail: boolean;
  /** Waits between delivery attempts of a message, in milliseconds (one attempt more than waits). */
  readonly retryDelaysMs: readonly number[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

const intFrom = (env: Env, name: string, fallback: number, min: number, max: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}".`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}.`);
  return value;
};

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export interface ConfigOverrides {
  host?: string;
  port?: number;
  databaseUrl?: string;
  dataDir?: string;
  logLevel?: string;
}

/** Parses configuration once. Throws ConfigError with a message that names the variable and the fix. */
export const loadConfig = (overrides: ConfigOverrides = {}, env: Env = process.env): Config => {
  const dataDir = path.resolve(overrides.dataDir ?? env.PINDESK_DATA_DIR ?? "./data");
  const port = overrides.port ?? intFrom(env, "PINDESK_PORT", 8080, 0, 65535);
  const host = overrides.host ?? env.PINDESK_HOST ?? "127.0.0.1";
  const databaseUrl =
    overrides.databaseUrl ?? env.PINDESK_DATABASE_URL ?? `sqlite:${path.join(dataDir, "pindesk.db")}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(
      `PINDESK_DATABASE_URL must start with "sqlite:" (e.g. sqlite:./data/pindesk.db) or "postgres://", got "${databaseUrl.replace(/\/\/[^@]*@/, "//***@")}".`,
    );
  }
  const logLevel = overrides.logLevel ?? env.PINDESK_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`PINDESK_LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}".`);
  }
  // Validated here; applied by bin/threadpool.cjs, which sizes libuv's pool before the process loads
  // anything (the pool's size is fixed at its first use, long before this runs).
  const hashThreads = intFrom(env, "PINDESK_HASH_THREADS", availableParallelism(), 1, 256);
  return Object.freeze({
    host,
    port,
    databaseUrl,
    dataDir,
    pepper: env.PINDESK_PEPPER || undefined,
    logLevel,
    // Browsers accept security keys on "localhost" but never on a bare IP address.
    publicUrl: (
      env.PINDESK_PUBLIC_URL ??
      `http://${host === "127.0.0.1" || host === "::1" ? "localhost" : host}:${port}`
    ).replace(/\/+$/, ""),
    publicUrlSet: Boolean(env.PINDESK_PUBLIC_URL),
    tokenTtlSeconds: intFrom(env, "PINDESK_TOKEN_TTL_SECONDS", 900, 60, 86400),
    tenantId: env.PINDESK_TENANT_ID ?? "00000000-0000-4000-8000-000000000001",
    trustProxy: bool(env, "PINDESK_TRUST_PROXY"),
    bodyLimitBytes: intFrom(env, "PINDESK_BODY_LIMIT_BYTES", 64 * 1024, 1024, 10 * 1024 * 1024),
    hashThreads,
    delivery: deliveryFrom(env),
    signInRatePerMinute: intFrom(env, "PINDESK_SIGNIN_RATE_PER_MINUTE", 300, 1, 1_000_000),
  });
};

const bool = (env: Env, name: string): boolean => {
  const raw = env[name];
  if (raw === undefined || raw === "") return false;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
};

const deliveryFrom = (env: Env): DeliveryConfig => {
  const host = env.PINDESK_SMTP_HOST || undefined;
  const smsUrl = env.PINDESK_SMS_WEBHOOK_URL || undefined;
  if (smsUrl && !/^https?:\/\//.test(smsUrl)) {
    throw new ConfigError(`PINDESK_SMS_WEBHOOK_URL must be an http(s) URL, got "${smsUrl}".`);
  }
  const bodyTemplate = env.PINDESK_SMS_WEBHOOK_BODY || '{"to":"{{to}}","text":"{{text}}"}';
  try {
    JSON.parse(bodyTemplate.replaceAll("{{to}}", "x").replaceAll("{{text}}", "x"));
  } catch {
    throw new ConfigError(
      'PINDESK_SMS_WEBHOOK_BODY must be a JSON template using {{to}} and {{text}}, e.g. {"to":"{{to}}","text":"{{text}}"}.',
    );
  }
  // Checked whether or not a host is set: a bad value is reported at start, not when a host is added.
  const port = intFrom(env, "PINDESK_SMTP_PORT", 587, 1, 65535);
  const secure = bool(env, "PINDESK_SMTP_SECURE");
  const requireTls = bool(env, "PINDESK_SMTP_REQUIRE_TLS");
  return Object.freeze({
    smtp: host
      ? Object.freeze({
          host,
          port,
          secure,
          requireTls,
          user: env.PINDESK_SMTP_USER || undefined,
          password: env.PINDESK_SMTP_PASSWORD || undefined,
        })
      : undefined,
    from: env.PINDESK_SMTP_FROM || "PinDesk <no-reply@localhost>",
    sms: smsUrl
      ? Object.freeze({
          url: smsUrl,
          bodyTemplate,
          authorization: env.PINDESK_SMS_WEBHOOK_AUTHORIZATION || undefined,
        })
      : undefined,
    devMail: bool(env, "PINDESK_DEV_MAIL"),
    retryDelaysMs: retryDelaysFrom(env),
  });
};

/** PINDESK_DELIVERY_RETRY_SECONDS="30,120,600,1800": 1-10 waits, each 1 second to 1 day. */
const retryDelaysFrom = (env: Env): readonly number[] => {
  const raw = env.PINDESK_DELIVERY_RETRY_SECONDS;
  if (raw === undefined || raw.trim() === "") return Object.freeze([30_000, 120_000, 600_000, 1_800_000]);
  const parts = raw.split(",").map((p) => p.trim());
  if (
    parts.length < 1 ||
    parts.length > 10 ||
    parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 86_400)
  ) {
    throw new ConfigError(
      `PINDESK_DELIVERY_RETRY_SECONDS must be 1 to 10 waits in seconds (1-86400), separated by commas, e.g. 30,120,600,1800; got "${raw}".`,
    );
  }
  return Object.freeze(parts.map((p) => Number(p) * 1000));
};

/** Test-only environment, read here so that tests never touch process.env themselves. */
export const testPostgresUrl = (env: Env = process.env): string | undefined =>
  env.PINDESK_TEST_POSTGRES_URL || undefined;

/** Test-only: browser tests refresh the README's screenshots in docs/ when this is set. */
export const updateScreenshots = (env: Env = process.env): boolean => env.PINDESK_UPDATE_SCREENSHOTS === "1";
