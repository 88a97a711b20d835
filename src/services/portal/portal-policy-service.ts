import { defaultPortalPolicy, type PortalPolicy, parsePortalPolicy } from "../../domain/portal-policy.ts";
import type { PoliciesRepo } from "../../store/repos/policies.ts";
import type { AuditService } from "../audit-service.ts";
import { actorLabel, type Clock, type RequestContext } from "../context.ts";
import { assertCanManagePolicies } from "../permissions.ts";

const NAME = "portal";

/** Authentication sets, sessions, recovery and Emergency Access settings, versioned like the PIN policy. */
export const createPortalPolicyService = ({
  policies,
  audit,
  clock,
}: {
  policies: PoliciesRepo;
  audit: AuditService;
  clock: Clock;
}) => {
  const current = async (): Promise<PortalPolicy> => {
    const stored = await policies.latest(NAME);
    return stored ? parsePortalPolicy(stored.body) : defaultPortalPolicy;
  };
  const save = async (ctx: RequestContext, policy: PortalPolicy, action: string) => {
    const latest = await policies.latest(NAME);
    const version = await policies.append(
      NAME,
      latest?.version ?? 0,
      policy,
      clock.now(),
      actorLabel(ctx.actor),
    );
    await audit.record(ctx, { action, outcome: "success", details: { policy: NAME, version } });
    return policy;
  };
  return {
    current,
    async update(ctx: RequestContext, change: unknown): Promise<PortalPolicy> {
      assertCanManagePolicies(ctx.actor);
      return save(ctx, parsePortalPolicy(change, await current()), "policy.updated");
    },
    async reset(ctx: RequestContext): Promise<PortalPolicy> {
      assertCanManagePolicies(ctx.actor);
      return save(ctx, defaultPortalPolicy, "policy.reset");
    },
  };
};

export type PortalPolicyService = ReturnType<typeof createPortalPolicyService>;
