import { AppError } from "../../errors/app-error.ts";

/** OData system query options, as Graph reads them; anything we cannot honour is a 400, never ignored. */
export type ODataQuery = Partial<Record<"$select" | "$top" | "$filter" | "$skiptoken" | "$count", string>>;

/** C0 controls and DEL: nothing legitimate needs them, and PostgreSQL refuses NUL in text. */
export const hasControlCharacter = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
};

const invalid = (field: string, message: string) =>
  new AppError("invalidRequest", { problems: [{ field, message }] });

/**
 * Reads the `$…` options a route supports. Other `$` options are refused (Graph refuses what it does not
 * support); ordinary query parameters are ignored, as Graph does.
 */
export const parseQuery = (query: unknown, allowed: readonly (keyof ODataQuery)[]): ODataQuery => {
  const out: ODataQuery = {};
  if (query === null || typeof query !== "object") return out;
  for (const [key, value] of Object.entries(query as Record<string, unknown>)) {
    // OData allows the options without their "$" prefix too.
    const name = (key.startsWith("$") ? key : `$${key}`).toLowerCase() as keyof ODataQuery;
    const known = allowed.find((a) => a.toLowerCase() === name);
    if (!known) {
      if (key.startsWith("$")) throw invalid(key, "is not a query option supported on this resource");
      continue;
    }
    if (typeof value !== "string") throw invalid(key, "must be given once");
    if (value.length > 2048) throw invalid(key, "is too long");
    if (hasControlCharacter(value)) throw invalid(key, "contains a control character");
    out[known] = value;
  }
  return out;
};

/** `$select=a,b` → ["a","b"], checked against the type's properties (Graph: 400 on an unknown property). */
export const parseSelect = (
  value: string | undefined,
  properties: readonly string[],
  typeName: string,
): string[] | undefined => {
  if (value === undefined) return undefined;
  const names = value.split(",").map((s) => s.trim());
  if (names.length === 0 || names.some((n) => n === "")) {
    throw invalid("$select", "must be a comma-separated list of property names");
  }
  return names.map((name) => {
    const match = properties.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!match) {
      throw new AppError(
        "invalidRequest",
        { problems: [{ field: "$select", message: `names '${name.slice(0, 64)}', not a property` }] },
        `Could not find a property named '${name.slice(0, 64)}' on type '${typeName}'.`,
      );
    }
    return match;
  });
};

/** Keeps the annotations (`@odata.*`) and the selected properties. */
export const applySelect = <T extends Record<string, unknown>>(
  entity: T,
  select: string[] | undefined,
): Record<string, unknown> => {
  if (!select) return entity;
  return Object.fromEntries(
    Object.entries(entity).filter(([k]) => k.startsWith("@odata.") || select.includes(k)),
  );
};

export const parseTop = (value: string | undefined, max: number, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw invalid("$top", `must be a whole number from 1 to ${max}`);
  }
  return Number(value);
};

export type UserFilter =
  | { kind: "startswith"; property: "userPrincipalName" | "displayName"; value: string }
  | { kind: "eq"; property: "userPrincipalName" | "id"; value: string };

const STRING = "'((?:[^']|'')*)'";
const STARTSWITH = new RegExp(`^\\s*startswith\\(\\s*([A-Za-z]+)\\s*,\\s*${STRING}\\s*\\)\\s*$`, "i");
const EQ = new RegExp(`^\\s*([A-Za-z]+)\\s+eq\\s+${STRING}\\s*$`, "i");

const FILTER_HELP =
  "supports startswith(userPrincipalName,'…'), startswith(displayName,'…'), userPrincipalName eq '…' and id eq '…'";

/** The subset of `$filter` on users that PinDesk answers; anything else is a 400 that says what works. */
export const parseUserFilter = (value: string | undefined): UserFilter | undefined => {
  if (value === undefined) return undefined;
  const starts = STARTSWITH.exec(value);
  if (starts) {
    const property = (["userPrincipalName", "displayName"] as const).find(
      (p) => p.toLowerCase() === starts[1]?.toLowerCase(),
    );
    if (property) return { kind: "startswith", property, value: (starts[2] ?? "").replaceAll("''", "'") };
  }
  const eq = EQ.exec(value);
  if (eq) {
    const property = (["userPrincipalName", "id"] as const).find(
      (p) => p.toLowerCase() === eq[1]?.toLowerCase(),
    );
    if (property) return { kind: "eq", property, value: (eq[2] ?? "").replaceAll("''", "'") };
  }
  throw invalid("$filter", FILTER_HELP);
};

/** Opaque paging cursor: the last user principal name of the page, base64url-encoded. */
export const encodeSkipToken = (after: string): string =>
  Buffer.from(`u:${after}`, "utf8").toString("base64url");

export const decodeSkipToken = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined;
  const decoded = /^[A-Za-z0-9_-]{1,700}$/.test(value)
    ? Buffer.from(value, "base64url").toString("utf8")
    : "";
  if (!decoded.startsWith("u:") || decoded.length < 3 || hasControlCharacter(decoded)) {
    throw invalid("$skiptoken", "is not a token from an @odata.nextLink of this server");
  }
  return decoded.slice(2);
};
