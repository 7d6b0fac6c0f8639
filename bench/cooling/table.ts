/** A plain-text table whose columns line up, for the benchmark's console output. */
export const formatTable = (headers: readonly string[], rows: readonly string[][]): string => {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ");
  return [line(headers), ...rows.map(line)].join("\n");
};
