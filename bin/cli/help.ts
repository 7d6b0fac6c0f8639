/** The one shape of every verb's `--help` examples. */

/** An example: the command line, and what it does when that is not plain from the line. */
export type Example = readonly [line: string, what?: string];

/**
 * The `Examples:` section of a verb's `--help`, for `.addHelpText("after", ...)`: each line
 * with what it does aligned after it, then `note` (a paragraph that applies to them all).
 */
export const examples = (list: readonly Example[], note?: string): string => {
  const width = Math.max(...list.filter(([, what]) => what).map(([line]) => line.length));
  const rows = list.map(([line, what]) =>
    what ? `  ${line.padEnd(width)}   ${what}` : `  ${line}`,
  );
  return `\nExamples:\n${rows.join("\n")}${note ? `\n\n${note}` : ""}`;
};
