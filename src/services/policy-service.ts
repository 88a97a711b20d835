import { setTimeout as sleep } from "node:timers/promises";
import { defaultPinPolicy, type PinPolicy, parsePinPolicy } from "../domain/pin-policy.ts";
import { AppError } from "../errors/app-error.ts";
import type { Db } from "../store/db.ts";
import { isUniqueViolation } from "../store/db-errors.ts";
import { createRepos } from "../store/index.ts";
import { PIN_SUBJECT_PREFIX } from "../store/repos/lockout-counters.ts";
import type { PoliciesRepo } from "../store/repos/policies.ts";
import { counterRules } from "./attempts.ts";
import type { AuditService } from "./audit-service.ts";
import { actorLabel, type Clock, type RequestContext } from "./context.ts";
import { assertCanManagePolicies } from "./permissions.ts";
import type { PinCompliance, PolicyImpact } from "./pin-compliance.ts";

export interface VersionedPolicy {
  policy: PinPolicy;
  /** 0 = the documented defaults, never saved. */
  version: number;
  updatedAt: string | null;
  updatedBy: string | null;
}

const PIN_POLICY = "pin";
const CACHE_MS = 1000;
/** Saves racing for the same version number retry over the winner's version this many times. */
const MAX_SAVE_ATTEMPTS = 20;

export interface SavedPolicy extends VersionedPolicy {
  /** What the change did to stored PINs: how many it marked Must Change, and how many it released. */
  readonly effect: PolicyImpact & { readonly marked: number; readonly cleared: number };
}

export const createPolicyService = ({
  db,
  policies,
  compliance,
  audit,
  clock,
}: {
  db: Db;
  policies: PoliciesRepo;
  compliance: PinCompliance;
  audit: AuditService;
  clock: Clock;
}) => {
  // Every verification reads the policy; a second-long cache saves that query. A change made by
  // another PinDesk process is seen within CACHE_MS; a change made here, at once.
  let cached: { value: VersionedPolicy; until: number } | undefined;
  // Bumped by every save here: a load that started before a save must not cache what it read.
  let generation = 0;
  const invalidate = () => {
    generation++;
    cached = undefined;
  };
  const current = async (): Promise<VersionedPolicy> => {
    const now = clock.now();
    if (cached && cached.until > now && cached.until - CACHE_MS <= now) return cached.value;
    const startedAt = generation;
    const value = await load();
    if (generation === startedAt) cached = { value, until: clock.now() + CACHE_MS };
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

  const save = async (
    ctx: RequestContext,
    policy: PinPolicy,
    previous: VersionedPolicy,
    action: string,
  ): Promise<SavedPolicy> => {
    const now = clock.now();
    const by = actorLabel(ctx.actor);
    // The new version, its effect on stored PINs and its audit event: all or none.
    const { version, effect } = await db.transaction(async (trx) => {
      const repos = createRepos({ ...db, kysely: trx });
      const version = await repos.policies.append(PIN_POLICY, previous.version, policy, now, by);
      const effect = await compliance.apply(repos.pins, policy, now, by);
      // A lowered threshold locks those already past it now, so every view agrees on who is locked.
      const locked =
        policy.lockout.threshold < previous.policy.lockout.threshold
          ? await repos.counters.lockAtThreshold(now, counterRules(policy.lockout))
          : [];
      const pinsLocked = locked.filter((subject) => subject.startsWith(PIN_SUBJECT_PREFIX));
      for (const subject of pinsLocked)
        await audit.record(
          ctx,
          {
            action: "pin.locked",
            outcome: "success",
            target: { id: subject.slice(PIN_SUBJECT_PREFIX.length), upn: null },
            reason: "thresholdLowered",
            details: { threshold: policy.lockout.threshold },
          },
          repos.audit,
        );
      await audit.record(
        ctx,
        {
          action,
          outcome: "success",
          details: {
            policy: PIN_POLICY,
            version,
            pinsMarkedMustChange: effect.marked,
            pinsReleased: effect.cleared,
            pinsCheckedAtNextSignIn: effect.unknown,
            ...(locked.length > 0 && { pinsLocked: pinsLocked.length, countersLocked: locked.length }),
          },
        },
        repos.audit,
      );
      return { version, effect };
    });
    invalidate();
    // What this call saved (another save may already have followed it).
    return { policy, version, updatedAt: new Date(now).toISOString(), updatedBy: by, effect };
  };

  return {
    current,
    async pinPolicy(): Promise<PinPolicy> {
      return (await current()).policy;
    },

    /**
     * What saving `change` would do, without saving it: the policy it gives, and how many stored PINs
     * it would make non-compliant (they would be asked to change at their next sign-in).
     */
    async preview(change: unknown): Promise<{ policy: PinPolicy; impact: PolicyImpact }> {
      const before = await load();
      const policy = parsePinPolicy(change, before.policy);
      return { policy, impact: await compliance.impact(createRepos(db).pins, policy) };
    },

    /**
     * Validates a partial change over the current policy and saves it as a new version. In the same
     * transaction, PINs the new rules reject are marked Must Change (policyChange), so the holders are
     * sent to the change step at their next sign-in with the reason in plain words.
     */
    async update(ctx: RequestContext, change: unknown): Promise<SavedPolicy> {
      assertCanManagePolicies(ctx.actor);
      // A partial change applies to whatever version is current: when another administrator saved a
      // version in between (the version number is taken), it is re-applied over theirs, not lost.
      for (let attempt = 1; ; attempt++) {
        const before = await load();
        let policy: PinPolicy;
        try {
          policy = parsePinPolicy(change, before.policy);
        } catch (error) {
          // A refused change is audited with its problems (policy settings are not secrets).
          if (error instanceof AppError) {
            await audit.record(ctx, {
              action: "policy.updated",
              outcome: "failure",
              reason: error.code,
              details: { policy: PIN_POLICY, ...error.details },
            });
          }
          throw error;
        }
        try {
          return await save(ctx, policy, before, "policy.updated");
        } catch (error) {
          if (attempt >= MAX_SAVE_ATTEMPTS || !isUniqueViolation(error, "policies.name,version")) throw error;
          await sleep(Math.random() * 10 * attempt);
        }
      }
    },

    /** Restores the documented defaults (as a new version, so the history is kept). */
    async reset(ctx: RequestContext): Promise<SavedPolicy> {
      assertCanManagePolicies(ctx.actor);
      for (let attempt = 1; ; attempt++) {
        const before = await load();
        try {
          return await save(ctx, defaultPinPolicy, before, "policy.reset");
        } catch (error) {
          if (attempt >= MAX_SAVE_ATTEMPTS || !isUniqueViolation(error, "policies.name,version")) throw error;
          await sleep(Math.random() * 10 * attempt);
        }
      }
    },
  };
};

export type PolicyService = ReturnType<typeof createPolicyService>;
