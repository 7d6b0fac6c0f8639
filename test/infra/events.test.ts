import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { submitJob } from "../../lambdas/domain/job.ts";
import { PHASES, TERMINAL_PHASES } from "../../lambdas/domain/phases.ts";
import { jobStatusChanged } from "../../lambdas/domain/status-events.ts";
import { EC2_STATES_RECONCILED, Events } from "../../lib/constructs/events.ts";
import { ec2Event, executionStatusChange } from "../fixtures/aws-events.ts";
import { allowedActions, checkedApp, standInFunction } from "../fixtures/cdk.ts";

const COOLING_MACHINE =
  "arn:aws:states:us-east-1:123456789012:stateMachine:gpuctl-instance-cooling";

/** A stack with the events construct and every route to a stand-in function. */
const synth = (app = new App()) => {
  const stack = new Stack(app, "Events", { env: { account: "123456789012", region: "us-east-1" } });
  const events = new Events(stack, "Events");
  const functions = {
    ec2: standInFunction(stack, "Ec2Events"),
    cooling: standInFunction(stack, "CoolingExecutionEnded"),
    reaper: standInFunction(stack, "Reaper"),
  };
  events.routeEc2Events(functions.ec2);
  events.routeCoolingExecutionEnded(functions.cooling, COOLING_MACHINE);
  events.scheduleReaper(functions.reaper);
  return { stack, events, functions, template: Template.fromStack(stack) };
};

type Pattern = { [field: string]: readonly unknown[] | Pattern };

/**
 * EventBridge's matching for the patterns the stack writes, which use exact values only:
 * every field the pattern names is in the event, with one of the listed values.
 * (EventBridge's own matcher runs only in AWS: `TestEventPattern` is an API call.)
 */
const matches = (pattern: Pattern, event: Record<string, unknown>): boolean =>
  Object.entries(pattern).every(([field, expected]) => {
    const value = event[field];
    if (Array.isArray(expected)) return expected.includes(value);
    return typeof value === "object" && value !== null
      ? matches(expected as Pattern, value as Record<string, unknown>)
      : false;
  });

/** The pattern of the rule whose logical id starts with `id`'s construct path. */
const patternOf = (template: Template, ruleId: string): Pattern => {
  const [rule] = Object.entries(template.findResources("AWS::Events::Rule")).filter(([logicalId]) =>
    logicalId.startsWith(`Events${ruleId}`),
  );
  if (!rule) throw new Error(`no rule ${ruleId}`);
  return rule[1].Properties.EventPattern;
};

const jobEnteredPhase = (phase: (typeof PHASES)[number]) =>
  jobStatusChanged(
    { ...submitJob({ id: "job-1", kind: "training" }), phase, version: 7 },
    { event: "runExited", from: "TRAINING", at: "2026-01-01T00:10:00.000Z" },
  );

