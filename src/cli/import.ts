import { SingleBar } from "cli-progress";
import { parse } from "csv-parse/sync";
import { AppError } from "../errors/app-error.ts";
import { cliContext } from "../services/context.ts";
import type { Services } from "../services/index.ts";

export interface ImportResult {
  imported: number;
  rejected: { line: number; reason: string }[];
}

const COLUMNS = ["userPrincipalName", "displayName", "mail", "mobilePhone", "roles"];

/**
 * Imports users from CSV text with a header row. Bad rows are reported by line number with the reason
 * and skipped; good rows are imported. A progress bar shows on a terminal.
 */
export const importUsersCsv = async (
  services: Services,
  text: string,
  options: { progress?: boolean } = {},
): Promise<ImportResult> => {
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<
      string,
      string
    >[];
  } catch (error) {
    return { imported: 0, rejected: [{ line: 1, reason: `not valid CSV: ${(error as Error).message}` }] };
  }
  const header =
    text
      .replace(/^\uFEFF/, "")
      .split(/\r?\n/, 1)[0]
      ?.split(",")
      .map((h) => h.trim()) ?? [];
  const unknown = header.filter((h) => !COLUMNS.includes(h));
  if (!header.includes("userPrincipalName") || !header.includes("displayName") || unknown.length > 0) {
    return {
      imported: 0,
      rejected: [
        {
          line: 1,
          reason: `the header must name columns from ${COLUMNS.join(", ")} (userPrincipalName and displayName required)${unknown.length ? `; unknown: ${unknown.join(", ")}` : ""}`,
        },
      ],
    };
  }
  const bar = options.progress
    ? new SingleBar({ format: "Importing [{bar}] {value}/{total} users" })
    : undefined;
  bar?.start(records.length, 0);
  const result: ImportResult = { imported: 0, rejected: [] };
  for (const [index, row] of records.entries()) {
    const line = index + 2;
    try {
      await services.users.create(cliContext, {
        userPrincipalName: row.userPrincipalName ?? "",
        displayName: row.displayName ?? "",
        mail: row.mail || null,
        mobilePhone: row.mobilePhone || null,
        roles: (row.roles ?? "")
          .split(";")
          .map((r) => r.trim())
          .filter(Boolean),
      });
      result.imported++;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      const problems = (error.details.problems as { field: string; message: string }[] | undefined) ?? [];
      result.rejected.push({
        line,
        reason: problems.length ? problems.map((p) => `${p.field} ${p.message}`).join("; ") : error.message,
      });
    }
    bar?.increment();
  }
  bar?.stop();
  return result;
};
