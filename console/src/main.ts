/**
 * The web console: read-only pages over the user API, on the API's own origin. The page
 * shown follows the URL's fragment (`#/jobs`, `#/jobs/ID`, `#/instances`), which never
 * reaches a server; the token never appears in a URL.
 */
import type { Dialect } from "../../lambdas/domain/dialects/index.ts";
import type { CallerView } from "../../sdk/api-types.ts";
import { ApiRequestError, api } from "./api.ts";
import { instancesPage } from "./pages/instances.ts";
import { jobPage } from "./pages/job.ts";
import { jobsPage } from "./pages/jobs.ts";
import { signInPage } from "./pages/sign-in.ts";
import { session } from "./session.ts";
import { signOut } from "./sign-out.ts";

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const main = byId<HTMLElement>("main");
const nav = byId<HTMLElement>("nav");
const who = byId<HTMLElement>("who");
const notice = byId<HTMLParagraphElement>("notice");
const dialect = byId<HTMLSelectElement>("dialect");

const say = (message: string) => {
  notice.textContent = message;
  notice.hidden = message === "";
};

let shown: AbortController | undefined;

/** Shows the page the address names (signing in first), ending the one shown before. */
const show = async (message = ""): Promise<void> => {
  shown?.abort();
  const controller = new AbortController();
  shown = controller;
  say("");
  if (!session.token()) {
    nav.hidden = true;
    who.textContent = "";
    signInPage(main, () => void show(), message);
    return;
  }
  nav.hidden = false;
  dialect.value = session.dialect();
  const page = { main, signal: controller.signal, dialect: session.dialect() };
  const route = location.hash;
  try {
    if (!who.textContent) who.textContent = (await api<CallerView>("/v1/me")).email;
    const job = /^#\/jobs\/([^/?]+)$/.exec(route)?.[1];
    const after = /^#\/jobs\?after=(.+)$/.exec(route)?.[1];
    if (job) await jobPage(page, decodeURIComponent(job));
    else if (route === "#/instances") await instancesPage(page);
    else await jobsPage(page, after && decodeURIComponent(after));
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error instanceof ApiRequestError && error.status === 401) {
      session.forget();
      return show(`Signed out: ${error.message}. Sign in again.`);
    }
    say((error as Error).message);
  }
};

window.addEventListener("hashchange", () => void show());
dialect.addEventListener("change", () => {
  session.setDialect(dialect.value as Dialect);
  void show();
});
byId<HTMLButtonElement>("sign-out").addEventListener("click", async () => {
  shown?.abort();
  void show(await signOut());
});
void show();
