import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Caller,
  isTokenShaped,
  LOGIN_LIMIT,
  loginLockedUntil,
  may,
  mintToken,
  normalizeEmail,
  ROLES,
  recordLoginFailure,
  TOKEN_BYTES,
  TOKEN_LIFETIME,
  tokenExpiry,
  tokenHash,
  tokenRefusal,
  validatePassword,
} from "../../../lambdas/domain/identity.ts";

const NOW = "2026-01-01T12:00:00.000Z";
const at = (offsetS: number) => new Date(Date.parse(NOW) + offsetS * 1000).toISOString();
const caller = (role: Caller["role"], userId = "u1"): Caller => ({
  userId,
  email: `${userId}@example.org`,
  role,
});

describe("who may do what", () => {
  it.each(ROLES)("a %s reaches their own jobs and no one else's", (role) => {
    expect(may(caller(role), "job.access", "u1")).toBe(true);
    expect(may(caller(role), "job.access", "u2")).toBe(false);
    expect(may(caller(role), "job.access")).toBe(false);
  });

  it("its owner stops a job, and so does an admin, whoever owns it", () => {
    for (const role of ROLES) expect(may(caller(role), "job.stop", "u1")).toBe(true);
    expect(ROLES.filter((role) => may(caller(role), "job.stop", "u2"))).toEqual(["admin"]);
    for (const role of ROLES) expect(may(caller(role), "job.stop")).toBe(false);
  });

  it("a reviewer or admin who is not the job's owner reviews it; no one reviews their own", () => {
    expect(may(caller("user"), "job.review", "u2")).toBe(false);
    expect(may(caller("reviewer"), "job.review", "u2")).toBe(true);
    expect(may(caller("admin"), "job.review", "u2")).toBe(true);
    for (const role of ROLES) expect(may(caller(role), "job.review", "u1")).toBe(false);
  });

  it("reviewers and admins see the jobs waiting for review", () => {
    expect(ROLES.filter((role) => may(caller(role), "reviews.list"))).toEqual([
      "reviewer",
      "admin",
    ]);
  });

  it("only admins see every instance and manage users", () => {
    for (const action of ["instances.all", "users.manage"] as const)
      expect(ROLES.filter((role) => may(caller(role), action))).toEqual(["admin"]);
  });
});

describe("email addresses", () => {
  it("are trimmed and lower-cased", () => {
    expect(normalizeEmail("  Ada@Example.ORG ")).toEqual({ ok: true, value: "ada@example.org" });
  });

  it.each([
    ["a Cyrillic а in the local part", "\u0430da@example.org"],
    ["a Cyrillic е in the domain", "ada@\u0435xample.org"],
    ["an international domain", "ada@bücher.example"],
  ])("are refused with %s, saying to write ASCII", (_, value) => {
    expect(normalizeEmail(value)).toEqual({
      ok: false,
      errors: [
        {
          field: "email",
          message: "must be ASCII: write an international domain in punycode (xn--...)",
        },
      ],
    });
    expect(normalizeEmail("ada@xn--bcher-kva.example")).toMatchObject({ ok: true });
  });

  it.each([
    ["no at", "ada.example.org"],
    ["no dot in the domain", "ada@localhost"],
    ["white space", "a da@example.org"],
    ["two ats", "a@b@example.org"],
    ["empty", ""],
    ["too long", `${"a".repeat(250)}@example.org`],
    ["not a string", 42],
  ])("are refused with %s, naming the field", (_, value) => {
    const result = normalizeEmail(value);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors[0]?.field).toBe("email");
  });
});

describe("passwords", () => {
  it("are at least 12 and at most 1024 characters", () => {
    expect(validatePassword("correct horse").ok).toBe(true);
    for (const bad of ["short", "x".repeat(1025), undefined]) {
      const result = validatePassword(bad);
      expect(result.ok ? undefined : result.errors[0]?.field).toBe("password");
    }
  });
});

