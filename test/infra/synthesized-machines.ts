/**
 * The state machines of a synthesized template as CloudFormation gets them: each machine's
 * definition, and the function each `${...}` substitution names. Works on any template of
 * the stack (the test stack of the functions and workflows, or the whole control plane),
 * synthesized with path metadata (`aws:cdk:enable-path-metadata`, as the CDK CLI sets it).
 */
import type { Template } from "aws-cdk-lib/assertions";
import { LAMBDA_ENTRIES, type LambdaName } from "../../lambdas/handlers/lambda/entries.ts";
import type { StateMachineName } from "../../lambdas/ports.ts";
import { STATE_MACHINES } from "../../lib/constructs/functions.ts";

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface SynthesizedFunction {
  logicalId: string;
  /** Its construct's id, a key of LAMBDA_ENTRIES: which entry file its asset was bundled from. */
  name: LambdaName;
}

export interface SynthesizedMachine {
  machine: StateMachineName;
  /** `DefinitionString`, with its `${...}` placeholders as CloudFormation receives it. */
  definition: string;
  /** Each placeholder's substitution: the function whose ARN it is. */
  substitutions: Record<string, SynthesizedFunction>;
}

const functionOfArn = (resources: Record<string, Resource>, value: unknown, where: string) => {
  const [logicalId, attribute] = (value as { "Fn::GetAtt"?: string[] })["Fn::GetAtt"] ?? [];
  const resource = logicalId ? resources[logicalId] : undefined;
  if (!logicalId || attribute !== "Arn" || resource?.Type !== "AWS::Lambda::Function")
    throw new Error(`${where}: ${JSON.stringify(value)} is not the ARN of a function of the stack`);
  const path = String(resource.Metadata?.["aws:cdk:path"] ?? "");
  const name = path.split("/").at(-2) ?? "";
  if (!(name in LAMBDA_ENTRIES))
    throw new Error(
      `${where}: function ${logicalId} (${path || "no path metadata"}) is no entry's`,
    );
  return { logicalId, name: name as LambdaName };
};

export const synthesizedMachines = (template: Template): SynthesizedMachine[] => {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return Object.entries(resources)
    .filter(([, { Type }]) => Type === "AWS::StepFunctions::StateMachine")
    .map(([id, { Properties }]) => {
      const name = String(Properties.StateMachineName);
      const machine = STATE_MACHINES.find((candidate) => name.endsWith(`-${candidate}`));
      if (!machine) throw new Error(`state machine ${id} (${name}) is none of ${STATE_MACHINES}`);
      if (typeof Properties.DefinitionString !== "string")
        throw new Error(`state machine ${id}: its definition is not inline text`);
      const substitutions = (Properties.DefinitionSubstitutions ?? {}) as Record<string, unknown>;
      return {
        machine,
        definition: Properties.DefinitionString,
        substitutions: Object.fromEntries(
          Object.entries(substitutions).map(([placeholder, value]) => [
            placeholder,
            functionOfArn(resources, value, `${machine} \${${placeholder}}`),
          ]),
        ),
      };
    });
};
