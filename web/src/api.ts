/**
 * Typed client for the portal API (src/http/portal/routes.ts). Every failure becomes an ApiError that
 * carries the catalogue's message and mitigation, so every page can say what happened and what to do.
 */
import type { PinPolicy } from "../../src/domain/pin-policy.ts";
import type { MethodType } from "../../src/domain/portal-policy.ts";
import { noteServerTime } from "./lib/time.ts";

export type { MethodType, PinPolicy };

const API = "/portal/api";

// ------------------------------------------------------------------------------------------- types

export type StepKind = MethodType | "changePin" | "enrol" | "blocked" | "done";

export interface StepView {
  userPrincipalName: string;
  steps: { type: MethodType; label: string; done: boolean }[];
  next: StepKind;
  method?: MethodType;
  message?: string;
  reason?: string;
  /** For changePin: "qr" when the user has a badge, whose PIN must fit the QR code + PIN rules. */
  pinProfile?: PinProfile;
  /** Before the PIN is accepted only the PIN step is listed; the rest of the set follows after it. */
  laterStepsHidden?: boolean;
  /**
   * Client-side only: when the server asks for a new PIN because the policy changed, the rules the PIN
   * just typed breaks (worked out in the browser from the policy; the PIN itself is not kept).
   */
  currentPinProblems?: string[];
  /** Present when the last step completed and a session was created. */
  signedIn?: true;
  csrfToken?: string;
}

/** The rules a user's new PIN is checked against: the PIN policy's, or (with a badge) the QR code + PIN rules. */
export type PinProfile = "standard" | "qr";

export interface SessionInfo {
  user: {
    id: string;
    userPrincipalName: string;
    displayName: string;
    roles: string[];
    pinProfile?: PinProfile;
  };
  csrfToken: string;
  expiresAt: string;
  idleExpiresAt: string;
}

export interface PinPolicyInfo {
  policy: PinPolicy;
  description: string[];
  /** Not sent by every server version; when absent the portal offers Emergency Access anyway. */
  emergencyAccess?: boolean;
  helpdeskContact?: string;
  /** Channels this PinDesk cannot send codes on (nothing set up for them). */
  channelsNotSetUp?: ("email" | "sms")[];
}

export interface MethodView {
  id: string;
  type: MethodType;
  label: string;
  name: string;
  detail: string | null;
  verified: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  managed: boolean;
}

export type PinState = "Steady State" | "Must Change" | "Account Lockout" | "No PIN";

export interface PinStatus {
  state: PinState;
  reason: string | null;
  description: string;
  changedAt: string | null;
  expiresAt: string | null;
  attemptsRemaining: number;
  lockedUntil: string | null;
}

export interface MyMethods {
  methods: MethodView[];
  authenticationSet: { id: string; name: string; methods: { type: MethodType; label: string }[] };
  pin: PinStatus;
}

export interface TotpEnrolment {
  methodId: string;
  secret: string;
  otpauthUri: string;
  qrSvg: string;
}

export interface ContactAdded {
  methodId: string;
  messageId: string;
  sentAt: string;
  to: string;
  message: string;
}

export interface PushRequest {
  id: string;
  createdAt: string;
  expiresAt: string;
  choices: number[];
}

export interface SecurityQuestion {
  id: string;
  text: string;
}

export interface SecurityQuestions {
  enabled: boolean;
  questions: SecurityQuestion[];
  registerCount: number;
  registered: string[];
}

export interface RecoveryChannel {
  id: string;
  channel: "email" | "sms";
  masked: string;
}

export interface RecoveryStart {
  recoveryToken: string;
  channels: RecoveryChannel[];
  /** Channels the policy allows that this PinDesk cannot send on (the same for every name). */
  channelsNotSetUp: ("email" | "sms")[];
  helpdeskContact: string;
  emergencyAccess: boolean;
}

