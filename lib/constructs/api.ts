import { Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
  type ThrottleSettings,
} from "aws-cdk-lib/aws-apigatewayv2";
import {
  HttpIamAuthorizer,
  HttpJwtAuthorizer,
  HttpUserPoolAuthorizer,
} from "aws-cdk-lib/aws-apigatewayv2-authorizers";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import {
  AccountRecovery,
  type CfnUserPool,
  FeaturePlan,
  type IUserPool,
  Mfa,
  UserPool,
  type UserPoolClient,
} from "aws-cdk-lib/aws-cognito";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";

/** An OpenID Connect provider the organisation already runs, whose tokens the user routes accept. */
export interface ExistingUsers {
  /** The issuer URL, exactly as the tokens' `iss` claim says it (https). */
  issuer: string;
  /** The accepted `aud` (or, for access tokens without one, `client_id`) values. */
  audience: string[];
}

export interface ApiProps {
  /** The API Lambda (`lambdas/handlers/lambda/api.ts`): every route goes to it. */
  handler: IFunction;
  /** Users' identity provider; when absent, a Cognito user pool of the stack's own. */
  users?: ExistingUsers;
  /** Requests per second, steady and in bursts, across all callers. */
  throttle?: ThrottleSettings;
  /** How long access logs are kept. */
  accessLogRetention?: RetentionDays;
}

/** API Gateway's JWT authorizer takes an https issuer and at least one audience. */
const checkUsers = ({ issuer, audience }: ExistingUsers) => {
  if (!Token.isUnresolved(issuer) && !issuer.startsWith("https://"))
    throw new Error(
      `users.issuer must be an https URL, as the tokens' iss claim says it: ${issuer}`,
    );
  if (audience.length === 0)
    throw new Error("users.audience must name at least one audience (or client id) to accept");
};

/** A gpuctl installation's users: a handful of engineers, accounts made by an administrator. */
const USER_TOKEN_VALIDITY = Duration.hours(1);

/**
 * One line per request: who called (the JWT's subject for users, the IAM caller for
 * agents), which route, what it answered and how long it took.
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
  user: "$context.authorizer.claims.sub",
  caller: "$context.identity.userArn",
  sourceIp: "$context.identity.sourceIp",
  userAgent: "$context.identity.userAgent",
  responseLength: "$context.responseLength",
};

/**
 * The control plane's HTTP API (docs/api.md): users under `/v1`, with a JWT from the
 * stack's Cognito user pool or the organisation's OIDC provider; instance agents under
 * `/agent/v1`, signing with their instance role (IAM authorizer, docs/aws.md "Agent
 * identity"). Both go to the one API Lambda; any other path has no route, so API Gateway
 * answers 404 without invoking it. No CORS: the callers are the CLI and the agents, never
 * a browser.
 */
export class Api extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  /** The base URL the CLI and the agents are given (`https://…`, no trailing slash). */
  readonly url: string;
  /** What the instance role may invoke: the agent routes on the one stage, any method. */
  readonly agentRoutesArn: string;
  readonly userPool?: UserPool;
  readonly userPoolClient?: UserPoolClient;

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

    let users: IHttpRouteAuthorizer;
    if (props.users) {
      checkUsers(props.users);
      users = new HttpJwtAuthorizer("Users", props.users.issuer, {
        jwtAudience: props.users.audience,
      });
    } else {
      const pool = this.createUserPool();
      users = new HttpUserPoolAuthorizer("Users", pool.userPool as IUserPool, {
        userPoolClients: [pool.client],
      });
      this.userPool = pool.userPool;
      this.userPoolClient = pool.client;
    }

    const integration = new HttpLambdaIntegration("Handler", props.handler);
    this.httpApi.addRoutes({
      path: "/v1/{proxy+}",
      methods: [HttpMethod.ANY],
      integration,
      authorizer: users,
    });
    this.httpApi.addRoutes({
      path: "/agent/v1/{proxy+}",
      methods: [HttpMethod.ANY],
      integration,
      authorizer: new HttpIamAuthorizer(),
    });

    this.url = this.httpApi.apiEndpoint;
    this.agentRoutesArn = this.httpApi.arnForExecuteApi("*", "/agent/v1/*", this.stage.stageName);
  }

  /**
   * Accounts made by an administrator only (`admin-create-user`), signed in with an email
   * and a strong password, TOTP optional. The CLI's client has no secret (it runs on
   * users' machines) and signs in with the password (USER_PASSWORD_AUTH) or SRP.
   */
  private createUserPool() {
    const userPool = new UserPool(this, "UserPool", {
      selfSignUpEnabled: false,
      userInvitation: {
        emailSubject: "Your gpuctl account",
        emailBody:
          "Your gpuctl account is {username}, with the temporary password {####}. Sign in once to choose your own.",
      },
      signInAliases: { email: true },
      signInCaseSensitive: false,
      standardAttributes: { email: { required: true, mutable: true } },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
        passwordHistorySize: 5,
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // Free up to 10,000 monthly active users; Plus (threat protection) is paid per user.
      featurePlan: FeaturePlan.ESSENTIALS,
      // Users' accounts own jobs by their `sub`: a new pool would orphan every job.
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(userPool.node.defaultChild as CfnUserPool).acknowledge(
      {
        id: "AwsSolutions::AwsSolutions-COG8",
        reason:
          "The Plus feature plan (threat protection) is billed per monthly active user, and the pool's accounts are made by an administrator only, with a 12-character password policy and TOTP available.",
      },
      {
        id: "AwsSolutions::AwsSolutions-COG2",
        reason:
          "MFA is optional (TOTP): the CLI takes a token obtained with `aws cognito-idp initiate-auth` and answers no MFA challenge itself; an administrator who wants it required sets the pool's MFA to ON and users answer the challenge with the AWS CLI.",
      },
    );
    const client = userPool.addClient("Cli", {
      generateSecret: false,
      authFlows: { userPassword: true, userSrp: true },
      accessTokenValidity: USER_TOKEN_VALIDITY,
      idTokenValidity: USER_TOKEN_VALIDITY,
      refreshTokenValidity: Duration.days(7),
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      // The CLI signs in with a password; no hosted UI, no redirect a domain added later could open.
      disableOAuth: true,
    });
    return { userPool, client };
  }
}
