import { describe, expect, it } from "vitest";
import type { User } from "../store/repos/users.ts";
import { whyStuck } from "./admin-service.ts";
import type { PinStatus } from "./pin-service.ts";

const user: User = {
  id: "u1",
  userPrincipalName: "ana@contoso.com",
  displayName: "Ana",
  mail: "ana@fabrikam.com",
  mobilePhone: null,
  accountEnabled: true,
  roles: [],
  createdAt: 0,
  updatedAt: 0,
  lastSignInAt: null,
};
const steady: PinStatus = {
  userId: "u1",
  userPrincipalName: "ana@contoso.com",
  state: "Steady State",
  reason: null,
  description: "The PIN is usable.",
  failedAttempts: 0,
  attemptsRemaining: 10,
  lockedAt: null,
  lockedUntil: null,
  isTemporary: false,
  temporaryExpiresAt: null,
  changedAt: null,
  expiresAt: null,
  mustChangeAt: null,
  mustChangeBy: null,
};

describe("Why is this user stuck?", () => {
  it("counts a recovery code that expired undelivered as not arriving, in plain words", () => {
    const { summary, nextStep } = whyStuck(user, steady, [
      {
        status: "expired",
        destinationMasked: "a•••a@fabrikam.com",
        lastError: "550 mailbox unavailable",
        createdAt: "2026-05-25T14:03:00.000Z",
        purpose: "recoveryCode",
      },
    ]);
    expect(summary.join(" ")).toContain("was never delivered, and its code has expired");
    expect(nextStep).toContain("not arriving (550 mailbox unavailable)");
  });

  it("a recovery message the provider accepted but that was never used: look in spam, or a temporary PIN", () => {
    const accepted = {
      status: "accepted",
      destinationMasked: "a•••a@fabrikam.com",
      lastError: null,
      createdAt: "2026-05-25T14:03:00.000Z",
      purpose: "recoveryCode",
    };
    const unused = whyStuck(user, { ...steady, changedAt: "2026-05-01T09:00:00.000Z" }, [accepted]);
    expect(unused.nextStep).toBe(
      "Their recovery message to a•••a@fabrikam.com was accepted by the provider but not used. Ask them to look in spam or junk and check that address with them; or Generate temporary PIN and give it to them once you know who they are.",
    );
    // The PIN was changed after it: the recovery worked, and nothing points at the message.
    const used = whyStuck(user, { ...steady, changedAt: "2026-05-25T14:05:00.000Z" }, [accepted]);
    expect(used.nextStep).not.toContain("not used");
  });

  it("a message replaced by a newer code is not reported as not arriving", () => {
    const { summary, nextStep } = whyStuck(user, steady, [
      {
        status: "expired",
        destinationMasked: "+•••••••4242",
        lastError: "replaced by a newer code sent at 25 May 2026, 14:04 UTC, so it was not sent",
        createdAt: "2026-05-25T14:03:00.000Z",
        purpose: "recoveryCode",
      },
    ]);
    expect(summary.join(" ")).not.toContain("never delivered");
    expect(nextStep).not.toContain("not arriving");
  });

  it("gives a method lock's end as a time a person reads, not ISO 8601", () => {
    const { summary } = whyStuck(user, steady, [], {
      methodLockouts: [
        {
          kind: "totp",
          label: "Authenticator app",
          failedAttempts: 10,
          lockedUntil: "2026-05-25T14:32:00.000Z",
          atThreshold: false,
        },
      ],
    });
    const line = summary.find((l) => l.startsWith("Authenticator app")) ?? "";
    expect(line).not.toContain("2026-05-25T");
    expect(line).toContain("14:32");
  });

  it("says a method past the threshold with no lock set yet is not locked for good", () => {
    const { summary } = whyStuck(user, steady, [], {
      methodLockouts: [
        { kind: "totp", label: "Authenticator app", failedAttempts: 5, lockedUntil: null, atThreshold: true },
      ],
    });
    const line = summary.find((l) => l.startsWith("Authenticator app")) ?? "";
    expect(line).toBe(
      "Authenticator app has had too many wrong attempts: the next attempt is refused and locks it.",
    );
  });

  describe("the QR badge", () => {
    const DAY = 86_400_000;
    const now = Date.UTC(2026, 4, 25, 9, 0);
    const badge = (codes: { kind: string; startAt: number; expireAt: number }[], signInAllowed = true) =>
      whyStuck(user, steady, [], { badge: { signInAllowed, codes, now }, now });

    it("says nothing while a code works", () => {
      const { summary } = badge([{ kind: "standard", startAt: now - DAY, expireAt: now + DAY }]);
      expect(summary).toEqual(["The PIN is in Steady State: it works."]);
    });

    it("an expired badge: when it expired, and a temporary code for today", () => {
      const { summary, nextStep } = badge([
        { kind: "standard", startAt: now - 90 * DAY, expireAt: now - DAY },
      ]);
      expect(summary).toContain(
        "Their QR badge expired at 24 May 2026, 09:00 UTC, so badge sign-in does not work.",
      );
      expect(nextStep).toBe(
        "Issue temporary QR code for today, and Replace QR badge to give them a new one.",
      );
    });

    it("a temporary code keeps an expired badge usable, so it is not reported", () => {
      const { summary } = badge([
        { kind: "standard", startAt: now - 90 * DAY, expireAt: now - DAY },
        { kind: "temporary", startAt: now - 3_600_000, expireAt: now + 3_600_000 },
      ]);
      expect(summary).toHaveLength(1);
    });

    it("a badge not valid yet: from when", () => {
      const { summary, nextStep } = badge([
        { kind: "standard", startAt: now + DAY, expireAt: now + 90 * DAY },
      ]);
      expect(summary).toContain(
        "Their QR badge works from 26 May 2026, 09:00 UTC; until then badge sign-in is refused.",
      );
      expect(nextStep).toBe("Issue temporary QR code for the time until their badge starts working.");
    });

    it("badge sign-in turned off by policy, whatever the codes", () => {
      const { summary, nextStep } = badge(
        [{ kind: "standard", startAt: now - DAY, expireAt: now + DAY }],
        false,
      );
      expect(summary).toContain(
        "Badge sign-in (QR code + PIN) is turned off for this user by the QR code + PIN policy.",
      );
      expect(nextStep).toContain("until then they sign in with their PIN");
    });
  });

  it("a temporary PIN past its expiry: says it no longer works and to generate a new one", () => {
    const now = Date.UTC(2026, 4, 25, 12, 0);
    const temporary: PinStatus = {
      ...steady,
      state: "Must Change",
      reason: "temporaryPin",
      description: "Must change: the temporary PIN.",
      isTemporary: true,
      temporaryExpiresAt: "2026-05-25T10:00:00.000Z",
    };
    expect(whyStuck(user, temporary, [], { now }).nextStep).toBe(
      "Their temporary PIN expired at 25 May 2026, 10:00 UTC and no longer works: Generate temporary PIN and give them the new one.",
    );
    expect(whyStuck(user, temporary, [], { now: Date.UTC(2026, 4, 25, 9, 0) }).nextStep).toMatch(
      /^They must sign in with the temporary PIN before 25 May 2026, 10:00 UTC/,
    );
  });

  it("a disabled account that is also locked says both", () => {
    const locked: PinStatus = {
      ...steady,
      state: "Account Lockout",
      description: "Locked after 10 wrong PINs.",
    };
    const { summary, nextStep } = whyStuck({ ...user, accountEnabled: false }, locked, []);
    expect(summary).toContain("Locked after 10 wrong PINs.");
    expect(nextStep).toContain("Their PIN is locked too: Unblock PIN");
  });
});