export interface RecoverySent {
  sentAt: string;
  to: string;
  channel: "email" | "sms";
  messageId: string;
  expiresAt: string;
  resendAvailableAt: string;
}

/** "retrying": an attempt failed and another is scheduled; "expired": the code ran out before delivery. */
export type DeliveryState = "none" | "queued" | "sending" | "retrying" | "accepted" | "failed" | "expired";

export interface DeliveryStatus {
  status: DeliveryState | string;
  detail: string | null;
  /** Attempts made so far. */
  attempt: number;
  nextAttemptAt: string | null;
}

export interface EmergencyStart {
  emergencyToken: string;
  questions: SecurityQuestion[];
}

export interface EmergencyAnswered {
  resetToken: string;
  /** The PINs the user can change (the portal PIN; a QR badge shares it). */
  methods: { id: string; label: string; detail: string }[];
  pinProfile?: PinProfile;
}

export interface Done {
  result: string;
  message: string;
}

// ------------------------------------------------------------------------------------------- errors

export interface PinViolationView {
  code: string;
  message: string;
  mitigation: string;
}

/** An error body from the API ({error:{code,message,mitigation,...details}}), or a network failure. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly mitigation: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  get attemptsRemaining(): number | undefined {
    const v = this.details.attemptsRemaining;
    return typeof v === "number" ? v : undefined;
  }

  get violations(): PinViolationView[] {
    const v = this.details.violations;
    return Array.isArray(v) ? (v as PinViolationView[]) : [];
  }

  get problems(): { field: string; message: string }[] {
    const v = this.details.problems;
    return Array.isArray(v) ? (v as { field: string; message: string }[]) : [];
  }

  get requestId(): string | undefined {
    const v = this.details.requestId;
    return typeof v === "string" ? v : undefined;
  }
}

export const isApiError = (e: unknown): e is ApiError => e instanceof ApiError;

/** Anything thrown (including a browser's WebAuthn refusal) as an ApiError a page can show. */
export const toApiError = (e: unknown): ApiError => {
  if (e instanceof ApiError) return e;
  const name = (e as { name?: string })?.name;
  if (name === "NotAllowedError" || name === "AbortError") {
    return new ApiError(
      0,
      "webauthnCancelled",
      "The security key request was cancelled or timed out.",
      "Try again and touch your key or confirm on your device when it asks. If you have no key with you, ask your help desk.",
    );
  }
  if (name === "InvalidStateError") {
    return new ApiError(
      0,
      "webauthnAlreadyRegistered",
      "This security key is already registered for you.",
      "Use a different key, or keep using the one you have.",
    );
  }
  if (name === "SecurityError" || name === "NotSupportedError") {
    return new ApiError(
      0,
      "webauthnUnavailable",
      "This browser cannot use security keys on this address.",
      "Open PinDesk at its usual address (https, or http://localhost), or use a different browser.",
    );
  }
  return new ApiError(
    0,
    "network",
    "PinDesk could not be reached.",
    "Check your network connection and try again.",
    { problem: e instanceof Error ? e.message : String(e) },
  );
};

// ------------------------------------------------------------------------------------------- transport

let csrfToken: string | undefined;
let onSessionEnded: ((reason: string | undefined) => void) | undefined;
let onActivity: (() => void) | undefined;

export const setCsrfToken = (token: string | undefined) => {
  csrfToken = token;
};

/** Called when a signed-in request is answered with notSignedIn (idle, expired, revoked). */
export const setSessionEndedHandler = (handler: ((reason: string | undefined) => void) | undefined) => {
  onSessionEnded = handler;
};

/** Called after every request the session answered: each one restarts the server's idle timer. */
export const setActivityHandler = (handler: (() => void) | undefined) => {
  onActivity = handler;
};

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

const needsSession = (path: string) =>
  path.startsWith("/me/") || path.startsWith("/admin/") || path === "/signout";

