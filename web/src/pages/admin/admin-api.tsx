/** The admin API (src/http/portal/admin-routes.ts), typed for the pages, and the words they show. */
import { http, type MethodView, type PinStatus } from "../../api.ts";

export type State = "Steady State" | "Must Change" | "Account Lockout" | "No PIN";

export interface UserRow {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mail: string | null;
  accountEnabled: boolean;
  roles: string[];
  state: State;
  lastSignInAt: string | null;
  failedAttempts: number;
  /** Whether your role lets you open this user's page (older servers leave it out: yes). */
  canOpen?: boolean;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  action: string;
  outcome: string;
  reason: string | null;
  targetUpn: string | null;
  ip: string | null;
}

export interface Message {
  id: string;
  channel: string;
  destinationMasked: string;
  purpose: string;
  status: string;
  state?: string;
  statusText?: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

export interface UserDetail {
  user: {
    id: string;
    userPrincipalName: string;
    displayName: string;
    mail: string | null;
    mobilePhone: string | null;
    accountEnabled: boolean;
    roles: string[];
    lastSignInAt: number | null;
  };
  pin: PinStatus & {
    state: State;
    isTemporary: boolean;
    failedAttempts: number;
    lockedAt: string | null;
    mustChangeBy: string | null;
  };
  methods: MethodView[];
  qr: {
    createdAt: string;
    codes: {
      id: string;
      kind: string;
      expireDateTime: string;
      lastUsedDateTime: string | null;
      expired: boolean;
    }[];
  } | null;
  recentEvents: AuditEvent[];
  recentMessages: Message[];
  /** The QR code + PIN policy lets this user have and use a badge. */
  badgeAllowed?: boolean;
  /** Sign-in methods (and Emergency Access) locked after too many wrong attempts; Unblock PIN clears them. */
  methodLockouts: { kind: string; label: string; failedAttempts: number; lockedUntil: string | null }[];
  whyStuck: { summary: string[]; nextStep: string };
  canManage: boolean;
  manageReason: string | null;
  recovery: {
    channels: { channel: "email" | "sms"; masked: string; unavailable: string | null }[];
    cannotSend: string | null;
  };
}

export interface Result {
  message: string;
}

export interface Preview {
  changes: string[];
  effects: string[];
  message: string;
  /** Stored PINs the new rules reject, counted by the server from PIN profiles (never from PINs). */
  pinsNotCompliant?: number;
  expiresNow?: number;
}

export interface QrCode {
  id?: string;
  image?: { binaryValue: string };
  expireDateTime: string;
}

const q = (params: Record<string, string | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) s.set(k, v);
  const text = s.toString();
  return text ? `?${text}` : "";
};

// biome-ignore lint/suspicious/noExplicitAny: policy documents are read field by field as JSON.
type Doc = any;

const user = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

export const adminApi = {
  dashboard: () =>
    http.get<{
      usersPerState: Record<State, number>;
      lockouts: { day: string; count: number }[];
      resets: { day: string; count: number }[];
      failedDeliveries: { day: string; count: number; retrying?: number }[];
    }>("/admin/dashboard"),
  users: (params: { q?: string; state?: string; cursor?: string }) =>
    http.get<{ users: UserRow[]; nextCursor: string | null }>(`/admin/users${q({ ...params, limit: "25" })}`),
  user: (id: string) => http.get<UserDetail>(user(id)),
  /** Without `forceChange` the organisation's policy (forceChangeAfterAdminReset) decides. */
  resetPin: (id: string, pin: string, confirmPin: string, forceChange?: boolean) =>
    http.post<Result>(`${user(id)}/pin/reset`, {
      pin,
      confirmPin,
      ...(forceChange !== undefined && { forceChange }),
    }),
  temporaryPin: (id: string) =>
    http.post<Result & { temporaryPin: string; expiresAt: string }>(`${user(id)}/pin/temporary`, {}),
  unblock: (id: string) => http.post<Result>(`${user(id)}/pin/unblock`, {}),
  qrBadge: (id: string, pin: string) =>
    http.post<Result & { result: string; code: QrCode }>(`${user(id)}/qr`, { pin }),
  qrTemporary: (id: string) => http.post<Result & { code: QrCode }>(`${user(id)}/qr/temporary`, {}),
  removeMethod: (id: string, methodId: string) =>
    http.delete<Result>(`${user(id)}/methods/${encodeURIComponent(methodId)}`),
  recoveryLink: (id: string) =>
    http.post<Result & { result: "sent" | "queued" | "notSent" }>(`${user(id)}/recovery-link`, {}),
  policies: () =>
    http.get<{
      pin: { policy: Doc; version: number; description: string[] };
      portal: Doc;
      qr: Doc;
      canManage: boolean;
      manageRoles: string[];
    }>("/admin/policies"),
  previewPin: (change: unknown) => http.post<Preview>("/admin/policies/pin/preview", change),
  previewPortal: (change: unknown) => http.post<Preview>("/admin/policies/portal/preview", change),
  previewQr: (change: unknown) => http.post<Preview>("/admin/policies/qr/preview", change),
  savePin: (change: unknown) => http.patch<Result & { version: number }>("/admin/policies/pin", change),
  savePortal: (change: unknown) => http.patch<Result>("/admin/policies/portal", change),
  saveQr: (change: unknown) => http.patch<Result>("/admin/policies/qr", change),
  audit: (params: Record<string, string | undefined>) =>
    http.get<{ events: AuditEvent[]; more: boolean; limit: number }>(`/admin/audit${q(params)}`),
  auditUrl: (params: Record<string, string | undefined>) => `/portal/api/admin/audit${q(params)}`,
  explain: (code: string) =>
    // biome-ignore lint/suspicious/noExplicitAny: the explanation has several shapes, shown field by field.
    http.get<any>(`/admin/errors/${encodeURIComponent(code)}`),
};

