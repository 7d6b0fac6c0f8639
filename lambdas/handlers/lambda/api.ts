import { join } from "node:path";
import { type APIGatewayProxyResult, handle, type LambdaEvent } from "hono/aws-lambda";
import { buildPortsAndEnvironment } from "../../adapters/aws/build-ports.ts";
import { metrics } from "../../adapters/aws/builders/cloudwatch.ts";
import { passwords } from "../../adapters/aws/builders/crypto.ts";
import { instances, jobs, users } from "../../adapters/aws/builders/dynamodb.ts";
import { compute } from "../../adapters/aws/builders/ec2.ts";
import { events } from "../../adapters/aws/builders/eventbridge.ts";
import { artifacts } from "../../adapters/aws/builders/s3.ts";
import { agent } from "../../adapters/aws/builders/secretsmanager.ts";
import { clock, cooling, costModel, spotAllowed } from "../../adapters/aws/builders/settings.ts";
import { workflows } from "../../adapters/aws/builders/sfn.ts";
import { commands } from "../../adapters/aws/builders/sqs.ts";
import { API_NEEDS, createApi } from "../api/app.ts";
import { API_OWN_ENVIRONMENT } from "./entries.ts";
import { wrapHandler } from "./wrap-handler.ts";

/**
 * The HTTP API behind API Gateway (HTTP API, payload 2.0). Users' routes come through
 * unauthenticated at API Gateway: this function checks gpuctl's own access tokens against
 * the identity store, as the local control plane does, so one store knows the users on
 * AWS and locally. Agents' routes pass API Gateway's IAM authorizer, whose caller must be
 * a session of the instance role. The event reaches the routes as `c.env.event`. No poll
 * route and no artifact routes: agents read their SQS queue, and files move through
 * presigned S3 URLs.
 */
const { ports, environment } = await buildPortsAndEnvironment(
  API_NEEDS,
  {
    jobs,
    instances,
    compute,
    workflows,
    commands,
    artifacts,
    users,
    passwords,
    events,
    metrics,
    costModel,
    cooling,
    spotAllowed,
    clock,
    agent,
  },
  API_OWN_ENVIRONMENT,
);
const api = createApi(ports, {
  agentRole: environment.agentRole.AGENT_ROLE_NAME,
  // Beside the bundle: the function's bundling builds the console there (lib/constructs/functions.ts).
  consoleAssets: join(import.meta.dirname, "console"),
});

export const handler = wrapHandler<LambdaEvent, APIGatewayProxyResult>(handle(api));
