import type { Config } from "../config.ts";
import { createHasher, type HashParams, OWASP_ARGON2ID } from "../crypto/hasher.ts";
import type { Keyring } from "../crypto/keyring.ts";
import { createSecretBox } from "../crypto/tokens.ts";
import { createOutbox } from "../delivery/outbox.ts";
import {
  smtpTransport,
  type Transport,
  unconfiguredTransport,
  webhookTransport,
} from "../delivery/transports.ts";
import type { Db } from "../store/db.ts";
import { createRepos } from "../store/index.ts";
import { createAdminService } from "./admin-service.ts";
import { createAppClientService } from "./app-client-service.ts";
import { createAttemptGuard } from "./attempts.ts";
import { createAuditService } from "./audit-service.ts";
import { type Clock, systemClock } from "./context.ts";
import { createMaintenance } from "./maintenance.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createPinCompliance } from "./pin-compliance.ts";
import { createPinService } from "./pin-service.ts";
import { createPolicyService } from "./policy-service.ts";
import { createPortalServices } from "./portal/index.ts";
import { createQrService } from "./qr-service.ts";
import { createTokenService } from "./token-service.ts";
import { createUserService } from "./user-service.ts";

export interface ServiceDeps {
  config: Config;
  db: Db;
  keyring: Keyring;
  clock?: Clock;
  metrics?: Metrics;
  hashParams?: HashParams;
  /** Replaces the configured email / SMS transports (the dev mail sink, tests). */
  transports?: Partial<{ email: Transport; sms: Transport }>;
}

export const transportsFor = (config: Config): { email: Transport; sms: Transport } => ({
  email: config.delivery.smtp
    ? smtpTransport(config.delivery.smtp, config.delivery.from)
    : unconfiguredTransport("email"),
  sms: config.delivery.sms ? webhookTransport(config.delivery.sms) : unconfiguredTransport("sms"),
});

/** Wires every service once, with explicit dependencies. */
export const createServices = ({
  config,
  db,
  keyring,
  clock = systemClock,
  metrics = createMetrics(),
  hashParams = OWASP_ARGON2ID,
  transports,
}: ServiceDeps) => {
  const repos = createRepos(db);
  const hasher = createHasher(keyring, hashParams);
  const box = createSecretBox(keyring);
  const audit = createAuditService({ audit: repos.audit, clock });
  const compliance = createPinCompliance({ keyring });
  const policies = createPolicyService({ db, policies: repos.policies, compliance, audit, clock });
  const attempts = createAttemptGuard({ counters: repos.counters, clock });
  const pins = createPinService({ db, repos, hasher, audit, policies, attempts, clock, metrics, compliance });
  const qr = createQrService({ db, repos, pins, policies, audit, clock });
  const outbox = createOutbox({
    repo: repos.outbox,
    box,
    clock,
    transports: { ...transportsFor(config), ...transports },
    retryDelaysMs: config.delivery.retryDelaysMs,
  });
  const portal = createPortalServices({
    config,
    db,
    repos,
    keyring,
    box,
    hasher,
    attempts,
    pins,
    policies,
    audit,
    clock,
    outbox,
  });
  return {
    config,
    db,
    repos,
    clock,
    metrics,
    hasher,
    box,
    audit,
    policies,
    attempts,
    users: createUserService({ users: repos.users, audit, clock }),
    pins,
    qr,
    outbox,
    portal,
    admin: createAdminService({
      db,
      repos,
      pins,
      qr,
      policies,
      methods: portal.methods,
      outbox,
      audit,
      clock,
      recovery: portal.recovery,
    }),
    maintenance: createMaintenance({ repos, clock }),
    apps: createAppClientService({ db, apiClients: repos.apiClients, audit, clock }),
    tokens: createTokenService({
      signingKeys: repos.signingKeys,
      apiClients: repos.apiClients,
      box,
      clock,
      issuer: `${config.publicUrl}/${config.tenantId}/v2.0`,
      ttlSeconds: config.tokenTtlSeconds,
    }),
  };
};

export type Services = ReturnType<typeof createServices>;
