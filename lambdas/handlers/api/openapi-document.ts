import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from "@asteasolutions/zod-to-openapi";
import {
  type Answer,
  API_ROUTES,
  type ApiRoute,
  refusalsOf,
} from "../../../sdk/contract/routes.ts";
import { ApiError } from "../../../sdk/contract/schemas.ts";

const TAGS = [
  { name: "jobs", description: "Jobs, their events, timelines and results." },
  { name: "accounts", description: "Signing in, access tokens and users." },
  { name: "instances", description: "The instances jobs run on." },
  {
    name: "local",
    description: "Served by the local control plane only: on AWS these URLs are presigned S3 URLs.",
  },
  {
    name: "agent",
    description:
      "Internal: the instance agents' routes. They change with the agent they ship with; on " +
      "AWS agents sign requests with their instance role (SigV4) instead of a bearer token.",
  },
  { name: "meta", description: "The API's own description." },
  {
    name: "console",
    description: "The web console's page and assets: no token, no data; the page calls the API.",
  },
];

const REFUSALS: Record<number, string> = {
  400: "A bad request: `fields` names each bad field and why.",
  401: "No valid token.",
  403: "Not the caller's to do.",
  404: "Not found (another user's job answers as one that does not exist).",
  409: "Refused in the state it is in.",
  413: "A body over its limit.",
  429: "Locked after too many failures: `Retry-After` says until when.",
  500: "An internal error.",
  503: "The console is not built where the API runs.",
};

const tagOf = (route: ApiRoute) => {
  if (route.audience === "agent") return "agent";
  if (route.localOnly) return "local";
  if (route.path === "/openapi.json") return "meta";
  if (route.path.startsWith("/console")) return "console";
  if (/^\/v1\/(login|me|tokens|users)/.test(route.path)) return "accounts";
  if (route.path.startsWith("/v1/instances")) return "instances";
  return "jobs";
};

const answer = ({ description, schema, file, redirect }: Answer): ResponseConfig => ({
  description,
  ...(schema ? { content: { "application/json": { schema } } } : {}),
  ...(file ? { content: { [file]: { schema: { type: "string" } } } } : {}),
  ...(redirect ? { headers: { Location: { schema: { type: "string" } } } } : {}),
});

const routeConfig = (route: ApiRoute): RouteConfig => ({
  method: route.method,
  path: route.path,
  operationId: route.operationId,
  summary: route.summary,
  tags: [tagOf(route)],
  security: route.audience === "public" ? [] : [{ bearer: [] }],
  request: {
    ...(route.params ? { params: route.params } : {}),
    ...(route.query ? { query: route.query } : {}),
    ...(route.headers ? { headers: route.headers } : {}),
    ...(route.body
      ? { body: { required: true, content: { "application/json": { schema: route.body } } } }
      : {}),
    ...(route.upload
      ? {
          body: {
            required: true,
            content: { "application/octet-stream": { schema: { type: "string" } } },
          },
        }
      : {}),
  },
  responses: {
    ...Object.fromEntries(
      Object.entries(route.responses).map(([status, response]) => [status, answer(response)]),
    ),
    ...Object.fromEntries(
      refusalsOf(route).map((status) => [
        status,
        {
          description: REFUSALS[status] ?? "",
          content: { "application/json": { schema: ApiError } },
        },
      ]),
    ),
  },
});

const generate = () => {
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "A user's access token (`gpuctl_...`), or locally an instance agent's token.",
  });
  for (const route of API_ROUTES) registry.registerPath(routeConfig(route));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "gpuctl",
      version: "1",
      description:
        "The gpuctl control plane's HTTP API: the same locally (`npm start`) and on AWS.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    servers: [{ url: "/", description: "where this document is served" }],
    tags: TAGS,
  });
};

let generated: ReturnType<typeof generate> | undefined;

/** The OpenAPI 3.1 document of the API, generated (once) from its routes' schemas (sdk/contract). */
export const openApiDocument = () => {
  generated ??= generate();
  return generated;
};
