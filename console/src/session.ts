import { DIALECTS, type Dialect } from "../../lambdas/domain/dialects/index.ts";

/**
 * The access token lives in this tab's sessionStorage only: never in a URL, a cookie or
 * localStorage, so it goes when the tab does and no other site's request carries it.
 */
const TOKEN = "gpuctl.token";
const DIALECT = "gpuctl.dialect";

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN),
  signIn: (token: string) => sessionStorage.setItem(TOKEN, token),
  forget: () => sessionStorage.removeItem(TOKEN),
  dialect: (): Dialect => {
    const saved = sessionStorage.getItem(DIALECT);
    return DIALECTS.find((dialect) => dialect === saved) ?? "aibro";
  },
  setDialect: (dialect: Dialect) => sessionStorage.setItem(DIALECT, dialect),
};
