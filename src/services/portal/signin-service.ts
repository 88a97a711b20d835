import { randomInt, randomUUID } from "node:crypto";
import { digestToken, randomToken } from "../../crypto/tokens.ts";
import { checkPin, checkQrPin } from "../../domain/pin-policy.ts";
import {
  authSetFor,
  METHOD_LABELS,
  METHOD_PHRASES,
  type MethodType,
  shuffled,
} from "../../domain/portal-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Db } from "../../store/db.ts";
import type { Repos } from "../../store/index.ts";
import type { User } from "../../store/repos/users.ts";
import type { AuditService } from "../audit-service.ts";
import type { Clock, RequestContext } from "../context.ts";
import type { PinProfileName, PinService } from "../pin-service.ts";
import type { PolicyService } from "../policy-service.ts";
import type { MethodsService } from "./methods-service.ts";
import type { PortalPolicyService } from "./portal-policy-service.ts";

/**
 * What an unfinished sign-in remembers, sealed in a cookie. Each state is tied to a single-use record
 * in the database (`step`): moving on spends it atomically and issues the next, so a copy of an older
 * cookie (replayed after a later step, or raced in a second tab) is refused instead of re-running or
 * skipping a step.
 */
export interface PendingSignIn {
  v: 2;
  step: string;
  upn: string;
  userId: string | null;
  methods: MethodType[];
  completed: MethodType[];
  /** Methods the user may enrol now, having presented every other one. */
  enrolling: MethodType[];
  changeToken?: string;
  challenge?: string;
  pushId?: string;
  pushNonce?: string;
  expiresAt: number;
}

export type StepKind = MethodType | "changePin" | "enrol" | "blocked" | "done";

export interface StepView {
  userPrincipalName: string;
  steps: { type: MethodType; label: string; done: boolean }[];
  /**
   * Before the PIN is accepted only the PIN step is shown, to every user name alike (showing the
   * user's whole set would tell whether the account exists, and what protects it); the rest of the
   * set appears once the PIN is accepted.
   */
  laterStepsHidden?: boolean;
  next: StepKind;
  /** The method that `next` concerns for changePin / enrol / blocked. */
  method?: MethodType;
  message?: string;
  reason?: string;
  /** For changePin: the rules the new PIN is checked against (see the PIN service's pinProfileOf). */
  pinProfile?: PinProfileName;
}

const PENDING_TTL_MS = 10 * 60_000;
const STEP_PURPOSE = "signin-step";
const PUSH_TTL_MS = 2 * 60_000;

