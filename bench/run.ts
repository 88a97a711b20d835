/**
 * `npm run bench`. libuv sizes its thread pool once, on first use; `npm run bench` starts Node with
 * bin/threadpool.cjs preloaded, exactly as `npm start` does, so the benchmarks run with the pool the app
 * gets (PINDESK_HASH_THREADS, default the core count, unless UV_THREADPOOL_SIZE is set). The config is
 * still loaded first so that a bad setting stops the run with its message.
 */
import { loadConfig } from "../src/config.ts";

loadConfig();
const threads = Number(process.env.UV_THREADPOOL_SIZE);
const { main } = await import("./suite.ts");
process.exitCode = await main({ threads, argv: process.argv.slice(2), env: process.env });
