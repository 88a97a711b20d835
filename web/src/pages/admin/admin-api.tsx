/** The admin API (src/http/portal/admin-routes.ts), typed for the pages. */
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
  whyStuck: { summary: string[]; nextStep: string };
  canManage: boolean;
}

export interface Result {
  message: string;
}

const q = (params: Record<string, string | undefined>) => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) s.set(k, v);
  const text = s.toString();
  return text ? `?${text}` : "";
};

// biome-ignore lint/suspicious/noExplicitAny: policy documents are read field by field as JSON.
type Doc = any;

export const adminApi = {
  dashboard: () =>
    http.get<{
      usersPerState: Record<State, number>;
      lockouts: { day: string; count: number }[];
      resets: { day: string; count: number }[];
      failedDeliveries: { day: string; count: number }[];
    }>("/admin/dashboard"),
  users: (params: { q?: string; state?: string; cursor?: string }) =>
    http.get<{ users: UserRow[]; nextCursor: string | null }>(`/admin/users${q({ ...params, limit: "25" })}`),
  user: (id: string) => http.get<UserDetail>(`/admin/users/${encodeURIComponent(id)}`),
  resetPin: (id: string, pin: string, confirmPin: string, forceChange: boolean) =>
    http.post<Result>(`/admin/users/${encodeURIComponent(id)}/pin/reset`, { pin, confirmPin, forceChange }),
  temporaryPin: (id: string) =>
    http.post<Result & { temporaryPin: string; expiresAt: string }>(
      `/admin/users/${encodeURIComponent(id)}/pin/temporary`,
      {},
    ),
  unblock: (id: string) => http.post<Result>(`/admin/users/${encodeURIComponent(id)}/pin/unblock`, {}),
  qrBadge: (id: string, pin: string) =>
    http.post<Result & { code: { image?: { binaryValue: string }; expireDateTime: string } }>(
      `/admin/users/${encodeURIComponent(id)}/qr`,
      { pin },
    ),
  qrTemporary: (id: string) =>
    http.post<Result & { code: { image?: { binaryValue: string }; expireDateTime: string } }>(
      `/admin/users/${encodeURIComponent(id)}/qr/temporary`,
      {},
    ),
  removeMethod: (id: string, methodId: string) =>
    http.delete<Result>(`/admin/users/${encodeURIComponent(id)}/methods/${encodeURIComponent(methodId)}`),
  recoveryLink: (id: string) => http.post<Result>(`/admin/users/${encodeURIComponent(id)}/recovery-link`, {}),
  policies: () =>
    http.get<{ pin: { policy: Doc; version: number; description: string[] }; portal: Doc; qr: Doc }>(
      "/admin/policies",
    ),
  previewPin: (change: unknown) =>
    http.post<{ affectedPins: number; message: string; expiresNow: number }>(
      "/admin/policies/pin/preview",
      change,
    ),
  savePin: (change: unknown) => http.patch<Result & { version: number }>("/admin/policies/pin", change),
  savePortal: (change: unknown) => http.patch<Result>("/admin/policies/portal", change),
  saveQr: (change: unknown) => http.patch<Result>("/admin/policies/qr", change),
  audit: (params: Record<string, string | undefined>) =>
    http.get<{ events: AuditEvent[] }>(`/admin/audit${q(params)}`),
  auditUrl: (params: Record<string, string | undefined>) => `/portal/api/admin/audit${q(params)}`,
  explain: (code: string) =>
    // biome-ignore lint/suspicious/noExplicitAny: the explanation has several shapes, shown field by field.
    http.get<any>(`/admin/errors/${encodeURIComponent(code)}`),
};

export const when = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "—";

export const StateBadge = ({ state }: { state: State }) => (
  <span className={`badge badge-${state.replace(/\s+/g, "-").toLowerCase()}`}>{state}</span>
);
