/** Reading a synthesized template's references, as cdk-nag and CloudFormation see them. */

type Json = unknown;

/**
 * A value with its references flattened, as cdk-nag names them: `Fn::Join` joined,
 * `{ Ref: X }` as `<X>`, `{ "Fn::GetAtt": [X, A] }` as `<X.A>`.
 */
export const flat = (value: Json): string => {
  if (typeof value === "string") return value;
  const node = value as Record<string, Json>;
  if (Array.isArray(node["Fn::Join"])) {
    const [delimiter, parts] = node["Fn::Join"] as [string, Json[]];
    return parts.map(flat).join(delimiter);
  }
  if (typeof node.Ref === "string") return `<${node.Ref}>`;
  if (Array.isArray(node["Fn::GetAtt"])) return `<${(node["Fn::GetAtt"] as string[]).join(".")}>`;
  return JSON.stringify(value);
};

/** Every logical id a value refers to (`Ref`, `Fn::GetAtt`), pseudo parameters left out. */
export const referencedIds = (value: Json, found = new Set<string>()): Set<string> => {
  if (Array.isArray(value)) for (const item of value) referencedIds(item, found);
  else if (value && typeof value === "object") {
    const node = value as Record<string, Json>;
    if (typeof node.Ref === "string" && !node.Ref.startsWith("AWS::")) found.add(node.Ref);
    if (Array.isArray(node["Fn::GetAtt"])) found.add(String(node["Fn::GetAtt"][0]));
    for (const child of Object.values(node)) referencedIds(child, found);
  }
  return found;
};

interface Resource {
  Type: string;
  Properties?: Json;
  DependsOn?: string | string[];
  Metadata?: Record<string, Json>;
}

/** A cycle among the resources, through their references and `DependsOn`, or undefined. */
export const dependencyCycle = (resources: Record<string, Resource>): string[] | undefined => {
  const edges = (id: string) => {
    const resource = resources[id];
    const dependsOn = resource?.DependsOn ?? [];
    return [
      ...referencedIds(resource?.Properties),
      ...(Array.isArray(dependsOn) ? dependsOn : [dependsOn]),
    ].filter((target) => target in resources);
  };
  const state = new Map<string, "visiting" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "visiting");
    path.push(id);
    for (const target of edges(id)) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const id of Object.keys(resources)) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
};