/**
 * "25 May 2026, 09:02 UTC": the one way a time is written on the admin pages, the same as in the
 * sentences the server writes ("Locked after 10 wrong PINs at …").
 */
export const when = (iso: string | number | null | undefined) =>
  iso === null || iso === undefined || iso === ""
    ? "—"
    : `${new Date(iso).toLocaleString("en-GB", {
        day: "numeric",
        month: "short",
        year: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        timeZone: "UTC",
      })} UTC`;

export const StateBadge = ({ state }: { state: State }) => (
  <span className={`badge badge-${state.replace(/\s+/g, "-").toLowerCase()}`}>{state}</span>
);

/** Who did it, as a help desk says it. */
export const actorWords = (actor: string): string => {
  if (actor.startsWith("user:")) return actor.slice(5);
  if (actor.startsWith("app:")) return `app ${actor.slice(4)}`;
  if (actor === "anonymous") return "the user (sign-in)";
  if (actor === "cli") return "command line (pindesk)";
  if (actor === "system") return "PinDesk";
  return actor;
};

/** Audit actions in plain words (the code stays visible in the export). */
export const ACTION_WORDS: Record<string, string> = {
  "pin.verify": "PIN sign-in",
  "pin.set": "PIN set",
  "pin.reset": "PIN reset by an administrator",
  "pin.resetTemporary": "Temporary PIN issued",
  "pin.unblock": "PIN unblocked",
  "pin.locked": "PIN locked (too many wrong PINs)",
  "pin.changed": "PIN changed",
  "pin.change": "PIN change",
  "pin.removed": "PIN removed",
  "policy.updated": "Policy changed",
  "policy.reset": "Policy reset to defaults",
  "user.created": "User created",
  "user.updated": "User changed",
  "user.deleted": "User deleted",
  "setup.linkCreated": "Setup link created",
  "setup.completed": "First administrator created",
  "recovery.linkSent": "Recovery link sent",
  "recovery.codeSent": "Recovery code sent",
  "recovery.codeChecked": "Recovery code entered",
  "method.removedByAdmin": "Sign-in method removed by an administrator",
  "qr.method.created": "QR badge created",
  "qr.method.deleted": "QR badge removed",
  "qr.standardCode.created": "QR badge created",
  "qr.standardCode.deleted": "QR badge replaced or removed",
  "qr.standardCode.updated": "QR badge dates changed",
  "qr.temporaryCode.created": "Temporary QR code issued",
  "qr.temporaryCode.deleted": "Temporary QR code removed",
  "qr.signIn": "QR badge sign-in",
  "portal.signedIn": "Signed in to the portal",
  "portal.signedOut": "Signed out of the portal",
  "recovery.started": "Forgot PIN started",
  "recovery.rateLimited": "Forgot PIN refused (too many tries)",
  "emergency.started": "Emergency Access started",
  "emergency.answered": "Emergency Access answers given",
  "emergency.answersRegistered": "Security answers registered",
  "method.removed": "Sign-in method removed",
  "method.renamed": "Sign-in method renamed",
  "method.totp.enrolled": "Authenticator app added",
  "method.webauthn.enrolled": "Security key or passkey added",
  "method.rfid.enrolled": "Badge (RFID card) added",
  "signin.pin": "Sign-in: PIN step",
  "signin.totp": "Sign-in: authenticator code",
  "signin.webauthn": "Sign-in: security key",
  "signin.rfid": "Sign-in: badge",
  "signin.push.requested": "Sign-in approval requested",
  "signin.push.decided": "Sign-in approval answered",
  "token.issue": "API token issued",
  "app.created": "API client created",
  "app.deleted": "API client deleted",
};

/** "pin.verify" → "PIN sign-in"; an unknown code becomes words too ("emergency.answered" → "emergency answered"). */
export const actionWords = (action: string): string =>
  ACTION_WORDS[action] ??
  action
    .replace(/\./g, " ")
    .replace(/([a-z])([A-Z])/g, (_, a: string, b: string) => `${a} ${b.toLowerCase()}`);

const OUTCOME_WORDS: Record<string, string> = { success: "done", failure: "failed", denied: "refused" };
const REASON_WORDS: Record<string, string> = {
  wrongPin: "wrong PIN",
  pinLocked: "PIN locked",
  tooManyFailures: "too many wrong PINs",
  accountDisabled: "account disabled",
  temporaryPinExpired: "temporary PIN expired",
  pinNotLocked: "was not locked",
  unknownUser: "no such user",
  noPin: "no PIN set",
  currentPin: "with the current PIN",
  changeToken: "after a required change",
  setup: "at setup",
};

export const outcomeWords = (outcome: string, reason: string | null): string => {
  const base = OUTCOME_WORDS[outcome] ?? outcome;
  if (!reason) return base;
  const why = reason.startsWith("pinChangeRequired:")
    ? "must choose a new PIN"
    : (REASON_WORDS[reason] ?? actionWords(reason).toLowerCase());
  return `${base} (${why})`;
};

/** What a message was for. */
export const PURPOSE_WORDS: Record<string, string> = {
  recoveryLink: "Recovery link",
  recoveryCode: "Recovery code",
  contactVerification: "Address check code",
  pinChanged: "PIN changed notice",
  signInCode: "Sign-in code",
};
export const purposeWords = (purpose: string) => PURPOSE_WORDS[purpose] ?? actionWords(purpose);
