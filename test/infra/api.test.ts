import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { describe, expect, it } from "vitest";
import { SIGN_IN_ROUTE } from "../../lambdas/handlers/api/sign-in-route.ts";
import { Api, type ApiProps } from "../../lib/constructs/api.ts";
import { allowedActions, checkedApp, standInFunction } from "../fixtures/cdk.ts";

/** A stack with the API in front of a stand-in API function. */
const synth = (props: Omit<ApiProps, "handler"> = {}, app = new App()) => {
  const stack = new Stack(app, "Api", { env: { account: "123456789012", region: "us-east-1" } });
  const api = new Api(stack, "Api", { handler: standInFunction(stack, "ApiFunction"), ...props });
  return { stack, api, template: Template.fromStack(stack) };
};

/** The ARN of `path` (stage, method, route) in the API, as the template writes it. */
const executeApiArn = (path: string) => ({
  "Fn::Join": [
    "",
    [
      "arn:",
      { Ref: "AWS::Partition" },
      ":execute-api:us-east-1:123456789012:",
      { Ref: expect.stringMatching(/^ApiHttpApi/) },
      path,
    ],
  ],
});

/** The web console's page and assets: read only, and the same for everyone. */
const CONSOLE_ROUTES = ["GET /console", "GET /console/{proxy+}"];

const routes = (template: Template) =>
  Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map(
    (route) => route.Properties,
  );

describe("the API construct", () => {
  it("lets users' requests through to the function, which checks their tokens, the console's reads too, and agents' behind IAM; nothing else", () => {
    const { template } = synth();
    const served = routes(template);
    expect(served.map((route) => route.RouteKey).sort()).toEqual([
      "ANY /agent/v1/{proxy+}",
      "ANY /v1/{proxy+}",
      ...CONSOLE_ROUTES,
      "GET /openapi.json",
      SIGN_IN_ROUTE,
    ]);
    for (const routeKey of [
      "ANY /v1/{proxy+}",
      SIGN_IN_ROUTE,
      "GET /openapi.json",
      ...CONSOLE_ROUTES,
    ])
      expect(served).toContainEqual(
        expect.objectContaining({ RouteKey: routeKey, AuthorizationType: "NONE" }),
      );
    expect(served).toContainEqual(
      expect.objectContaining({ RouteKey: "ANY /agent/v1/{proxy+}", AuthorizationType: "AWS_IAM" }),
    );
    for (const route of served) expect(route.AuthorizerId).toBeUndefined();
    template.resourceCountIs("AWS::ApiGatewayV2::Authorizer", 0);
    expect(
      Object.keys(template.toJSON().Resources).filter((id) => /Cognito|UserPool/.test(id)),
    ).toEqual([]);
    for (const type of ["AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient"])
      template.resourceCountIs(type, 0);
  });

  it("throttles sign-ins on a route of their own, far below the other routes", () => {
    const { template } = synth();
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      RouteSettings: {
        [SIGN_IN_ROUTE]: { ThrottlingRateLimit: 1, ThrottlingBurstLimit: 5 },
      },
    });
    // The stage names the route in its settings: the route is made first.
    const [stageId] = Object.keys(template.findResources("AWS::ApiGatewayV2::Stage"));
    const loginId = Object.entries(template.findResources("AWS::ApiGatewayV2::Route")).find(
      ([, route]) => route.Properties.RouteKey === SIGN_IN_ROUTE,
    )?.[0];
    expect(template.toJSON().Resources[stageId ?? ""].DependsOn).toContain(loginId);
    const { template: tighter } = synth({ loginThrottle: { rateLimit: 0.5, burstLimit: 2 } });
    tighter.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      RouteSettings: { [SIGN_IN_ROUTE]: { ThrottlingRateLimit: 0.5, ThrottlingBurstLimit: 2 } },
    });
  });

  it("hands every route to the API function with payload 2.0", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::ApiGatewayV2::Integration", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      IntegrationUri: { "Fn::GetAtt": [Match.stringLikeRegexp("^ApiFunction"), "Arn"] },
    });
    // API Gateway may invoke it for those routes only.
    const permissions = Object.values(template.findResources("AWS::Lambda::Permission"));
    expect(permissions.map((permission) => permission.Properties.SourceArn)).toEqual(
      [
        "/*/*/v1/{proxy+}",
        "/*/*/v1/login",
        "/*/*/openapi.json",
        "/*/*/console",
        "/*/*/console/{proxy+}",
        "/*/*/agent/v1/{proxy+}",
      ].map(executeApiArn),
    );
  });

  it("logs every request as JSON on its one stage, and throttles it", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::ApiGatewayV2::Stage", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: {
        DestinationArn: { "Fn::GetAtt": [Match.stringLikeRegexp("^ApiAccessLogs"), "Arn"] },
      },
    });
    const [stage] = Object.values(template.findResources("AWS::ApiGatewayV2::Stage"));
    expect(JSON.parse(stage?.Properties.AccessLogSettings.Format)).toMatchObject({
      requestId: "$context.requestId",
      routeKey: "$context.routeKey",
      status: "$context.status",
      latencyMs: "$context.responseLatency",
      caller: "$context.identity.userArn",
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 90 });
  });

  it("takes the throttle and the log retention it is given", () => {
    const { template } = synth({
      throttle: { rateLimit: 5, burstLimit: 10 },
      accessLogRetention: RetentionDays.ONE_MONTH,
    });
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("allows no browser origin: the callers are the CLI and the agents", () => {
    const { template } = synth();
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", {
      ProtocolType: "HTTP",
      CorsConfiguration: Match.absent(),
    });
  });

  it("names its URL without a trailing slash, and the agent routes of its stage for the instance role", () => {
    const { stack, api } = synth();
    expect(stack.resolve(api.url)).toEqual({
      "Fn::GetAtt": [expect.stringMatching(/^ApiHttpApi/), "ApiEndpoint"],
    });
    expect(stack.resolve(api.agentRoutesArn)).toEqual(executeApiArn("/$default/*/agent/v1/*"));
  });

  it("allows no action by wildcard", () => {
    const { template } = synth();
    for (const action of allowedActions(template)) expect(action).not.toContain("*");
  });

  it("passes cdk-nag's AWS Solutions checks", () => {
    const app = checkedApp();
    synth({}, app);
    expect(() => app.synth()).not.toThrow();
  });
});
