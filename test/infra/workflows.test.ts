import { readFileSync } from "node:fs";
import { App, type CfnElement, Stack } from "aws-cdk-lib";
import { type CfnTopic, Topic } from "aws-cdk-lib/aws-sns";
import { describe, expect, it } from "vitest";
import { LAMBDA_ENTRIES } from "../../lambdas/handlers/lambda/entries.ts";
import { STATE_MACHINES } from "../../lib/constructs/functions.ts";
import { definitionFile, placeholders } from "../../lib/constructs/workflows.ts";
import { ACCOUNT, REGION, synthesizeFunctionsStack } from "./functions-stack.ts";
import { synthesizedMachines } from "./synthesized-machines.ts";
import { dependencyCycle, flat, referencedIds } from "./template-refs.ts";

// Synthesized once: cdk-nag's checks and CDK's template rules (F3004, a cycle) throw here.
const { stack, functions, workflows, template } = synthesizeFunctionsStack();
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }
>;
const idOf = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const machines = synthesizedMachines(template);

describe("the workflows", () => {
  it("are the three ASL files as they ship, Standard, named from the stack", () => {
    expect(machines.map(({ machine }) => machine).sort()).toEqual([...STATE_MACHINES].sort());
    for (const { machine, definition } of machines) {
      expect(definition).toBe(readFileSync(definitionFile(machine), "utf8"));
      template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
        StateMachineName: `Gpuctl-${machine}`,
        StateMachineType: "STANDARD",
      });
      expect(stack.resolve(workflows.arns[machine])).toEqual(
        stack.resolve(
          `arn:${stack.partition}:states:${REGION}:${ACCOUNT}:stateMachine:Gpuctl-${machine}`,
        ),
      );
    }
  });

  it("substitute every placeholder of every ASL file with the ARN of the task function of that name", () => {
    for (const { machine, definition, substitutions } of machines) {
      expect(Object.keys(substitutions).sort()).toEqual(placeholders(definition).sort());
      for (const [placeholder, fn] of Object.entries(substitutions)) {
        expect(fn.name).toBe(placeholder);
        expect(fn.logicalId).toBe(idOf(functions.functions[fn.name]));
        expect(LAMBDA_ENTRIES[fn.name]).toMatch(/^tasks\//);
      }
      expect(placeholders(definition).length, machine).toBeGreaterThan(0);
    }
  });

  it("let each machine invoke exactly its functions, by their unqualified ARNs", () => {
    for (const { machine, substitutions } of machines) {
      const role = `<${idOf(workflows.machines[machine].role)}>`;
      const invoked = Object.values(resources)
        .filter(
          ({ Type, Properties }) =>
            Type === "AWS::IAM::Policy" && (Properties.Roles as unknown[]).map(flat).includes(role),
        )
        .flatMap(
          ({ Properties }) =>
            (Properties.PolicyDocument as { Statement: { Action: unknown; Resource: unknown }[] })
              .Statement,
        )
        .filter(({ Action }) => JSON.stringify(Action).includes("lambda:"));
      expect(invoked).toHaveLength(1);
      expect(invoked[0]?.Action).toBe("lambda:InvokeFunction");
      const arns = [invoked[0]?.Resource].flat().map(flat);
      expect(arns.sort()).toEqual(
        [
          ...new Set(Object.values(substitutions).map(({ logicalId }) => `<${logicalId}.Arn>`)),
        ].sort(),
      );
    }
  });

  it("log every state, without its data, a month, and trace with X-Ray", () => {
    for (const machine of STATE_MACHINES) {
      const properties = resources[idOf(workflows.machines[machine])]?.Properties;
      expect(properties).toMatchObject({
        LoggingConfiguration: { Level: "ALL", IncludeExecutionData: false },
        TracingConfiguration: { Enabled: true },
      });
      template.hasResourceProperties("AWS::Logs::LogGroup", {
        LogGroupName: `/aws/vendedlogs/states/Gpuctl-${machine}`,
        RetentionInDays: 30,
      });
    }
  });

  it("and the functions refer to each other only one way: no cycle", () => {
    expect(dependencyCycle(resources)).toBeUndefined();
    const machineIds = new Set(STATE_MACHINES.map((machine) => idOf(workflows.machines[machine])));
    for (const [id, resource] of Object.entries(resources))
      if (resource.Type === "AWS::Lambda::Function" || resource.Type === "AWS::IAM::Policy")
        expect(
          [...referencedIds(resource.Properties)].filter((ref) => machineIds.has(ref)),
          id,
        ).toEqual([]);
  });

  it("would be refused by the synthesis if two resources referred to each other", () => {
    const app = new App({ context: { "@aws-cdk/core:validateAgainstDefaultRules": true } });
    const careless = new Stack(app, "Careless");
    const a = new Topic(careless, "A");
    const b = new Topic(careless, "B", { displayName: a.topicName });
    (a.node.defaultChild as CfnTopic).addPropertyOverride("DisplayName", b.topicName);
    expect(() => app.synth()).toThrow(/F3004|ircular/);
  });
});
