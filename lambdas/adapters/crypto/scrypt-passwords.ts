/**
 * Passwords hashed with scrypt from `node:crypto` (OpenSSL's, maintained with Node itself:
 * no dependency to pin or audit). The local control plane and the Lambdas use the same one.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import type { Passwords } from "../../ports.ts";

export interface ScryptCost {
  /** CPU and memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/**
 * One of OWASP's equivalent scrypt minimums (N = 2^15, r = 8, p = 3): 32 MiB, which fits
 * the API Lambda's memory beside everything else, and about a hundred milliseconds per
 * hash, which a sign-in pays once and a guesser pays per guess.
 */
export const DEFAULT_SCRYPT_COST: ScryptCost = { N: 2 ** 15, r: 8, p: 3 };

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const SCHEME = "scrypt";

const derive = (password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    // scrypt needs 128 * N * r bytes; Node refuses above `maxmem` (32 MiB by default).
    const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r };
    scrypt(password.normalize("NFC"), salt, KEY_BYTES, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });

/** `scrypt$N$r$p$<salt>$<key>`, base64url: a hash says how it was made, so the cost can rise later. */
const format = (cost: ScryptCost, salt: Buffer, key: Buffer) =>
  [SCHEME, cost.N, cost.r, cost.p, salt.toString("base64url"), key.toString("base64url")].join("$");

const parse = (stored: string) => {
  const [scheme, N, r, p, salt, key, ...rest] = stored.split("$");
  const cost = { N: Number(N), r: Number(r), p: Number(p) };
  if (scheme !== SCHEME || rest.length || !salt || !key) return undefined;
  if (![cost.N, cost.r, cost.p].every((n) => Number.isSafeInteger(n) && n > 0)) return undefined;
  return { cost, salt: Buffer.from(salt, "base64url"), key: Buffer.from(key, "base64url") };
};

export class ScryptPasswords implements Passwords {
  readonly #cost: ScryptCost;

  /** A lower cost only for tests: a hash keeps its own cost, so it verifies either way. */
  constructor(cost: ScryptCost = DEFAULT_SCRYPT_COST) {
    this.#cost = cost;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    return format(this.#cost, salt, await derive(password, salt, this.#cost));
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parse(stored);
    if (!parsed) return false;
    const key = await derive(password, parsed.salt, parsed.cost);
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  }
}
