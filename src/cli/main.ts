#!/usr/bin/env node
/**
 * The `pindesk` command. Every command confirms what it did, or prints `error:` with the next step.
 * PINs are read from a hidden prompt or stdin, never from the command line.
 *
 * Exit codes: 0 done (including "nothing to do", e.g. unblocking a PIN that is not locked);
 * 1 the command ran but failed or was refused (bad PIN, unknown user, rows rejected by an import,
 * database unreachable, …); 2 the command was called wrongly (unknown option, bad option value).
 */
import { realpathSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { type Config, type ConfigOverrides, loadConfig } from "../config.ts";
import { keyFilePath, rotateKeyFile } from "../crypto/keyring.ts";
import { startDevMailSink } from "../delivery/dev-mail.ts";
import { smtpTransport } from "../delivery/transports.ts";
import { describePinPolicy } from "../domain/pin-policy.ts";
import { AppError } from "../errors/app-error.ts";
import { explainCode, formatCodeList, formatExplanation, knownCodeList } from "../errors/explain.ts";
import { buildApp } from "../http/app.ts";
import { KNOWN_PERMISSIONS } from "../services/app-client-service.ts";
import { cliContext } from "../services/context.ts";
import { describePolicyEffect } from "../services/pin-compliance.ts";
import { loadKeyring, openRuntime, type Runtime } from "../services/runtime.ts";
import { CLIENT_CHECK_MS } from "../services/token-service.ts";
import { userView } from "../services/user-service.ts";
import { CliError, databaseProblem, fileReason, listenProblem, redactUrl, reportFailure } from "./errors.ts";
import { importUsersCsv } from "./import.ts";
import {
  type CliIo,
  createTerminal,
  describeStatus,
  isoTime,
  type Terminal,
  table,
  UsageError,
  wholeNumber,
} from "./io.ts";

export type { CliIo } from "./io.ts";

/** Field names in service errors → the option of the command that sets them. */
const OPTION_FOR: Record<string, Record<string, string>> = {
  "user add": {
    userPrincipalName: "--upn",
    displayName: "--display-name",
    mail: "--mail",
    mobilePhone: "--phone",
    roles: "--role",
  },
  "pin reset": { expiresInHours: "--expires-in-hours" },
  "app create": { name: "--name", permission: "--permission" },
};

interface RunState {
  exitCode: number;
  command: string;
}

/** Reads a file the user named; a failure names the file and what is wrong. */
const readUserFile = async (file: string, what: string): Promise<string> => {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read ${what} ${file}: ${fileReason(error)}`,
      `check the path (relative paths start from ${process.cwd()}) and that this user may read the file.`,
      [],
      error,
    );
  }
};

/** JSON.parse's complaint, with the line and column when it gives only a character position. */
const jsonProblem = (text: string, error: unknown): string => {
  const message = (error as Error).message;
  const position = /at position (\d+)/.exec(message);
  if (!position || /line \d+/.test(message)) return message;
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message} (line ${line}, column ${column})`;
};

const commandName = (command: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

/** The deepest command named in argv, for the --help pointer after a parse error. */
const commandFromArgv = (program: Command, argv: readonly string[]): string => {
  let current = program;
  for (const token of argv) {
    if (token.startsWith("-")) continue;
    const next = current.commands.find((c) => c.name() === token || c.aliases().includes(token));
    if (!next) break;
    current = next;
  }
  return commandName(current);
};

const buildProgram = (term: Terminal, state: RunState): Command => {
  const { say, note, io } = term;
  const config = (overrides: ConfigOverrides = {}): Config =>
    io.env ? loadConfig(overrides, io.env) : loadConfig(overrides);

  /** Loads the pepper keys, then opens the database (applying migrations); failures say which. */
  const open = async (cfg: Config, options: Parameters<typeof openRuntime>[1] = {}): Promise<Runtime> => {
    let created = false;
    try {
      ({ created } = await loadKeyring(cfg));
    } catch (error) {
      if (!(error instanceof SyntaxError) && typeof (error as { code?: unknown }).code !== "string")
        throw error;
      const file = keyFilePath(cfg.dataDir);
      throw error instanceof SyntaxError
        ? new CliError(
            `the pepper key file ${file} is damaged (not valid JSON)`,
            "restore it from your backup. Do not delete it: PINs hashed with its keys cannot be verified without it.",
            [],
            error,
          )
        : new CliError(
            `cannot read or create the pepper key file ${file}: ${fileReason(error)}`,
            `check that the data directory ${cfg.dataDir} (PINDESK_DATA_DIR) exists and that this user may write to it, or give the keys in PINDESK_PEPPER.`,
            [],
            error,
          );
    }
    if (created)
      note(
        `Created a new pepper key file in ${cfg.dataDir} — back it up: without it no PIN can be verified.`,
      );
    let runtime: Runtime;
    try {
      runtime = await openRuntime(cfg, options);
    } catch (error) {
      throw databaseProblem(error, cfg.databaseUrl);
    }
    return runtime;
  };

  /** Opens the database (applying migrations), runs `fn`, always closes. */
  const withRuntime = async <T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> => {
    const runtime = await open(config());
    try {
      return await fn(runtime);
    } finally {
      await runtime.close();
    }
  };

  const program = new Command()
    .name("pindesk")
    .description("PinDesk: PIN authentication service — server, administration and troubleshooting.")
    .option("--debug", "on failure, also print the full technical details (also PINDESK_LOG_LEVEL=debug)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      getOutHelpWidth: () =>
        (io.stdout.isTTY ? (io.stdout as { columns?: number }).columns : undefined) as number,
      getErrHelpWidth: () => (io.stderr.isTTY ? io.stderr.columns : undefined) as number,
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    .addHelpText(
      "after",
      `
Every command has --help, e.g. pindesk pin reset --help.
Exit codes: 0 done, 1 failed or refused (the message says why and what to do), 2 wrong usage.`,
    )
    .hook("preAction", (_program, action) => {
      state.command = commandName(action);
    });

  // ------------------------------------------------------------------ serve
  program
    .command("serve")
    .description("Start the server (applies database migrations first).")
    .option("--host <host>", "address to listen on (PINDESK_HOST; default 127.0.0.1)")
    .option(
      "--port <port>",
      "port to listen on, 0-65535; 0 picks a free one (PINDESK_PORT; default 8080)",
      wholeNumber(0, 65535),
    )
    .option("--dev-mail", "send email to a built-in SMTP sink that prints every message (local development)")
    .action(async (opts: { host?: string; port?: number; devMail?: boolean }) => {
      const cfg = config({
        ...(opts.host && { host: opts.host }),
        ...(opts.port !== undefined && { port: opts.port }),
      });
      const sink = opts.devMail || cfg.delivery.devMail ? await startDevMailSink({ print: note }) : undefined;
      let runtime: Runtime;
      try {
        runtime = await open(cfg, {
          ...(sink && {
            transports: {
              email: smtpTransport(
                {
                  host: sink.host,
                  port: sink.port,
                  secure: false,
                  requireTls: false,
                  user: undefined,
                  password: undefined,
                },
                cfg.delivery.from,
              ),
            },
          }),
        });
      } catch (error) {
        await sink?.close();
        throw error;
      }
      const { services } = runtime;
      if (runtime.migrationsApplied.length > 0)
        note(`Database migrated: ${runtime.migrationsApplied.join(", ")}`);
      const app = await buildApp(services);
      let address: string;
      try {
        address = await app.listen({ host: cfg.host, port: cfg.port });
      } catch (error) {
        await app.close();
        await runtime.close();
        await sink?.close();
        throw listenProblem(error, cfg.host, cfg.port);
      }
      const url = new URL(address);
      say(`PinDesk listening on http://${cfg.host}:${url.port}`);
      say(`  Portal:   http://${cfg.host}:${url.port}/portal/`);
      say(`  API docs: http://${cfg.host}:${url.port}/docs`);
      if (sink)
        say(`  Dev mail: email goes to the built-in sink on ${sink.host}:${sink.port} and is printed here.`);
      if (!(await services.admin.hasAdministrator())) {
        // The portal's own address (localhost rather than 127.0.0.1: browsers allow security keys only there).
        const publicUrl = cfg.publicUrlSet ? cfg.publicUrl : cfg.publicUrl.replace(/:\d+$/, `:${url.port}`);
        const link = await services.admin.createSetupLink(cliContext, publicUrl);
        say("");
        say("No administrator exists yet. Open this one-time link to create the first one:");
        say(`  ${link.url}`);
        say(`  (single use, expires ${link.expiresAt}; \`pindesk admin create\` prints a new one)`);
      }
      services.outbox.start();
      services.maintenance.start(undefined, (error) =>
        note(`housekeeping failed (will retry): ${String(error)}`),
      );
      let closing = false;
      const shutdown = async (signal: string) => {
        if (closing) return;
        closing = true;
        note(`${signal} received: finishing open requests, then stopping.`);
        services.outbox.stop();
        services.maintenance.stop();
        await app.close();
        await runtime.close();
        await sink?.close();
        process.exit(0);
      };
      process.on("SIGINT", () => void shutdown("SIGINT"));
      process.on("SIGTERM", () => void shutdown("SIGTERM"));
    });

  program
    .command("migrate")
    .description("Apply database migrations (serve also does this at start).")
    .action(async () => {
      const cfg = config();
      const runtime = await open(cfg);
      await runtime.close();
      const where = redactUrl(cfg.databaseUrl);
      say(
        runtime.migrationsApplied.length > 0
          ? `Applied ${runtime.migrationsApplied.length} migration(s) to ${where}: ${runtime.migrationsApplied.join(", ")}`
          : `The database at ${where} is up to date; nothing to apply.`,
      );
    });

  program
    .command("dev-mail")
    .description("Run a local SMTP sink that prints every message (point PINDESK_SMTP_HOST/PORT at it).")
    .option("--port <port>", "port, 1-65535", wholeNumber(1, 65535), 2525)
    .action(async (opts: { port: number }) => {
      let sink: Awaited<ReturnType<typeof startDevMailSink>>;
      try {
        sink = await startDevMailSink({ port: opts.port, print: say });
      } catch (error) {
        throw listenProblem(error, "127.0.0.1", opts.port);
      }
      say(
        `Dev mail sink on ${sink.host}:${sink.port}. Start PinDesk with PINDESK_SMTP_HOST=${sink.host} PINDESK_SMTP_PORT=${sink.port}`,
      );
      say("Messages appear below. Ctrl+C to stop.");
      await new Promise<void>((resolve) => {
        process.on("SIGINT", () => resolve());
        process.on("SIGTERM", () => resolve());
      });
      await sink.close();
    });

  // ------------------------------------------------------------------ admin
  const admin = program.command("admin").description("Administrators.");
  admin
    .command("create")
    .description("Print a one-time link that creates an administrator (first run, or another one).")
    .action(() =>
      withRuntime(async ({ services }) => {
        const link = await services.admin.createSetupLink(cliContext, services.config.publicUrl);
        say("Open this one-time link to create an administrator and enrol their sign-in methods:");
        say(`  ${link.url}`);
        say(`It works once and expires ${link.expiresAt}.`);
        note(
          `The link is built on ${services.config.publicUrl}. If PinDesk is reached at another address or port, set PINDESK_PUBLIC_URL to it and run this again.`,
        );
      }),
    );

  // ------------------------------------------------------------------ apps
  const app = program.command("app").description("API clients (OAuth 2.0 client credentials).");
  app
    .command("create")
    .description("Create an API client; prints its id and secret as JSON (the secret is shown once).")
    .requiredOption("--name <name>", "a name people recognise, e.g. door-terminal")
    .option("--permission <permission...>", "permissions, e.g. Pin.Verify (repeatable)", [])
    .addHelpText(
      "after",
      `\nPermissions: ${KNOWN_PERMISSIONS.join(", ")}\n\nExample:\n  $ pindesk app create --name door-terminal --permission Pin.Verify`,
    )
    .action((opts: { name: string; permission: string[] }) =>
      withRuntime(async ({ services }) => {
        if (opts.permission.length === 0)
          throw new UsageError(
            "Give at least one --permission.",
            `add e.g. --permission Pin.Verify; the permissions are ${KNOWN_PERMISSIONS.join(", ")}.`,
          );
        const created = await services.apps.create(cliContext, opts.name, opts.permission);
        say(JSON.stringify(created));
        note(
          `Created API client ${created.clientId}. Store the clientSecret now: it is not shown again. Get tokens at POST /oauth2/v2.0/token.`,
        );
      }),
    );
  app
    .command("list")
    .description("List API clients (never their secrets).")
    .option("--json", "JSON output")
    .action((opts: { json?: boolean }) =>
      withRuntime(async ({ services }) => {
        const clients = await services.apps.list();
        if (opts.json) say(JSON.stringify(clients, null, 2));
        else
          say(
            clients.length
              ? table(clients as unknown as Record<string, unknown>[], [
                  "clientId",
                  "name",
                  "permissions",
                  "lastUsedAt",
                ])
              : "No API clients yet. Create one with: pindesk app create --name NAME --permission Pin.Verify",
          );
      }),
    );
  app
    .command("delete <clientId>")
    .description("Delete an API client; its secret stops working at once.")
    .action((clientId: string) =>
      withRuntime(async ({ services }) => {
        await services.apps.delete(cliContext, clientId);
        say(
          `Deleted API client ${clientId}: its secret no longer gets tokens; tokens already issued stop working within ${CLIENT_CHECK_MS / 1000} seconds.`,
        );
      }),
    );

  // ------------------------------------------------------------------ users
  const user = program.command("user").description("Users.");
  user
    .command("add")
    .description("Create a user; prints the user as JSON.")
    .requiredOption("--upn <userPrincipalName>", "sign-in name, e.g. ana@contoso.com")
    .requiredOption("--display-name <name>", 'the name people see, e.g. "Ana Lopez"')
    .option("--mail <address>", "email address for recovery codes")
    .option("--phone <number>", "mobile phone in international form, e.g. +44 7700 900123")
    .option("--mobile-phone <number>", "the same as --phone")
    .option("--role <role...>", 'directory roles, e.g. "Authentication Administrator"', [])
    .option("--disabled", "create the account disabled")
    .addHelpText(
      "after",
      '\nExample:\n  $ pindesk user add --upn ana@contoso.com --display-name "Ana Lopez" --phone "+44 7700 900123"',
    )
    .action(
      (opts: {
        upn: string;
        displayName: string;
        mail?: string;
        mobilePhone?: string;
        phone?: string;
        role: string[];
        disabled?: boolean;
      }) =>
        withRuntime(async ({ services }) => {
          if (opts.phone !== undefined && opts.mobilePhone !== undefined && opts.phone !== opts.mobilePhone)
            throw new UsageError(
              "--phone and --mobile-phone are the same setting and were given different numbers.",
              "give the number once, with --phone.",
            );
          const created = await services.users.create(cliContext, {
            userPrincipalName: opts.upn,
            displayName: opts.displayName,
            mail: opts.mail ?? null,
            mobilePhone: opts.phone ?? opts.mobilePhone ?? null,
            roles: opts.role,
            accountEnabled: !opts.disabled,
          });
          say(JSON.stringify(userView(created), null, 2));
          note(
            `Created ${created.userPrincipalName}. Next: pindesk pin set --user ${created.userPrincipalName}`,
          );
        }),
    );
  user
    .command("import <file>")
    .description(
      "Import users from CSV: userPrincipalName,displayName,mail,mobilePhone,roles (roles separated by ;). Bad rows are reported by line and skipped; the others are imported.",
    )
    .addHelpText(
      "after",
      "\nExample file:\n  userPrincipalName,displayName,mail,mobilePhone,roles\n  ana@contoso.com,Ana Lopez,ana@fabrikam.com,+44 7700 900123,\n\nExit code 1 when any row was rejected.",
    )
    .action(async (file: string) => {
      const text = await readUserFile(file, "the CSV file");
      await withRuntime(async ({ services }) => {
        const result = await importUsersCsv(services, text, {
          ...(io.stderr.isTTY && { progress: io.stderr }),
        });
        for (const bad of result.rejected) note(`line ${bad.line}: ${bad.reason}`);
        // A bad header line is the file's problem, not a row's: nothing was read past it.
        if (result.imported === 0 && result.rejected.length === 1 && result.rejected[0]?.line === 1) {
          say("Imported nothing: the header line is not one PinDesk can read.");
          note(
            "next step: fix the header line as described above (the column names, in any order) and import the file again.",
          );
          state.exitCode = 1;
          return;
        }
        const rejected = result.rejected.length;
        say(
          `Imported ${result.imported} user${result.imported === 1 ? "" : "s"}; ${rejected} row${rejected === 1 ? "" : "s"} rejected.`,
        );
        if (rejected > 0) {
          note(
            "next step: fix the rejected rows listed above (the other rows are already imported) and import just those rows, in a file with the same header line.",
          );
          state.exitCode = 1;
        }
      });
    });
  user
    .command("list")
    .description("List users, by user principal name.")
    .option("--prefix <upn>", "only UPNs starting with this")
    .option("--limit <n>", "how many, 1-10000", wholeNumber(1, 10_000), 100)
    .option("--json", "JSON output")
    .action((opts: { prefix?: string; limit: number; json?: boolean }) =>
      withRuntime(async ({ services }) => {
        const users = await services.users.list({
          ...(opts.prefix && { prefix: opts.prefix }),
          limit: opts.limit,
        });
        if (opts.json) say(JSON.stringify(users.map(userView), null, 2));
        else
          say(
            users.length
              ? table(users as unknown as Record<string, unknown>[], [
                  "userPrincipalName",
                  "displayName",
                  "mail",
                  "roles",
                ])
              : opts.prefix
                ? `No users start with "${opts.prefix}".`
                : "No users yet. Add one with pindesk user add, or many with pindesk user import FILE.csv.",
          );
      }),
    );
  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const)
    user
      .command(`${name} <upn>`)
      .description(
        enabled
          ? "Enable a user's account: their PIN, badge and sign-in methods work again."
          : "Disable a user's account: nothing signs them in, and Forgot PIN sends them no code.",
      )
      .action((upn: string) =>
        withRuntime(async ({ services }) => {
          const before = await services.users.get(upn);
          if (before.accountEnabled === enabled) {
            say(
              `${before.userPrincipalName} is already ${enabled ? "enabled" : "disabled"}; nothing changed.`,
            );
            return;
          }
          const updated = await services.users.update(cliContext, before.id, { accountEnabled: enabled });
          say(
            `${updated.userPrincipalName} ${enabled ? "enabled: they can sign in again" : "disabled: nothing signs them in until it is enabled"}.`,
          );
        }),
      );

  user
    .command("show <upn>")
    .description("Show a user and their PIN state.")
    .action((upn: string) =>
      withRuntime(async ({ services }) => {
        const found = await services.users.get(upn);
        say(JSON.stringify(userView(found), null, 2));
        say(describeStatus(await services.pins.statusOf(found)));
      }),
    );

  // ------------------------------------------------------------------ PINs
  const pin = program.command("pin").description("PINs: set, reset, unblock, status.");
  pin
    .command("set")
    .description("Set a user's PIN (policy-checked). Reads the PIN from a hidden prompt or stdin.")
    .requiredOption("--user <upn>", "the user's principal name, e.g. ana@contoso.com")
    .addHelpText("after", "\nExample:\n  $ echo 482915 | pindesk pin set --user ana@contoso.com")
    .action((opts: { user: string }) =>
      withRuntime(async ({ services }) => {
        const value = await term.readSecret("New PIN: ", { confirm: "Repeat the PIN: " });
        const status = await services.pins.set(cliContext, opts.user, value, { action: "pin.set" });
        say(`PIN set for ${status.userPrincipalName}. State: ${status.state}.`);
      }),
    );
  pin
    .command("reset")
    .description(
      "Admin reset: to a chosen PIN (read from a hidden prompt or stdin) or, with --temporary, to a generated one.",
    )
    .requiredOption("--user <upn>", "the user's principal name, e.g. ana@contoso.com")
    .option("--temporary", "generate a temporary PIN (shown once); it only lets the user set a new PIN")
    .option(
      "--expires-in-hours <hours>",
      "temporary PIN lifetime, 1-720 hours (default from the policy)",
      wholeNumber(1, 720),
    )
    // Neither flag given leaves the choice to the policy (forceChangeAfterAdminReset).
    .option("--force-change", "the user must choose a new PIN at their next sign-in")
    .option("--no-force-change", "let the user keep the chosen PIN")
    .addHelpText(
      "after",
      "\nWithout --force-change or --no-force-change, the policy's forceChangeAfterAdminReset decides.\n\nExamples:\n  $ pindesk pin reset --user ana@contoso.com --temporary\n  $ echo 482915 | pindesk pin reset --user ana@contoso.com --no-force-change",
    )
    .action((opts: { user: string; temporary?: boolean; expiresInHours?: number; forceChange?: boolean }) =>
      withRuntime(async ({ services }) => {
        if (opts.temporary) {
          if (opts.forceChange === false)
            throw new UsageError(
              "A temporary PIN must always be changed at sign-in, so --no-force-change cannot be used with --temporary.",
              "drop --no-force-change, or drop --temporary and choose the PIN yourself.",
            );
          const result = await services.pins.resetTemporary(
            cliContext,
            opts.user,
            opts.expiresInHours !== undefined ? { expiresInHours: opts.expiresInHours } : {},
          );
          say(`Temporary PIN for ${result.user.userPrincipalName}: ${result.temporaryPin}`);
          say(
            `Give this to the user; they must change it at sign-in. It expires ${result.expiresAt} and is not shown again.`,
          );
          return;
        }
        if (opts.expiresInHours !== undefined)
          throw new UsageError(
            "--expires-in-hours applies only to a temporary PIN.",
            "add --temporary to generate one, or drop --expires-in-hours.",
          );
        const value = await term.readSecret("New PIN: ", { confirm: "Repeat the PIN: " });
        const status = await services.pins.set(cliContext, opts.user, value, {
          action: "pin.reset",
          ...(opts.forceChange !== undefined && { forceChange: opts.forceChange }),
        });
        say(
          status.state === "Must Change"
            ? `PIN reset for ${status.userPrincipalName}. State: Must Change — they must choose a new PIN at their next sign-in.`
            : `PIN reset for ${status.userPrincipalName}. State: ${status.state} — they can sign in with it now.`,
        );
      }),
    );
  pin
    .command("unblock")
    .description(
      "Clear a lockout; the PIN stays the same. A PIN that is not locked is left as it is (exit code 0).",
    )
    .requiredOption("--user <upn>", "the user's principal name, e.g. ana@contoso.com")
    .action((opts: { user: string }) =>
      withRuntime(async ({ services }) => {
        try {
          const status = await services.pins.unblock(cliContext, opts.user);
          say(`Unblocked ${status.userPrincipalName}. State: ${status.state}.`);
          say(status.unblockedText);
        } catch (error) {
          if (!(error instanceof AppError) || error.code !== "pinNotLocked") throw error;
          const status = await services.pins.status(opts.user);
          // The wanted end state already holds: say so plainly rather than fail a script.
          say(
            `Nothing to unblock: ${status.userPrincipalName} is not locked. State: ${status.state} — ${status.description}`,
          );
        }
      }),
    );
  pin
    .command("status")
    .description("Show a user's PIN state in plain words (or --json).")
    .requiredOption("--user <upn>", "the user's principal name, e.g. ana@contoso.com")
    .option("--json", "JSON output")
    .action((opts: { user: string; json?: boolean }) =>
      withRuntime(async ({ services }) => {
        const status = await services.pins.status(opts.user);
        say(opts.json ? JSON.stringify(status, null, 2) : describeStatus(status));
      }),
    );
  pin
    .command("remove")
    .description("Remove a user's PIN (State: No PIN) until a new one is set.")
    .requiredOption("--user <upn>", "the user's principal name, e.g. ana@contoso.com")
    .action((opts: { user: string }) =>
      withRuntime(async ({ services }) => {
        try {
          await services.pins.remove(cliContext, opts.user);
        } catch (error) {
          // Already as asked: nothing to do, as for an unblock of a PIN that is not locked.
          if (!(error instanceof AppError && error.code === "noPin")) throw error;
          say(
            `${opts.user} has no PIN: nothing to remove. Set one with: pindesk pin set --user ${opts.user}`,
          );
          return;
        }
        say(
          `Removed the PIN of ${opts.user}. State: No PIN. Set a new one with: pindesk pin set --user ${opts.user}`,
        );
      }),
    );

  // ------------------------------------------------------------------ policy
  const policy = program.command("policy").description("The PIN policy.");
  policy
    .command("show")
    .description("Show the PIN policy in plain words (or --json).")
    .option("--json", "JSON output")
    .action((opts: { json?: boolean }) =>
      withRuntime(async ({ services }) => {
        const current = await services.policies.current();
        if (opts.json) say(JSON.stringify(current, null, 2));
        else {
          say(
            `PIN policy version ${current.version}${current.updatedBy ? ` (by ${current.updatedBy} at ${current.updatedAt})` : " (defaults)"}`,
          );
          for (const line of describePinPolicy(current.policy)) say(`  ${line}`);
        }
      }),
    );
  policy
    .command("set [settings...]")
    .description("Change settings: KEY=VALUE (e.g. minLength=8 lockout.threshold=5) or --file policy.json")
    .option("--file <file>", 'a JSON file with the settings to change, e.g. {"minLength": 8}')
    .addHelpText(
      "after",
      "\nExamples:\n  $ pindesk policy set minLength=8 lockout.threshold=5\n  $ pindesk policy set forceChangeAfterAdminReset=false\n  $ pindesk policy set --file policy.json\n\nSee the current settings with: pindesk policy show --json",
    )
    .action(async (settings: string[], opts: { file?: string }) => {
      let change: Record<string, unknown> = {};
      if (opts.file) {
        const text = await readUserFile(opts.file, "the policy file");
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new CliError(
            `the policy file ${opts.file} is not valid JSON: ${jsonProblem(text, error)}`,
            'fix the file (settings as a JSON object, e.g. {"minLength": 8, "lockout": {"threshold": 5}}) and run the command again.',
          );
        }
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw new CliError(
            `the policy file ${opts.file} must hold a JSON object of settings`,
            'write the settings as an object, e.g. {"minLength": 8}; see the current ones with pindesk policy show --json.',
          );
        change = parsed as Record<string, unknown>;
      }
      for (const setting of settings) {
        const eq = setting.indexOf("=");
        if (eq < 1)
          throw new UsageError(
            `"${setting}" is not KEY=VALUE.`,
            "write each setting as KEY=VALUE, e.g. minLength=8 or lockout.threshold=5.",
          );
        const path = setting.slice(0, eq).split(".");
        const raw = setting.slice(eq + 1);
        const value = /^-?\d+$/.test(raw)
          ? Number(raw)
          : raw === "true"
            ? true
            : raw === "false"
              ? false
              : raw;
        let node = change;
        for (const key of path.slice(0, -1)) {
          if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
          node = node[key] as Record<string, unknown>;
        }
        node[path.at(-1) as string] = value;
      }
      if (Object.keys(change).length === 0)
        throw new UsageError(
          "No settings to change.",
          "give KEY=VALUE settings (e.g. pindesk policy set minLength=8) or --file policy.json.",
        );
      await withRuntime(async ({ services }) => {
        const updated = await services.policies.update(cliContext, change);
        say(`PIN policy saved as version ${updated.version}:`);
        for (const line of describePinPolicy(updated.policy)) say(`  ${line}`);
        for (const line of describePolicyEffect(updated.effect)) say(line);
      });
    });
  policy
    .command("reset")
    .description("Restore the default PIN policy.")
    .action(() =>
      withRuntime(async ({ services }) => {
        const updated = await services.policies.reset(cliContext);
        say(`PIN policy reset to the defaults (version ${updated.version}).`);
        for (const line of describePolicyEffect(updated.effect)) say(line);
      }),
    );

  // ------------------------------------------------------------------ keys, audit, explain
  program
    .command("keys")
    .description("Pepper keys.")
    .command("rotate")
    .description(
      "Add a new pepper key to the key file in the data directory; PINs are re-hashed under it at their next successful verify.",
    )
    .action(async () => {
      const cfg = config();
      if (cfg.pepper) {
        throw new UsageError(
          "Pepper keys come from PINDESK_PEPPER, so there is no key file to rotate.",
          'append a new key to PINDESK_PEPPER ("old-id:old-base64,new-id:new-base64", new key last; generate one with: openssl rand -base64 32) and restart PinDesk.',
        );
      }
      const file = keyFilePath(cfg.dataDir);
      let key: Awaited<ReturnType<typeof rotateKeyFile>>;
      try {
        key = await rotateKeyFile(cfg.dataDir);
      } catch (error) {
        if (error instanceof SyntaxError)
          throw new CliError(
            `the pepper key file ${file} is damaged (not valid JSON); nothing was changed`,
            "restore it from your backup, then rotate again.",
            [],
            error,
          );
        throw new CliError(
          `cannot update the pepper key file ${file}: ${fileReason(error)}`,
          `check that this user may write to ${cfg.dataDir} (PINDESK_DATA_DIR).`,
          [],
          error,
        );
      }
      say(`Added pepper key ${key.id} to ${file}; it is now the current key. Back up this file.`);
      say(
        "Existing PINs keep working and are re-hashed under the new key at their next successful sign-in. Restart running PinDesk servers so they use it.",
      );
    });

  program
    .command("audit")
    .description("Audit events as JSON lines (newest first).")
    .option("--user <upn>", "target user")
    .option("--actor <actor>", "e.g. cli, user:ana@contoso.com, app:<clientId>")
    .option("--action <action>", "e.g. pin.reset, or a prefix like pin.*")
    .addOption(new Option("--outcome <outcome>", "what came of it").choices(["success", "failure", "denied"]))
    .option("--since <time>", "from this ISO date-time on, e.g. 2026-05-25T09:00:00Z", isoTime)
    .option("--until <time>", "before this ISO date-time", isoTime)
    .option("--limit <n>", "how many, 1-100000", wholeNumber(1, 100_000), 1000)
    .addHelpText(
      "after",
      "\nExamples:\n  $ pindesk audit --user ana@contoso.com --action 'pin.*'\n  $ pindesk audit --outcome failure --since 2026-05-25 > failures.jsonl",
    )
    .action(
      (opts: {
        user?: string;
        actor?: string;
        action?: string;
        outcome?: string;
        since?: number;
        until?: number;
        limit: number;
      }) =>
        withRuntime(async ({ services }) => {
          const target = opts.user ? await services.repos.users.findByIdOrUpn(opts.user) : undefined;
          const events = await services.audit.query({
            ...(target ? { targetUserId: target.id } : opts.user ? { targetUpn: opts.user } : {}),
            ...(opts.actor && { actor: opts.actor }),
            ...(opts.action && { action: opts.action }),
            ...(opts.outcome && { outcome: opts.outcome }),
            ...(opts.since !== undefined && { from: opts.since }),
            ...(opts.until !== undefined && { to: opts.until }),
            limit: opts.limit,
          });
          for (const event of events) say(JSON.stringify(event));
          if (events.length === 0) note("No audit events match these filters.");
        }),
    );

  program
    .command("explain [code]")
    .description(
      "Explain a PIN error code: Windows Hello hex codes (any casing, with or without 0x) or PinDesk's own.",
    )
    .option("--list", "list every code PinDesk knows, with its meaning")
    .option("--json", "JSON output")
    .addHelpText(
      "after",
      "\nExamples:\n  $ pindesk explain 0x801C044D\n  $ pindesk explain pinTooShort\n  $ pindesk explain --list",
    )
    .action((code: string | undefined, opts: { json?: boolean; list?: boolean }) => {
      if (opts.list) {
        const list = knownCodeList();
        say(opts.json ? JSON.stringify(list, null, 2) : formatCodeList(list));
        return;
      }
      if (code === undefined)
        throw new UsageError(
          "give the code to explain",
          "pindesk explain 0x801C044D, or pindesk explain --list",
        );
      const explanation = explainCode(code);
      say(opts.json ? JSON.stringify(explanation, null, 2) : formatExplanation(explanation));
    });

  program
    .command("bench")
    .description("Run the benchmarks (same as npm run bench); extra arguments go to the benchmark.")
    .allowUnknownOption()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const { spawnSync } = await import("node:child_process");
      const entry = fileURLToPath(new URL("../../bench/run.ts", import.meta.url));
      // The same thread-pool preload as npm run bench, so the figures match what the server gets.
      const threadpool = fileURLToPath(new URL("../../bin/threadpool.cjs", import.meta.url));
      const result = spawnSync(
        process.execPath,
        ["--require", threadpool, "--import", "tsx", entry, ...args],
        {
          stdio: "inherit",
        },
      );
      state.exitCode = result.status ?? 1;
    });

  return program;
};