describe("access tokens", () => {
  const random = fc.uint8Array({ minLength: TOKEN_BYTES, maxLength: TOKEN_BYTES });

  it("are gpuctl_ and 32 random bytes in base64url, named by their first characters", () => {
    fc.assert(
      fc.property(random, (bytes) => {
        const { token, tokenId, hash } = mintToken(bytes);
        expect(isTokenShaped(token)).toBe(true);
        expect(token.startsWith(`gpuctl_${tokenId}`)).toBe(true);
        expect(tokenId).toHaveLength(8);
        expect(hash).toBe(tokenHash(token));
        expect(hash).toMatch(/^[0-9a-f]{64}$/);
        expect(hash).not.toContain(token.slice(7));
      }),
    );
  });

  it("never verify against another token's hash", () => {
    fc.assert(
      fc.property(random, random, (a, b) => {
        fc.pre(Buffer.compare(a, b) !== 0);
        expect(tokenHash(mintToken(a).token)).not.toBe(mintToken(b).hash);
      }),
    );
  });

  it("take exactly 32 random bytes", () => {
    expect(() => mintToken(new Uint8Array(16))).toThrow(/32 random bytes/);
  });

  it("last 90 days by default, at most 365, in whole days", () => {
    expect(tokenExpiry(NOW)).toEqual({ ok: true, value: at(90 * 86_400) });
    expect(tokenExpiry(NOW, 365)).toEqual({ ok: true, value: at(365 * 86_400) });
    for (const days of [0, 366, 1.5, "7"]) {
      const result = tokenExpiry(NOW, days);
      expect(result.ok ? undefined : result.errors[0]?.field).toBe("expiresInDays");
    }
    expect(TOKEN_LIFETIME.maxDays).toBe(365);
  });

  it("let their user in until they expire or are revoked", () => {
    expect(tokenRefusal({ expiresAt: at(1) }, NOW)).toBeUndefined();
    expect(tokenRefusal({ expiresAt: NOW }, NOW)).toBe("EXPIRED");
    expect(tokenRefusal({ expiresAt: at(1), revokedAt: at(-1) }, NOW)).toBe("REVOKED");
  });
});

describe("the failed-login lock", () => {
  const { failures: N, windowS, lockS } = LOGIN_LIMIT;
  /** Offsets in seconds, in any order. */
  const offsets = fc.array(fc.integer({ min: -3 * windowS, max: 0 }), { maxLength: 3 * N });
  const record = (seconds: number[]) =>
    seconds.reduce<string[]>((failures, s) => recordLoginFailure(failures, at(s)), []);

  it("locks after N failures within the window, until the lock time after the last", () => {
    const failures = record(Array.from({ length: N }, (_, i) => -i * 10));
    expect(loginLockedUntil(failures, NOW)).toBe(at(lockS));
    expect(loginLockedUntil(failures, at(lockS - 1))).toBe(at(lockS));
    expect(loginLockedUntil(failures, at(lockS))).toBeUndefined();
  });

  it("does not lock on fewer failures, nor on N spread wider than the window", () => {
    expect(loginLockedUntil(record([-3, -2, -1]), NOW)).toBeUndefined();
    const spread = record(Array.from({ length: N }, (_, i) => (-i * (windowS + 1)) / (N - 1)));
    expect(loginLockedUntil(spread, NOW)).toBeUndefined();
  });

  it("never locks with fewer than N failures, nor past the lock time after the last", () => {
    fc.assert(
      fc.property(offsets, fc.integer({ min: 0, max: 2 * lockS }), (seconds, later) => {
        const failures = record(seconds);
        const until = loginLockedUntil(failures, at(later));
        if (seconds.length < N) expect(until).toBeUndefined();
        if (until) {
          expect(Date.parse(until)).toBe(Date.parse(at(Math.max(...seconds))) + lockS * 1000);
          expect(Date.parse(at(later))).toBeLessThan(Date.parse(until));
        }
      }),
    );
  });

  it("keeps only the last N failures, and locks at the last whenever N fall within the window", () => {
    fc.assert(
      fc.property(offsets, (seconds) => {
        const failures = record(seconds);
        expect(failures.length).toBe(Math.min(seconds.length, N));
        const last = [...seconds].sort((a, b) => a - b).slice(-N);
        const locked = last.length === N && (last.at(-1) ?? 0) - (last[0] ?? 0) <= windowS;
        const latest = at(Math.max(0 - 3 * windowS, ...seconds));
        expect(loginLockedUntil(failures, latest) !== undefined).toBe(locked);
      }),
    );
  });
});
