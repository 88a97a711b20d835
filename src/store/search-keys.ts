/**
 * Search keys for finding people by name. Databases fold case only for ASCII (SQLite's lower()) or by
 * locale, so the keys are computed here, the same way for every database: compatibility-decomposed,
 * accents removed, lower-cased. "Ömer Çelik", "omer celik" and "OMER" all meet at "omer celik".
 */

/** Letters that do not decompose into a base letter plus accents. */
const FOLDS: Record<string, string> = {
  ß: "ss",
  ẞ: "ss",
  æ: "ae",
  Æ: "ae",
  œ: "oe",
  Œ: "oe",
  ø: "o",
  Ø: "o",
  ł: "l",
  Ł: "l",
  đ: "d",
  Đ: "d",
  ð: "d",
  Ð: "d",
  þ: "th",
  Þ: "th",
  ı: "i",
};
const FOLDABLE = new RegExp(`[${Object.keys(FOLDS).join("")}]`, "gu");
const MARKS = /\p{M}+/gu;

/** The normalised form of a name, mail address or query: what the search indexes hold. */
export const searchKey = (text: string): string =>
  text
    .normalize("NFKD")
    .replace(MARKS, "")
    .replace(FOLDABLE, (c) => FOLDS[c] ?? c)
    .toLowerCase()
    .replace(/\s+/gu, " ")
    .trim();

const MAX_TOKENS = 12;
const MAX_TOKEN_LENGTH = 64;

/**
 * The words a help desk may type to find someone: every word of the display name and of the user
 * name before the @ ("Lee Locked", lee.locked@… → lee, locked). Word-prefix search runs over these.
 */
export const searchTokens = (displayName: string, userPrincipalName: string): string[] => {
  const local = userPrincipalName.split("@")[0] ?? "";
  const words = `${searchKey(displayName)} ${searchKey(local)}`
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)
    .map((w) => w.slice(0, MAX_TOKEN_LENGTH));
  return [...new Set(words)].slice(0, MAX_TOKENS);
};
