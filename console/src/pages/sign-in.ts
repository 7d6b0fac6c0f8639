import type { CallerView, SignedInView } from "../../../sdk/api-types.ts";
import { api } from "../api.ts";
import { h } from "../dom.ts";
import { session } from "../session.ts";

const field = (label: string, input: HTMLInputElement) => h("label", {}, label, h("br"), input);

/**
 * Signing in: with email and password (`POST /v1/login`, which makes a token named
 * `login`), or with an access token pasted from `gpuctl token create`, checked with
 * `GET /v1/me` before it is kept.
 */
export const signInPage = (main: HTMLElement, signedIn: () => void, message?: string) => {
  const error = h("p", { role: "alert", class: "muted" }, message ?? "");
  const email = h("input", {
    type: "email",
    name: "email",
    autocomplete: "username",
    required: "",
  });
  const password = h("input", {
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: "",
  });
  const token = h("input", { type: "password", name: "token", autocomplete: "off", required: "" });

  const submit =
    (form: HTMLFormElement, tokenOf: () => Promise<string>) => async (event: SubmitEvent) => {
      event.preventDefault();
      const button = form.querySelector("button");
      if (button) button.disabled = true;
      error.textContent = "";
      try {
        session.signIn(await tokenOf());
        signedIn();
      } catch (failure) {
        error.textContent = (failure as Error).message;
      } finally {
        if (button) button.disabled = false;
      }
    };

  const withPassword = h(
    "form",
    { class: "sign-in", id: "sign-in-password" },
    h("h2", {}, "Sign in"),
    field("Email", email),
    field("Password", password),
    h("button", { type: "submit" }, "Sign in"),
  );
  withPassword.addEventListener(
    "submit",
    submit(withPassword, async () => {
      const signed = await api<SignedInView>("/v1/login", {
        method: "POST",
        body: { email: email.value, password: password.value },
      });
      return signed.token;
    }),
  );

  const withToken = h(
    "form",
    { class: "sign-in", id: "sign-in-token" },
    h("h2", {}, "Or use an access token"),
    field("Token", token),
    h("button", { type: "submit" }, "Use token"),
  );
  withToken.addEventListener(
    "submit",
    submit(withToken, async () => {
      // Kept only once the API accepts it.
      const pasted = token.value.trim();
      await api<CallerView>("/v1/me", { token: pasted });
      return pasted;
    }),
  );

  main.replaceChildren(h("h1", {}, "gpuctl console"), error, withPassword, withToken);
  email.focus();
};
