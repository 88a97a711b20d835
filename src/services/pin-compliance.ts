import { createHmac, hkdfSync } from "node:crypto";
import type { Keyring } from "../crypto/keyring.ts";
import {
  allPinProfiles,
  checkProfile,
  checkQrProfile,
  encodeProfile,
  type PinPolicy,
  type PinProfile,
  pinProfile,
} from "../domain/pin-policy.ts";
import type { PinCredentialsRepo, ProfileCount } from "../store/repos/pin-credentials.ts";

/**
 * Knowing which stored PINs a new policy would reject, without ever being able to read a PIN.
 *
 * When a PIN is set, PinDesk stores a keyed tag of its profile (length, character classes, pattern
 * flags: what the rules look at) beside the hash. The key is derived from the pepper, which never
 * lives in the database, so the database shows only which PINs share a profile. With the key, the
 * few thousand possible profiles are enumerated to map each tag back, and a policy can be evaluated
 * over all PINs with one grouped query: the preview of a change, and the marking of the PINs it makes
 * non-compliant as "Must Change (policyChange)", both come from it.
 */
export interface PolicyImpact {
  /** PINs (not temporary) whose profile is known. */
  readonly checked: number;
  /** Of those, PINs the policy rejects that are not already marked for another reason. */
  readonly notCompliant: number;
  /** PINs set before profiles were recorded: checked at their next sign-in instead. */
  readonly unknown: number;
  /** PINs marked non-compliant by an earlier change that this policy accepts again. */
  readonly compliantAgain: number;
}

export interface TagPartition {
  /** Tags whose PINs break the policy: for users without and with the QR code + PIN method. */
  readonly failing: { readonly plain: string[]; readonly qr: string[] };
  readonly passing: { readonly plain: string[]; readonly qr: string[] };
}

const TAG_BYTES = 16;

export const createPinCompliance = ({ keyring }: { keyring: Keyring }) => {
  const subkeys = new Map<string, Buffer>();
  const subkeyOf = (keyId: string): Buffer | undefined => {
    let key = subkeys.get(keyId);
    if (!key) {
      const pepper = keyring.get(keyId);
      if (!pepper) return undefined;
      key = Buffer.from(hkdfSync("sha256", pepper.secret, Buffer.alloc(0), "pindesk pin profile v1", 32));
      subkeys.set(keyId, key);
    }
    return key;
  };
  const tagWith = (keyId: string, key: Buffer, profile: PinProfile) =>
    `${keyId}:${createHmac("sha256", key).update(encodeProfile(profile)).digest().subarray(0, TAG_BYTES).toString("base64url")}`;

  // Built on first use per pepper key (about eleven thousand HMACs, a few milliseconds).
  const lookups = new Map<string, Map<string, PinProfile>>();
  const profileOfTag = (tag: string): PinProfile | undefined => {
    const keyId = tag.slice(0, tag.indexOf(":"));
    let lookup = lookups.get(keyId);
    if (!lookup) {
      const key = subkeyOf(keyId);
      if (!key) return undefined;
      lookup = new Map();
      for (const profile of allPinProfiles()) lookup.set(tagWith(keyId, key, profile), profile);
      lookups.set(keyId, lookup);
    }
    return lookup.get(tag);
  };

  const fails = (profile: PinProfile, policy: PinPolicy, qr: boolean) =>
    (qr ? checkQrProfile(profile, policy) : checkProfile(profile, policy)).length > 0;

  const partition = (counts: readonly ProfileCount[], policy: PinPolicy): TagPartition => {
    const out: TagPartition = { failing: { plain: [], qr: [] }, passing: { plain: [], qr: [] } };
    const seen = new Set<string>();
    for (const row of counts) {
      if (row.tag === null) continue;
      const profile = profileOfTag(row.tag);
      if (!profile) continue;
      const key = `${row.qr}:${row.tag}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const side = fails(profile, policy, row.qr) ? out.failing : out.passing;
      (row.qr ? side.qr : side.plain).push(row.tag);
    }
    return out;
  };

  const impactOf = (counts: readonly ProfileCount[], policy: PinPolicy): PolicyImpact => {
    let checked = 0;
    let notCompliant = 0;
    let unknown = 0;
    let compliantAgain = 0;
    for (const row of counts) {
      const profile = row.tag === null ? undefined : profileOfTag(row.tag);
      if (!profile) {
        unknown += row.count;
        continue;
      }
      checked += row.count;
      const failing = fails(profile, policy, row.qr);
      if (failing && row.mark === "none") notCompliant += row.count;
      if (!failing && row.mark === "policyChange") compliantAgain += row.count;
    }
    return { checked, notCompliant, unknown, compliantAgain };
  };

  return {
    /** The tag stored with a PIN being set (under the current pepper key). */
    tagOf(pin: string): string {
      const { id } = keyring.current;
      return tagWith(id, subkeyOf(id) as Buffer, pinProfile(pin));
    },

    /** What `policy` would do to the stored PINs, without changing anything. */
    async impact(pins: PinCredentialsRepo, policy: PinPolicy): Promise<PolicyImpact> {
      return impactOf(await pins.profileCounts(), policy);
    },

    /**
     * Marks every PIN that `policy` rejects as Must Change (policyChange), and lifts that mark from PINs
     * it accepts again. Run in the transaction that saves the policy.
     */
    async apply(
      pins: PinCredentialsRepo,
      policy: PinPolicy,
      at: number,
      by: string,
    ): Promise<PolicyImpact & { marked: number; cleared: number }> {
      const counts = await pins.profileCounts();
      const impact = impactOf(counts, policy);
      const { failing, passing } = partition(counts, policy);
      const marked = await pins.markPolicyChange(failing, at, by);
      const cleared = await pins.clearPolicyChange(passing);
      return { ...impact, marked, cleared };
    },
  };
};

export type PinCompliance = ReturnType<typeof createPinCompliance>;

const pins = (n: number) => (n === 1 ? "1 PIN" : `${n} PINs`);

/** A policy change's effect on stored PINs, in the words a help desk reads. */
export const describePolicyEffect = (
  effect: PolicyImpact & { marked?: number; cleared?: number },
): string[] => {
  const lines: string[] = [];
  const marked = effect.marked ?? effect.notCompliant;
  const cleared = effect.cleared ?? effect.compliantAgain;
  lines.push(
    marked === 0
      ? "No stored PIN is made non-compliant by this policy."
      : `${pins(marked)} no longer ${marked === 1 ? "complies" : "comply"}: ${marked === 1 ? "its holder" : "their holders"} will be asked to choose a new PIN at the next sign-in.`,
  );
  if (cleared > 0)
    lines.push(
      `${pins(cleared)} marked by an earlier policy change ${cleared === 1 ? "complies" : "comply"} again.`,
    );
  if (effect.unknown > 0)
    lines.push(
      `${pins(effect.unknown)} set before PinDesk recorded PIN profiles will be checked at ${effect.unknown === 1 ? "its" : "their"} next sign-in.`,
    );
  return lines;
};
