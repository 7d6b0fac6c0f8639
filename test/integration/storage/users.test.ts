import { DeleteCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { keys } from "../../../lambdas/adapters/aws/dynamodb/items.ts";
import { DynamoUserStore } from "../../../lambdas/adapters/aws/dynamodb/user-store.ts";
import type { TokenRecord, UserRecord } from "../../../lambdas/ports.ts";
import { freshTable } from "../table.ts";

const NOW = "2026-01-01T00:00:00.000Z";
const user = (email: string, fields: Partial<UserRecord> = {}): UserRecord => ({
  userId: `id-${email}`,
  email,
  role: "user",
  passwordHash: "scrypt$1$1$1$c2FsdA$a2V5",
  createdAt: NOW,
  createdBy: "admin-id",
  updatedAt: NOW,
  updatedBy: "admin-id",
  ...fields,
});
const token = (owner: UserRecord, n: number, fields: Partial<TokenRecord> = {}): TokenRecord => ({
  tokenId: `tok${n}`,
  hash: `${owner.userId}-hash-${n}`,
  userId: owner.userId,
  email: owner.email,
  name: `token ${n}`,
  createdAt: `2026-01-01T00:00:0${n}.000Z`,
  expiresAt: "2026-04-01T00:00:00.000Z",
  ...fields,
});

let table: Awaited<ReturnType<typeof freshTable>>;
let store: DynamoUserStore;

/** The failed sign-ins recorded for an address, read by an update that writes nothing. */
const recordedFailures = async (email: string) =>
  (await store.updateLoginFailures(email, () => undefined, NOW)).failures;
beforeAll(async () => {
  table = await freshTable();
  store = new DynamoUserStore(table);
});

describe("users and their tokens on DynamoDB", () => {
  it("adds a user with a first token, and refuses a second user with the same email", async () => {
    const ada = user("ada@example.org");
    expect(await store.addUser(ada, token(ada, 1))).toEqual({ ok: true });
    expect(await store.getUser("ada@example.org")).toEqual(ada);
    expect(await store.tokenByHash(token(ada, 1).hash)).toEqual(token(ada, 1));

    const twin = user("ada@example.org", { userId: "other", role: "admin" });
    const second = await store.addUser(twin, token(twin, 2));
    expect(second).toMatchObject({ ok: false, conflict: "USER_EXISTS" });
    expect(await store.getUser("ada@example.org")).toEqual(ada);
    expect(await store.tokenByHash(token(twin, 2).hash)).toBeUndefined();
  });

  it("lists users by email, and each user's own tokens newest first", async () => {
    const [bob, cy] = [user("bob@example.org"), user("cy@example.org")];
    await store.addUser(bob);
    await store.addUser(cy);
    await store.addToken(token(bob, 1));
    await store.addToken(token(bob, 2));
    await store.addToken(token(cy, 3));
    const emails = (await store.listUsers()).map((listed) => listed.email);
    expect(emails).toEqual([...emails].sort());
    expect(emails).toEqual(expect.arrayContaining(["bob@example.org", "cy@example.org"]));
    expect((await store.listTokens(bob.userId)).map((listed) => listed.tokenId)).toEqual([
      "tok2",
      "tok1",
    ]);
    expect((await store.listTokens(cy.userId)).map((listed) => listed.tokenId)).toEqual(["tok3"]);
  });

  it("refuses a second token with the same hash", async () => {
    const dee = user("dee@example.org");
    await store.addUser(dee);
    await store.addToken(token(dee, 1));
    await expect(store.addToken(token(dee, 1, { name: "again" }))).rejects.toThrow();
    expect((await store.tokenByHash(token(dee, 1).hash))?.name).toBe("token 1");
  });

  it("revokes a user's own token once; again is a no-op, another user's is not found", async () => {
    const [eve, fay] = [user("eve@example.org"), user("fay@example.org")];
    await store.addUser(eve, token(eve, 1));
    await store.addUser(fay, token(fay, 1));
    expect(await store.revokeToken(fay.userId, "tok9", "2026-01-02T00:00:00.000Z")).toBeUndefined();
    const revoked = await store.revokeToken(eve.userId, "tok1", "2026-01-02T00:00:00.000Z");
    expect(revoked?.revokedAt).toBe("2026-01-02T00:00:00.000Z");
    const again = await store.revokeToken(eve.userId, "tok1", "2026-01-03T00:00:00.000Z");
    expect(again?.revokedAt).toBe("2026-01-02T00:00:00.000Z");
    expect((await store.tokenByHash(token(fay, 1).hash))?.revokedAt).toBeUndefined();
  });

  it("changes a role, recording who did; a missing user is undefined", async () => {
    const gus = user("gus@example.org");
    await store.addUser(gus);
    const changed = await store.setRole(
      gus.email,
      "reviewer",
      "admin-2",
      "2026-01-05T00:00:00.000Z",
    );
    expect(changed).toEqual({
      ok: true,
      user: {
        ...gus,
        role: "reviewer",
        updatedBy: "admin-2",
        updatedAt: "2026-01-05T00:00:00.000Z",
      },
    });
    expect(await store.getUser(gus.email)).toEqual(changed?.ok && changed.user);
    expect(await store.setRole("nobody@example.org", "admin", "a", NOW)).toBeUndefined();
    expect(await store.getUser("nobody@example.org")).toBeUndefined();
  });

  it("removes a user with every token of theirs, keeping who removed them; removing again finds nothing", async () => {
    const hal = user("hal@example.org");
    await store.addUser(hal, token(hal, 1));
    await store.addToken(token(hal, 2));
    expect(await store.removeUser(hal.email, "admin-1", NOW)).toEqual({ ok: true, user: hal });
    const { Items } = await table.client.send(
      new QueryCommand({
        TableName: table.tableName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": `USER#${hal.email}` },
      }),
    );
    const { passwordHash, ...kept } = hal;
    expect(Items).toEqual([
      expect.objectContaining({ ...kept, removedAt: NOW, removedBy: "admin-1" }),
    ]);
    expect(Items?.[0]).not.toHaveProperty("passwordHash");
    expect(await store.listUsers()).not.toContainEqual(
      expect.objectContaining({ email: hal.email }),
    );
    expect(await store.getUser(hal.email)).toBeUndefined();
    expect(await store.tokenByHash(token(hal, 1).hash)).toBeUndefined();
    expect(await store.tokenByHash(token(hal, 2).hash)).toBeUndefined();
    expect(await store.removeUser(hal.email, "admin-1", NOW)).toBeUndefined();
  });

  it("counts concurrent failed sign-ins one after another, per address", async () => {
    const append = (at: string) => (failures: string[]) => [...failures, at];
    await Promise.all(
      ["1", "2", "3", "4"].map((s) =>
        store.updateLoginFailures("ivy@example.org", append(`t${s}`), "2026-01-01T00:15:00.000Z"),
      ),
    );
    expect([...(await recordedFailures("ivy@example.org"))].sort()).toEqual([
      "t1",
      "t2",
      "t3",
      "t4",
    ]);
    expect(await recordedFailures("nobody@example.org")).toEqual([]);
    const declined = await store.updateLoginFailures("ivy@example.org", () => undefined, NOW);
    expect(declined.changed).toBe(false);
    expect(declined.failures).toHaveLength(4);
    await store.updateLoginFailures("ivy@example.org", () => [], NOW);
    expect(await recordedFailures("ivy@example.org")).toEqual([]);
  });

  it("keeps an admin however many demotions and removals race, on new and older tables", async () => {
    for (const older of [false, true]) {
      const own = await freshTable();
      const admins = new DynamoUserStore(own);
      const [ann, ben] = [`ann${older}@example.org`, `ben${older}@example.org`].map((email) =>
        user(email, { userId: `id-${email}`, role: "admin" }),
      );
      if (!ann || !ben) throw new Error("two admins");
      await admins.addUser(ann, undefined, { firstOfAll: true });
      await admins.addUser(ben);
      // A table from before the admin count: the first write that moves it counts the admins.
      if (older)
        await own.client.send(
          new DeleteCommand({ TableName: own.tableName, Key: keys.adminCount() }),
        );
      const demotions = await Promise.all([
        admins.setRole(ann.email, "user", ben.userId, NOW),
        admins.setRole(ben.email, "user", ann.userId, NOW),
      ]);
      expect(demotions.filter((done) => done?.ok)).toHaveLength(1);
      expect(demotions.filter((done) => done?.ok === false)).toEqual([
        expect.objectContaining({ conflict: "LAST_ADMIN" }),
      ]);
      const left = (await admins.listUsers()).filter((listed) => listed.role === "admin");
      expect(left).toHaveLength(1);
      const [last] = left;
      if (!last) throw new Error("an admin is left");
      expect(await admins.removeUser(last.email, "someone", NOW)).toMatchObject({
        ok: false,
        conflict: "LAST_ADMIN",
      });
      // A new admin lets the old one go; removing both at once still leaves one.
      const cy = user(`cy${older}@example.org`, { role: "admin" });
      await admins.addUser(cy);
      const removals = await Promise.all(
        [last, cy].map((admin) => admins.removeUser(admin.email, "someone", NOW)),
      );
      expect(removals.filter((done) => done?.ok)).toHaveLength(1);
      expect((await admins.listUsers()).filter((listed) => listed.role === "admin")).toHaveLength(
        1,
      );
    }
  });
});
