/**
 * Elements built node by node: every string becomes a text node or an attribute value,
 * never markup, so what the API returns (job names are anyone's) is shown as written.
 */
export type Child = Node | string | number | null | undefined | false;

type Attributes = Record<string, string | undefined>;

export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] => {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) element.setAttribute(name, value);
  element.append(...nodes(children));
  return element;
};

const nodes = (children: Child[]): Node[] =>
  children.flatMap((child) =>
    child === null || child === undefined || child === false
      ? []
      : [child instanceof Node ? child : document.createTextNode(String(child))],
  );

/** Replaces what `parent` shows with `children`. */
export const fill = (parent: Element, ...children: Child[]) =>
  parent.replaceChildren(...nodes(children));

/** A table with a header row and one row per item. */
export const table = (headers: string[], rows: Child[][], attributes: Attributes = {}) =>
  h(
    "table",
    attributes,
    h("thead", {}, h("tr", {}, ...headers.map((header) => h("th", {}, header)))),
    h("tbody", {}, ...rows.map((cells) => h("tr", {}, ...cells.map((cell) => h("td", {}, cell))))),
  );

/** A time as this browser's locale writes it; the ISO text stays in its tooltip. */
export const time = (iso: string | undefined): Child =>
  iso ? h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString()) : "";
