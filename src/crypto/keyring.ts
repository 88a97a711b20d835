import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * Pepper keys live outside the database (PINDESK_PEPPER or a key file in the data directory), so a
 * stolen database alone cannot be brute-forced. Each key has an id recorded in every hash made with it,
 * so keys can rotate: the newest key hashes, every key still verifies.
 */
export interface PepperKey {
  readonly id: string;
  readonly secret: Buffer;
  readonly createdAt: string;
}

export interface Keyring {
  readonly current: PepperKey;
  get(id: string): PepperKey | undefined;
  readonly keys: readonly PepperKey[];
}

export class KeyringError extends Error {
  override name = "KeyringError";
}

const MIN_KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export const createKeyring = (keys: readonly PepperKey[]): Keyring => {
  const current = keys.at(-1);
  if (!current) throw new KeyringError("No pepper key is configured.");
  const byId = new Map(keys.map((k) => [k.id, k]));
  if (byId.size !== keys.length) throw new KeyringError("Two pepper keys share an id.");
  return Object.freeze({ current, keys: Object.freeze([...keys]), get: (id: string) => byId.get(id) });
};

const decodeKey = (id: string, encoded: string, origin: string): PepperKey => {
  if (!KEY_ID.test(id))
    throw new KeyringError(`${origin}: key id "${id}" may use only letters, digits, _ and -.`);
  const secret = Buffer.from(encoded, "base64");
  if (secret.length < MIN_KEY_BYTES) {
    throw new KeyringError(
      `${origin}: key "${id}" is ${secret.length} bytes; a pepper key needs at least ${MIN_KEY_BYTES} bytes (256 bits) of base64. Generate one with: openssl rand -base64 32`,
    );
  }
  return { id, secret, createdAt: "" };
};

/** PINDESK_PEPPER: "base64" (one key, id "env") or "id1:base64,id2:base64" (oldest first; last is current). */
export const parsePepperEnv = (value: string): Keyring =>
  createKeyring(
    value.split(",").map((part, index) => {
      const trimmed = part.trim();
      const colon = trimmed.indexOf(":");
      return colon === -1
        ? decodeKey(index === 0 ? "env" : `env${index}`, trimmed, "PINDESK_PEPPER")
        : decodeKey(trimmed.slice(0, colon), trimmed.slice(colon + 1), "PINDESK_PEPPER");
    }),
  );

interface KeyFile {
  keys: { id: string; secret: string; createdAt: string }[];
}

export const keyFilePath = (dataDir: string): string => path.join(dataDir, "pepper-keys.json");

const writeKeyFile = async (file: string, content: KeyFile): Promise<void> => {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
};

const readKeyFile = async (file: string): Promise<KeyFile | undefined> => {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as KeyFile;
  if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) {
    throw new KeyringError(`${file} has no keys. Restore it from backup; without it no PIN can be verified.`);
  }
  return parsed;
};

const newKey = (id: string) => ({
  id,
  secret: randomBytes(MIN_KEY_BYTES).toString("base64"),
  createdAt: new Date().toISOString(),
});

/** Loads the key file, creating it with one fresh key on first start. */
export const loadOrCreateKeyFile = async (
  dataDir: string,
): Promise<{ keyring: Keyring; created: boolean }> => {
  const file = keyFilePath(dataDir);
  let content = await readKeyFile(file);
  const created = content === undefined;
  if (!content) {
    content = { keys: [newKey("k1")] };
    await writeKeyFile(file, content);
  }
  const keys = content.keys.map((k) => ({ ...decodeKey(k.id, k.secret, file), createdAt: k.createdAt }));
  return { keyring: createKeyring(keys), created };
};

/** Appends a new current key to the key file. Old keys stay so existing hashes keep verifying. */
export const rotateKeyFile = async (dataDir: string): Promise<PepperKey> => {
  const file = keyFilePath(dataDir);
  const content = (await readKeyFile(file)) ?? { keys: [] };
  const taken = new Set(content.keys.map((k) => k.id));
  let n = content.keys.length + 1;
  while (taken.has(`k${n}`)) n++;
  const key = newKey(`k${n}`);
  content.keys.push(key);
  await writeKeyFile(file, content);
  return { id: key.id, secret: Buffer.from(key.secret, "base64"), createdAt: key.createdAt };
};
