#!/usr/bin/env node
/**
 * The `pindesk` command. Every command confirms what it did, or prints `error:` with the next step.
 * PINs are read from a hidden prompt or stdin, never from the command line.
 */
import { readFile } from "node:fs/promises";
import { Command, CommanderError, Option } from "commander";
import { ConfigError, loadConfig } from "../config.ts";
import { KeyringError, rotateKeyFile } from "../crypto/keyring.ts";
import { startDevMailSink } from "../delivery/dev-mail.ts";
import { smtpTransport } from "../delivery/transports.ts";
import { describePinPolicy } from "../domain/pin-policy.ts";
import { AppError } from "../errors/app-error.ts";
import { explainCode, formatExplanation } from "../errors/explain.ts";
import { buildApp } from "../http/app.ts";
import { cliContext } from "../services/context.ts";
import { describePolicyEffect } from "../services/pin-compliance.ts";
import { openRuntime, type Runtime } from "../services/runtime.ts";
import { importUsersCsv } from "./import.ts";
import { describeStatus, readSecret, table, UsageError } from "./io.ts";

const say = (line: string) => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stderr.write(`${line}\n`);

/** Opens the database (applying migrations), runs `fn`, always closes. */
const withRuntime = async <T>(fn: (runtime: Runtime) => Promise<T>): Promise<T> => {
  const runtime = await openRuntime(loadConfig());
  if (runtime.keyFileCreated)
    note(`Created a new pepper key file in ${runtime.services.config.dataDir} — back it up.`);
  try {
    return await fn(runtime);
  } finally {
    await runtime.close();
  }
};

const program = new Command()
  .name("pindesk")
  .description("PinDesk: PIN authentication service — server, administration and troubleshooting.")
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

// ------------------------------------------------------------------ serve
program
  .command("serve")
  .description("Start the server (applies database migrations first).")
  .option("--host <host>", "address to listen on (PINDESK_HOST)")
  .option("--port <port>", "port to listen on; 0 picks a free one (PINDESK_PORT)")
  .option("--dev-mail", "send email to a built-in SMTP sink that prints every message (local development)")
  .action(async (opts: { host?: string; port?: string; devMail?: boolean }) => {
    const config = loadConfig({
      ...(opts.host && { host: opts.host }),
      ...(opts.port !== undefined && { port: Number(opts.port) }),
    });
    const sink =
      opts.devMail || config.delivery.devMail ? await startDevMailSink({ print: note }) : undefined;
    const runtime = await openRuntime(config, {
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
            config.delivery.from,
          ),
        },
      }),
    });
    const { services } = runtime;
    if (runtime.keyFileCreated)
      note(
        `Created a new pepper key file in ${config.dataDir} — back it up: without it no PIN can be verified.`,
      );
    if (runtime.migrationsApplied.length > 0)
      note(`Database migrated: ${runtime.migrationsApplied.join(", ")}`);
    const app = await buildApp(services);
    const address = await app.listen({ host: config.host, port: config.port });
    const url = new URL(address);
    say(`PinDesk listening on http://${config.host}:${url.port}`);
    say(`  Portal:   http://${config.host}:${url.port}/portal/`);
    say(`  API docs: http://${config.host}:${url.port}/docs`);
    if (sink)
      say(`  Dev mail: email goes to the built-in sink on ${sink.host}:${sink.port} and is printed here.`);
    if (!(await services.admin.hasAdministrator())) {
      // The portal's own address (localhost rather than 127.0.0.1: browsers allow security keys only there).
      const publicUrl = config.publicUrlSet
        ? config.publicUrl
        : config.publicUrl.replace(/:\d+$/, `:${url.port}`);
      const link = await services.admin.createSetupLink(cliContext, publicUrl);
      say("");
      say("No administrator exists yet. Open this one-time link to create the first one:");
      say(`  ${link.url}`);
      say(`  (single use, expires ${link.expiresAt}; \`pindesk admin create\` prints a new one)`);
    }
    services.outbox.start();
    let closing = false;
    const shutdown = async (signal: string) => {
      if (closing) return;
      closing = true;
      note(`${signal} received: finishing open requests, then stopping.`);
      services.outbox.stop();
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
  .description("Apply database migrations.")
  .action(async () => {
    const runtime = await openRuntime(loadConfig());
    await runtime.close();
    say(
      runtime.migrationsApplied.length > 0
        ? `Applied: ${runtime.migrationsApplied.join(", ")}`
        : "Database is up to date.",
    );
  });

program
  .command("dev-mail")
  .description("Run a local SMTP sink that prints every message (point PINDESK_SMTP_HOST/PORT at it).")
  .option("--port <port>", "port", "2525")
  .action(async (opts: { port: string }) => {
    const sink = await startDevMailSink({ port: Number(opts.port), print: say });
    say(
      `Dev mail sink on ${sink.host}:${sink.port}. Start PinDesk with PINDESK_SMTP_HOST=${sink.host} PINDESK_SMTP_PORT=${sink.port}`,
    );
    say("Messages appear below. Ctrl+C to stop.");
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
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
    }),
  );

