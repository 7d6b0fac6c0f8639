import { RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpStage,
  LogGroupLogDestination,
  type ThrottleSettings,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpIamAuthorizer } from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { SIGN_IN_ROUTE } from "../../lambdas/handlers/api/sign-in-route.ts";

export interface ApiProps {
  /** The API Lambda (`lambdas/handlers/lambda/api.ts`): every route goes to it. */
  handler: IFunction;
  /** Requests per second, steady and in bursts, across all callers. */
  throttle?: ThrottleSettings;
  /** Sign-ins (`POST /v1/login`) per second, steady and in bursts, across all callers. */
  loginThrottle?: ThrottleSettings;
  /** How long access logs are kept. */
  accessLogRetention?: RetentionDays;
}

/**
 * A handful of engineers sign in now and then; a guesser needs thousands of tries. With the
 * identity store's lockout per email (lambdas/domain/identity.ts LOGIN_LIMIT), this bounds
 * the scrypt work anyone can make the API do, across every address at once.
 */
const LOGIN_THROTTLE = { rateLimit: 1, burstLimit: 5 };

const USERS_AUTHORIZED_BY_FUNCTION =
  "The API function authorizes every user request itself, by gpuctl's own access tokens in the stack's table (lambdas/handlers/api/user-identity.ts), the one identity store of the local and AWS control planes; POST /v1/login takes no token, and is throttled apart.";

/**
 * One line per request: which route, what it answered and how long it took, and for agents
 * the IAM caller. A user is known to the API function only (it checks their token), so its
 * own log names them.
 */
const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  time: "$context.requestTime",
  routeKey: "$context.routeKey",
  path: "$context.path",
  status: "$context.status",
  latencyMs: "$context.responseLatency",
  integrationLatencyMs: "$context.integrationLatency",
  integrationError: "$context.integrationErrorMessage",
  authorizerError: "$context.authorizer.error",
  caller: "$context.identity.userArn",
  sourceIp: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  responseLength: "$context.responseLength",
};

/**
 * The control plane's HTTP API (docs/api.md): users under `/v1`, instance agents under
 * `/agent/v1`, signing with their instance role (IAM authorizer, docs/aws.md "Agent
 * identity"), the web console's page and assets under `/console` (docs/console.md), and
 * the OpenAPI document at `/openapi.json`. All go to the one API Lambda; any other path has no route, so API Gateway answers 404
 * without invoking it. No CORS: the console calls the API from the API's own origin, and
 * the other callers are the CLI and the agents.
 */
export class Api extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  /** The base URL the CLI and the agents are given (`https://…`, no trailing slash). */
  readonly url: string;
  /** What the instance role may invoke: the agent routes on the one stage, any method. */
  readonly agentRoutesArn: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.httpApi = new HttpApi(this, "HttpApi", {
      apiName: `${Stack.of(this).stackName}-api`,
      description: "gpuctl: users' and agents' API",
      // The stage is declared below, with logs and throttling.
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.accessLogRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new HttpStage(this, "DefaultStage", {
      httpApi: this.httpApi,
      stageName: "$default",
      autoDeploy: true,
      throttle: {
        rateLimit: props.throttle?.rateLimit ?? 50,
        burstLimit: props.throttle?.burstLimit ?? 100,
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    // Users' routes are not authenticated here: the API function checks gpuctl's own access
    // tokens in the identity store, as the local control plane does, so one store knows the
    // users on AWS and locally (lambdas/handlers/api/user-identity.ts).
    const users = new HttpNoneAuthorizer();
    const integration = new HttpLambdaIntegration("Handler", props.handler);
    const userRoute = (path: string, method: HttpMethod, reason = USERS_AUTHORIZED_BY_FUNCTION) => {
      const [route] = this.httpApi.addRoutes({
        path,
        methods: [method],
        integration,
        authorizer: users,
      });
      if (!route) throw new Error(`no route ${method} ${path}`);
      Validations.of(route).acknowledge({ id: "AwsSolutions::AwsSolutions-APIG4", reason });
      return route;
    };
    userRoute("/v1/{proxy+}", HttpMethod.ANY);
    // A route of its own, for a throttle of its own.
    const login = userRoute("/v1/login", HttpMethod.POST);
    userRoute(
      "/openapi.json",
      HttpMethod.GET,
      "The OpenAPI document describes the routes, holds no data and is the same for everyone.",
    );
    for (const path of ["/console", "/console/{proxy+}"])
      userRoute(
        path,
        HttpMethod.GET,
        "The web console's page, script and stylesheet hold no data and are the same for everyone; every datum the page shows comes from the /v1 routes with the signed-in user's token.",
      );
    this.httpApi.addRoutes({
      path: "/agent/v1/{proxy+}",
      methods: [HttpMethod.ANY],
      integration,
      authorizer: new HttpIamAuthorizer(),
    });
    const loginThrottle = props.loginThrottle ?? LOGIN_THROTTLE;
    // CloudFormation's own property names: routeSettings is plain JSON to CDK.
    (this.stage.node.defaultChild as CfnStage).routeSettings = {
      [SIGN_IN_ROUTE]: {
        ThrottlingRateLimit: loginThrottle.rateLimit,
        ThrottlingBurstLimit: loginThrottle.burstLimit,
      },
    };
    // A stage's route settings name routes that must exist first.
    this.stage.node.addDependency(login);

    this.url = this.httpApi.apiEndpoint;
    this.agentRoutesArn = this.httpApi.arnForExecuteApi("*", "/agent/v1/*", this.stage.stageName);
  }
}
