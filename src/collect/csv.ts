/** RFC 4180 field: quoted when it holds a comma, a double quote, CR or LF; quotes are doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV record (no line terminator). */
export function csvRow(fields: readonly string[]): string {
  return fields.map(csvField).join(",");
}

/** Records end with CRLF, as RFC 4180 (and Python's csv module, which upstream used) write them. */
export const CSV_EOL = "\r\n";

/** The lines of a CSV file (each with its CRLF) from rows built with `csvRow`, for streamed writing. */
export function* csvLines(rows: Iterable<string>): Generator<string> {
  for (const row of rows) yield row + CSV_EOL;
}

/**
 * A number cell: the shortest text that reads back to the same double (no rounding, so
 * diffusivities stay raw mm²/s, e.g. `0.000712` or `7.1e-7`); empty for anything that is not a
 * finite number.
 */
export function numberCell(value: unknown): string {
  return typeof value === "number" && Number.isFinite(value) ? String(value) : "";
}
