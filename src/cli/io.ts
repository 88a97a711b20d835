/** Terminal input and output helpers for the CLI: hidden PIN prompts, stdin, tables, plain-word states. */
import { createInterface } from "node:readline";
import type { PinStatus } from "../services/pin-service.ts";

export class UsageError extends Error {
  override name = "UsageError";
}

/** Reads a secret without echoing it (TTY), or one line from piped stdin. Never from argv. */
export const readSecret = async (prompt: string, options: { confirm?: string } = {}): Promise<string> => {
  if (!process.stdin.isTTY) {
    const line = await readLine();
    if (!line)
      throw new UsageError(
        "No PIN on standard input. Pipe it in (echo 123456 | …) or run in a terminal to be asked.",
      );
    return line;
  }
  const first = await hiddenPrompt(prompt);
  if (options.confirm) {
    const second = await hiddenPrompt(options.confirm);
    if (first !== second)
      throw new UsageError("The two PINs are different. Nothing was changed; run the command again.");
  }
  return first;
};

let stdinLines: string[] | undefined;
const readLine = async (): Promise<string> => {
  if (!stdinLines) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    stdinLines = Buffer.concat(chunks).toString("utf8").split(/\r?\n/);
  }
  return (stdinLines.shift() ?? "").trim();
};

const hiddenPrompt = (prompt: string): Promise<string> =>
  new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(prompt);
    output._writeToOutput = () => undefined;
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer.trim());
    });
  });

/** A fixed-width table for people; scripts use --json. */
export const table = (rows: Record<string, unknown>[], columns: string[]): string => {
  const cell = (v: unknown) =>
    v === null || v === undefined ? "" : Array.isArray(v) ? v.join(" ") : String(v);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    line(columns),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join("\n");
};

/** The PIN state in plain words, as a help desk reads it. */
export const describeStatus = (s: PinStatus): string => {
  const lines = [`${s.userPrincipalName}: ${s.state}`, `  ${s.description}`];
  if (s.state !== "No PIN")
    lines.push(
      `  Wrong PINs since last success: ${s.failedAttempts} (${s.attemptsRemaining} left before lockout)`,
    );
  if (s.changedAt) lines.push(`  PIN last set: ${s.changedAt}`);
  if (s.expiresAt) lines.push(`  Expires: ${s.expiresAt}`);
  return lines.join("\n");
};
