import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { Conflict, WriteResult } from "../../../ports.ts";

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]
>[number];

/** One write of a transaction, and the conflict to report if its condition fails. */
export interface Write {
  item: TransactItem;
  conflict: Conflict;
  message: string;
}

const MAX_ATTEMPTS = 5;

const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));

/**
 * Writes all or nothing. A failed condition is reported as the conflict of the write
 * that failed it; a clash with another transaction in flight (TransactionConflict) says
 * nothing about the conditions yet, so the transaction is tried again.
 */
export const transact = async (
  client: DynamoDBDocumentClient,
  writes: Write[],
): Promise<WriteResult> => {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.send(
        new TransactWriteCommand({ TransactItems: writes.map((write) => write.item) }),
      );
      return { ok: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      const failed = reasons.findIndex((reason) => reason.Code === "ConditionalCheckFailed");
      const write = writes[failed];
      if (write) return { ok: false, conflict: write.conflict, message: write.message };
      const clashed = reasons.some((reason) => reason.Code === "TransactionConflict");
      if (!clashed || attempt >= MAX_ATTEMPTS) throw error;
      await pause(attempt);
    }
  }
};
