import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import { describe, expect, it } from "vitest";
import { Api, type ApiProps } from "../../lib/constructs/api.ts";
import { allowedActions, checkedApp, standInFunction } from "../fixtures/cdk.ts";

/** A stack with the API in front of a stand-in API function. */
const synth = (props: Omit<ApiProps, "handler"> = {}, app = new App()) => {
  const stack = new Stack(app, "Api", { env: { account: "123456789012", region: "us-east-1" } });
  const api = new Api(stack, "Api", { handler: standInFunction(stack, "ApiFunction"), ...props });
  return { stack, api, template: Template.fromStack(stack) };
};

const ORGANISATION = {
  issuer: "https://login.example.com/oauth2/default",
  audience: ["api://gpuctl"],
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

const routes = (template: Template) =>
  Object.values(template.findResources("AWS::ApiGatewayV2::Route")).map(
    (route) => route.Properties,
  );

describe("the API construct", () => {
  it("serves users under /v1 behind the JWT authorizer and agents under /agent/v1 behind IAM, nothing else", () => {
    const { template } = synth();
    const served = routes(template);
    expect(served.map((route) => route.RouteKey).sort()).toEqual([
      "ANY /agent/v1/{proxy+}",
      "ANY /v1/{proxy+}",
    ]);
    expect(served).toContainEqual(
      expect.objectContaining({
        RouteKey: "ANY /v1/{proxy+}",
        AuthorizationType: "JWT",
        AuthorizerId: { Ref: expect.stringMatching(/^ApiHttpApiUsers/) },
      }),
    );
    expect(served).toContainEqual(
      expect.objectContaining({ RouteKey: "ANY /agent/v1/{proxy+}", AuthorizationType: "AWS_IAM" }),
    );
    for (const route of served) expect(route.AuthorizationType).not.toBe("NONE");
  });

  it("hands every route to the API function with payload 2.0", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::ApiGatewayV2::Integration", 1);
    template.hasResourceProperties("AWS::ApiGatewayV2::Integration", {
      IntegrationType: "AWS_PROXY",
      PayloadFormatVersion: "2.0",
      IntegrationUri: { "Fn::GetAtt": [Match.stringLikeRegexp("^ApiFunction"), "Arn"] },
    });
    // API Gateway may invoke it for those two routes only.
    const permissions = Object.values(template.findResources("AWS::Lambda::Permission"));
    expect(permissions.map((permission) => permission.Properties.SourceArn)).toEqual(
      ["/*/*/v1/{proxy+}", "/*/*/agent/v1/{proxy+}"].map(executeApiArn),
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
      user: "$context.authorizer.claims.sub",
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

  it("accepts the tokens of its own user pool's CLI client", () => {
    const { template, api } = synth();
    expect(api.userPool).toBeDefined();
    expect(api.userPoolClient).toBeDefined();
    template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: {
        Audience: [{ Ref: Match.stringLikeRegexp("^ApiUserPoolCli") }],
        Issuer: {
          "Fn::Join": [
            "",
            [
              "https://cognito-idp.us-east-1.amazonaws.com/",
              { Ref: Match.stringLikeRegexp("^ApiUserPool") },
            ],
          ],
        },
      },
    });
  });

  it("keeps its users in a pool an administrator fills, with strong passwords, optional TOTP, never deleted with the stack", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::Cognito::UserPool", 1);
    template.hasResource("AWS::Cognito::UserPool", {
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
      Properties: Match.objectLike({
        AdminCreateUserConfig: Match.objectLike({ AllowAdminCreateUserOnly: true }),
        UsernameAttributes: ["email"],
        UsernameConfiguration: { CaseSensitive: false },
        DeletionProtection: "ACTIVE",
        MfaConfiguration: "OPTIONAL",
        EnabledMfas: ["SOFTWARE_TOKEN_MFA"],
        AccountRecoverySetting: { RecoveryMechanisms: [{ Name: "verified_email", Priority: 1 }] },
        UserPoolTier: "ESSENTIALS",
        Policies: {
          PasswordPolicy: {
            MinimumLength: 12,
            RequireLowercase: true,
            RequireUppercase: true,
            RequireNumbers: true,
            RequireSymbols: true,
            TemporaryPasswordValidityDays: 3,
            PasswordHistorySize: 5,
          },
        },
      }),
    });
  });

  it("gives the CLI a client with no secret, password and SRP sign-in, and hour-long tokens", () => {
    const { template } = synth();
    template.resourceCountIs("AWS::Cognito::UserPoolClient", 1);
    template.hasResourceProperties("AWS::Cognito::UserPoolClient", {
      GenerateSecret: false,
      ExplicitAuthFlows: Match.arrayEquals([
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
      ]),
      AccessTokenValidity: 60,
      IdTokenValidity: 60,
      RefreshTokenValidity: 7 * 24 * 60,
      TokenValidityUnits: { AccessToken: "minutes", IdToken: "minutes", RefreshToken: "minutes" },
      PreventUserExistenceErrors: "ENABLED",
      EnableTokenRevocation: true,
      AllowedOAuthFlowsUserPoolClient: false,
      AllowedOAuthFlows: Match.absent(),
      CallbackURLs: Match.absent(),
    });
  });

  it("trusts the organisation's OIDC provider instead, when given one, and makes no user pool", () => {
    const { template, api } = synth({ users: ORGANISATION });
    expect(api.userPool).toBeUndefined();
    expect(api.userPoolClient).toBeUndefined();
    template.resourceCountIs("AWS::Cognito::UserPool", 0);
    template.hasResourceProperties("AWS::ApiGatewayV2::Authorizer", {
      AuthorizerType: "JWT",
      JwtConfiguration: { Issuer: ORGANISATION.issuer, Audience: ORGANISATION.audience },
    });
    expect(routes(template)).toContainEqual(
      expect.objectContaining({ RouteKey: "ANY /v1/{proxy+}", AuthorizationType: "JWT" }),
    );
  });

  it("refuses an issuer that is not https, or no audience, naming the field", () => {
    expect(() => synth({ users: { ...ORGANISATION, issuer: "http://login.example.com" } })).toThrow(
      /users\.issuer must be an https URL/,
    );
    expect(() => synth({ users: { ...ORGANISATION, audience: [] } })).toThrow(
      /users\.audience must name at least one/,
    );
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

  it("passes cdk-nag's AWS Solutions checks, with its own user pool or the organisation's", () => {
    for (const users of [undefined, ORGANISATION]) {
      const app = checkedApp();
      synth(users ? { users } : {}, app);
      expect(() => app.synth()).not.toThrow();
    }
  });
});