/** Every command path ("pin reset", …), for documentation and tests. */
export const commandPaths = (): string[] => {
  const program = buildProgram(
    createTerminal({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }),
    {
      exitCode: 0,
      command: "",
    },
  );
  const paths: string[] = [];
  const walk = (command: Command) => {
    for (const sub of command.commands) {
      paths.push(commandName(sub));
      walk(sub);
    }
  };
  walk(program);
  return paths;
};

/** Whether failures print their full details: --debug, or PINDESK_LOG_LEVEL=debug/trace. */
const wantsDebug = (argv: readonly string[], io: CliIo): boolean => {
  if (argv.includes("--debug")) return true;
  try {
    const level = (io.env ? loadConfig({}, io.env) : loadConfig()).logLevel;
    return level === "debug" || level === "trace";
  } catch {
    return false;
  }
};

/**
 * Runs one `pindesk` command with the given arguments (without `node` and the script) and streams.
 * Returns the exit code; never throws.
 */
export const run = async (argv: readonly string[], io: CliIo): Promise<number> => {
  const term = createTerminal(io);
  const state: RunState = { exitCode: 0, command: "" };
  const program = buildProgram(term, state);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return state.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own `error:` line (or the help that was asked for).
      if (error.exitCode === 0 || error.code === "commander.helpDisplayed") return error.exitCode;
      // A command group with no command (`pindesk pin`): its help was printed, but the call was wrong.
      if (error.code === "commander.help") return 2;
      const command = commandFromArgv(program, argv);
      term.note(
        `next step: run "pindesk${command ? ` ${command}` : ""} --help" to see the options and examples.`,
      );
      return 2;
    }
    const command = state.command || commandFromArgv(program, argv);
    const report = reportFailure(error, {
      command,
      debug: wantsDebug(argv, io),
      optionFor: OPTION_FOR[command] ?? {},
    });
    for (const line of report.lines) term.note(line);
    return report.exitCode;
  }
};

const isEntryPoint = (): boolean => {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
};

if (isEntryPoint()) {
  process.exitCode = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
  });
}
