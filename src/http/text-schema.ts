/** JSON-schema pieces for text that is stored or looked up (names, ids), shared by every API surface. */

/** No control characters: PostgreSQL refuses NUL in text, and no name, id or PIN needs any of them. */
export const PRINTABLE = "^[^\\u0000-\\u001f\\u007f]*$";

export const text = (maxLength: number, minLength = 0) =>
  ({ type: "string", minLength, maxLength, pattern: PRINTABLE }) as const;

export const nullableText = (maxLength: number) =>
  ({ type: ["string", "null"], maxLength, pattern: PRINTABLE }) as const;

/**
 * A PIN: never stored, and any character goes through to the PIN policy, whose reason
 * (pinHasInvalidCharacter, …) says exactly what to fix. The bound keeps absurd inputs out before hashing.
 */
export const pinText = (maxLength: number) => ({ type: "string", minLength: 1, maxLength }) as const;
