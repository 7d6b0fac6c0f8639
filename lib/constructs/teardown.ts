import { type CfnResource, CustomResource } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { Construct, type IConstruct } from "constructs";

export interface TeardownProps {
  /** The TeardownFunction (lambdas/handlers/lambda/teardown.ts). */
  handler: IFunction;
  /**
   * What must outlive the teardown: what its calls need, and what the instances use (their
   * security group and subnets, their role). The function itself, its role and log group
   * are depended on already, through the service token.
   */
  dependsOn: IConstruct[];
  /** What launches or starts instances: deleted before the teardown runs, so none appears after it. */
  launchers: IConstruct[];
}

/**
 * A custom resource whose deletion ends every GPU instance and command queue of this
 * control plane (docs/deploy.md, "Removing it"): they are made at run time, not by
 * CloudFormation, and the stack's deletion takes with it the reaper and every timer that
 * would have ended them. No provider framework: the function answers CloudFormation
 * itself, so there is no extra function to deploy or to be deleted out of order.
 */
export class Teardown extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: TeardownProps) {
    super(scope, id);
    this.resource = new CustomResource(this, "Resource", {
      serviceToken: props.handler.functionArn,
    });
    // Past the function's 10-minute timeout, with room for Lambda's retry of a crash. Set
    // as a number: CDK's `serviceTimeout` writes a string, which CloudFormation's schema warns of.
    (this.resource.node.defaultChild as CfnResource).addPropertyOverride("ServiceTimeout", 900);
    this.resource.node.addDependency(...props.dependsOn);
    for (const launcher of props.launchers) launcher.node.addDependency(this.resource);
  }
}
