import type { Migration, MigrationProvider } from "kysely";
import * as m0001 from "./0001_core.ts";
import * as m0002 from "./0002_qr.ts";
import * as m0003 from "./0003_portal.ts";
import * as m0004 from "./0004_admin.ts";
import * as m0005 from "./0005_admin_search.ts";
import * as m0006 from "./0006_pin_profile.ts";
import * as m0008 from "./0008_recovery_limits.ts";
import * as m0009 from "./0009_lockout_pending.ts";
import * as m0010 from "./0010_outbox_stand_ins.ts";
import * as m0011 from "./0011_channel_answers.ts";

/** Every migration, in order. Names sort; files are never edited once landed. */
const migrations: Record<string, Migration> = {
  "0001_core": m0001,
  "0002_qr": m0002,
  "0003_portal": m0003,
  "0004_admin": m0004,
  "0005_admin_search": m0005,
  "0006_pin_profile": m0006,
  "0008_recovery_limits": m0008,
  "0009_lockout_pending": m0009,
  "0010_outbox_stand_ins": m0010,
  "0011_channel_answers": m0011,
};

export const migrationProvider: MigrationProvider = { getMigrations: async () => migrations };
