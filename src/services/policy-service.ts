import { defaultPinPolicy, type PinPolicy, parsePinPolicy } from "../domain/pin-policy.ts";
import type { PoliciesRepo } from "../store/repos/policies.ts";
import type { AuditService } from "./audit-service.ts";
import { actorLabel, type Clock, type RequestContext } from "./context.ts";

export interface VersionedPolicy {
  policy: PinPolicy;
  /** 0 = the documented defaults, never saved. */
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

const PIN_POLICY = "pin";
const CACHE_MS = 1000;

export const createPolicyService = ({
  policies,
  audit,
  clock,
}: {
  policies: PoliciesRepo;
  audit: AuditService;
  clock: Clock;
}) => {
  // Every verification reads the policy; a second-long cache saves that query. A change made by
  // another PinDesk process is seen within CACHE_MS; a change made here, at once.
  let cached: { value: VersionedPolicy; until: number } | undefined;
  const current = async (): Promise<VersionedPolicy> => {
    const now = clock.now();
    if (cached && cached.until > now && cached.until - CACHE_MS <= now) return cached.value;
    const value = await load();
    cached = { value, until: clock.now() + CACHE_MS };
    return value;
  };
  const load = async (): Promise<VersionedPolicy> => {
    const stored = await policies.latest(PIN_POLICY);
    if (!stored) return { policy: defaultPinPolicy, version: 0, updatedAt: null, updatedBy: null };
    return {
      // Stored bodies were valid when saved; parsing over the defaults fills settings added since.
      policy: parsePinPolicy(stored.body),
      version: stored.version,
      updatedAt: new Date(stored.createdAt).toISOString(),
      updatedBy: stored.createdBy,
    };
  };

  return {
    current,
    async pinPolicy(): Promise<PinPolicy> {
      return (await current()).policy;
    },

    /** Validates a partial change over the current policy and saves it as a new version. */
    async update(ctx: RequestContext, change: unknown): Promise<VersionedPolicy> {
      const before = await load();
      const policy = parsePinPolicy(change, before.policy);
      const version = await policies.append(
        PIN_POLICY,
        before.version,
        policy,
        clock.now(),
        actorLabel(ctx.actor),
      );
      await audit.record(ctx, {
        action: "policy.updated",
        outcome: "success",
        details: { policy: PIN_POLICY, version },
      });
      cached = undefined;
      return current();
    },

    /** Restores the documented defaults (as a new version, so the history is kept). */
    async reset(ctx: RequestContext): Promise<VersionedPolicy> {
      const before = await load();
      const version = await policies.append(
        PIN_POLICY,
        before.version,
        defaultPinPolicy,
        clock.now(),
        actorLabel(ctx.actor),
      );
      await audit.record(ctx, {
        action: "policy.reset",
        outcome: "success",
        details: { policy: PIN_POLICY, version },
      });
      cached = undefined;
      return current();
    },
  };
};

export type PolicyService = ReturnType<typeof createPolicyService>;
