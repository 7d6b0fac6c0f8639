import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { Role } from "../../../domain/identity.ts";
import type { TokenRecord, UserRecord, UserStore, WriteResult } from "../../../ports.ts";
import { keys } from "./items.ts";
import { INDEX } from "./schema.ts";
import { DynamoTable } from "./table.ts";
import { transact, type Write } from "./transact.ts";

const DAY_S = 86_400;
/** How long an expired or revoked token is kept, so its user is told why it no longer works. */
const ENDED_TOKEN_RETENTION_S = 30 * DAY_S;
// Enough for a burst of sign-ins at one address: each round one of them writes, and once
// the address is locked the rest stop writing at all.
const UPDATE_ATTEMPTS = 10;

const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt, 5)));

const epochS = (iso: string) => Math.floor(Date.parse(iso) / 1000);

const userItem = (user: UserRecord) => ({
  ...keys.user(user.email),
  ...user,
  gsi1pk: keys.users,
  gsi1sk: user.email,
});

const userFrom = (item: Record<string, unknown>): UserRecord => {
  const { pk, sk, gsi1pk, gsi1sk, ...user } = item;
  return user as unknown as UserRecord;
};

// The table's TTL attribute is `expiresAt` in epoch seconds; the token's own expiry, an
// ISO time, is `validUntil` on the item.
const tokenItem = ({ expiresAt, ...token }: TokenRecord) => ({
  ...keys.token(token.hash),
  ...token,
  validUntil: expiresAt,
  expiresAt: epochS(expiresAt) + ENDED_TOKEN_RETENTION_S,
  gsi1pk: keys.userTokens(token.userId),
  gsi1sk: `${token.createdAt}#${token.tokenId}`,
});

const tokenFrom = (item: Record<string, unknown>): TokenRecord => {
  const { pk, sk, gsi1pk, gsi1sk, expiresAt, validUntil, ...token } = item;
  return { ...(token as unknown as Omit<TokenRecord, "expiresAt">), expiresAt: String(validUntil) };
};