async function request<T>(method: Method, path: string, body?: unknown, retried = false): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  // Fastify refuses an empty JSON body, so bodiless POSTs send {}; DELETE sends nothing.
  const payload = method === "GET" || method === "DELETE" ? undefined : JSON.stringify(body ?? {});
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`${API}${path}`, {
      method,
      headers,
      body: payload,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (e) {
    throw toApiError(e);
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (response.ok) {
    if (needsSession(path) || path === "/session") onActivity?.();
    return json as T;
  }

  const raw = (json as { error?: Record<string, unknown> } | undefined)?.error;
  const { code, message, mitigation, ...details } = raw ?? {};
  const error = new ApiError(
    response.status,
    typeof code === "string" ? code : "httpError",
    typeof message === "string" ? message : `PinDesk answered with HTTP ${response.status}.`,
    typeof mitigation === "string"
      ? mitigation
      : "Try again in a moment; if it keeps happening, tell your help desk.",
    details,
  );
  // The CSRF token follows the session; after a reload or a second tab it may be stale: refresh once.
  if (error.code === "csrfCheckFailed" && !retried) {
    try {
      const session = await request<SessionInfo>("GET", "/session");
      csrfToken = session.csrfToken;
      return request<T>(method, path, body, true);
    } catch {
      throw error;
    }
  }
  if (error.code === "notSignedIn" && (needsSession(path) || path === "/session")) {
    csrfToken = undefined;
    onSessionEnded?.(typeof details.reason === "string" ? details.reason : undefined);
  }
  throw error;
}

const get = <T>(path: string) => request<T>("GET", path);
const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body);

/** Plain verbs for the admin pages (same error handling, CSRF and session rules). */
export const http = {
  get,
  post,
  patch: <T>(path: string, body?: unknown) => request<T>("PATCH", path, body),
  delete: <T>(path: string) => request<T>("DELETE", path),
};

// ------------------------------------------------------------------------------------------- endpoints