// ------------------------------------------------------------------ apps
const app = program.command("app").description("API clients (OAuth 2.0 client credentials).");
app
  .command("create")
  .description("Create an API client; prints its id and secret (the secret is shown once).")
  .requiredOption("--name <name>", "a name people recognise, e.g. door-terminal")
  .option("--permission <permission...>", "permissions, e.g. Pin.Verify (repeatable)", [])
  .action((opts: { name: string; permission: string[] }) =>
    withRuntime(async ({ services }) => {
      if (opts.permission.length === 0)
        throw new UsageError("Give at least one --permission, e.g. --permission Pin.Verify");
      const created = await services.apps.create(cliContext, opts.name, opts.permission);
      say(JSON.stringify(created));
      note("Store the clientSecret now: it is not shown again. Get tokens at POST /oauth2/v2.0/token.");
    }),
  );
app
  .command("list")
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
            : "No API clients yet.",
        );
    }),
  );
app.command("delete <clientId>").action((clientId: string) =>
  withRuntime(async ({ services }) => {
    await services.apps.delete(cliContext, clientId);
    say(`Deleted API client ${clientId}; its tokens stop working when they expire.`);
  }),
);

// ------------------------------------------------------------------ users
const user = program.command("user").description("Users.");
user
  .command("add")
  .requiredOption("--upn <userPrincipalName>")
  .requiredOption("--display-name <name>")
  .option("--mail <address>")
  .option("--phone <number>", "mobile phone in international form, e.g. +44 7700 900123")
  .addOption(new Option("--mobile-phone <number>").hideHelp())
  .option("--role <role...>", 'directory roles, e.g. "Authentication Administrator"', [])
  .option("--disabled", "create the account disabled")
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
        const created = await services.users.create(cliContext, {
          userPrincipalName: opts.upn,
          displayName: opts.displayName,
          mail: opts.mail ?? null,
          mobilePhone: opts.phone ?? opts.mobilePhone ?? null,
          roles: opts.role,
          accountEnabled: !opts.disabled,
        });
        say(JSON.stringify(created, null, 2));
        note(
          `Created ${created.userPrincipalName}. Next: pindesk pin set --user ${created.userPrincipalName}`,
        );
      }),
  );
user
  .command("import <file>")
  .description(
    "Import users from CSV: userPrincipalName,displayName,mail,mobilePhone,roles (roles separated by ;)",
  )
  .action((file: string) =>
    withRuntime(async ({ services }) => {
      const result = await importUsersCsv(services, await readFile(file, "utf8"), {
        progress: process.stderr.isTTY,
      });
      for (const bad of result.rejected) note(`line ${bad.line}: ${bad.reason}`);
      say(`Imported ${result.imported} users, ${result.rejected.length} rows rejected.`);
      if (result.rejected.length > 0) process.exitCode = 1;
    }),
  );
user
  .command("list")
  .option("--prefix <upn>", "only UPNs starting with this")
  .option("--limit <n>", "how many", "100")
  .option("--json", "JSON output")
  .action((opts: { prefix?: string; limit: string; json?: boolean }) =>
    withRuntime(async ({ services }) => {
      const users = await services.users.list({
        ...(opts.prefix && { prefix: opts.prefix }),
        limit: Number(opts.limit),
      });
      if (opts.json) say(JSON.stringify(users, null, 2));
      else
        say(
          users.length
            ? table(users as unknown as Record<string, unknown>[], [
                "userPrincipalName",
                "displayName",
                "mail",
                "roles",
              ])
            : "No users.",
        );
    }),
  );
