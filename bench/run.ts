/**
 * `npm run bench`. libuv sizes its thread pool once, on first use; the app sizes it from config
 * (PINDESK_HASH_THREADS, unless UV_THREADPOOL_SIZE is set). So config is loaded here, before anything that
 * could touch the pool is even imported, and the benchmarks run with exactly the pool the app gets.
 */
import { loadConfig } from "../src/config.ts";

loadConfig();
const threads = Number(process.env.UV_THREADPOOL_SIZE);
const { main } = await import("./suite.ts");
process.exitCode = await main({ threads, argv: process.argv.slice(2), env: process.env });
