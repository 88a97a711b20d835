/**
 * Forgot PIN and Emergency Access in a real browser, with a real SMTP server receiving the codes.
 * Seed 000's user pressed "Send code" and nothing ever came, with no way to know and nowhere to go:
 * here the page says where the code went and what happened to it, and the other ways in stay in view.
 * And seed 000's start: a security-settings change forced a new PIN — here the next sign-in says why
 * in plain words and lets the user set one there and then. Runs on SQLite, and on PostgreSQL too
 * when PINDESK_TEST_POSTGRES_URL is set.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliContext } from "../src/services/context.ts";
import { dialects, giveBadge } from "./helpers/instance.ts";
import {
  addUser,
  launchBrowser,
  newPage,
  type PortalInstance,
  screenshot,
  startMailSink,
  startPortal,
} from "./helpers/portal.ts";
import { startSmsWebhook } from "./helpers/portal-delivery.ts";

const WAIT = { timeout: 10_000 };
const ANA = "ana.lima@contoso.com";
const ANA_MAIL = "ana.lima@outlook.com";
const MW = "m.schwarz@contoso.com";
const MW_MAIL = "m.schwarz@outlook.com";
const HELPDESK = "the IT desk on 0800 123 456";

describe.each(dialects)(
  "Forgot PIN, Emergency Access and a forced PIN change in Chromium on %s",
  (dialect) => {
    let sink: Awaited<ReturnType<typeof startMailSink>>;
    let sms: Awaited<ReturnType<typeof startSmsWebhook>>;
    let portal: PortalInstance;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;

    const fresh = async () => {
      await context?.close();
      ({ context, page } = await newPage(browser));
      page.setDefaultTimeout(10_000);
    };

    const startForgot = async (upn: string) => {
      await page.goto(portal.url("/"));
      await page.getByLabel("User name").fill(upn);
      // The way out is on the sign-in page itself, and keeps what was typed.
      await page.getByRole("link", { name: "Forgot your PIN?" }).click();
      await page.getByRole("heading", { level: 1, name: "Forgot your PIN?" }).waitFor();
      await expect.poll(() => page.getByLabel("User name").inputValue(), WAIT).toBe(upn);
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByRole("radio").first().waitFor();
    };

    const signIn = async (upn: string, pin: string) => {
      await page.goto(portal.url("/"));
      await page.getByLabel("User name").fill(upn);
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("PIN", { exact: true }).fill(pin);
      await page.getByRole("button", { name: "Continue" }).click();
      await expect.poll(() => new URL(page.url()).pathname, WAIT).toBe("/portal/me");
    };

    const setNewPin = async (pin: string, button: string) => {
      await page.getByLabel("New PIN", { exact: true }).fill(pin);
      await page.getByLabel("Confirm new PIN").fill(pin);
      await page.getByRole("button", { name: button }).click();
      await page.getByTestId("pin-changed").waitFor();
    };

    beforeAll(async () => {
      // Seed 000: the provider will not take mail for this user's address.
      sink = await startMailSink({ refuse: (address) => address === MW_MAIL });
      sms = await startSmsWebhook();
      portal = await startPortal({ env: { ...sink.env, PINDESK_SMS_WEBHOOK_URL: sms.url }, dialect });
      await portal.t.services.portal.portalPolicy.update(cliContext, {
        helpdeskContact: HELPDESK,
        emergencyAccess: { enabled: true },
      });
      await addUser(portal.t, ANA, "482915", {
        displayName: "Ana Lima",
        mail: ANA_MAIL,
        mobilePhone: "+447700900123",
      });
      await addUser(portal.t, MW, "571938", { displayName: "M. Schwarz", mail: MW_MAIL });
      browser = await launchBrowser();
      await fresh();
    });

    afterAll(async () => {
      await context?.close();
      await browser?.close();
      await portal?.close();
      await sink?.close();
      await sms?.close();
    });

    it("sends a code, shows where it went and that it was accepted, counts a wrong code, sets the new PIN", async () => {
      await startForgot(ANA);
      await expect.poll(() => page.getByRole("radio").count(), WAIT).toBe(2);
      await screenshot(page, "forgot-channels");
      const before = sink.messages().length;
      await page.getByRole("button", { name: "Send code" }).click();

      const sent = page.getByTestId("code-sent");
      await expect.poll(() => sent.textContent(), WAIT).toContain("Sent to a•••a@outlook.com at 09:00");
      await expect
        .poll(() => page.getByTestId("delivery-status").getAttribute("data-status"), WAIT)
        .toBe("accepted");
      await expect.poll(() => sent.textContent(), WAIT).toContain("Accepted by the mail server.");
      // Alternatives are there before anything goes wrong, resend on a visible countdown.
      const resend = page.getByTestId("resend");
      await expect
        .poll(() => resend.getByRole("button", { name: "Send a new code" }).isDisabled(), WAIT)
        .toBe(true);
      await expect.poll(() => resend.textContent(), WAIT).toMatch(/available in [01]:\d\d/);
      // Switching to the phone is not held up by the email's countdown.
      await expect
        .poll(() => page.getByRole("button", { name: "Use your phone instead" }).isVisible(), WAIT)
        .toBe(true);
      await expect
        .poll(() => page.getByRole("button", { name: "Use your phone instead" }).isDisabled(), WAIT)
        .toBe(false);
      await expect
        .poll(() => page.getByRole("link", { name: "Emergency Access" }).isVisible(), WAIT)
        .toBe(true);
      await expect.poll(() => page.getByText(HELPDESK).isVisible(), WAIT).toBe(true);
      await screenshot(page, "forgot-sent");

      await page.getByLabel("Code from the email").fill("00000000");
      await page.getByRole("button", { name: "Continue" }).click();
      await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("4 tries left.");

      // The code belongs to this flow: a reload (or a look at the mail app and back) keeps the flow,
      // where it was sent, and the tries already counted.
      await page.reload();
      await expect.poll(() => sent.textContent(), WAIT).toContain("Sent to a•••a@outlook.com at 09:00");
      await page.getByLabel("Code from the email").fill(await sink.codeFor(ANA_MAIL, before));
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByRole("heading", { level: 1, name: "Choose a new PIN" }).waitFor();
      // The used flow is not kept: a reload now would start afresh, not offer a spent code.
      expect(await page.evaluate(() => window.sessionStorage.getItem("pindesk.forgot-pin"))).toBeNull();
      await page.getByLabel("New PIN", { exact: true }).fill("1111");
      await expect
        .poll(() => page.getByTestId("pin-checks").textContent(), WAIT)
        .toContain("The PIN is one digit repeated (like 1111).");
      await setNewPin("620591", "Set new PIN");
      await screenshot(page, "forgot-pin-changed");

      // From the confirmation straight to sign-in, the user name already filled in.
      await page.getByRole("link", { name: "Sign in" }).click();
      await expect.poll(() => page.getByLabel("User name").inputValue(), WAIT).toBe(ANA);
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("PIN", { exact: true }).fill("620591");
      await page.getByRole("button", { name: "Continue" }).click();
      await expect.poll(() => new URL(page.url()).pathname, WAIT).toBe("/portal/me");
    });

    it("too many codes in an hour: the page says when another can be sent, and who can help now", async () => {
      await addUser(portal.t, "rae@contoso.com", "394817", {
        displayName: "Rae",
        mail: "rae@outlook.com",
        mobilePhone: "+447700900456",
      });
      await portal.t.services.portal.portalPolicy.update(cliContext, { recovery: { perUserPerHour: 1 } });
      try {
        await fresh();
        await startForgot("rae@contoso.com");
        await page.getByRole("button", { name: "Send code" }).click();
        await page.getByTestId("code-sent").waitFor();
        await page.getByRole("button", { name: "Use your phone instead" }).click();
        const alert = page.getByRole("alert");
        await expect.poll(() => alert.textContent(), WAIT).toContain("Too many codes requested.");
        await expect.poll(() => alert.textContent(), WAIT).toMatch(/You can try again at .*\d\d:\d\d/);
        await expect.poll(() => alert.textContent(), WAIT).toContain("contact your help desk");
      } finally {
        await portal.t.services.portal.portalPolicy.update(cliContext, { recovery: { perUserPerHour: 5 } });
      }
    });

    it("stops code guessing after the allowed tries", async () => {
      await fresh();
      portal.t.clock.advance(61_000);
      await startForgot(ANA);
      const before = sink.messages().length;
      await page.getByRole("button", { name: "Send code" }).click();
      await page.getByTestId("code-sent").waitFor();
      const code = await sink.codeFor(ANA_MAIL, before);
      const wrong = code === "11111111" ? "22222222" : "11111111";
      for (const left of [
        "4 tries left.",
        "3 tries left.",
        "2 tries left.",
        "1 try left.",
        "No tries left.",
      ]) {
        await page.getByLabel("Code from the email").fill(wrong);
        await page.getByRole("button", { name: "Continue" }).click();
        await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain(left);
      }
      await page.getByLabel("Code from the email").fill(code);
      await page.getByRole("button", { name: "Continue" }).click();
      await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toContain("No tries left.");
      await expect
        .poll(() => page.getByRole("heading", { level: 1 }).textContent(), WAIT)
        .toBe("Forgot your PIN?");
    });

    it("seed 000: the mail provider refuses the code — the page says so, with the reason and the ways out", async () => {
      await fresh();
      await startForgot(MW);
      await page.getByRole("button", { name: "Send code" }).click();
      const status = page.getByTestId("delivery-status");
      await expect.poll(() => status.getAttribute("data-status"), WAIT).toBe("retrying");
      await expect.poll(() => status.textContent(), WAIT).toContain("550");
      await expect
        .poll(() => status.textContent(), WAIT)
        .toMatch(
          /Not delivered yet — PinDesk tries again at \d\d:\d\d\.Attempt 1 of 3 failed: 550 5\.1\.1 mailbox unavailable\./,
        );
      await expect.poll(() => status.textContent(), WAIT).toContain("you are not stuck");
      await expect
        .poll(() => page.getByRole("link", { name: "Emergency Access" }).isVisible(), WAIT)
        .toBe(true);
      await expect.poll(() => page.getByText(HELPDESK).isVisible(), WAIT).toBe(true);
      await screenshot(page, "forgot-delivery-failed");

      await page.getByRole("link", { name: "Emergency Access" }).click();
      await page.getByRole("heading", { level: 1, name: "Emergency Access" }).waitFor();
      await expect.poll(() => page.getByLabel("User name").inputValue(), WAIT).toBe(MW);
    });

    it("Emergency Access: registered answers, then questions → method → new PIN → PIN changed", async () => {
      await fresh();
      await signIn(ANA, "620591");
      await page
        .getByRole("navigation", { name: "Your account" })
        .getByRole("link", { name: "Security questions" })
        .click();
      await page.getByRole("button", { name: "Save answers" }).waitFor();
      const answers = page.getByLabel("Your answer");
      const questions = page.getByLabel("Question", { exact: true });
      const registered: Record<string, string> = {};
      // Five registered; each Emergency Access asks three of them, at random.
      await expect.poll(() => answers.count(), WAIT).toBe(5);
      for (let i = 0; i < 5; i++) {
        const text = (await questions.nth(i).locator("option:checked").textContent()) ?? "";
        registered[text] = ["Escola da Ponte", "Porto", "Vespa", "Rita", "Rua Direita"][i] as string;
        await answers.nth(i).fill(registered[text] as string);
      }
      await screenshot(page, "security-questions");
      await page.getByRole("button", { name: "Save answers" }).click();
      await expect
        .poll(() => page.getByTestId("answers-saved").textContent(), WAIT)
        .toContain("Security answers saved.");
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByTestId("flash").waitFor();

      await page.getByLabel("User name").fill(ANA);
      await page.getByRole("link", { name: "Emergency Access" }).click();
      await page.getByRole("button", { name: "Next" }).click();
      await page.locator("input[name^=answer-]").first().waitFor();
      const asked = page.locator("input[name^=answer-]");
      await expect.poll(() => asked.count(), WAIT).toBe(3);
      for (let i = 0; i < 3; i++) {
        const id = (await asked.nth(i).getAttribute("id")) ?? "";
        const question = (await page.locator(`label[for="${id}"]`).textContent()) ?? "";
        // Capitals and spacing do not matter.
        await asked.nth(i).fill(`  ${(registered[question.trim()] as string).toUpperCase()} `);
      }
      await screenshot(page, "emergency-questions");
      await page.getByRole("button", { name: "Continue" }).click();
      await page.getByRole("radio", { name: /^PIN/ }).check();
      await screenshot(page, "emergency-method");
      await page.getByRole("button", { name: "Continue" }).click();
      await setNewPin("739104", "Change PIN");
      await expect
        .poll(() => page.getByTestId("pin-changed").textContent(), WAIT)
        .toContain("PIN changed for: PIN.");
      await screenshot(page, "emergency-pin-changed");
      expect((await portal.t.services.pins.verify(cliContext, ANA, "739104")).result).toBe("success");
    });

    it("seed 000: a tightened PIN policy — the next sign-in says why in plain words and sets a compliant PIN", async () => {
      await fresh();
      const { t } = portal;
      t.clock.set("2026-05-25T09:30:00Z");
      // The administrator tightens the rules (through the same service the admin portal calls).
      await t.services.policies.update(cliContext, { minLength: 8 });
      try {
        await page.goto(portal.url("/"));
        await page.getByLabel("User name").fill(MW);
        await page.getByRole("button", { name: "Next" }).click();
        await page.getByLabel("PIN", { exact: true }).fill("571938");
        await page.getByRole("button", { name: "Continue" }).click();
        const step = page.getByTestId("step-change-pin");
        await step.waitFor();
        await expect
          .poll(() => step.textContent(), WAIT)
          .toContain("Your organisation's PIN rules changed on 25 May.");
        await expect.poll(() => step.textContent(), WAIT).toContain("at least 8");
        await screenshot(page, "policy-change");
        await page.getByLabel("New PIN", { exact: true }).fill("5719384");
        await expect.poll(() => page.getByTestId("pin-checks").textContent(), WAIT).toContain("at least 8");
        await page.getByLabel("New PIN", { exact: true }).fill("57193846");
        await page.getByLabel("Confirm new PIN").fill("57193846");
        await page.getByRole("button", { name: "Save new PIN and continue" }).click();
        await expect.poll(() => new URL(page.url()).pathname, WAIT).toBe("/portal/me");
        await expect.poll(() => page.getByTestId("flash").textContent(), WAIT).toContain("PIN changed.");
        expect((await t.services.pins.verify(cliContext, MW, "57193846")).result).toBe("success");
      } finally {
        await t.services.policies.update(cliContext, { minLength: 6 });
      }
    });

    it("the help desk's set-new-PIN link: a badge holder's PIN is checked against the badge's rules; a spent link says so before anything is typed", async () => {
      const { t } = portal;
      const upn = "link.badge@contoso.com";
      const holder = await addUser(t, upn, "482915", {
        displayName: "Link Badge",
        mail: "link.badge@outlook.com",
      });
      await giveBadge(t, upn);
      // The link is built on the public address, as the admin route builds it.
      await t.services.portal.recovery.sendRecoveryLink(
        cliContext,
        holder,
        portal.url("").replace(/\/portal$/, ""),
      );
      const sent = () => sink.messages().find((m) => m.to.includes("link.badge@outlook.com"));
      await expect.poll(sent, WAIT).toBeDefined();
      const link = /(https?:\/\/\S+\/portal\/reset#\S+)/.exec(sent()?.text ?? "")?.[1] ?? "";
      await fresh();
      await page.goto(link);
      await page.getByRole("heading", { level: 1, name: "Set a new PIN" }).waitFor();
      const checks = page.getByTestId("pin-checks");
      await page.getByLabel("New PIN", { exact: true }).fill("730518");
      await expect.poll(() => checks.textContent(), WAIT).toContain("8 to 20 characters — not met");
      await setNewPin("73051842", "Set new PIN");
      // The same link again: refused at once, with the ways out, before a PIN is typed.
      await fresh();
      await page.goto(link);
      await expect.poll(() => page.getByRole("alert").textContent(), WAIT).toMatch(/link/i);
      await expect.poll(() => page.getByLabel("New PIN", { exact: true }).count(), WAIT).toBe(0);
    });
  },
);
