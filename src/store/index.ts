import type { Db } from "./db.ts";
import { createApiClientsRepo } from "./repos/api-clients.ts";
import { createAuditEventsRepo } from "./repos/audit-events.ts";
import { createAuthMethodsRepo } from "./repos/auth-methods.ts";
import { createLockoutCountersRepo } from "./repos/lockout-counters.ts";
import { createOutboxRepo } from "./repos/outbox.ts";
import { createPinChangeTokensRepo } from "./repos/pin-change-tokens.ts";
import { createPinCredentialsRepo } from "./repos/pin-credentials.ts";
import { createPinHistoryRepo } from "./repos/pin-history.ts";
import { createPoliciesRepo } from "./repos/policies.ts";
import { createPushRequestsRepo } from "./repos/push-requests.ts";
import { createQrRepo } from "./repos/qr-codes.ts";
import { createSessionsRepo } from "./repos/sessions.ts";
import { createSignInsRepo } from "./repos/sign-ins.ts";
import { createSigningKeysRepo } from "./repos/signing-keys.ts";
import { createUsersRepo } from "./repos/users.ts";

export const createRepos = (db: Db) => ({
  users: createUsersRepo(db),
  pins: createPinCredentialsRepo(db),
  counters: createLockoutCountersRepo(db),
  history: createPinHistoryRepo(db),
  audit: createAuditEventsRepo(db),
  apiClients: createApiClientsRepo(db),
  policies: createPoliciesRepo(db),
  signingKeys: createSigningKeysRepo(db),
  changeTokens: createPinChangeTokensRepo(db),
  qr: createQrRepo(db),
  authMethods: createAuthMethodsRepo(db),
  sessions: createSessionsRepo(db),
  pushRequests: createPushRequestsRepo(db),
  outbox: createOutboxRepo(db),
  signIns: createSignInsRepo(db),
});

export type Repos = ReturnType<typeof createRepos>;