describe("the events construct", () => {
  it("gives the Lambdas a custom bus and no archive", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::Events::EventBus", 1);
    template.resourceCountIs("AWS::Events::Archive", 0);
    // The bus takes no events from other accounts.
    template.resourceCountIs("AWS::Events::EventBusPolicy", 0);
  });

  it("sends the end of a job, and only its end, to the topic users subscribe to", () => {
    const { template } = synth();
    const pattern = patternOf(template, "JobEnded");
    expect(pattern).toEqual({
      source: ["gpuctl"],
      "detail-type": ["Job Status Changed"],
      detail: { data: { phase: [...TERMINAL_PHASES] } },
    });
    for (const phase of PHASES) {
      expect(matches(pattern, jobEnteredPhase(phase)), phase).toBe(TERMINAL_PHASES.has(phase));
    }
    template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: { Ref: Match.stringLikeRegexp("^EventsBus") },
      EventPattern: pattern,
      Targets: [
        {
          Arn: { Ref: Match.stringLikeRegexp("^EventsTerminalStatuses") },
          Id: Match.anyValue(),
          RoleArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^EventsJobEndedEventsRole"), "Arn"] },
          DeadLetterConfig: {
            Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("^EventsDeadLetters"), "Arn"] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 6 * 3600 },
        },
      ],
    });
  });

  it("lets only the rule's role publish to the topic, and only over TLS", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: [
          {
            Sid: "AllowPublishThroughSSLOnly",
            Effect: "Deny",
            Principal: "*",
            Action: "sns:Publish",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
            Resource: { Ref: Match.stringLikeRegexp("^EventsTerminalStatuses") },
          },
        ],
      },
    });
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: "events.amazonaws.com" },
            Action: "sts:AssumeRole",
          }),
        ],
      },
    });
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: Match.stringLikeRegexp("^EventsJobEndedEventsRole") }],
      PolicyDocument: {
        Statement: [
          {
            Effect: "Allow",
            Action: "sns:Publish",
            Resource: { Ref: Match.stringLikeRegexp("^EventsTerminalStatuses") },
          },
        ],
      },
    });
  });

  it("routes the EC2 state changes that can call for anything, and spot warnings, to the EC2-events function", () => {
    const { template } = synth();
    const stateChanged = patternOf(template, "Ec2StateChanged");
    expect(stateChanged).toEqual({
      source: ["aws.ec2"],
      "detail-type": ["EC2 Instance State-change Notification"],
      detail: { state: ["stopping", "stopped", "shutting-down", "terminated"] },
    });
    for (const state of EC2_STATES_RECONCILED) {
      const event = ec2Event("EC2 Instance State-change Notification", "i-0abc", { state });
      expect(matches(stateChanged, event), state).toBe(true);
    }
    for (const state of ["pending", "running"]) {
      const event = ec2Event("EC2 Instance State-change Notification", "i-0abc", { state });
      expect(matches(stateChanged, event), state).toBe(false);
    }

    const warned = patternOf(template, "SpotInterruptionWarned");
    expect(warned).toEqual({
      source: ["aws.ec2"],
      "detail-type": ["EC2 Spot Instance Interruption Warning"],
    });
    const warning = ec2Event("EC2 Spot Instance Interruption Warning", "i-0abc", {
      "instance-action": "terminate",
    });
    expect(matches(warned, warning)).toBe(true);
    expect(matches(stateChanged, warning)).toBe(false);

    // Both on the default bus, where EC2 puts its events.
    for (const rule of ["Ec2StateChanged", "SpotInterruptionWarned"]) {
      const [properties] = Object.entries(template.findResources("AWS::Events::Rule"))
        .filter(([id]) => id.startsWith(`Events${rule}`))
        .map(([, resource]) => resource.Properties);
      expect(properties.EventBusName).toBeUndefined();
      expect(properties.Targets).toEqual([
        expect.objectContaining({
          Arn: { "Fn::GetAtt": [expect.stringMatching(/^Ec2Events/), "Arn"] },
        }),
      ]);
    }
  });

  it("routes the cooling machine's failed and timed-out executions to the cooling-execution-ended function", () => {
    const { template } = synth();
    const pattern = patternOf(template, "CoolingExecutionFailed");
    expect(pattern).toEqual({
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: { stateMachineArn: [COOLING_MACHINE], status: ["FAILED", "TIMED_OUT"] },
    });
    const ended = (status: string, stateMachineArn = COOLING_MACHINE) =>
      executionStatusChange({
        stateMachineArn,
        name: "gi-1-cooling-1-ab12",
        status,
        input: { instanceId: "gi-1", coolingEpoch: 1 },
      });
    expect(matches(pattern, ended("FAILED"))).toBe(true);
    expect(matches(pattern, ended("TIMED_OUT"))).toBe(true);
    for (const status of ["SUCCEEDED", "ABORTED", "RUNNING"])
      expect(matches(pattern, ended(status)), status).toBe(false);
    const lifecycle = COOLING_MACHINE.replace("instance-cooling", "job-lifecycle");
    expect(matches(pattern, ended("FAILED", lifecycle))).toBe(false);
  });

  it("runs the reaper every 5 minutes", () => {
    const { template } = synth();
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("^Reaper"), "Arn"] },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 240 },
        }),
      ],
    });
  });

  it("keeps whatever keeps failing in one dead-letter queue: undelivered events and the functions' failed runs", () => {
    const { template } = synth();
    const dlq = { "Fn::GetAtt": [Match.stringLikeRegexp("^EventsDeadLetters"), "Arn"] };
    const rules = Object.values(template.findResources("AWS::Events::Rule"));
    expect(rules).toHaveLength(5);
    for (const rule of rules) {
      for (const target of rule.Properties.Targets) {
        expect(target.DeadLetterConfig.Arn["Fn::GetAtt"][0]).toMatch(/^EventsDeadLetters/);
        expect(target.RetryPolicy).toEqual({
          MaximumRetryAttempts: expect.any(Number),
          MaximumEventAgeInSeconds: expect.any(Number),
        });
      }
    }
    template.resourceCountIs("AWS::Lambda::EventInvokeConfig", 3);
    for (const [fn, retries, age] of [
      ["Ec2Events", 2, 3600],
      ["CoolingExecutionEnded", 2, 3600],
      ["Reaper", 0, 240],
    ] as const) {
      template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: Match.stringLikeRegexp(`^${fn}`) },
        MaximumRetryAttempts: retries,
        MaximumEventAgeInSeconds: age,
        DestinationConfig: { OnFailure: { Destination: dlq } },
      });
      template.hasResourceProperties("AWS::Lambda::Permission", {
        Action: "lambda:InvokeFunction",
        Principal: "events.amazonaws.com",
        FunctionName: { "Fn::GetAtt": [Match.stringLikeRegexp(`^${fn}`), "Arn"] },
        SourceArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^Events"), "Arn"] },
      });
      // Each function may put its failed runs there, and do nothing else with it.
      template.hasResourceProperties("AWS::IAM::Policy", {
        Roles: [{ Ref: Match.stringLikeRegexp(`^${fn}Role`) }],
        PolicyDocument: {
          Statement: [
            {
              Effect: "Allow",
              Action: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
              Resource: dlq,
            },
          ],
        },
      });
    }
  });

  it("keeps dead letters 14 days, encrypted, over TLS only, sent by its rules alone", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::SQS::Queue", 1);
    template.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    const [policy] = Object.values(template.findResources("AWS::SQS::QueuePolicy"));
    const statements = policy?.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
    const allowed = statements.filter(
      (statement: { Effect: string }) => statement.Effect === "Allow",
    );
    expect(allowed).toHaveLength(5);
    for (const statement of allowed) {
      expect(statement).toMatchObject({
        Principal: { Service: "events.amazonaws.com" },
        Action: "sqs:SendMessage",
        Condition: {
          ArnEquals: {
            "aws:SourceArn": { "Fn::GetAtt": [expect.stringMatching(/^Events/), "Arn"] },
          },
        },
      });
    }
  });

  it("allows no action by wildcard", () => {
    const { template } = synth();
    for (const action of allowedActions(template)) expect(action).not.toContain("*");
  });

  it("passes cdk-nag's AWS Solutions checks", () => {
    const app = checkedApp();
    synth(app);
    expect(() => app.synth()).not.toThrow();
  });
});
