import type { Config } from "../config.ts";
import { type Keyring, loadOrCreateKeyFile, parsePepperEnv } from "../crypto/keyring.ts";
import { type Db, migrateToLatest, openDb } from "../store/db.ts";
import type { Clock } from "./context.ts";
import { createServices, type ServiceDeps, type Services } from "./index.ts";

export interface Runtime {
  services: Services;
  db: Db;
  keyring: Keyring;
  keyFileCreated: boolean;
  migrationsApplied: string[];
  close(): Promise<void>;
}

export const loadKeyring = async (config: Config): Promise<{ keyring: Keyring; created: boolean }> =>
  config.pepper
    ? { keyring: parsePepperEnv(config.pepper), created: false }
    : loadOrCreateKeyFile(config.dataDir);

/** Opens the database, applies migrations, loads the pepper keys and wires the services. */
export const openRuntime = async (
  config: Config,
  options: { clock?: Clock; migrate?: boolean; transports?: ServiceDeps["transports"] } = {},
): Promise<Runtime> => {
  const { keyring, created } = await loadKeyring(config);
  const db = openDb(config.databaseUrl);
  try {
    const migration = options.migrate === false ? { applied: [] } : await migrateToLatest(db);
    const services = createServices({
      config,
      db,
      keyring,
      ...(options.clock && { clock: options.clock }),
      ...(options.transports && { transports: options.transports }),
    });
    return {
      services,
      db,
      keyring,
      keyFileCreated: created,
      migrationsApplied: migration.applied,
      close: () => db.close(),
    };
  } catch (error) {
    await db.close();
    throw error;
  }
};
