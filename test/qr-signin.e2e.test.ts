/** The shared-device page as a frontline worker uses it, in Chromium. */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { launchBrowser, newPage, type PortalInstance, screenshot, startPortal } from "./helpers/portal.ts";

const WAIT = { timeout: 10_000 };

describe("QR sign-in page", () => {
  let portal: PortalInstance;
  let browser: Browser;
  let badge: string;
  let temporaryPin: string;

  beforeAll(async () => {
    portal = await startPortal();
    browser = await launchBrowser();
    const { t } = portal;
    await t.services.users.create(cliContext, {
      userPrincipalName: "lee@contoso.com",
      displayName: "Lee Chen",
    });
    const now = t.clock.now();
    const method = await t.services.qr.createMethod(cliContext, "lee@contoso.com", {
      standardQRCode: {
        startDateTime: new Date(now).toISOString(),
        expireDateTime: new Date(now + 90 * 86_400_000).toISOString(),
      },
      pin: { code: "48291573" },
    });
    badge = Buffer.from(method.standardQRCode?.image?.rawContent ?? "", "base64").toString("utf8");
    temporaryPin = (await t.services.qr.resetPin(cliContext, "lee@contoso.com")).code;
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
  });

  it("scan → temporary PIN → new PIN (with mistakes) → signed in; a wrong PIN shows tries left", async () => {
    const { page } = await newPage(browser, { width: 390, height: 844 });
    await page.goto(`${portal.baseUrl}/signin/qr`);
    await screenshot(page, "qr-1-scan");
    await page.getByLabel("Badge code").fill(badge);
    await page.getByRole("button", { name: "Continue" }).click();
    await expect.poll(() => page.getByText("Badge of lee@contoso.com").isVisible()).toBe(true);
    await page.getByLabel("PIN", { exact: true }).fill(temporaryPin);
    await screenshot(page, "qr-2-pin");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("heading", { name: "Set a new PIN" }).isVisible()).toBe(true);
    await expect
      .poll(() => page.getByText("You signed in with a temporary PIN").isVisible(), WAIT)
      .toBe(true);

    await page.getByLabel("New PIN", { exact: true }).fill("1234");
    await page.getByLabel("Type the new PIN again").fill("1234");
    await page.getByRole("button", { name: "Save new PIN" }).click();
    await expect.poll(() => page.locator("#live").textContent()).toContain("at least 8");
    await page.getByLabel("New PIN", { exact: true }).fill("73016482");
    await page.getByLabel("Type the new PIN again").fill("73016483");
    await page.getByRole("button", { name: "Save new PIN" }).click();
    await expect.poll(() => page.locator("#live").textContent()).toContain("different");
    await page.getByLabel("New PIN", { exact: true }).fill("73016482");
    await page.getByLabel("Type the new PIN again").fill("73016482");
    await screenshot(page, "qr-3-new-pin");
    await page.getByRole("button", { name: "Save new PIN" }).click();
    await expect.poll(() => page.locator("#live").textContent()).toContain("PIN changed");

    await page.getByLabel("PIN", { exact: true }).fill("99999990");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#live").textContent()).toContain("9 tries left");
    await page.getByLabel("PIN", { exact: true }).fill("73016482");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByText("Welcome, Lee Chen").isVisible()).toBe(true);
    await screenshot(page, "qr-4-signed-in");
    await page.getByRole("button", { name: "Next person" }).click();
    await expect.poll(() => page.getByLabel("Badge code").inputValue()).toBe("");
  });
});
