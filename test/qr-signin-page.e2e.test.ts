/**
 * The shared-device page beyond the happy path, in Chromium: it forgets the last person after a minute
 * without activity at every step, refuses a pasted code that is not a badge before asking for a PIN, and
 * reads a badge through the camera where the browser has no BarcodeDetector (jsQR, served by PinDesk).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import QRCode from "qrcode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  launchBrowser,
  newPage,
  type PortalInstance,
  startPortal,
} from "./helpers/portal.ts";

const WAIT = { timeout: 10_000 };

const DAY = 86_400_000;

/** A Y4M video (what Chromium's fake camera plays) showing the QR code of `text`, black on white. */
const qrVideo = (text: string): Buffer => {
  const width = 640;
  const height = 480;
  const { modules } = QRCode.create(text, { errorCorrectionLevel: "M" });
  const scale = Math.floor(Math.min(width, height) / (modules.size + 8));
  const left = Math.floor((width - modules.size * scale) / 2);
  const top = Math.floor((height - modules.size * scale) / 2);
  const luma = Buffer.alloc(width * height, 235);
  for (let row = 0; row < modules.size; row++) {
    for (let col = 0; col < modules.size; col++) {
      if (!modules.get(row, col)) continue;
      for (let y = 0; y < scale; y++) {
        luma.fill(
          16,
          (top + row * scale + y) * width + left + col * scale,
          (top + row * scale + y) * width + left + (col + 1) * scale,
        );
      }
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), luma, chroma]);
  return Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`),
    ...Array.from({ length: 10 }, () => frame),
  ]);
};

describe("QR sign-in page: idle reset, pasted codes, camera", () => {
  let portal: PortalInstance;
  let browser: Browser;
  let dir: string;
  let n = 0;

  beforeAll(async () => {
    portal = await startPortal();
    browser = await launchBrowser();
    dir = await mkdtemp(path.join(tmpdir(), "pindesk-camera-"));
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A worker with a badge; returns its content (what the QR code says) and the starting PIN. */
  const worker = async (displayName: string, { startsInMs = 0 }: { startsInMs?: number } = {}) => {
    const { t } = portal;
    const upn = `worker.${++n}@contoso.com`;
    await t.services.users.create(cliContext, { userPrincipalName: upn, displayName });
    const now = t.clock.now();
    const method = await t.services.qr.createMethod(cliContext, upn, {
      standardQRCode: {
        startDateTime: new Date(now + startsInMs).toISOString(),
        expireDateTime: new Date(now + 90 * DAY).toISOString(),
      },
      pin: { code: "48291573" },
    });
    const badge = Buffer.from(method.standardQRCode?.image?.rawContent ?? "", "base64").toString("utf8");
    return { upn, badge, pin: "48291573" };
  };

  const scanStepIsClear = async (page: Page) => {
    await expect
      .poll(() => page.getByRole("heading", { name: "Scan your badge" }).isVisible(), WAIT)
      .toBe(true);
    await expect.poll(() => page.getByLabel("Badge code").inputValue(), WAIT).toBe("");
    await expect.poll(() => page.getByLabel("PIN", { exact: true }).inputValue(), WAIT).toBe("");
    await expect.poll(() => page.getByLabel("New PIN", { exact: true }).inputValue(), WAIT).toBe("");
    await expect.poll(() => page.locator("#idle").isVisible(), WAIT).toBe(false);
  };

  it("forgets the last person after 60 s without activity at the PIN step, with a visible countdown", async () => {
    const { badge } = await worker("Idle Pin");
    const { page } = await newPage(browser, { width: 390, height: 844 });
    await page.clock.install();
    await page.goto(`${portal.baseUrl}/signin/qr`);
    await expect.poll(() => page.locator("#idle").isVisible(), WAIT).toBe(false);
    await page.getByLabel("Badge code").fill(badge);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("PIN", { exact: true }).fill("4829");
    await page.clock.runFor(30_000);
    const countdown =
      /^No activity: this screen clears for the next person in (\d+) s\. Touch the screen or type to keep going\.$/;
    const left = async () => Number(countdown.exec((await page.locator("#idle").textContent()) ?? "")?.[1]);
    expect(Math.abs((await left()) - 30)).toBeLessThanOrEqual(1);
    // Typing counts as activity and starts the minute again.
    await page.getByLabel("PIN", { exact: true }).press("1");
    await page.clock.runFor(45_000);
    await expect
      .poll(() => page.getByRole("heading", { name: "Enter your PIN" }).isVisible(), WAIT)
      .toBe(true);
    expect(Math.abs((await left()) - 15)).toBeLessThanOrEqual(1);
    await page.clock.runFor(16_000);
    await scanStepIsClear(page);
  });

  it("forgets the set-new-PIN step (and its change token) after 60 s; the wording fits a PIN set at creation", async () => {
    const { badge, pin } = await worker("Idle Change");
    const { page } = await newPage(browser, { width: 390, height: 844 });
    await page.clock.install();
    await page.goto(`${portal.baseUrl}/signin/qr`);
    await page.getByLabel("Badge code").fill(badge);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("PIN", { exact: true }).fill(pin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Set a new PIN" }).isVisible()).toBe(true);
    await expect
      .poll(() => page.locator("#change-reason").textContent(), WAIT)
      .toBe("Your help desk set this PIN for you. Choose your own PIN now.");
    await page.getByLabel("New PIN", { exact: true }).fill("73016482");
    await page.clock.runFor(61_000);
    await scanStepIsClear(page);
    // The next person's PIN is not sent with the last person's token: the page asks for a badge first.
    await page.getByRole("button", { name: "Continue" }).click();
    await expect
      .poll(() => page.locator("#live").textContent(), WAIT)
      .toBe("Scan your badge or paste its code first.");
  });

  it("refuses a pasted code that is not a badge before asking for the PIN, and clears it", async () => {
    const { badge } = await worker("Paste Check");
    const { page } = await newPage(browser, { width: 390, height: 844 });
    await page.goto(`${portal.baseUrl}/signin/qr`);
    for (const wrong of ["hello", "pindesk:qr:1:not-a-code", badge.slice(0, -12).replace(/:[^:]*$/, "")]) {
      await page.getByLabel("Badge code").fill(wrong);
      await page.getByRole("button", { name: "Continue" }).click();
      await expect
        .poll(() => page.locator("#live").textContent(), WAIT)
        .toBe(
          "That is not a badge code. Scan your badge again, or paste the whole code your help desk gave you.",
        );
      await expect.poll(() => page.getByLabel("Badge code").inputValue(), WAIT).toBe("");
      await expect
        .poll(() => page.getByRole("heading", { name: "Enter your PIN" }).isVisible(), WAIT)
        .toBe(false);
    }
    // The base64 rawContent from Graph is accepted as well as the decoded text.
    await page.getByLabel("Badge code").fill(Buffer.from(badge).toString("base64"));
    await page.getByRole("button", { name: "Continue" }).click();
    await expect
      .poll(() => page.getByRole("heading", { name: "Enter your PIN" }).isVisible(), WAIT)
      .toBe(true);
  });

  it("a badge that is not valid yet says from when, and what to do until then", async () => {
    const { badge, pin } = await worker("Early Badge", { startsInMs: DAY });
    const { page } = await newPage(browser, { width: 390, height: 844 });
    await page.goto(`${portal.baseUrl}/signin/qr`);
    await page.getByLabel("Badge code").fill(badge);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("PIN", { exact: true }).fill(pin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect
      .poll(() => page.locator("#live").textContent(), WAIT)
      .toMatch(/^This badge works from .+\. Until then, ask your help desk for a temporary QR code\.$/);
  });

  it("reads the badge through the camera with the bundled decoder, then signs in", async () => {
    const { upn, badge, pin } = await worker("Camera User");
    const video = path.join(dir, "badge.y4m");
    await writeFile(video, qrVideo(badge));
    const camera = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        ...CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-video-capture=${video}`,
      ],
    });
    try {
      const context = await camera.newContext({ viewport: { width: 390, height: 844 } });
      await context.grantPermissions(["camera"], { origin: portal.baseUrl });
      const page = await context.newPage();
      const scripts: string[] = [];
      page.on("request", (request) => {
        if (request.resourceType() === "script") scripts.push(new URL(request.url()).pathname);
      });
      await page.goto(`${portal.baseUrl}/signin/qr`);
      // Chromium on Linux has no BarcodeDetector: the page must fall back to the decoder.
      expect(await page.evaluate(() => "BarcodeDetector" in window)).toBe(false);
      await page.getByRole("button", { name: "Use the camera" }).click();
      await expect.poll(() => page.getByText(`Badge of ${upn}`).isVisible(), { timeout: 15_000 }).toBe(true);
      expect(scripts).toContain("/signin/qr/jsqr.js");
      await expect.poll(() => page.locator("#camera").isVisible(), WAIT).toBe(false);
      await page.getByLabel("PIN", { exact: true }).fill(pin);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => page.getByRole("heading", { name: "Set a new PIN" }).isVisible()).toBe(true);
    } finally {
      await camera.close();
    }
  });

  it("the camera can be stopped, and the page offers it again", async () => {
    // Chromium's default fake camera shows a test pattern, not a QR code.
    const camera = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [...CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
    });
    try {
      const page = await (await camera.newContext()).newPage();
      await page.goto(`${portal.baseUrl}/signin/qr`);
      await page.getByRole("button", { name: "Use the camera" }).click();
      await expect.poll(() => page.getByRole("button", { name: "Stop the camera" }).isVisible()).toBe(true);
      await expect.poll(() => page.locator("#camera").isVisible(), WAIT).toBe(true);
      await page.getByRole("button", { name: "Stop the camera" }).click();
      await expect.poll(() => page.locator("#camera").isVisible(), WAIT).toBe(false);
      await expect
        .poll(() => page.getByRole("button", { name: "Use the camera" }).isVisible(), WAIT)
        .toBe(true);
      expect(
        await page.evaluate(() => (document.getElementById("camera") as HTMLVideoElement).srcObject),
      ).toBe(null);
    } finally {
      await camera.close();
    }
  });
});
