/** A cost (docs/api.md#cost) as people read it, the same in the CLI and the web console. */
import type { CostView } from "./api-types.ts";

/** Dollars as a person reads an estimate: cents, or four places below a cent. */
export const dollars = (usd: number): string => `$${usd.toFixed(usd !== 0 && usd < 0.01 ? 4 : 2)}`;

/** The figure alone, for a table's cell: `$0.17`, or `unpriced`. */
export const costFigure = (cost: CostView): string =>
  cost.usd === undefined ? "unpriced" : dollars(cost.usd);

/** A cost on one line: `$0.17 estimated from list prices (boot 180s $0.05, running 600s $0.12)`, or why it has no figure. */
export const costText = (cost: CostView): string => {
  const parts = cost.items
    .map((item) => {
      const usd = item.usd === undefined ? "" : ` ${dollars(item.usd)}`;
      return `${item.part} ${Math.round(item.seconds)}s${usd}`;
    })
    .join(", ");
  const figure =
    cost.usd === undefined
      ? `not priced: ${cost.unpriced ?? "no price"}`
      : `${dollars(cost.usd)} estimated from list prices`;
  return parts ? `${figure} (${parts})` : figure;
};
