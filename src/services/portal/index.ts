import type { Config } from "../../config.ts";
import type { Hasher } from "../../crypto/hasher.ts";
import type { Keyring } from "../../crypto/keyring.ts";
import type { SecretBox } from "../../crypto/tokens.ts";
import type { Db } from "../../store/db.ts";
import type { Repos } from "../../store/index.ts";
import type { AttemptGuard } from "../attempts.ts";
import type { AuditService } from "../audit-service.ts";
import type { Clock } from "../context.ts";
import type { PinService } from "../pin-service.ts";
import type { PolicyService } from "../policy-service.ts";
import { createMethodsService } from "./methods-service.ts";
import { createPortalPolicyService } from "./portal-policy-service.ts";
import { createRecoveryService, type RecoveryOutbox } from "./recovery-service.ts";
import { createSessionService } from "./session-service.ts";
import { createSignInService } from "./signin-service.ts";

/** The portal's services: policy, methods, sessions, the step-by-step sign-in, recovery. */
export const createPortalServices = (deps: {
  config: Config;
  db: Db;
  repos: Repos;
  keyring: Keyring;
  box: SecretBox;
  hasher: Hasher;
  attempts: AttemptGuard;
  pins: PinService;
  policies: PolicyService;
  audit: AuditService;
  clock: Clock;
  outbox: RecoveryOutbox;
}) => {
  const portalPolicy = createPortalPolicyService({
    policies: deps.repos.policies,
    audit: deps.audit,
    clock: deps.clock,
  });
  const methods = createMethodsService({ ...deps, portalPolicy });
  const sessions = createSessionService({
    repos: deps.repos,
    box: deps.box,
    portalPolicy,
    clock: deps.clock,
  });
  const signIn = createSignInService({ ...deps, methods, portalPolicy });
  const recovery = createRecoveryService({ ...deps, methods, portalPolicy });
  return { portalPolicy, methods, sessions, signIn, recovery };
};

export type PortalServices = ReturnType<typeof createPortalServices>;