export const api = {
  pinPolicy: () => get<PinPolicyInfo>("/pin-policy"),

  signIn: {
    start: (userPrincipalName: string) => post<StepView>("/signin/start", { userPrincipalName }),
    state: () => get<StepView>("/signin/state"),
    pin: (pin: string) => post<StepView>("/signin/pin", { pin }),
    changePin: (newPin: string, confirmPin: string) =>
      post<StepView>("/signin/change-pin", { newPin, confirmPin }),
    totp: (code: string) => post<StepView>("/signin/totp", { code }),
    sendCode: () => post<{ to: string; sentAt: string; resendAvailableAt: string }>("/signin/code/send", {}),
    code: (code: string) => post<StepView>("/signin/code", { code }),
    rfid: (cardNumber: string) => post<StepView>("/signin/rfid", { cardNumber }),
    // biome-ignore lint/suspicious/noExplicitAny: WebAuthn options are passed straight to the browser library.
    webauthnOptions: () => post<any>("/signin/webauthn/options"),
    webauthn: (response: unknown) => post<StepView>("/signin/webauthn", { response }),
    pushStart: () => post<{ number: number; expiresAt: string }>("/signin/push/start"),
    pushPoll: () =>
      post<({ status: "approved" } & StepView) | { status: "pending" | "expired" }>("/signin/push/poll"),
    enrolTotpStart: () => post<TotpEnrolment>("/signin/enrol/totp/start"),
    enrolTotpConfirm: (methodId: string, code: string) =>
      post<StepView>("/signin/enrol/totp/confirm", { methodId, code }),
    enrolRfid: (cardNumber: string, name?: string) =>
      post<StepView>("/signin/enrol/rfid", { cardNumber, ...(name ? { name } : {}) }),
    // biome-ignore lint/suspicious/noExplicitAny: passed straight to the browser library.
    enrolWebauthnOptions: () => post<any>("/signin/enrol/webauthn/options"),
    enrolWebauthn: (response: unknown, name?: string) =>
      post<StepView>("/signin/enrol/webauthn", { response, ...(name ? { name } : {}) }),
  },

  session: () => get<SessionInfo>("/session"),
  signOut: () => post<Done>("/signout"),

  me: {
    methods: () => get<MyMethods>("/me/methods"),
    totpStart: () => post<TotpEnrolment>("/me/methods/totp"),
    totpConfirm: (methodId: string, code: string) =>
      post<{ method: MethodView; message: string }>("/me/methods/totp/confirm", { methodId, code }),
    addRfid: (cardNumber: string, name?: string) =>
      post<{ method: MethodView; message: string }>("/me/methods/rfid", {
        cardNumber,
        ...(name ? { name } : {}),
      }),
    // biome-ignore lint/suspicious/noExplicitAny: passed straight to the browser library.
    webauthnOptions: () => post<any>("/me/methods/webauthn/options"),
    addWebauthn: (response: unknown, name?: string) =>
      post<{ method: MethodView; message: string }>("/me/methods/webauthn", {
        response,
        ...(name ? { name } : {}),
      }),
    addEmail: (address: string) => post<ContactAdded>("/me/methods/email", { address }),
    addPhone: (phone: string) => post<ContactAdded>("/me/methods/sms", { phone }),
    verifyContact: (id: string, code: string) =>
      post<{ method: MethodView; message: string }>(`/me/methods/${encodeURIComponent(id)}/verify`, { code }),
    rename: (id: string, name: string) =>
      request<{ method: MethodView; message: string }>("PATCH", `/me/methods/${encodeURIComponent(id)}`, {
        name,
      }),
    remove: (id: string) => request<Done>("DELETE", `/me/methods/${encodeURIComponent(id)}`),
    changePin: (newPin: string, confirmPin: string) =>
      post<Done & { state: PinState }>("/me/pin", { newPin, confirmPin }),
    pushRequests: () => get<{ requests: PushRequest[] }>("/me/push-requests"),
    decidePush: (id: string, decision: { approve: boolean; number?: number }) =>
      post<{ status: "approved" | "denied" | "expired" }>(
        `/me/push-requests/${encodeURIComponent(id)}`,
        decision,
      ),
    securityQuestions: () => get<SecurityQuestions>("/me/security-questions"),
    saveSecurityAnswers: (answers: Record<string, string>) =>
      request<{ registered: string[]; message: string }>("PUT", "/me/security-questions", { answers }),
  },

  recovery: {
    start: (userPrincipalName: string) => post<RecoveryStart>("/recovery/start", { userPrincipalName }),
    send: async (recoveryToken: string, channelId: string) => {
      const sent = await post<RecoverySent>("/recovery/send", { recoveryToken, channelId });
      noteServerTime(sent.sentAt);
      return sent;
    },
    status: (recoveryToken: string) => post<DeliveryStatus>("/recovery/status", { recoveryToken }),
    verify: (recoveryToken: string, code: string) =>
      post<{ resetToken: string; pinProfile?: PinProfile }>("/recovery/verify", { recoveryToken, code }),
    /** Whether a set-new-PIN link still works, and the rules its new PIN is checked against. */
    rules: (resetToken: string) =>
      post<{ pinProfile: PinProfile; expiresAt: string }>("/recovery/rules", { resetToken }),
    setPin: (resetToken: string, newPin: string, confirmPin: string) =>
      post<Done>("/recovery/pin", { resetToken, newPin, confirmPin }),
  },

  emergency: {
    start: (userPrincipalName: string) => post<EmergencyStart>("/emergency/start", { userPrincipalName }),
    answer: (emergencyToken: string, answers: Record<string, string>) =>
      post<EmergencyAnswered>("/emergency/answer", { emergencyToken, answers }),
    setPin: (resetToken: string, newPin: string, confirmPin: string, methodId?: string) =>
      post<Done>("/emergency/pin", { resetToken, newPin, confirmPin, ...(methodId ? { methodId } : {}) }),
  },
};
