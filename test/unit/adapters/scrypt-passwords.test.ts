import * as crypto from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { ScryptPasswords } from "../../../lambdas/adapters/crypto/scrypt-passwords.ts";

vi.mock("node:crypto", async (original) => {
  const actual = await original<typeof import("node:crypto")>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const passwords = new ScryptPasswords({ N: 2 ** 10, r: 8, p: 1 });

describe("scrypt passwords", () => {
  it("verify the password they were made from, with a fresh salt each time", async () => {
    const [a, b] = await Promise.all([
      passwords.hash("correct horse battery"),
      passwords.hash("correct horse battery"),
    ]);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(a).not.toBe(b);
    expect(await passwords.verify("correct horse battery", a)).toBe(true);
    expect(await passwords.verify("correct horse batterY", a)).toBe(false);
  });

  it("compare the derived keys in constant time", async () => {
    const stored = await passwords.hash("correct horse battery");
    vi.mocked(crypto.timingSafeEqual).mockClear();
    await passwords.verify("wrong horse battery", stored);
    expect(crypto.timingSafeEqual).toHaveBeenCalledOnce();
  });

  it("verify with the cost a hash carries, so the default cost can change", async () => {
    const stronger = new ScryptPasswords({ N: 2 ** 11, r: 8, p: 1 });
    expect(
      await passwords.verify("correct horse battery", await stronger.hash("correct horse battery")),
    ).toBe(true);
  });

  it("refuse a malformed or foreign hash rather than throw", async () => {
    for (const stored of ["", "bcrypt$x", "scrypt$0$8$1$c2FsdA$a2V5", "scrypt$1024$8$1$$"])
      expect(await passwords.verify("correct horse battery", stored)).toBe(false);
  });
});
