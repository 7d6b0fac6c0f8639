import { isDeepStrictEqual } from "node:util";
import { refusalsOf, routeOf } from "../../sdk/contract/routes.ts";
import { ApiError } from "../../sdk/contract/schemas.ts";

/**
 * What is wrong with an answer by the API's contract (sdk/contract): a status its route
 * does not list, or a body not of the shape the contract gives for that status (a field it
 * does not name counts). Empty when the answer keeps to the contract.
 */
export const contractProblems = async (method: string, url: string, response: Response) => {
  const path = new URL(url, "http://localhost").pathname;
  const at = `${method} ${path} → ${response.status}`;
  const found = routeOf(method, path);
  const refusal = response.status >= 400;
  if (!found && !(refusal && response.status !== 500)) return [`${at}: no route of the contract`];
  const answer = found?.route.responses[response.status];
  if (found && !answer && !refusalsOf(found.route).includes(response.status))
    return [`${at}: a status the contract does not list for ${found.route.operationId}`];
  const schema = answer ? answer.schema : ApiError;
  if (!schema) return [];
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [`${at}: not JSON: ${text.slice(0, 200)}`];
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) return [`${at}: ${parsed.error.message}`];
  return isDeepStrictEqual(parsed.data, body)
    ? []
    : [`${at}: has fields the contract does not name: ${text.slice(0, 500)}`];
};

type Requester = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/** `api.request` with each answer held to the contract; `breaches` lists those that broke it. */
export const contractChecked = (api: Requester) => {
  const breaches: string[] = [];
  const request = async (path: string, init: RequestInit = {}) => {
    const response = await api.request(path, init);
    breaches.push(...(await contractProblems(init.method ?? "GET", path, response.clone())));
    return response;
  };
  return { request, breaches };
};
