import { timingSafeEqual } from "node:crypto";
import { type Algorithm, hash, verify } from "@node-rs/argon2";
import type { Keyring } from "./keyring.ts";

/** OWASP's argon2id recommendation: m=19456 KiB, t=2, p=1. */
export interface HashParams {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const OWASP_ARGON2ID: HashParams = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

export interface VerifyResult {
  readonly ok: boolean;
  /** The hash was made with an older pepper key or other parameters: re-hash after a successful verify. */
  readonly needsRehash: boolean;
}

export interface Hasher {
  hash(secret: string): Promise<string>;
  verify(stored: string, secret: string): Promise<VerifyResult>;
  /** Spends the same work as a real verify, for unknown users, so timing reveals nothing. */
  verifyDummy(secret: string): Promise<void>;
}

// Stored form: "<pepper key id>$<argon2 PHC string>", e.g. "k1$$argon2id$v=19$m=19456,t=2,p=1$…".
const SEPARATOR = "$";

// Algorithm is an ambient const enum; Argon2id is its value 2.
const ARGON2ID = 2 as Algorithm;

const paramsOf = (phc: string): string | undefined =>
  /\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(phc)?.slice(1).join(",");

export const createHasher = (keyring: Keyring, params: HashParams = OWASP_ARGON2ID): Hasher => {
  const options = (secret: Buffer) => ({
    algorithm: ARGON2ID,
    memoryCost: params.memoryCost,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
    secret,
  });
  const wantedParams = `${params.memoryCost},${params.timeCost},${params.parallelism}`;
  let dummy: Promise<string> | undefined;

  const hashWith = async (secret: string): Promise<string> => {
    const key = keyring.current;
    // @node-rs/argon2 runs on libuv's thread pool: the event loop never waits for a hash.
    return `${key.id}${SEPARATOR}${await hash(secret, options(key.secret))}`;
  };

  return {
    hash: hashWith,
    async verify(stored, secret) {
      const cut = stored.indexOf(SEPARATOR);
      const key = cut > 0 ? keyring.get(stored.slice(0, cut)) : undefined;
      if (!key) return { ok: false, needsRehash: false };
      const phc = stored.slice(cut + 1);
      // argon2's verify compares digests in constant time.
      const ok = await verify(phc, secret, options(key.secret));
      return { ok, needsRehash: ok && (key.id !== keyring.current.id || paramsOf(phc) !== wantedParams) };
    },
    async verifyDummy(secret) {
      dummy ??= hashWith("pindesk-dummy-credential");
      const stored = await dummy;
      await verify(stored.slice(stored.indexOf(SEPARATOR) + 1), secret, options(keyring.current.secret));
    },
  };
};

/** Constant-time equality for two strings (e.g. SHA-256 digests of high-entropy tokens). */
export const safeEqual = (a: string, b: string): boolean => {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
};
