import { type APIGatewayProxyResult, handle, type LambdaEvent } from "hono/aws-lambda";
import { buildPorts } from "../../adapters/aws/build-ports.ts";
import { API_NEEDS, createApi } from "../api/app.ts";
import { jwtSubject } from "../api/user-identity.ts";
import { wrapHandler } from "./wrap-handler.ts";

/**
 * The HTTP API behind API Gateway (HTTP API, payload 2.0): users' routes pass its JWT
 * authorizer, agents' its IAM authorizer. The event reaches the routes as `c.env.event`.
 */
const api = createApi(await buildPorts(API_NEEDS), { users: jwtSubject });

export const handler = wrapHandler<LambdaEvent, APIGatewayProxyResult>(handle(api));
