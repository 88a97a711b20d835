import { SingleBar } from "cli-progress";
import { parse } from "csv-parse/sync";
import { AppError } from "../errors/app-error.ts";
import { cliContext } from "../services/context.ts";
import type { Services } from "../services/index.ts";

export interface ImportResult {
  /** Data rows read (the header and blank lines not counted). */
  rows: number;
  imported: number;
  /** `line` is the line of the file where the row starts (1 = the header). */
  rejected: { line: number; reason: string }[];
}

const COLUMNS = ["userPrincipalName", "displayName", "mail", "mobilePhone", "roles"];

interface ParsedRow {
  fields: string[];
  line: number;
}

/**
 * Splits CSV text into rows, each with the line it starts on. Blank lines and line breaks inside quoted
 * fields move the line numbers, so they come from the parser, not from the row's position. A row with
 * broken quoting is reported and skipped; the parser cannot read past an unclosed quote.
 */
const linesInside = (raw: string): number =>
  raw
    .replace(/^(?:\r?\n)+/, "")
    .replace(/\r?\n$/, "")
    .match(/\r?\n/g)?.length ?? 0;

const BROKEN_REASONS: Record<string, string> = {
  CSV_QUOTE_NOT_CLOSED:
    'a "quote" opened on this line is never closed, so nothing after it could be read; close the quote',
  INVALID_OPENING_QUOTE:
    'a value has a " in it but does not start with one; put the whole value in quotes and double the " inside it ("like ""this""")',
  CSV_INVALID_CLOSING_QUOTE:
    'a quoted value goes on after its closing "; put the whole value in quotes and double the " inside it',
};

const readRows = (text: string): { rows: ParsedRow[]; broken: { line: number; reason: string }[] } => {
  const broken: { line: number; reason: string }[] = [];
  const records = parse(text, {
    info: true,
    raw: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    trim: true,
    bom: true,
    on_skip: (error, raw) => {
      broken.push({
        line: (typeof error?.lines === "number" ? error.lines : 1) - linesInside(raw ?? ""),
        reason:
          BROKEN_REASONS[error?.code ?? ""] ??
          `not valid CSV: ${error?.message.replace(/ at line \d+\.?$/, "") ?? "unreadable row"}`,
      });
      return undefined;
    },
  }) as unknown as { record: string[]; info: { lines: number }; raw: string }[];
  // info.lines is the line a row ends on; line breaks inside its quoted values come before that.
  const rows = records.map(({ record, info, raw }) => ({
    fields: record,
    line: info.lines - linesInside(raw),
  }));
  return { rows, broken };
};

/**
 * Imports users from CSV text with a header row. Bad rows are reported by the line they start on, with
 * the reason, and skipped; good rows are imported. `progress` (a terminal) shows a progress bar.
 */
export const importUsersCsv = async (
  services: Services,
  text: string,
  options: { progress?: NodeJS.WritableStream } = {},
): Promise<ImportResult> => {
  const { rows, broken } = readRows(text);
  const [headerRow, ...dataRows] = rows;
  const header = headerRow?.fields ?? [];
  const unknown = header.filter((h) => !COLUMNS.includes(h));
  if (!header.includes("userPrincipalName") || !header.includes("displayName") || unknown.length > 0) {
    return {
      rows: dataRows.length,
      imported: 0,
      rejected: [
        {
          line: 1,
          reason: `the first line must be a header naming columns from ${COLUMNS.join(", ")} (userPrincipalName and displayName required)${unknown.length ? `; not known: ${unknown.join(", ")}` : ""}. Nothing was imported.`,
        },
      ],
    };
  }
  const result: ImportResult = { rows: dataRows.length + broken.length, imported: 0, rejected: [...broken] };
  const bar = options.progress
    ? new SingleBar({
        format: "Importing [{bar}] {value}/{total} users",
        stream: options.progress,
        hideCursor: true,
      })
    : undefined;
  bar?.start(dataRows.length, 0);
  for (const { fields, line } of dataRows) {
    if (fields.length !== header.length) {
      result.rejected.push({
        line,
        reason: `has ${fields.length} values but the header has ${header.length} columns (${header.join(",")}); a comma inside a value needs "quotes"`,
      });
      bar?.increment();
      continue;
    }
    const row = Object.fromEntries(header.map((name, i) => [name, fields[i] ?? ""])) as Record<
      string,
      string
    >;
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
      if (!(error instanceof AppError)) {
        bar?.stop();
        throw error;
      }
      const problems = (error.details.problems as { field: string; message: string }[] | undefined) ?? [];
      result.rejected.push({
        line,
        reason: problems.length
          ? problems.map((p) => `${p.field} ${p.message}`).join("; ")
          : error.code === "userAlreadyExists"
            ? `${row.userPrincipalName} already exists (in PinDesk or earlier in this file)`
            : error.message,
      });
    }
    bar?.increment();
  }
  bar?.stop();
  result.rejected.sort((a, b) => a.line - b.line);
  return result;
};
