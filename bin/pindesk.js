#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, forwarding arguments, stdio and the exit code.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const threadpool = fileURLToPath(new URL("./threadpool.cjs", import.meta.url));
const result = spawnSync(
  process.execPath,
  ["--require", threadpool, "--import", "tsx", main, ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
process.exit(result.status ?? 1);
