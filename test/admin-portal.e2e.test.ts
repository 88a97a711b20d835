/** The admin portal as a new administrator uses it, in Chromium. */
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateScreenshots } from "../src/config.ts";
import { cliContext } from "../src/services/context.ts";
import {
  addUser,
  artifactsDir,
  launchBrowser,
  newPage,
  type PortalInstance,
  screenshot,
  startPortal,
} from "./helpers/portal.ts";
import { portalClient } from "./helpers/portal-client.ts";

const WAIT = { timeout: 10_000 };

describe("admin portal", () => {
  let portal: PortalInstance;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    portal = await startPortal();
    browser = await launchBrowser();
    ({ page } = await newPage(browser));
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
  });

  const shot = async (name: string) => {
    await screenshot(page, `admin-${name}`);
    // A few of them illustrate the README.
    if (
      updateScreenshots() &&
      ["dashboard", "user-locked", "temporary-pin", "policies-preview", "audit", "troubleshooter"].includes(
        name,
      )
    ) {
      const docs = path.resolve(import.meta.dirname, "../docs/screenshots");
      await mkdir(docs, { recursive: true });
      await copyFile(
        path.join(artifactsDir, `portal-admin-${name}.png`),
        path.join(docs, `admin-${name}.png`),
      );
    }
  };

  it("setup link → first admin → unblock → reset → temporary PIN; audit shows who did what", async () => {
    const { t } = portal;
    const link = await t.services.admin.createSetupLink(cliContext, portal.baseUrl);
    await page.goto(link.url);
    await page.getByLabel("Your user name").fill("root@contoso.com");
    await page.getByLabel("Your name").fill("Rita Root");
    await page.getByLabel("Choose a PIN").fill("58203917");
    await page.getByLabel("Type the PIN again").fill("58203917");
    await shot("setup");
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByText("Administrator created").waitFor(WAIT);

    // A locked user.
    const lee = await addUser(t, "lee@contoso.com", "739154", { displayName: "Lee Locked" });
    for (let i = 0; i < 10; i++)
      await t.services.pins.verify(cliContext, "lee@contoso.com", "000013").catch(() => undefined);

    await page.goto(portal.url("/admin"));
    await page.getByRole("heading", { name: "Dashboard" }).waitFor(WAIT);
    await shot("dashboard");
    await page.goto(portal.url("/admin/users"));
    await page.getByLabel("Search by name, user name or email").fill("lee");
    await page.getByRole("link", { name: "Lee Locked" }).click();
    await page.getByTestId("pin-description").waitFor(WAIT);
    expect(await page.getByText("Account Lockout").first().isVisible()).toBe(true);
    await page.getByRole("heading", { name: "Why is this user stuck?" }).waitFor();
    await shot("user-locked");

    await page.getByRole("button", { name: "Unblock PIN" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Unblock PIN" }).click();
    await page.getByText("PIN unblocked.").waitFor(WAIT);
    await expect.poll(() => page.locator(".badge").first().textContent(), WAIT).toBe("Steady State");

    await page.getByRole("button", { name: "Reset PIN" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("New PIN").fill("604918");
    await dialog.getByLabel("Type it again").fill("604917");
    await dialog.getByRole("button", { name: "Reset PIN" }).click();
    await dialog.getByText("different").waitFor(WAIT);
    await dialog.getByLabel("Type it again").fill("604918");
    await dialog.getByRole("button", { name: "Reset PIN" }).click();
    await page.getByText("PIN reset. The user must choose a new PIN at their next sign-in.").waitFor(WAIT);

    // The user signs in with it and is made to choose their own.
    const user = portalClient(t);
    const first = await user.signInWithPin("lee@contoso.com", "604918");
    expect(first.body.next).toBe("changePin");
    expect(
      (await user.post("/portal/api/signin/change-pin", { newPin: "817263", confirmPin: "817263" })).body
        .signedIn,
    ).toBe(true);

    await page.getByRole("button", { name: "Generate temporary PIN" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Generate a temporary PIN" }).click();
    const temporaryPin = (await page.getByTestId("temporary-pin").textContent({ timeout: 10_000 })) as string;
    expect(temporaryPin).toMatch(/^\d{8}$/);
    expect(
      await page.getByText("Give this to the user; they must change it at sign-in").first().isVisible(),
    ).toBe(true);
    await shot("temporary-pin");
    const again = portalClient(t);
    expect((await again.signInWithPin("lee@contoso.com", temporaryPin)).body).toMatchObject({
      next: "changePin",
      reason: "temporaryPin",
    });

    await page.goto(portal.url("/admin/audit"));
    await page.getByLabel("User (id or user name)").fill(lee.id);
    await page.getByRole("button", { name: "Filter" }).click();
    await expect.poll(() => page.locator("table").textContent(), WAIT).toContain("pin.unblock");
    const table = (await page.locator("table").textContent()) ?? "";
    expect(table).toContain("user:root@contoso.com");
    expect(table).toContain("pin.resetTemporary");
    await shot("audit");

    await page.goto(portal.url("/admin/policies"));
    await page.getByLabel("Minimum length (4–127)").fill("8");
    await page.getByRole("button", { name: "Preview the effect" }).click();
    await page.getByText("What this change does").waitFor(WAIT);
    await shot("policies-preview");

    await page.goto(portal.url("/admin/troubleshooter"));
    await page.getByLabel("Error code").fill("0x801c004d");
    await page.getByRole("button", { name: "Look up" }).click();
    await page.getByTestId("explanation").waitFor(WAIT);
    await shot("troubleshooter");
  });

  it("role limits: an Authentication Administrator cannot act on a Global Administrator", async () => {
    const { t } = portal;
    await addUser(t, "helpdesk@contoso.com", "816294", {
      displayName: "Hana Helpdesk",
      roles: ["Authentication Administrator"],
    });
    const boss = await addUser(t, "boss@contoso.com", "927305", {
      displayName: "Big Boss",
      roles: ["Global Administrator"],
    });
    const { context, page: hd } = await newPage(browser);
    await hd.goto(portal.url("/"));
    await hd.getByLabel("User name").fill("helpdesk@contoso.com");
    await hd.getByRole("button", { name: "Next" }).click();
    await hd.getByLabel("PIN", { exact: true }).fill("816294");
    await hd.getByRole("button", { name: "Continue" }).click();
    await hd.getByRole("heading", { level: 1, name: /Hello/ }).waitFor(WAIT);
    await hd.goto(portal.url(`/admin/users/${boss.id}`));
    // Entra's rule: an Authentication Administrator neither reads nor manages a privileged admin's methods.
    await hd.getByText("Your role does not allow this action on this user.").waitFor(WAIT);
    await hd.getByText("Ask a Privileged Authentication Administrator").waitFor(WAIT);
    expect(await hd.getByRole("button", { name: "Reset PIN" }).count()).toBe(0);
    // The server refuses regardless of the page.
    const refused = await hd.evaluate(async (id) => {
      const session = await (await fetch("/portal/api/session")).json();
      const r = await fetch(`/portal/api/admin/users/${id}/pin/temporary`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": session.csrfToken },
        body: "{}",
      });
      return r.status;
    }, boss.id);
    expect(refused).toBe(403);
    await context.close();
  });
});
