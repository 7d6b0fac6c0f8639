import type { Page, TokenView } from "../../sdk/api-types.ts";
import { api } from "./api.ts";
import { session } from "./session.ts";

/** The name of the tokens a sign-in with email and password makes (`gpuctl login` too). */
const SIGN_IN_TOKEN = "login";

/**
 * Signs the tab out as `gpuctl logout` does: a token a sign-in made is revoked on the
 * server, one made with `gpuctl token create` keeps working elsewhere; either way the tab
 * forgets it. Says what became of the token.
 */
export const signOut = async (): Promise<string> => {
  const token = session.token();
  session.forget();
  if (!token) return "Signed out.";
  try {
    const { items } = await api<Page<TokenView>>("/v1/tokens", { token });
    // A token's id begins its random part, after the `gpuctl_` prefix.
    const listed = items.find((candidate) => token.startsWith(`gpuctl_${candidate.tokenId}`));
    if (listed?.name !== SIGN_IN_TOKEN)
      return "Signed out. The access token you used still works until it expires or is revoked.";
    if (listed.revokedAt === undefined)
      await api(`/v1/tokens/${encodeURIComponent(listed.tokenId)}`, { method: "DELETE", token });
    return "Signed out. The sign-in's token is revoked.";
  } catch (error) {
    return `Signed out here, but the token was not revoked: ${(error as Error).message}`;
  }
};
