import type { CfnElement, Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import type { ControlPlaneStack } from "../../lib/control-plane-stack.ts";
import { synthesizeControlPlane } from "./control-plane.ts";
import { flat } from "./template-refs.ts";

// Synthesized under cdk-nag and CDK's template rules (a cycle, F3004, fails it).
let stack: ControlPlaneStack;
let template: Template;
let resources: Record<
  string,
  { Type: string; Properties: Record<string, unknown>; DependsOn?: string[] }
>;
beforeAll(async () => {
  ({ stack, template } = await synthesizeControlPlane());
  resources = template.toJSON().Resources;
});

const idOf = (construct: IConstruct) =>
  (stack as Stack).getLogicalId(construct.node.defaultChild as CfnElement);
/** The logical ids of every CloudFormation resource under the construct. */
const idsUnder = (construct: IConstruct) =>
  construct.node
    .findAll()
    .filter((child) => (child as CfnElement).logicalId !== undefined && child.node.id !== "Default")
    .flatMap((child) => {
      const id = (stack as Stack).resolve((child as CfnElement).logicalId) as string;
      return id in resources ? [id] : [];
    });

describe("the teardown", () => {
  const teardownId = () => idOf(stack.teardown.resource);

  it("is one custom resource served by the TeardownFunction itself, with no provider framework", () => {
    template.resourceCountIs("AWS::CloudFormation::CustomResource", 1);
    const Properties = resources[teardownId()]?.Properties ?? {};
    expect(flat(Properties.ServiceToken)).toBe(
      `<${idOf(stack.functions.functions.TeardownFunction)}.Arn>`,
    );
    expect(Properties.ServiceTimeout).toBe(900);
    expect(resources[idOf(stack.functions.functions.TeardownFunction)]?.Properties).toMatchObject({
      Timeout: 600,
    });
    expect(
      Object.keys(resources).filter((id) => id.includes("Provider") || id.includes("framework")),
    ).toEqual([]);
  });

  it("is deleted before the compute its calls and the instances use", () => {
    const dependsOn = new Set(resources[teardownId()]?.DependsOn ?? []);
    const compute = idsUnder(stack.compute);
    expect(compute).toEqual(
      expect.arrayContaining([
        idOf(stack.compute.securityGroup),
        idOf(stack.compute.instanceRole),
        idOf(stack.compute.launchTemplate),
      ]),
    );
    // Among them the teardown role's own policy of EC2 actions.
    const role = `<${idOf(stack.functions.functions.TeardownFunction.role as IConstruct)}>`;
    const ec2Policies = compute.filter(
      (id) =>
        resources[id]?.Type === "AWS::IAM::Policy" &&
        (resources[id].Properties.Roles as unknown[]).some((ref) => flat(ref) === role),
    );
    expect(ec2Policies).toHaveLength(1);
    for (const id of compute) expect(dependsOn).toContain(id);
    // The function, its role and its log group, through the service token.
    const fn = resources[idOf(stack.functions.functions.TeardownFunction)];
    expect(fn?.DependsOn ?? []).toEqual(
      expect.arrayContaining(
        idsUnder(stack.functions.functions.TeardownFunction.role as IConstruct),
      ),
    );
  });

  it("runs after what launches or starts instances is deleted: the workflows and the acquiring function", () => {
    const launchers = [
      ...Object.values(stack.workflows.machines).map(idOf),
      idOf(stack.functions.functions.AcquireInstanceFunction),
    ];
    for (const id of launchers) expect(resources[id]?.DependsOn ?? []).toContain(teardownId());
  });
});