/** Users by email, tokens by hash, each user's tokens on gsi1, failed sign-ins by email, the admin count. */
export class DynamoUserStore extends DynamoTable implements UserStore {
  async addUser(
    user: UserRecord,
    firstToken?: TokenRecord,
    options: { firstOfAll?: boolean } = {},
  ): Promise<WriteResult> {
    if (user.role === "admin") await this.ensureAdminCount();
    return transact(this.client, [
      ...(options.firstOfAll
        ? [
            {
              item: {
                Put: {
                  TableName: this.tableName,
                  Item: { ...keys.firstUser(), userId: user.userId, at: user.createdAt },
                  ConditionExpression: "attribute_not_exists(pk)",
                },
              },
              conflict: "USER_EXISTS" as const,
              message: "the installation's first user exists",
            },
          ]
        : []),
      {
        item: {
          Put: {
            TableName: this.tableName,
            Item: userItem(user),
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        conflict: "USER_EXISTS",
        message: `a user with email ${user.email} exists`,
      },
      ...(user.role === "admin" ? [this.countAdmins(1)] : []),
      ...(firstToken
        ? [
            {
              item: {
                Put: {
                  TableName: this.tableName,
                  Item: tokenItem(firstToken),
                  ConditionExpression: "attribute_not_exists(pk)",
                },
              },
              conflict: "TOKEN_EXISTS" as const,
              message: "a token with that hash exists: make another",
            },
          ]
        : []),
    ]);
  }

  async getUser(email: string): Promise<UserRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.user(email), ConsistentRead: true }),
    );
    return Item ? userFrom(Item) : undefined;
  }

  async listUsers(): Promise<UserRecord[]> {
    const items = await this.queryAll({
      IndexName: INDEX.byOwner,
      KeyConditionExpression: "gsi1pk = :users",
      ExpressionAttributeValues: { ":users": keys.users },
    });
    return items.map(userFrom);
  }

  /**
   * Changes the role in the same transaction as the admin count when it makes or unmakes an
   * admin; the role as read is a condition, so the count moves by what really changed.
   */
  async setRole(email: string, role: Role, by: string, at: string) {
    const user = await this.getUser(email);
    if (!user) return undefined;
    const delta = (role === "admin" ? 1 : 0) - (user.role === "admin" ? 1 : 0);
    if (delta) await this.ensureAdminCount();
    const changed = await transact(this.client, [
      {
        item: {
          Update: {
            TableName: this.tableName,
            Key: keys.user(email),
            UpdateExpression: "SET #role = :role, updatedAt = :at, updatedBy = :by",
            ConditionExpression: "userId = :userId AND #role = :was",
            ExpressionAttributeNames: { "#role": "role" },
            ExpressionAttributeValues: {
              ":role": role,
              ":at": at,
              ":by": by,
              ":userId": user.userId,
              ":was": user.role,
            },
          },
        },
        conflict: "STALE_USER",
        message: `user ${email} changed meanwhile`,
      },
      ...(delta ? [this.countAdmins(delta)] : []),
    ]);
    return changed.ok
      ? { ok: true as const, user: { ...user, role, updatedAt: at, updatedBy: by } }
      : changed;
  }

  async removeUser(email: string, by: string, at: string) {
    const user = await this.getUser(email);
    if (!user) return undefined;
    const { passwordHash, ...kept } = user;
    if (user.role === "admin") await this.ensureAdminCount();
    const removed = await transact(this.client, [
      {
        item: {
          Delete: {
            TableName: this.tableName,
            Key: keys.user(email),
            // The user as read: one removed and re-added meanwhile is another user, and
            // one whose role changed meanwhile moved the admin count.
            ConditionExpression: "userId = :userId AND #role = :was",
            ExpressionAttributeNames: { "#role": "role" },
            ExpressionAttributeValues: { ":userId": user.userId, ":was": user.role },
          },
        },
        conflict: "STALE_USER",
        message: `user ${email} changed meanwhile`,
      },
      {
        item: {
          Put: {
            TableName: this.tableName,
            Item: {
              ...keys.removedUser(email, at, user.userId),
              ...kept,
              removedAt: at,
              removedBy: by,
            },
          },
        },
        conflict: "STALE_USER",
        message: `user ${email} changed meanwhile`,
      },
      ...(user.role === "admin" ? [this.countAdmins(-1)] : []),
    ]);
    if (!removed.ok) return removed;
    // Tokens already stop at the missing user (authenticate); deleting them keeps the table clean.
    const tokens = await this.listTokens(user.userId);
    await Promise.all(
      tokens.map((token) =>
        this.client.send(
          new DeleteCommand({ TableName: this.tableName, Key: keys.token(token.hash) }),
        ),
      ),
    );
    return { ok: true as const, user };
  }

  /** Moves the admin count by `delta`, in a transaction; a move down never leaves it below 1. */
  private countAdmins(delta: number): Write {
    return {
      item: {
        Update: {
          TableName: this.tableName,
          Key: keys.adminCount(),
          UpdateExpression: "ADD admins :delta",
          ...(delta < 0
            ? {
                ConditionExpression: "admins >= :least",
                ExpressionAttributeValues: { ":delta": delta, ":least": 1 - delta },
              }
            : { ExpressionAttributeValues: { ":delta": delta } }),
        },
      },
      conflict: "LAST_ADMIN",
      message: "the installation would be left without an admin",
    };
  }

  /**
   * Tables from before the admin count have none: it is counted once, from the users index,
   * by the first write that moves it. Racing first counts agree, so the first one stays.
   */
  private async ensureAdminCount(): Promise<void> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.adminCount(), ConsistentRead: true }),
    );
    if (Item) return;
    const admins = (await this.listUsers()).filter((user) => user.role === "admin").length;
    try {
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.adminCount(), admins },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async addToken(token: TokenRecord): Promise<void> {
    // 256 random bits never collide; were they to, the error beats handing out another's token.
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: tokenItem(token),
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async tokenByHash(hash: string): Promise<TokenRecord | undefined> {
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: keys.token(hash), ConsistentRead: true }),
    );
    return Item ? tokenFrom(Item) : undefined;
  }

  async listTokens(userId: string): Promise<TokenRecord[]> {
    const items = await this.queryAll({
      IndexName: INDEX.byOwner,
      KeyConditionExpression: "gsi1pk = :tokens",
      ExpressionAttributeValues: { ":tokens": keys.userTokens(userId) },
      ScanIndexForward: false,
    });
    return items.map(tokenFrom);
  }

  async revokeToken(userId: string, tokenId: string, at: string) {
    const listed = (await this.listTokens(userId)).find((token) => token.tokenId === tokenId);
    if (!listed) return undefined;
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.token(listed.hash),
          UpdateExpression: "SET revokedAt = :at",
          ConditionExpression:
            "attribute_exists(pk) AND attribute_not_exists(revokedAt) AND userId = :userId",
          ExpressionAttributeValues: { ":at": at, ":userId": userId },
          ReturnValues: "ALL_NEW",
        }),
      );
      return Attributes ? tokenFrom(Attributes) : undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Revoked already, or gone with its user: either way there is nothing left to revoke.
      return this.tokenByHash(listed.hash);
    }
  }

  async updateLoginFailures(
    email: string,
    change: (failures: string[]) => string[] | undefined,
    expiresAt: string,
  ): Promise<{ failures: string[]; changed: boolean }> {
    const Key = keys.loginFailures(email);
    for (let attempt = 1; ; attempt++) {
      const { Item } = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key, ConsistentRead: true }),
      );
      const version = typeof Item?.version === "number" ? Item.version : 0;
      const recorded = (Item?.failures as string[] | undefined) ?? [];
      const failures = change(recorded);
      if (!failures) return { failures: recorded, changed: false };
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: { ...Key, failures, version: version + 1, expiresAt: epochS(expiresAt) },
            ConditionExpression: version ? "version = :version" : "attribute_not_exists(pk)",
            ...(version ? { ExpressionAttributeValues: { ":version": version } } : {}),
          }),
        );
        return { failures, changed: true };
      } catch (error) {
        // A failure that cannot be counted must not let the password be tried: throw.
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= UPDATE_ATTEMPTS)
          throw error;
        await pause(attempt);
      }
    }
  }
}