user.command("show <upn>").action((upn: string) =>
  withRuntime(async ({ services }) => {
    const found = await services.users.get(upn);
    say(JSON.stringify(found, null, 2));
    say(describeStatus(await services.pins.statusOf(found)));
  }),
);

// ------------------------------------------------------------------ PINs
const pin = program.command("pin").description("PINs: set, reset, unblock, status.");
pin
  .command("set")
  .description("Set a user's PIN (policy-checked). Reads the PIN from a hidden prompt or stdin.")
  .requiredOption("--user <upn>")
  .action((opts: { user: string }) =>
    withRuntime(async ({ services }) => {
      const value = await readSecret("New PIN: ", { confirm: "Repeat the PIN: " });
      const status = await services.pins.set(cliContext, opts.user, value, { action: "pin.set" });
      say(`PIN set for ${status.userPrincipalName}. State: ${status.state}.`);
    }),
  );
pin
  .command("reset")
  .description(
    "Admin reset: to a chosen PIN (must be changed at next sign-in) or, with --temporary, a generated one.",
  )
  .requiredOption("--user <upn>")
  .option("--temporary", "generate a temporary PIN (shown once)")
  .option("--expires-in-hours <hours>", "temporary PIN lifetime (default from policy)")
  .option("--no-force-change", "let the user keep the chosen PIN")
  .action((opts: { user: string; temporary?: boolean; expiresInHours?: string; forceChange: boolean }) =>
    withRuntime(async ({ services }) => {
      if (opts.temporary) {
        const result = await services.pins.resetTemporary(
          cliContext,
          opts.user,
          opts.expiresInHours ? { expiresInHours: Number(opts.expiresInHours) } : {},
        );
        say(`Temporary PIN for ${result.user.userPrincipalName}: ${result.temporaryPin}`);
        say(
          `Give this to the user; they must change it at sign-in. It expires ${result.expiresAt} and is not shown again.`,
        );
        return;
      }
      const value = await readSecret("New PIN: ", { confirm: "Repeat the PIN: " });
      const status = await services.pins.set(cliContext, opts.user, value, {
        action: "pin.reset",
        forceChange: opts.forceChange,
      });
      say(
        status.state === "Must Change"
          ? `PIN reset for ${status.userPrincipalName}. They must choose a new PIN at their next sign-in.`
          : `PIN reset for ${status.userPrincipalName}. They can sign in with it now.`,
      );
    }),
  );
pin
  .command("unblock")
  .description("Clear a lockout; the PIN stays the same.")
  .requiredOption("--user <upn>")
  .action((opts: { user: string }) =>
    withRuntime(async ({ services }) => {
      const status = await services.pins.unblock(cliContext, opts.user);
      say(`Unblocked ${status.userPrincipalName}. State: ${status.state}.`);
    }),
  );
pin
  .command("status")
  .requiredOption("--user <upn>")
  .option("--json", "JSON output")
  .action((opts: { user: string; json?: boolean }) =>
    withRuntime(async ({ services }) => {
      const status = await services.pins.status(opts.user);
      say(opts.json ? JSON.stringify(status, null, 2) : describeStatus(status));
    }),
  );
pin
  .command("remove")
  .requiredOption("--user <upn>")
  .action((opts: { user: string }) =>
    withRuntime(async ({ services }) => {
      await services.pins.remove(cliContext, opts.user);
      say(`Removed the PIN of ${opts.user}. State: No PIN.`);
    }),
  );

