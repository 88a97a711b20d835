import { randomUUID } from "node:crypto";
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import type { SecretBox } from "../crypto/tokens.ts";
import { AppError } from "../errors/app-error.ts";
import type { ApiClientsRepo } from "../store/repos/api-clients.ts";
import type { SigningKeysRepo } from "../store/repos/signing-keys.ts";
import type { Clock } from "./context.ts";

const ALG = "ES256";

export interface AppTokenClaims {
  clientId: string;
  appName: string;
  roles: string[];
}

/** A signed-in user's delegated token: who they are, their directory roles and the scopes granted. */
export interface UserTokenClaims {
  userId: string;
  upn: string;
  /** Directory role names (Entra's display names, as in domain/roles.ts). */
  roles: string[];
  /** Delegated permissions (scp). Defaults to Directory.AccessAsUser.All: the user's own rights. */
  scopes?: string[];
}

export type VerifiedToken =
  | ({ kind: "app" } & AppTokenClaims)
  | ({ kind: "user" } & Required<UserTokenClaims>);

export const DEFAULT_USER_SCOPES: readonly string[] = ["Directory.AccessAsUser.All"];

/** Entra's role template ids, for the standard `wids` claim other verifiers read. */
export const ROLE_TEMPLATE_IDS: Readonly<Record<string, string>> = {
  "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
  "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
  "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
  "Authentication Administrator": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
  "Authentication Policy Administrator": "0526716b-113d-4c15-b2c8-68e3c22b9f80",
  "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
  "Password Administrator": "966707d0-3269-4727-9be2-8c3a10f19b9d",
  "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
  "Groups Administrator": "fdd7a751-b60b-444a-984c-02652fe8fa1c",
  "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
  "Security Reader": "5d6b6bb7-de71-4623-b4af-96380a352509",
  "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
  "Directory Readers": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
  "Guest Inviter": "95e79109-95c0-4d8e-aee3-d01accf2d47b",
  "Message Center Reader": "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
  "Reports Reader": "4a5d8f65-41da-4de4-8968-e035b65339cf",
  "Usage Summary Reports Reader": "75934031-6c7e-415a-99d7-48dbd49e875e",
};

const ROLE_BY_TEMPLATE_ID: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ROLE_TEMPLATE_IDS).map(([name, id]) => [id, name]),
);

const strings = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : undefined;

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * Access tokens: short-lived JWTs signed with a key PinDesk generates and keeps in the database
 * (private half sealed with the pepper-derived key), published as a JWKS so other services can verify.
 */
/** The resources a token may be issued for (`scope=<resource>/.default`) and is accepted for. */
export const TOKEN_AUDIENCES = ["https://graph.microsoft.com", "api://pindesk"] as const;

/** How long a process trusts that an application still exists before asking the database again. */
export const CLIENT_CHECK_MS = 5_000;

