import type { FastifyReply, FastifyRequest } from "fastify";
import type { RequestContext } from "../../services/context.ts";
import type { Services } from "../../services/index.ts";
import { contextOf } from "../auth.ts";

export type GraphVersion = "v1.0" | "beta";

export interface GraphContext {
  services: Services;
  version: GraphVersion;
}

/** `https://host/v1.0/$metadata#…`, Graph's @odata.context. */
export const contextUrl = (g: GraphContext, fragment: string): string =>
  `${g.services.config.publicUrl}/${g.version}/$metadata#${fragment}`;

import { text } from "../text-schema.ts";

export { nullableText, text } from "../text-schema.ts";

export const userParams = {
  type: "object",
  required: ["user"],
  properties: {
    user: { ...text(320, 1), description: "User id (GUID) or userPrincipalName, percent-encoded" },
  },
} as const;

/**
 * Graph's paths are case-insensitive; clients send both `updatePin` and `updatepin`. Each route is
 * registered as documented and in lower case.
 */
export const spellings = (path: string): string[] => [...new Set([path, path.toLowerCase()])];

/** Every `/users/{id | userPrincipalName}…` path also answers as `/me…` for a signed-in user. */
export const userPaths = (suffix: string): { path: string; me: boolean; hidden: boolean }[] => [
  ...spellings(`/users/:user${suffix}`).map((path, i) => ({ path, me: false, hidden: i > 0 })),
  ...spellings(`/me${suffix}`).map((path, i) => ({ path, me: true, hidden: i > 0 })),
];

/** OpenAPI: Graph routes under their own tag; the lower-case duplicates stay out of the reference. */
export const docs = (hidden = false) => ({ tags: ["graph"], ...(hidden && { hide: true }) });

export const ctxOf = (request: FastifyRequest): RequestContext => contextOf(request);

/** For responses that carry a PIN, a QR image or its secret: shown once, never cached. */
export const noStore = (reply: FastifyReply) => reply.header("cache-control", "no-store");

/** Path segment for @odata.context: the id or UPN as addressed. */
export const keySegment = (ref: string) => `users('${encodeURIComponent(ref)}')`;