export const createSignInService = ({
  db,
  repos,
  pins,
  policies,
  methods,
  portalPolicy,
  audit,
  clock,
}: {
  db: Db;
  repos: Repos;
  pins: PinService;
  policies: PolicyService;
  methods: MethodsService;
  portalPolicy: PortalPolicyService;
  audit: AuditService;
  clock: Clock;
}) => {
  const userOf = async (state: PendingSignIn): Promise<User | undefined> =>
    state.userId ? repos.users.findById(state.userId) : undefined;

  // ------------------------------------------------------------------ single-use step records
  const newStep = async (userId: string | null): Promise<string> => {
    const token = randomToken();
    const now = clock.now();
    // Now and then, step records of sign-ins long over are removed (they can never be used again).
    if (randomInt(100) === 0) {
      await db.kysely
        .deleteFrom("one_time_links")
        .where("purpose", "=", STEP_PURPOSE)
        .where("expires_at", "<", now - 3_600_000)
        .execute();
    }
    await db.kysely
      .insertInto("one_time_links")
      .values({
        token_hash: digestToken(token),
        purpose: STEP_PURPOSE,
        user_id: userId,
        created_at: now,
        expires_at: now + PENDING_TTL_MS,
        used_at: null,
      })
      .execute();
    return token;
  };

  /** The state's step record is unspent: refuse a copy of an older cookie before checking anything. */
  const assertLive = async (state: PendingSignIn): Promise<void> => {
    const row = await db.kysely
      .selectFrom("one_time_links")
      .select(["used_at", "expires_at", "purpose"])
      .where("token_hash", "=", digestToken(state.step))
      .executeTakeFirst();
    if (!row || row.purpose !== STEP_PURPOSE || row.used_at !== null || row.expires_at <= clock.now()) {
      throw new AppError("signInStepUsed");
    }
  };

  /**
   * Spends the state's step record (one conditional UPDATE: of two requests carrying the same cookie
   * exactly one moves on) and ties the changed state to a new one.
   */
  const rotate = async (state: PendingSignIn): Promise<void> => {
    const now = clock.now();
    const spent = await db.kysely
      .updateTable("one_time_links")
      .set({ used_at: now })
      .where("token_hash", "=", digestToken(state.step))
      .where("purpose", "=", STEP_PURPOSE)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) throw new AppError("signInStepUsed");
    state.step = await newStep(state.userId);
  };

  /** Works out the next step: the first method of the set not yet presented that the user has. */
  const advance = async (state: PendingSignIn): Promise<StepView> => {
    const policy = await portalPolicy.current();
    const base = { userPrincipalName: state.upn };
    if (!state.completed.includes("pin") && !state.changeToken) return firstView(state);
    const steps = state.methods.map((type) => ({
      type,
      label: METHOD_LABELS[type],
      done: state.completed.includes(type),
    }));
    const user = await userOf(state);
    const remaining = state.methods.filter((m) => !state.completed.includes(m));
    if (remaining.length === 0) return { ...base, steps, next: "done" };
    if (!user) return { ...base, steps, next: remaining[0] as MethodType };
    const missing: MethodType[] = [];
    for (const m of remaining) {
      if (m === "pin" || (await methods.has(user, m))) return { ...base, steps, next: m };
      missing.push(m);
    }
    // Everything the user has was presented; what is left, they have never set up.
    const method = missing[0] as MethodType;
    const who = policy.helpdeskContact;
    // An email address or phone number is not added during sign-in: someone who only knows the PIN
    // could otherwise add their own address and pass the "code by email" step with it.
    if (policy.enrolDuringSignIn && (method === "totp" || method === "webauthn" || method === "rfid")) {
      state.enrolling = missing.filter((m) => m === "totp" || m === "webauthn" || m === "rfid");
      return {
        ...base,
        steps,
        next: "enrol",
        method,
        message: `Your sign-in also needs ${METHOD_PHRASES[method]}. You have not set it up yet — do it now.`,
      };
    }
    state.enrolling = [];
    const message =
      method === "push"
        ? `Your sign-in needs approval from another device where you are already signed in to PinDesk, and you are not signed in anywhere else right now (or that session has been idle too long). Approval cannot be your first sign-in: sign in on that device again if you can, or ask ${who} to change your sign-in methods, for example to an authenticator app.`
        : method === "email"
          ? `Your sign-in needs a code sent to your email address, and no email address is on file for you. Ask ${who} to add your email address to your account, then sign in again.`
          : method === "sms"
            ? `Your sign-in needs a code sent by text message, and no mobile phone number is on file for you. Ask ${who} to add your mobile number to your account, then sign in again.`
            : `Your sign-in needs ${METHOD_PHRASES[method]}, which is not set up for you. Ask ${who} to set it up with you.`;
    return { ...base, steps, next: "blocked", method, message };
  };

  /** What everyone sees before the PIN: the PIN step alone. */
  const firstView = (state: PendingSignIn): StepView => ({
    userPrincipalName: state.upn,
    steps: [{ type: "pin", label: METHOD_LABELS.pin, done: false }],
    next: "pin",
    laterStepsHidden: true,
  });

  /** Why the user must choose a new PIN, in their words (the typed PIN is checked, never kept). */
  const mustChangeMessage = async (reason: string, pin: string, profile: PinProfileName): Promise<string> => {
    const current = await policies.current();
    switch (reason) {
      case "temporaryPin":
        return "You signed in with a temporary PIN. Choose your own PIN now.";
      case "adminReset":
        return "Your help desk reset your PIN. Choose a new PIN now; only you will know it.";
      case "pinExpired":
        return `Your PIN has expired: PINs here last ${current.policy.expirationDays} days. Choose a new PIN now.`;
      default: {
        const rules = (profile === "qr" ? checkQrPin : checkPin)(pin, current.policy).map((v) => v.message);
        const when = current.updatedAt
          ? ` on ${new Date(current.updatedAt).toLocaleDateString("en-GB", { day: "numeric", month: "long", timeZone: "UTC" })}`
          : "";
        return `Your organisation's PIN rules changed${when}. Your PIN no longer fits them${rules.length ? `: ${rules.join(" ")}` : "."} Choose a new PIN now.`;
      }
    }
  };

  /** A state of this format that has not timed out (whether its step is unspent is checked apart). */
  const isCurrent = (state: PendingSignIn | undefined): state is PendingSignIn =>
    state?.v === 2 && state.expiresAt > clock.now();

  /** The pending state, if it is live and `type` is the step it expects. */
  const expect = async (state: PendingSignIn | undefined, type: MethodType): Promise<PendingSignIn> => {
    if (!isCurrent(state)) throw new AppError("notSignedIn", { reason: "signInExpired" });
    await assertLive(state);
    const next = state.methods.find((m) => !state.completed.includes(m));
    if (next !== type && !state.enrolling.includes(type)) {
      throw new AppError("signInStepNotExpected", { expected: next ?? "done", got: type });
    }
    return state;
  };

  const complete = async (state: PendingSignIn, type: MethodType) => {
    await rotate(state);
    if (!state.completed.includes(type)) state.completed.push(type);
    state.enrolling = state.enrolling.filter((m) => m !== type);
    delete state.challenge;
    delete state.pushId;
    delete state.pushNonce;
  };

  const requireUser = async (state: PendingSignIn): Promise<User> => {
    const user = await userOf(state);
    if (!user) throw new AppError("notSignedIn");
    return user;
  };

  return {
    /** Starts a sign-in. Every user name gets the same answer: the PIN step, nothing else yet. */
    async start(upn: string): Promise<{ state: PendingSignIn; view: StepView }> {
      const user = await repos.users.findByUpn(upn);
      const policy = await portalPolicy.current();
      const set = user
        ? authSetFor(policy, user)
        : (policy.authSets.find((s) => s.id === policy.defaultSetId) ??
          authSetFor(policy, { id: "", roles: [] }));
      // The PIN comes first (every set has one): it proves the person before anything is revealed.
      const ordered: MethodType[] = ["pin", ...set.methods.filter((m) => m !== "pin")];
      const state: PendingSignIn = {
        v: 2,
        step: await newStep(user?.id ?? null),
        upn: upn.trim().slice(0, 256),
        userId: user?.id ?? null,
        methods: ordered,
        completed: [],
        enrolling: [],
        expiresAt: clock.now() + PENDING_TTL_MS,
      };
      return { state, view: firstView(state) };
    },

    async pin(ctx: RequestContext, pending: PendingSignIn | undefined, pin: string) {
      const state = await expect(pending, "pin");
      const outcome = await pins.verify(ctx, state.upn, pin, "portal");
      // The PIN proved the person: from here the page may show the account's name as stored.
      state.upn = outcome.user.userPrincipalName;
      if (outcome.result === "pinChangeRequired") {
        await rotate(state);
        state.changeToken = outcome.changeToken;
        // The change step belongs to the PIN step; the PIN was right, so the whole set is shown now.
        const view = await advance(state);
        const pinProfile = await pins.pinProfileOf(outcome.user.id);
        return {
          state,
          view: {
            ...view,
            next: "changePin" as const,
            method: "pin" as const,
            reason: outcome.reason,
            message: await mustChangeMessage(outcome.reason, pin, pinProfile),
            pinProfile,
          },
        };
      }
      await complete(state, "pin");
      return { state, view: await advance(state) };
    },

    async changePin(ctx: RequestContext, pending: PendingSignIn | undefined, newPin: string) {
      const state = await expect(pending, "pin");
      if (!state.changeToken)
        throw new AppError("signInStepNotExpected", { expected: "pin", got: "changePin" });
      await pins.changeWithToken(ctx, state.changeToken, newPin);
      delete state.changeToken;
      await complete(state, "pin");
      return { state, view: { ...(await advance(state)), message: "PIN changed." } };
    },

    async totp(ctx: RequestContext, pending: PendingSignIn | undefined, code: string) {
      const state = await expect(pending, "totp");
      await methods.verifyTotp(ctx, await requireUser(state), code);
      await complete(state, "totp");
      return { state, view: await advance(state) };
    },

    async rfid(ctx: RequestContext, pending: PendingSignIn | undefined, cardNumber: string) {
      const state = await expect(pending, "rfid");
      await methods.verifyRfid(ctx, await requireUser(state), cardNumber);
      await complete(state, "rfid");
      return { state, view: await advance(state) };
    },

    /** A fresh challenge, tied to a new step record: each challenge can be answered once. */
    async webauthnOptions(pending: PendingSignIn | undefined) {
      const state = await expect(pending, "webauthn");
      const options = await methods.webauthnAuthenticationOptions(await requireUser(state));
      await rotate(state);
      state.challenge = options.challenge;
      return { state, options };
    },

    async webauthn(ctx: RequestContext, pending: PendingSignIn | undefined, response: unknown) {
      const state = await expect(pending, "webauthn");
      if (!state.challenge)
        throw new AppError("signInStepNotExpected", { expected: "webauthn options first" });
      await methods.webauthnAuthenticate(ctx, await requireUser(state), state.challenge, response);
      await complete(state, "webauthn");
      return { state, view: await advance(state) };
    },

    /** Sends an approval request with a number to match to the user's other signed-in sessions. */
    async pushStart(ctx: RequestContext, pending: PendingSignIn | undefined) {
      const state = await expect(pending, "push");
      const user = await requireUser(state);
      if ((await methods.approvingSessions(user)).length === 0) throw new AppError("pushNotAvailable");
      const nonce = randomToken(16);
      const id = randomUUID();
      const number = randomInt(10, 100);
      const now = clock.now();
      await repos.pushRequests.insert({
        id,
        user_id: user.id,
        session_hash: digestToken(nonce),
        number,
        status: "pending",
        created_at: now,
        expires_at: now + PUSH_TTL_MS,
        decided_at: null,
      });
      await rotate(state);
      state.pushId = id;
      state.pushNonce = nonce;
      await audit.record(ctx, {
        action: "signin.push.requested",
        outcome: "success",
        target: { id: user.id, upn: user.userPrincipalName },
      });
      return { state, number, expiresAt: new Date(now + PUSH_TTL_MS).toISOString() };
    },

    async pushPoll(ctx: RequestContext, pending: PendingSignIn | undefined) {
      const state = await expect(pending, "push");
      const row = state.pushId ? await repos.pushRequests.get(state.pushId) : undefined;
      if (!row || !state.pushNonce || row.session_hash !== digestToken(state.pushNonce)) {
        throw new AppError("signInStepNotExpected", { expected: "push start first" });
      }
      if (row.status === "approved") {
        await complete(state, "push");
        return { state, status: "approved" as const, view: await advance(state) };
      }
      if (row.status === "denied") throw new AppError("pushDenied");
      if (row.expires_at <= clock.now()) return { state, status: "expired" as const };
      void ctx;
      return { state, status: "pending" as const };
    },

    /** For the approving side: pending requests with three numbers to choose from (number matching). */
    async pendingApprovals(user: User) {
      const rows = await repos.pushRequests.pendingFor(user.id, clock.now());
      return rows.map((r) => {
        const choices = new Set<number>([r.number]);
        while (choices.size < 3) choices.add(randomInt(10, 100));
        return {
          id: r.id,
          createdAt: new Date(r.created_at).toISOString(),
          expiresAt: new Date(r.expires_at).toISOString(),
          choices: shuffled([...choices], (n) => randomInt(n)),
        };
      });
    },

    /** Approves only when the number chosen matches the one on the signing-in screen. */
    async decidePush(
      ctx: RequestContext,
      user: User,
      id: string,
      decision: { approve: boolean; number?: number },
    ) {
      const row = await repos.pushRequests.get(id);
      if (!row || row.user_id !== user.id) throw new AppError("methodNotFound");
      const approve = decision.approve && decision.number === row.number;
      const decided = await repos.pushRequests.decide(id, approve ? "approved" : "denied", clock.now());
      await audit.record(ctx, {
        action: "signin.push.decided",
        outcome: approve ? "success" : "denied",
        target: { id: user.id, upn: user.userPrincipalName },
        reason: decision.approve && !approve ? "numberMismatch" : approve ? "approved" : "denied",
      });
      return { status: decided ? (approve ? "approved" : "denied") : "expired" };
    },

    /**
     * The live state and its user for a step checked outside this service (an email / SMS code): the
     * next step must be a code step.
     */
    async codeStep(pending: PendingSignIn | undefined) {
      if (!isCurrent(pending)) throw new AppError("notSignedIn", { reason: "signInExpired" });
      const view = await advance(pending);
      if (view.next !== "email" && view.next !== "sms") {
        throw new AppError("signInStepNotExpected", { expected: view.next });
      }
      const state = await expect(pending, view.next);
      return { state, user: await requireUser(state), channel: view.next };
    },

    /** A method checked outside this service (email / SMS code) is marked presented here. */
    async markPresented(state: PendingSignIn, type: MethodType) {
      await complete(state, type);
    },

    /**
     * Enrolment during sign-in (policy permitting), after every other method of the set was
     * presented. Checked again here that the user still lacks the method: one who has it must present it.
     */
    async enrolTarget(pending: PendingSignIn | undefined, type: "totp" | "rfid" | "webauthn") {
      if (!isCurrent(pending)) throw new AppError("notSignedIn", { reason: "signInExpired" });
      if (!pending.userId || !pending.enrolling.includes(type))
        throw new AppError("signInStepNotExpected", { expected: pending.enrolling[0] ?? "start" });
      await assertLive(pending);
      const user = await requireUser(pending);
      if (await methods.has(user, type)) throw new AppError("methodAlreadyEnrolled", { method: type });
      return { state: pending, user };
    },

    /** Enrolment during sign-in counts as presenting the method. */
    async markEnrolled(state: PendingSignIn, type: MethodType) {
      if (!state.enrolling.includes(type))
        throw new AppError("signInStepNotExpected", { expected: state.enrolling[0] ?? "none" });
      await complete(state, type);
    },

    /** A new WebAuthn registration challenge, tied to a new step record. */
    async enrolChallenge(state: PendingSignIn, challenge: string) {
      await rotate(state);
      state.challenge = challenge;
    },

    /** The state as it stands (for reloading the sign-in page); refused for a spent state. */
    async current(pending: PendingSignIn | undefined) {
      if (!isCurrent(pending)) throw new AppError("notSignedIn", { reason: "signInExpired" });
      await assertLive(pending);
      return advance(pending);
    },

    view: advance,

    /** All presented: the sign-in's last step record is spent, so the same state can make one session only. */
    async finish(state: PendingSignIn): Promise<User> {
      const view = await advance(state);
      if (view.next !== "done") throw new AppError("signInStepNotExpected", { expected: view.next });
      await rotate(state);
      return requireUser(state);
    },
  };
};

export type SignInService = ReturnType<typeof createSignInService>;
