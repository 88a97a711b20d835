#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, forwarding arguments, stdio, signals and the exit code.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const threadpool = fileURLToPath(new URL("./threadpool.cjs", import.meta.url));
const child = spawn(
  process.execPath,
  ["--require", threadpool, "--import", "tsx", main, ...process.argv.slice(2)],
  {
    stdio: "inherit",
  },
);
// A service manager stops `pindesk serve` by signalling this process: pass it on, so the server shuts
// down gracefully instead of being left running without its parent.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