export const createTokenService = ({
  signingKeys,
  apiClients,
  box,
  clock,
  issuer,
  ttlSeconds,
}: {
  signingKeys: SigningKeysRepo;
  apiClients: Pick<ApiClientsRepo, "get">;
  box: SecretBox;
  clock: Clock;
  issuer: string;
  ttlSeconds: number;
}) => {
  let loaded: Promise<SigningKey[]> | undefined;

  const load = async (): Promise<SigningKey[]> => {
    let rows = await signingKeys.all();
    if (rows.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
      const kid = randomUUID();
      await signingKeys.insert({
        kid,
        algorithm: ALG,
        public_jwk: JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg: ALG, use: "sig" }),
        private_jwk_sealed: box.seal(JSON.stringify(await exportJWK(privateKey))),
        created_at: clock.now(),
        retired_at: null,
      });
      // Another process may have created its key at the same moment; everyone uses what is stored.
      rows = await signingKeys.all();
    }
    return Promise.all(
      rows.map(async (row) => ({
        kid: row.kid,
        privateKey: (await importJWK(JSON.parse(box.open(row.private_jwk_sealed)) as JWK, ALG)) as CryptoKey,
        publicJwk: JSON.parse(row.public_jwk) as JWK,
      })),
    );
  };

  // Not async: callers get the same promise until a reload, which lets the verifier be reused.
  const keys = (reload = false): Promise<SigningKey[]> => {
    if (reload || !loaded) {
      const loading = load();
      loaded = loading;
      loading.catch(() => {
        if (loaded === loading) loaded = undefined;
      });
      return loading;
    }
    return loaded;
  };

  const jwks = async (reload = false): Promise<JSONWebKeySet> => ({
    keys: (await keys(reload)).map((k) => k.publicJwk),
  });

  const sign = async (claims: JWTPayload, subject: string, audience: string): Promise<string> => {
    const current = (await keys()).at(-1);
    if (!current) throw new Error("no signing key");
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALG, kid: current.kid, typ: "JWT" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttlSeconds)
      .setJti(randomUUID())
      .sign(current.privateKey);
  };

  // The verifier keeps its imported keys; rebuilt only when the key list is reloaded.
  let verifierFor: Promise<SigningKey[]> | undefined;
  let verifier: Promise<ReturnType<typeof createLocalJWKSet>> | undefined;
  const verificationKeys = (reload: boolean) => {
    const current = keys(reload);
    if (current !== verifierFor || !verifier) {
      verifierFor = current;
      verifier = current.then((ks) => createLocalJWKSet({ keys: ks.map((k) => k.publicJwk) }));
    }
    return verifier;
  };

  /**
   * Tokens already verified, until they expire. An ES256 check costs ~200 µs and a client presents the
   * same token for its whole lifetime; only tokens that passed verification enter, so the cache cannot
   * be filled with junk, and each hit re-checks the lifetime against the clock.
   */
  const verified = new Map<string, JWTPayload>();
  const VERIFIED_MAX = 10_000;

  const verifyJwt = async (token: string): Promise<JWTPayload> => {
    const now = clock.now() / 1000;
    const hit = verified.get(token);
    if (hit) {
      if (typeof hit.exp === "number" && now < hit.exp && (hit.nbf === undefined || hit.nbf <= now))
        return hit;
      verified.delete(token);
    }
    const payload = await verifySignature(token);
    if (verified.size >= VERIFIED_MAX) {
      const oldest = verified.keys().next().value;
      if (oldest !== undefined) verified.delete(oldest);
    }
    verified.set(token, payload);
    return payload;
  };

  const verifySignature = async (token: string): Promise<JWTPayload> => {
    const attempt = async (reload: boolean) =>
      jwtVerify(token, await verificationKeys(reload), {
        issuer,
        audience: [...TOKEN_AUDIENCES],
        algorithms: [ALG],
        currentDate: new Date(clock.now()),
      });
    try {
      try {
        return (await attempt(false)).payload;
      } catch (error) {
        // A key created by another process after this one loaded its keys.
        if ((error as { code?: string }).code !== "ERR_JWKS_NO_MATCHING_KEY") throw error;
        return (await attempt(true)).payload;
      }
    } catch (error) {
      const code = (error as { code?: string }).code;
      // Only a token jose rejected is the caller's fault; a database that cannot load the keys is not.
      if (typeof code !== "string" || !code.startsWith("ERR_J")) throw error;
      throw new AppError("invalidToken", {
        problem:
          code === "ERR_JWT_EXPIRED"
            ? "the token has expired"
            : "the token is malformed, forged or not for this server",
      });
    }
  };

  // A deleted application's tokens stop working within CLIENT_CHECK_MS in every process, not at the
  // end of their lifetime.
  const clientChecks = new Map<string, number>();
  const clientExists = async (clientId: string): Promise<boolean> => {
    const now = clock.now();
    const checkedAt = clientChecks.get(clientId);
    if (checkedAt !== undefined && now - checkedAt < CLIENT_CHECK_MS) return true;
    const exists = (await apiClients.get(clientId)) !== undefined;
    if (exists) {
      if (clientChecks.size >= 10_000) clientChecks.clear();
      clientChecks.set(clientId, now);
    } else clientChecks.delete(clientId);
    return exists;
  };

  const verifyToken = async (token: string): Promise<VerifiedToken> => {
    const payload = await verifyJwt(token);
    if (payload.idtyp === "app") {
      const roles = strings(payload.roles);
      if (typeof payload.appid !== "string" || !roles) {
        throw new AppError("invalidToken", { problem: "the application token is missing its claims" });
      }
      if (!(await clientExists(payload.appid))) {
        throw new AppError("invalidToken", {
          problem: "the application this token was issued to has been deleted",
        });
      }
      return {
        kind: "app",
        clientId: payload.appid,
        appName: typeof payload.app_displayname === "string" ? payload.app_displayname : "",
        roles,
      };
    }
    if (payload.idtyp === "user") {
      if (typeof payload.oid !== "string" || typeof payload.upn !== "string") {
        throw new AppError("invalidToken", { problem: "the user token is missing its claims" });
      }
      const roles =
        strings(payload.roles) ??
        (strings(payload.wids) ?? []).flatMap((id) =>
          ROLE_BY_TEMPLATE_ID[id] ? [ROLE_BY_TEMPLATE_ID[id]] : [],
        );
      const scopes = typeof payload.scp === "string" ? payload.scp.split(" ").filter(Boolean) : [];
      return { kind: "user", userId: payload.oid, upn: payload.upn, roles, scopes };
    }
    throw new AppError("invalidToken", { problem: "the token is neither an application nor a user token" });
  };

  return {
    jwks: () => jwks(),

    ttlSeconds,

    async issueAppToken(claims: AppTokenClaims, audience: string): Promise<string> {
      return sign(
        {
          roles: claims.roles,
          appid: claims.clientId,
          app_displayname: claims.appName,
          idtyp: "app",
        },
        claims.clientId,
        audience,
      );
    },

    /**
     * A delegated token for a signed-in user (the portal mints these). The roles travel as names in
     * `roles` (what PinDesk reads) and as Entra template ids in `wids` (what other verifiers expect).
     */
    async issueUserToken(claims: UserTokenClaims, audience: string): Promise<string> {
      return sign(
        {
          idtyp: "user",
          oid: claims.userId,
          upn: claims.upn,
          preferred_username: claims.upn,
          roles: claims.roles,
          wids: claims.roles.flatMap((r) => (ROLE_TEMPLATE_IDS[r] ? [ROLE_TEMPLATE_IDS[r]] : [])),
          scp: (claims.scopes ?? DEFAULT_USER_SCOPES).join(" "),
        },
        claims.userId,
        audience,
      );
    },

    /** Verifies signature, issuer and lifetime, and returns either kind of token; throws invalidToken otherwise. */
    verifyToken,

    /** Verifies an application token only (the /api/v1 surface); a user token is refused. */
    async verifyAppToken(token: string): Promise<AppTokenClaims> {
      const verified = await verifyToken(token);
      if (verified.kind !== "app") {
        throw new AppError("invalidToken", { problem: "not an application token" });
      }
      const { kind: _kind, ...claims } = verified;
      return claims;
    },
  };
};

export type TokenService = ReturnType<typeof createTokenService>;