// ------------------------------------------------------------------ policy
const policy = program.command("policy").description("The PIN policy.");
policy
  .command("show")
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
  .option("--file <file>", "a JSON file with the settings to change")
  .action((settings: string[], opts: { file?: string }) =>
    withRuntime(async ({ services }) => {
      const change: Record<string, unknown> = opts.file
        ? (JSON.parse(await readFile(opts.file, "utf8")) as Record<string, unknown>)
        : {};
      for (const setting of settings) {
        const eq = setting.indexOf("=");
        if (eq < 1) throw new UsageError(`"${setting}" is not KEY=VALUE`);
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
      const updated = await services.policies.update(cliContext, change);
      say(`PIN policy saved as version ${updated.version}:`);
      for (const line of describePinPolicy(updated.policy)) say(`  ${line}`);
      for (const line of describePolicyEffect(updated.effect)) say(line);
    }),
  );
policy.command("reset").action(() =>
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
  .description("Add a new pepper key; PINs are re-hashed under it at their next successful verify.")
  .action(async () => {
    const config = loadConfig();
    if (config.pepper) {
      throw new UsageError(
        'Pepper keys come from PINDESK_PEPPER. Append a new key there ("old-id:old-base64,new-id:new-base64", new key last; generate one with: openssl rand -base64 32) and restart.',
      );
    }
    const key = await rotateKeyFile(config.dataDir);
    say(`Added pepper key ${key.id}; it is now current. Restart PinDesk to use it.`);
    say("Existing PINs keep working and are re-hashed under the new key at their next successful sign-in.");
  });

program
  .command("audit")
  .description("Audit events as JSON lines (newest first).")
  .option("--user <upn>", "target user")
  .option("--actor <actor>", "e.g. cli, user:ana@contoso.com, app:<clientId>")
  .option("--action <action>", "e.g. pin.reset, or a prefix like pin.*")
  .option("--outcome <outcome>", "success | failure | denied")
  .option("--since <time>", "ISO date-time")
  .option("--until <time>", "ISO date-time")
  .option("--limit <n>", "how many", "1000")
  .action(
    (opts: {
      user?: string;
      actor?: string;
      action?: string;
      outcome?: string;
      since?: string;
      until?: string;
      limit: string;
    }) =>
      withRuntime(async ({ services }) => {
        const time = (name: string, value: string | undefined) => {
          if (value === undefined) return undefined;
          const ms = Date.parse(value);
          if (Number.isNaN(ms))
            throw new UsageError(`--${name} must be an ISO date-time, e.g. 2026-05-25T09:00:00Z`);
          return ms;
        };
        const target = opts.user ? await services.repos.users.findByIdOrUpn(opts.user) : undefined;
        const from = time("since", opts.since);
        const to = time("until", opts.until);
        const events = await services.audit.query({
          ...(target ? { targetUserId: target.id } : opts.user ? { targetUpn: opts.user } : {}),
          ...(opts.actor && { actor: opts.actor }),
          ...(opts.action && { action: opts.action }),
          ...(opts.outcome && { outcome: opts.outcome }),
          ...(from !== undefined && { from }),
          ...(to !== undefined && { to }),
          limit: Number(opts.limit),
        });
        for (const event of events) say(JSON.stringify(event));
      }),
  );

program
  .command("explain <code>")
  .description(
    "Explain a PIN error code: Windows Hello hex codes (any casing, with or without 0x) or PinDesk's own.",
  )
  .addOption(new Option("--json", "JSON output"))
  .action((code: string, opts: { json?: boolean }) => {
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
    const entry = new URL("../../bench/run.ts", import.meta.url).pathname;
    const result = spawnSync(process.execPath, ["--import", "tsx", entry, ...args], { stdio: "inherit" });
    process.exitCode = result.status ?? 1;
  });

// ------------------------------------------------------------------ run
const main = async () => {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? 0 : 2;
      return;
    }
    if (error instanceof UsageError) {
      note(`error: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    if (error instanceof AppError) {
      note(`error: ${error.message}`);
      const details = error.details as {
        violations?: { message: string }[];
        problems?: { field: string; message: string }[];
      };
      for (const v of details.violations ?? []) note(`  - ${v.message}`);
      for (const p of details.problems ?? []) note(`  - ${p.field} ${p.message}`);
      note(`next step: ${error.mitigation}`);
      process.exitCode = 1;
      return;
    }
    if (error instanceof ConfigError || error instanceof KeyringError) {
      note(`error: ${error.message}`);
      process.exitCode = 1;
      return;
    }
    throw error;
  }
};

await main();
