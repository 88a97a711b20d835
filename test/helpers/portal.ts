/**
 * Browser tests of the portal: builds web/dist when it is missing or older than its sources, starts a
 * test instance listening on a real port with a matching public URL (WebAuthn checks the origin, and
 * refuses IP addresses as relying party ids, hence "localhost"), and launches Debian's Chromium.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generate } from "otplib";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { updateScreenshots } from "../../src/config.ts";
import { cliContext } from "../../src/services/context.ts";
import type { Dialect } from "../../src/store/db.ts";
import { createTestInstance, type InstanceOptions, type TestInstance } from "./instance.ts";
import { startSmtp } from "./portal-delivery.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const webDir = path.join(root, "web");
const distIndex = path.join(webDir, "dist", "index.html");
export const artifactsDir = path.join(root, "test-artifacts");

const newestMtime = (entry: string): number => {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(entry).reduce(
    (max, name) => Math.max(max, newestMtime(path.join(entry, name))),
    stat.mtimeMs,
  );
};

/** The web bundle also compiles the pure PIN policy, error catalogue and roles from src/. */
const WEB_SOURCES = [
  path.join(webDir, "src"),
  path.join(webDir, "public"),
  path.join(webDir, "index.html"),
  path.join(webDir, "vite.config.ts"),
  path.join(root, "src", "domain"),
  path.join(root, "src", "errors"),
];

const isFresh = () =>
  existsSync(distIndex) && statSync(distIndex).mtimeMs >= Math.max(...WEB_SOURCES.map(newestMtime));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Builds web/dist unless it is up to date. Test files run in parallel workers, so one builds while the
 * others wait on a lock directory (mkdir is atomic); a lock older than two minutes is a crashed build.
 */
export const ensureWebBuilt = async (): Promise<void> => {
  if (isFresh()) return;
  const lock = path.join(
    tmpdir(),
    `pindesk-web-build-${Buffer.from(root).toString("base64url").slice(-24)}.lock`,
  );
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000)
        rmSync(lock, { recursive: true, force: true });
      await sleep(250);
      if (isFresh()) return;
    }
  }
  try {
    if (isFresh()) return;
    // A child process, so the build does not inherit the test runner's Vite or its NODE_ENV=test.
    await promisify(execFile)(
      process.execPath,
      [
        path.join(root, "node_modules", "vite", "bin", "vite.js"),
        "build",
        "--config",
        path.join(webDir, "vite.config.ts"),
        "--logLevel",
        "warn",
      ],
      { cwd: root, env: { ...process.env, NODE_ENV: "production" } },
    );
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
};

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });

export interface PortalInstance {
  t: TestInstance;
  /** http://localhost:<port> — the app's public URL. */
  baseUrl: string;
  /** The portal's address, for page.goto. */
  url(path?: string): string;
  close(): Promise<void>;
}

/**
 * A test instance (SQLite unless told otherwise) listening on 127.0.0.1 with
 * PINDESK_PUBLIC_URL=http://localhost:<port>. The port is picked free just before (the public URL must
 * be known when the services are built).
 */
export const startPortal = async (
  options: InstanceOptions & { dialect?: Dialect } = {},
): Promise<PortalInstance> => {
  await ensureWebBuilt();
  const port = await freePort();
  const baseUrl = `http://localhost:${port}`;
  const t = await createTestInstance(options.dialect ?? "sqlite", {
    ...options,
    env: { PINDESK_PUBLIC_URL: baseUrl, ...options.env },
  });
  await t.app.listen({ port, host: "127.0.0.1" });
  return {
    t,
    baseUrl,
    url: (p = "/") => `${baseUrl}/portal${p}`,
    close: () => t.close(),
  };
};

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Debian's Chromium unless PINDESK_CHROMIUM names another build. */
export const CHROMIUM_PATH = process.env.PINDESK_CHROMIUM || "/usr/bin/chromium";

export const launchBrowser = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });

/** A fresh browser profile (cookies) at a desktop size unless told otherwise. */
export const newPage = async (
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page }> => {
  const context = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "UTC" });
  const page = await context.newPage();
  return { context, page };
};

/** A platform authenticator the page can use for WebAuthn, through the DevTools protocol. */
export const addVirtualAuthenticator = async (page: Page) => {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "usb",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
    },
  });
  return { cdp, authenticatorId };
};

/** The portal pages the README shows (docs/screenshots/portal-<name>.png). */
const README_SHOTS = [
  "signin-pin",
  "signin-totp",
  "change-pin-live",
  "methods",
  "forgot-sent",
  "forgot-delivery-failed",
  "emergency-questions",
  "emergency-method",
  "policy-change",
];

/**
 * Full-page screenshot into test-artifacts/ (gitignored) for reviewing the pages; with
 * PINDESK_UPDATE_SCREENSHOTS=1 the README's own ones in docs/screenshots/ are refreshed too.
 */
export const screenshot = async (page: Page, name: string): Promise<void> => {
  await mkdir(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `portal-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (updateScreenshots() && README_SHOTS.includes(name)) {
    const docs = path.join(root, "docs", "screenshots");
    await mkdir(docs, { recursive: true });
    await copyFile(file, path.join(docs, `portal-${name}.png`));
  }
};

export const addUser = async (
  t: TestInstance,
  upn: string,
  pin: string,
  extra: { displayName?: string; roles?: string[]; mail?: string; mobilePhone?: string } = {},
) => {
  const user = await t.services.users.create(cliContext, {
    userPrincipalName: upn,
    displayName: extra.displayName ?? (upn.split("@")[0] as string),
    ...extra,
  });
  await t.services.pins.set(cliContext, upn, pin);
  return user;
};

/** The code an authenticator app would show now, by the instance's (fake) clock. */
export const totpNow = (t: TestInstance, secret: string): Promise<string> =>
  generate({ secret, epoch: Math.floor(t.clock.now() / 1000) });

/**
 * A real SMTP server for the app to deliver to (the SMTP helper of portal-delivery.ts). Addresses
 * `refuse` names are answered "550 5.1.1 mailbox unavailable", as a provider refusing delivery would.
 */
export const startMailSink = async (options: { refuse?: (address: string) => boolean } = {}) => {
  const smtp = await startSmtp(options.refuse ? { refuse: options.refuse } : {});
  return {
    ...smtp,
    /** Environment for the instance: deliver email to this sink. */
    env: { ...smtp.env, PINDESK_SMTP_FROM: "PinDesk <pindesk@contoso.com>" },
  };
};
