import { randomInt, randomUUID } from "node:crypto";
import { digestToken, randomToken } from "../../crypto/tokens.ts";
import { checkPin } from "../../domain/pin-policy.ts";
import { authSetFor, METHOD_LABELS, type MethodType } from "../../domain/portal-policy.ts";
import { AppError } from "../../errors/app-error.ts";
import type { Repos } from "../../store/index.ts";
import type { User } from "../../store/repos/users.ts";
import type { AuditService } from "../audit-service.ts";
import type { Clock, RequestContext } from "../context.ts";
import type { PinService } from "../pin-service.ts";
import type { PolicyService } from "../policy-service.ts";
import type { MethodsService } from "./methods-service.ts";
import type { PortalPolicyService } from "./portal-policy-service.ts";

/** What an unfinished sign-in remembers; sealed in a cookie, never stored. */
export interface PendingSignIn {
  v: 1;
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
  next: StepKind;
  /** The method that `next` concerns for changePin / enrol / blocked. */
  method?: MethodType;
  message?: string;
  reason?: string;
}

const PENDING_TTL_MS = 10 * 60_000;
const PUSH_TTL_MS = 2 * 60_000;

export const createSignInService = ({
  repos,
  pins,
  policies,
  methods,
  portalPolicy,
  audit,
  clock,
}: {
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

  /** Works out the next step: the first method of the set not yet presented that the user has. */
  const advance = async (state: PendingSignIn): Promise<StepView> => {
    const policy = await portalPolicy.current();
    const steps = state.methods.map((type) => ({
      type,
      label: METHOD_LABELS[type],
      done: state.completed.includes(type),
    }));
    const base = { userPrincipalName: state.upn, steps };
    const user = await userOf(state);
    const remaining = state.methods.filter((m) => !state.completed.includes(m));
    if (remaining.length === 0) return { ...base, next: "done" };
    if (!user) return { ...base, next: remaining[0] as MethodType };
    const missing: MethodType[] = [];
    for (const m of remaining) {
      // The PIN step is always asked, even of a user without a PIN, so that it answers like any wrong
      // PIN and reveals nothing about the account before the person has proven anything.
      if (m === "pin" || (await methods.has(user, m))) return { ...base, next: m };
      missing.push(m);
    }
    // Everything the user has was presented; what is left, they have never set up.
    const method = missing[0] as MethodType;
    if (policy.enrolDuringSignIn && method !== "pin" && method !== "push") {
      state.enrolling = missing;
      return {
        ...base,
        next: "enrol",
        method,
        message: `Your sign-in also needs: ${METHOD_LABELS[method].toLowerCase()}. You have not set it up yet — do it now.`,
      };
    }
    return {
      ...base,
      next: "blocked",
      method,
      message:
        method === "push"
          ? "Your sign-in needs approval from another device where you are signed in, and you are not signed in anywhere else. Sign in there first, or ask " +
            `${policy.helpdeskContact} to change your sign-in methods.`
          : `Your sign-in needs ${METHOD_LABELS[method].toLowerCase()}, which is not set up for you. Ask ${policy.helpdeskContact} to set it up with you.`,
    };
  };

  /** Why the user must choose a new PIN, in their words (the typed PIN is checked, never kept). */
  const mustChangeMessage = async (reason: string, pin: string): Promise<string> => {
    const current = await policies.current();
    switch (reason) {
      case "temporaryPin":
        return "You signed in with a temporary PIN. Choose your own PIN now.";
      case "adminReset":
        return "Your help desk reset your PIN. Choose a new PIN now; only you will know it.";
      case "pinExpired":
        return `Your PIN has expired: PINs here last ${current.policy.expirationDays} days. Choose a new PIN now.`;
      default: {
        const rules = checkPin(pin, current.policy).map((v) => v.message);
        const when = current.updatedAt
          ? ` on ${new Date(current.updatedAt).toLocaleDateString("en-GB", { day: "numeric", month: "long", timeZone: "UTC" })}`
          : "";
        return `Your organisation's PIN rules changed${when}. Your PIN no longer fits them${rules.length ? `: ${rules.join(" ")}` : "."} Choose a new PIN now.`;
      }
    }
  };

  const expect = (state: PendingSignIn | undefined, type: MethodType): PendingSignIn => {
    if (!state || state.expiresAt <= clock.now())
      throw new AppError("notSignedIn", { reason: "signInExpired" });
    const next = state.methods.find((m) => !state.completed.includes(m));
    if (next !== type && !state.enrolling.includes(type)) {
      throw new AppError("signInStepNotExpected", { expected: next ?? "done", got: type });
    }
    return state;
  };

  const complete = (state: PendingSignIn, type: MethodType) => {
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
    /** Starts a sign-in. Unknown users get the same answer as known ones (the default set's steps). */
    async start(upn: string): Promise<{ state: PendingSignIn; view: StepView }> {
      const user = await repos.users.findByUpn(upn);
      const policy = await portalPolicy.current();
      const set = user
        ? authSetFor(policy, user)
        : (policy.authSets.find((s) => s.id === policy.defaultSetId) ??
          authSetFor(policy, { id: "", roles: [] }));
      // The PIN comes first when the set has one: it is what proves the person before anything is revealed.
      const ordered = [...set.methods].sort((a, b) => (a === "pin" ? -1 : b === "pin" ? 1 : 0));
      const state: PendingSignIn = {
        v: 1,
        upn: user?.userPrincipalName ?? upn.trim().slice(0, 256),
        userId: user?.id ?? null,
        methods: ordered,
        completed: [],
        enrolling: [],
        expiresAt: clock.now() + PENDING_TTL_MS,
      };
      const steps = state.methods.map((type) => ({ type, label: METHOD_LABELS[type], done: false }));
      return { state, view: { userPrincipalName: state.upn, steps, next: ordered[0] as MethodType } };
    },

    async pin(ctx: RequestContext, pending: PendingSignIn | undefined, pin: string) {
      const state = expect(pending, "pin");
      const outcome = await pins.verify(ctx, state.upn, pin, "portal");
      if (outcome.result === "pinChangeRequired") {
        state.changeToken = outcome.changeToken;
        const view = await advance(state);
        return {
          state,
          view: {
            ...view,
            next: "changePin" as const,
            method: "pin" as const,
            reason: outcome.reason,
            message: await mustChangeMessage(outcome.reason, pin),
          },
        };
      }
      complete(state, "pin");
      return { state, view: await advance(state) };
    },

    async changePin(ctx: RequestContext, pending: PendingSignIn | undefined, newPin: string) {
      const state = expect(pending, "pin");
      if (!state.changeToken)
        throw new AppError("signInStepNotExpected", { expected: "pin", got: "changePin" });
      await pins.changeWithToken(ctx, state.changeToken, newPin);
      delete state.changeToken;
      complete(state, "pin");
      return { state, view: { ...(await advance(state)), message: "PIN changed." } };
    },

    async totp(ctx: RequestContext, pending: PendingSignIn | undefined, code: string) {
      const state = expect(pending, "totp");
      await methods.verifyTotp(ctx, await requireUser(state), code);
      complete(state, "totp");
      return { state, view: await advance(state) };
    },

    async rfid(ctx: RequestContext, pending: PendingSignIn | undefined, cardNumber: string) {
      const state = expect(pending, "rfid");
      await methods.verifyRfid(ctx, await requireUser(state), cardNumber);
      complete(state, "rfid");
      return { state, view: await advance(state) };
    },

    async webauthnOptions(pending: PendingSignIn | undefined) {
      const state = expect(pending, "webauthn");
      const options = await methods.webauthnAuthenticationOptions(await requireUser(state));
      state.challenge = options.challenge;
      return { state, options };
    },

    async webauthn(ctx: RequestContext, pending: PendingSignIn | undefined, response: unknown) {
      const state = expect(pending, "webauthn");
      if (!state.challenge)
        throw new AppError("signInStepNotExpected", { expected: "webauthn options first" });
      await methods.webauthnAuthenticate(ctx, await requireUser(state), state.challenge, response);
      complete(state, "webauthn");
      return { state, view: await advance(state) };
    },

    /** Sends an approval request with a number to match to the user's other signed-in sessions. */
    async pushStart(ctx: RequestContext, pending: PendingSignIn | undefined) {
      const state = expect(pending, "push");
      const user = await requireUser(state);
      if ((await repos.sessions.activeFor(user.id, clock.now())).length === 0)
        throw new AppError("pushNotAvailable");
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
      const state = expect(pending, "push");
      const row = state.pushId ? await repos.pushRequests.get(state.pushId) : undefined;
      if (!row || !state.pushNonce || row.session_hash !== digestToken(state.pushNonce)) {
        throw new AppError("signInStepNotExpected", { expected: "push start first" });
      }
      if (row.status === "approved") {
        complete(state, "push");
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
          choices: [...choices].sort(() => randomInt(3) - 1),
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

    /** A method checked outside this service (email / SMS code) is marked presented here. */
    markPresented(state: PendingSignIn, type: MethodType) {
      expect(state, type);
      complete(state, type);
    },

    /** Enrolment during sign-in (policy permitting) counts as presenting the method. */
    markEnrolled(state: PendingSignIn, type: MethodType) {
      if (!state.enrolling.includes(type))
        throw new AppError("signInStepNotExpected", { expected: state.enrolling[0] ?? "none" });
      complete(state, type);
    },

    view: advance,

    async finish(state: PendingSignIn): Promise<User> {
      const view = await advance(state);
      if (view.next !== "done") throw new AppError("signInStepNotExpected", { expected: view.next });
      return requireUser(state);
    },
  };
};

export type SignInService = ReturnType<typeof createSignInService>;
