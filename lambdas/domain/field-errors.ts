import type { z } from "zod";
import type { SpecError } from "./job-spec.ts";

/**
 * Each field a zod error finds wrong, by its dotted path (`whole` for the input itself). A
 * field the schema does not know is named on its own, so its sender sees which one.
 */
export const fieldErrors = (error: z.ZodError, whole: string): SpecError[] =>
  error.issues.flatMap((issue) => {
    const at = (path: PropertyKey[]) => path.map(String).join(".") || whole;
    return issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({
          field: at([...issue.path, key]),
          message: "is not a known field",
        }))
      : [{ field: at(issue.path), message: issue.message }];
  });
