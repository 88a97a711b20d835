import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from "node:crypto";
import type { Keyring } from "./keyring.ts";

/** A random URL-safe token with `bytes` of entropy (256 bits by default). */
export const randomToken = (bytes = 32): string => randomBytes(bytes).toString("base64url");

/**
 * Digest for high-entropy secrets (client secrets, change tokens, QR secrets). Those cannot be guessed,
 * so a fast digest protects them at rest as well as argon2 would, without costing a hash per request.
 */
export const digestToken = (token: string): string => createHash("sha256").update(token).digest("base64url");

/**
 * AES-256-GCM for secrets PinDesk must read back (signing keys, TOTP seeds). The key is derived from
 * the pepper key with HKDF, so the database alone never holds what decrypts it.
 */
export interface SecretBox {
  seal(plaintext: string): string;
  open(sealed: string): string;
}

const deriveKey = (secret: Buffer): Buffer =>
  Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "pindesk secret box v1", 32));

export const createSecretBox = (keyring: Keyring): SecretBox => ({
  seal(plaintext) {
    const key = keyring.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", deriveKey(key.secret), iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [
      "v1",
      key.id,
      iv.toString("base64url"),
      cipher.getAuthTag().toString("base64url"),
      body.toString("base64url"),
    ].join(".");
  },
  open(sealed) {
    const [version, keyId, iv, tag, body] = sealed.split(".");
    const key = keyId === undefined ? undefined : keyring.get(keyId);
    if (version !== "v1" || !key || iv === undefined || tag === undefined || body === undefined) {
      throw new Error("Sealed secret has an unknown format or its pepper key is missing.");
    }
    const decipher = createDecipheriv("aes-256-gcm", deriveKey(key.secret), Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString(
      "utf8",
    );
  },
});
