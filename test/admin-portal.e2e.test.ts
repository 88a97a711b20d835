/**
 * The admin portal as a new administrator uses it, in Chromium, against PinDesk started as `pindesk
 * serve` starts it: the setup link is read from what the server printed; the administrator and the
 * users sign in through the portal's sign-in page. Screenshots of every main page at 1440 and 360 px
 * go to test-artifacts/ (docs/screenshots with PINDESK_UPDATE_SCREENSHOTS=1).
 */
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateScreenshots } from "../src/config.ts";
import { methodCounterSubject } from "../src/domain/portal-policy.ts";
import { counterRules } from "../src/services/attempts.ts";
import { cliContext } from "../src/services/context.ts";
import { artifactsDir, launchBrowser, newPage, screenshot, startMailSink } from "./helpers/portal.ts";
import { type ServedPinDesk, servePinDesk } from "./helpers/serve.ts";

const WAIT = { timeout: 15_000 };
const ROOT_PIN = "58203917";
const README_SHOTS = [
  "dashboard",
  "user-locked",
  "temporary-pin",
  "policies-preview",
  "audit",
  "troubleshooter",
];

describe("admin portal", () => {
  let served: ServedPinDesk;
  let browser: Browser;
  let sink: Awaited<ReturnType<typeof startMailSink>>;

  beforeAll(async () => {
    sink = await startMailSink();
    served = await servePinDesk(sink.env);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await served?.close();
    await sink?.close();
  });

  /** Both widths of a page: 1440 px (desktop) and 360 px (a small phone). */
  const shots = async (page: Page, name: string) => {
    const size = page.viewportSize() ?? { width: 1280, height: 900 };
    for (const width of [1440, 360]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(50);
      await screenshot(page, `admin-${name}-${width}`);
      // Nothing may hang off the right edge at either width.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${name} at ${width} px is wider than the screen`).toBeLessThanOrEqual(1);
    }
    await page.setViewportSize(size);
    if (updateScreenshots() && README_SHOTS.includes(name)) {
      const docs = path.resolve(import.meta.dirname, "../docs/screenshots");
      await mkdir(docs, { recursive: true });
      await copyFile(
        path.join(artifactsDir, `portal-admin-${name}-1440.png`),
        path.join(docs, `admin-${name}.png`),
      );
    }
  };

  const signIn = async (upn: string, pin: string) => {
    const { context, page } = await newPage(browser, { width: 1440, height: 900 });
    await page.goto(served.url("/"));
    await page.getByLabel("User name").fill(upn);
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByLabel("PIN", { exact: true }).fill(pin);
    await page.getByRole("button", { name: "Continue" }).click();
    return { context, page };
  };
  const expectSignedIn = (page: Page) => page.getByRole("heading", { level: 1, name: /Hello/ }).waitFor(WAIT);
  const changePinAtSignIn = async (page: Page, newPin: string) => {
    await page.getByTestId("step-change-pin").waitFor(WAIT);
    await page.getByLabel("New PIN", { exact: true }).fill(newPin);
    await page.getByLabel("Confirm new PIN").fill(newPin);
    await page.getByRole("button", { name: "Save new PIN and continue" }).click();
    await expectSignedIn(page);
  };
  const addUser = async (
    upn: string,
    pin: string | null,
    extra: { displayName?: string; roles?: string[]; mail?: string } = {},
  ) => {
    const user = await served.services.users.create(cliContext, {
      userPrincipalName: upn,
      displayName: extra.displayName ?? (upn.split("@")[0] as string),
      ...extra,
    });
    if (pin) await served.services.pins.set(cliContext, user.id, pin);
    return user;
  };
  const lock = async (upn: string) => {
    for (let i = 0; i < 10; i++)
      await served.services.pins.verify(cliContext, upn, "000013").catch(() => undefined);
  };
  const resultText = (page: Page) => page.getByTestId("action-result").textContent(WAIT);
  /** Waits for the result of the action just taken (an earlier result may still be on screen). */
  const result = async (page: Page, text: string) => {
    await expect
      .poll(async () => (await page.getByTestId("action-result").textContent()) ?? "", WAIT)
      .toContain(text);
    return (await resultText(page)) as string;
  };

  let admin: Page;

  it("first run: the setup link printed by the server creates the administrator, who then signs in", async () => {
    expect(served.output()).toContain(
      "No administrator exists yet. Open this one-time link to create the first one:",
    );
    const { page } = await newPage(browser, { width: 1440, height: 900 });
    await page.goto(served.setupUrl);
    await page.getByLabel("Your user name").fill("root@contoso.com");
    await page.getByLabel("Your name").fill("Rita Root");
    await page.getByLabel("Choose a PIN").fill(ROOT_PIN);
    await page.getByLabel("Type the PIN again").fill(ROOT_PIN);
    await screenshot(page, "admin-setup");
    await page.getByRole("button", { name: "Create administrator" }).click();
    await page.getByText("Administrator created").waitFor(WAIT);
    await page.getByText("enrol your sign-in methods").waitFor(WAIT);
    await page.getByRole("link", { name: "Add my sign-in methods" }).waitFor(WAIT);
    // The link works once.
    const { page: again } = await newPage(browser);
    await again.goto(served.setupUrl);
    await again.getByLabel("Your user name").fill("evil@contoso.com");
    await again.getByLabel("Your name").fill("Evil");
    await again.getByLabel("Choose a PIN").fill(ROOT_PIN);
    await again.getByLabel("Type the PIN again").fill(ROOT_PIN);
    await again.getByRole("button", { name: "Create administrator" }).click();
    await again.getByText("This link is not valid, has expired or was already used.").waitFor(WAIT);

    // A separate browser: the administrator signs in through the portal sign-in.
    ({ page: admin } = await signIn("root@contoso.com", ROOT_PIN));
    await expectSignedIn(admin);
  });

  it("finds a locked user by surname, unblocks, resets with a live policy check, and the user signs in", async () => {
    const lee = await addUser("lee@contoso.com", "739154", { displayName: "Lee Locked" });
    await lock("lee@contoso.com");
    await addUser("pat.plain@contoso.com", "284619", { displayName: "Pat Plain", mail: "pat@fabrikam.com" });

    await admin.goto(served.url("/admin"));
    await admin.getByRole("heading", { name: "Dashboard" }).waitFor(WAIT);
    await expect.poll(() => admin.getByTestId("count-Account Lockout").textContent(), WAIT).toBe("1");
    await shots(admin, "dashboard");

    await admin.goto(served.url("/admin/users"));
    await admin.getByLabel("Search by name, user name or email").fill("locked");
    await admin.getByRole("link", { name: "Lee Locked" }).waitFor(WAIT);
    await shots(admin, "users");
    await admin.getByRole("link", { name: "Lee Locked" }).click();
    await admin.getByTestId("pin-description").waitFor(WAIT);
    await expect.poll(() => admin.locator(".badge").first().textContent(), WAIT).toBe("Account Lockout");
    await expect
      .poll(() => admin.getByTestId("pin-description").textContent(), WAIT)
      .toMatch(/^Locked after 10 wrong PINs at \d+ \w+ 20\d\d, \d\d:\d\d UTC; unlocks automatically at /);
    // Lee has no email or phone: no recovery link button, and the page says why.
    await expect.poll(() => admin.getByRole("button", { name: "Send recovery link" }).count(), WAIT).toBe(0);
    await expect
      .poll(() => admin.getByTestId("recovery-reason").textContent(), WAIT)
      .toContain("They have no email address or mobile number on file");
    await shots(admin, "user-locked");

    await admin.getByRole("button", { name: "Unblock PIN" }).click();
    await admin.getByRole("dialog").getByRole("button", { name: "Unblock PIN" }).click();
    expect(await resultText(admin)).toContain("PIN unblocked.");
    await expect.poll(() => admin.locator(".badge").first().textContent(), WAIT).toBe("Steady State");
    // The Unblock button is gone: focus is on the result, not lost on the page.
    await expect
      .poll(() => admin.evaluate(() => document.activeElement?.getAttribute("data-testid")), WAIT)
      .toBe("action-result");

    await admin.getByRole("button", { name: "Reset PIN" }).click();
    const dialog = admin.getByRole("dialog");
    await dialog.getByLabel("New PIN", { exact: true }).fill("1234");
    // Checked as it is typed, against the live policy, with the reason.
    await expect
      .poll(() => dialog.locator('[data-testid="pin-checks"] li[data-state="bad"]').count(), WAIT)
      .toBeGreaterThan(0);
    await expect
      .poll(() => dialog.getByTestId("pin-checks").textContent(), WAIT)
      .toContain("At least 6 characters");
    await shots(admin, "reset-dialog");
    await dialog.getByRole("button", { name: "Reset PIN" }).click();
    // Refused on the page before any request: the PIN field keeps the focus and says why.
    await expect
      .poll(() => dialog.locator('[data-testid="pin-checks"]').textContent(), WAIT)
      .toMatch(/shorter|at least/i);
    await dialog.getByLabel("New PIN", { exact: true }).fill("604918");
    await dialog.getByLabel("Type it again").fill("604917");
    await dialog.getByRole("button", { name: "Reset PIN" }).click();
    await dialog.getByText("The two PINs are different").waitFor(WAIT);
    await dialog.getByLabel("Type it again").fill("604918");
    await dialog.getByRole("button", { name: "Reset PIN" }).click();
    expect(await result(admin, "PIN reset.")).toBe(
      "DonePIN reset. The user must choose a new PIN at their next sign-in.",
    );

    // Lee signs in with it in a browser of their own, and is made to choose their own PIN.
    const { context: leeContext, page: leePage } = await signIn("lee@contoso.com", "604918");
    await changePinAtSignIn(leePage, "817263");
    await leeContext.close();

    // "Must change it" starts from the organisation's policy, not always ticked.
    await served.services.policies.update(cliContext, { forceChangeAfterAdminReset: false });
    try {
      // The server process sees another process's policy change within its cache's second.
      const servedPolicy = async () =>
        (
          (await (await fetch(served.url("/api/pin-policy"))).json()) as {
            policy: { forceChangeAfterAdminReset: boolean };
          }
        ).policy.forceChangeAfterAdminReset;
      await expect.poll(servedPolicy, WAIT).toBe(false);
      await admin.reload();
      await admin.getByRole("button", { name: "Reset PIN" }).click();
      const box = admin.getByRole("dialog").getByLabel("The user must change it at next sign-in");
      await expect.poll(() => box.isChecked(), WAIT).toBe(false);
      await admin.getByRole("dialog").getByRole("button", { name: "Cancel" }).click();
    } finally {
      await served.services.policies.update(cliContext, { forceChangeAfterAdminReset: true });
      await admin.reload();
    }

    await admin.getByRole("button", { name: "Generate temporary PIN" }).click();
    await admin.getByRole("dialog").getByRole("button", { name: "Generate a temporary PIN" }).click();
    const temporaryPin = (await admin.getByTestId("temporary-pin").textContent(WAIT)) as string;
    expect(temporaryPin).toMatch(/^\d{8}$/);
    expect(
      await admin.getByText("Give this to the user; they must change it at sign-in").first().isVisible(),
    ).toBe(true);
    // The state line is reloaded after the action: wait for it rather than read it mid-refresh.
    await expect
      .poll(() => admin.getByTestId("pin-description").textContent(), { timeout: 10_000 })
      .toMatch(
        /^Must change: a temporary PIN was issued by root@contoso\.com at .* UTC\. The user signs in with it before .* UTC and then chooses their own PIN\.$/,
      );
    // Copying: where the clipboard cannot be used the page says so and selects the PIN.
    await admin.getByRole("button", { name: "Copy" }).click();
    await expect
      .poll(() => admin.getByTestId("copy-status").textContent(), WAIT)
      .toMatch(/Copied|press Ctrl\+C/);
    await shots(admin, "temporary-pin");
    const { context: tempContext, page: tempPage } = await signIn("lee@contoso.com", temporaryPin);
    await tempPage.getByText("You signed in with a temporary PIN").first().waitFor(WAIT);
    await changePinAtSignIn(tempPage, "926374");
    await tempContext.close();

    // The troubleshooter card on the user page ("Why is this user stuck?").
    await admin.reload();
    await admin.getByRole("heading", { name: "Why is this user stuck?" }).waitFor(WAIT);
    expect(lee.id).toBeTruthy();
  });

  it("a user whose PIN is fine but whose authenticator app is locked gets Unblock PIN too", async () => {
    const sam = await addUser("sam@contoso.com", "628194", { displayName: "Sam Stuck" });
    const rules = counterRules((await served.services.policies.pinPolicy()).lockout);
    const subject = methodCounterSubject("totp", sam.id);
    await served.services.repos.counters.ensure(subject);
    for (let i = 0; i < rules.threshold; i++) {
      await served.services.repos.counters.reserve(subject, Date.now(), rules);
      await served.services.repos.counters.recordFailure(subject, Date.now(), rules);
    }
    await admin.goto(served.url(`/admin/users/${sam.id}`));
    await admin.getByTestId("pin-description").waitFor(WAIT);
    await expect.poll(() => admin.locator(".badge").first().textContent(), WAIT).toBe("Steady State");
    await admin.getByRole("button", { name: "Unblock PIN" }).click();
    await expect
      .poll(() => admin.getByRole("dialog").textContent(), WAIT)
      .toContain(
        "The lockout is cleared, and Authenticator app code unblocked; Sam Stuck keeps their current PIN.",
      );
    await admin.getByRole("dialog").getByRole("button", { name: "Unblock PIN" }).click();
    expect(await result(admin, "Unblocked: Authenticator app code")).toContain("Done");
    await expect.poll(() => admin.getByRole("button", { name: "Unblock PIN" }).count(), WAIT).toBe(0);
  });

  it("QR badge: create and print, replace, temporary code, remove; recovery link to a user with mail", async () => {
    const pat = await served.services.users.get("pat.plain@contoso.com");
    await admin.goto(served.url(`/admin/users/${pat.id}`));
    await admin.getByRole("button", { name: "Create QR badge" }).click();
    const dialog = admin.getByRole("dialog");
    await dialog.getByLabel("Badge PIN", { exact: true }).fill("4829");
    // The badge's own rules: digits only, at least the badge PIN length.
    await expect
      .poll(() => dialog.getByTestId("pin-checks").textContent(), WAIT)
      .toContain("8 to 20 characters");
    await dialog.getByLabel("Badge PIN", { exact: true }).fill("48291573");
    await dialog.getByLabel("Type it again").fill("48291573");
    await dialog.getByRole("button", { name: "Create QR badge" }).click();
    expect(await resultText(admin)).toContain(
      "QR badge created for Pat Plain; the PIN you chose is now their PIN everywhere. Print it now",
    );
    await admin.getByTestId("badge-print").waitFor(WAIT);
    await expect.poll(() => admin.getByTestId("badge-print").textContent(), WAIT).toContain("Pat Plain");
    await admin.emulateMedia({ media: "print" });
    await screenshot(admin, "admin-qr-badge-print");
    await admin.emulateMedia({ media: "screen" });
    await shots(admin, "qr-badge");

    await admin.getByRole("button", { name: "Replace QR badge" }).click();
    await dialog.getByLabel("Badge PIN", { exact: true }).fill("73016482");
    await dialog.getByLabel("Type it again").fill("73016482");
    await dialog.getByRole("button", { name: "Replace QR badge" }).click();
    await result(admin, "the old badge no longer works");

    await admin.getByRole("button", { name: "Issue temporary QR code" }).click();
    await dialog.getByRole("button", { name: "Issue a temporary QR code" }).click();
    await result(admin, "Temporary QR code created");
    await admin.getByText("Temporary code: valid until").waitFor(WAIT);

    await admin.getByRole("button", { name: "Remove QR method" }).click();
    // The dialog says the PIN goes with the badge.
    await dialog.getByText("The badge's PIN is their only PIN: it is removed too").waitFor(WAIT);
    await dialog.getByRole("button", { name: "Remove" }).click();
    await result(admin, "QR badge removed, and with it");
    // No badge or temporary code from before is left on screen.
    await expect.poll(() => admin.getByText("Temporary code: valid until").count(), WAIT).toBe(0);
    await admin.getByText("No QR badge.").waitFor(WAIT);

    // Pat has a PIN again (the badge PIN went with the method): reset one, then send a recovery link.
    await served.services.pins.set(cliContext, pat.id, "51937264");
    await admin.reload();
    await admin.getByRole("button", { name: "Send recovery link" }).click();
    await dialog.getByText("p•••t@fabrikam.com").waitFor(WAIT);
    await dialog.getByRole("button", { name: "Send a recovery link" }).click();
    await result(admin, "Recovery link sent to p•••t@fabrikam.com: the provider accepted it.");
    await admin.getByText("Recovery link to p•••t@fabrikam.com").waitFor(WAIT);
    expect(
      sink.messages().some((m) => m.to.includes("pat@fabrikam.com") && m.text.includes("/portal/reset#")),
    ).toBe(true);
  });

  it("policies: edit, preview the effect, save; audit filters apply; troubleshooter", async () => {
    await admin.goto(served.url("/admin/policies"));
    const rules = admin.getByTestId("policy-pin-rules");
    await rules.getByLabel("Minimum length").fill("8");
    await expect.poll(() => rules.getByRole("button", { name: "Save" }).isDisabled(), WAIT).toBe(true);
    await rules.getByRole("button", { name: "Preview the effect" }).click();
    await rules.getByText("What this change does").waitFor(WAIT);
    await expect.poll(() => rules.getByText("PIN length: 8 to 127 characters.").count(), WAIT).toBe(1);
    await expect
      .poll(() => rules.getByTestId("pins-not-compliant").textContent(), WAIT)
      .toMatch(/^PINs that no longer comply: \d+$/);
    await shots(admin, "policies-preview");
    await rules.getByRole("button", { name: "Save" }).click();
    await rules.getByText("Saved").waitFor(WAIT);

    const emergency = admin.getByTestId("policy-emergency");
    await emergency.getByLabel("Users may reset their PIN by answering their security questions").check();
    await emergency.getByRole("button", { name: "Preview the effect" }).click();
    await emergency.getByText("Emergency Access turned on.").waitFor(WAIT);
    await emergency.getByRole("button", { name: "Save" }).click();
    await emergency.getByText("Saved").waitFor(WAIT);
    const portal = await served.services.portal.portalPolicy.current();
    expect(portal.emergencyAccess.enabled).toBe(true);
    expect((await served.services.policies.pinPolicy()).minLength).toBe(8);

    // Audit: the filter applies (a row that does not match disappears), "done by" as a help desk types it.
    await admin.goto(served.url("/admin/audit"));
    const table = admin.getByTestId("audit-table");
    await admin.getByTestId("audit-count").getByText("matching event").waitFor(WAIT);
    await expect
      .poll(() => table.locator('tr[data-action="pin.unblock"]').count(), {
        ...WAIT,
        message: `audit table: ${await admin.getByTestId("audit-count").textContent()}`,
      })
      .toBeGreaterThan(0);
    await admin.getByLabel("Done by").fill("root@contoso.com");
    await admin.getByLabel("Action").selectOption({ label: "Temporary PIN issued" });
    await admin.getByRole("button", { name: "Filter", exact: true }).click();
    await expect.poll(() => table.locator('tr[data-action="pin.unblock"]').count(), WAIT).toBe(0);
    await expect
      .poll(() => table.locator('tr[data-action="pin.resetTemporary"]').count(), WAIT)
      .toBeGreaterThan(0);
    expect(
      await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-actor"))),
    ).toEqual(expect.arrayContaining(["user:root@contoso.com"]));
    await expect.poll(() => table.textContent(), WAIT).toContain("Temporary PIN issued");
    await shots(admin, "audit");
    // A day before anything happened: nothing matches.
    await admin.getByLabel("To (day, UTC)").fill("2001-01-01");
    await admin.getByRole("button", { name: "Filter", exact: true }).click();
    await expect.poll(() => admin.getByTestId("audit-count").textContent(), WAIT).toBe("No events match.");

    await admin.goto(served.url("/admin/troubleshooter"));
    await admin.getByLabel("Error code").fill("0x801c004d");
    await admin.getByRole("button", { name: "Look up" }).click();
    await admin.getByTestId("explanation").waitFor(WAIT);
    await shots(admin, "troubleshooter");
  });

  it("role limits: an Authentication Administrator, a Global Reader", async () => {
    await addUser("helpdesk@contoso.com", "81629475", {
      displayName: "Hana Helpdesk",
      roles: ["Authentication Administrator"],
    });
    await addUser("reader@contoso.com", "95173846", { displayName: "Rex Reader", roles: ["Global Reader"] });
    const boss = await addUser("boss@contoso.com", "92730518", {
      displayName: "Big Boss",
      roles: ["Global Administrator"],
    });
    const worker = await addUser("worker@contoso.com", "36281497", { displayName: "Wendy Worker" });
    await lock("worker@contoso.com");
    await lock("boss@contoso.com");
    const apiStatus = (page: Page, url: string, method = "POST", body = "{}") =>
      page.evaluate(
        async ({ url, method, body }) => {
          const session = await (await fetch("/portal/api/session")).json();
          const r = await fetch(url, {
            method,
            headers: { "content-type": "application/json", "x-csrf-token": session.csrfToken },
            body,
          });
          return r.status;
        },
        { url, method, body },
      );

    const { context, page: hd } = await signIn("helpdesk@contoso.com", "81629475");
    await expectSignedIn(hd);
    await hd.goto(served.url(`/admin/users/${boss.id}`));
    // Entra's rule: an Authentication Administrator neither reads nor manages a privileged admin's methods.
    await hd.getByText("Your role does not allow this action on this user.").waitFor(WAIT);
    await hd.getByText("Ask a Privileged Authentication Administrator").waitFor(WAIT);
    await expect.poll(() => hd.getByRole("button", { name: "Reset PIN" }).count(), WAIT).toBe(0);
    await expect.poll(() => hd.getByRole("button", { name: "Unblock PIN" }).count(), WAIT).toBe(0);
    // The server refuses regardless of the page.
    expect(await apiStatus(hd, `/portal/api/admin/users/${boss.id}/pin/temporary`)).toBe(403);
    expect(await apiStatus(hd, `/portal/api/admin/users/${boss.id}/pin/unblock`)).toBe(403);
    expect(
      await apiStatus(
        hd,
        `/portal/api/admin/users/${boss.id}/pin/reset`,
        "POST",
        JSON.stringify({ pin: "604918", confirmPin: "604918" }),
      ),
    ).toBe(403);
    // A regular user: this role may unblock.
    await hd.goto(served.url(`/admin/users/${worker.id}`));
    await hd.getByRole("button", { name: "Unblock PIN" }).click();
    await hd.getByRole("dialog").getByRole("button", { name: "Unblock PIN" }).click();
    expect(await resultText(hd)).toContain("PIN unblocked.");
    // Policies: read-only for this role, and the server refuses a change.
    await hd.goto(served.url("/admin/policies"));
    await hd.getByText("You can read these policies but not change them").waitFor(WAIT);
    expect(
      await apiStatus(hd, "/portal/api/admin/policies/pin", "PATCH", JSON.stringify({ minLength: 4 })),
    ).toBe(403);
    await context.close();

    const { context: readerContext, page: reader } = await signIn("reader@contoso.com", "95173846");
    await expectSignedIn(reader);
    await reader.goto(served.url(`/admin/users/${boss.id}`));
    await reader.getByTestId("manage-reason").waitFor(WAIT);
    await expect
      .poll(() => reader.getByTestId("manage-reason").textContent(), WAIT)
      .toBe(
        "Your role (Global Reader) can view Big Boss but not change their PIN or methods (they are Global Administrator). Ask a Privileged Authentication Administrator or a Global Administrator.",
      );
    await expect.poll(() => reader.getByRole("button", { name: "Unblock PIN" }).count(), WAIT).toBe(0);
    await expect.poll(() => reader.getByRole("button", { name: "Reset PIN" }).count(), WAIT).toBe(0);
    expect(await apiStatus(reader, `/portal/api/admin/users/${boss.id}/pin/unblock`)).toBe(403);
    await shots(reader, "user-read-only");
    await reader.goto(served.url("/admin/policies"));
    await reader.getByText("You can read these policies but not change them").waitFor(WAIT);
    expect(
      await reader.getByTestId("policy-lockout").getByLabel("Wrong PINs before lockout").isDisabled(),
    ).toBe(true);
    await expect.poll(() => reader.getByRole("button", { name: "Preview the effect" }).count(), WAIT).toBe(0);
    expect(
      await apiStatus(
        reader,
        "/portal/api/admin/policies/portal",
        "PATCH",
        JSON.stringify({ emergencyAccess: { enabled: false } }),
      ),
    ).toBe(403);
    await shots(reader, "policies-read-only");
    await readerContext.close();

    // Each action shows in the audit with the administrator who did it.
    const events = await served.services.audit.query({ targetUserId: worker.id, limit: 50 });
    expect(events.find((e) => e.action === "pin.unblock" && e.outcome === "success")?.actor).toBe(
      "user:helpdesk@contoso.com",
    );
  });
});
