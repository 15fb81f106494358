import type { Context } from "../context.js";
import type { AccountRow } from "../store/accounts.js";
import { newId } from "../store/ids.js";
import { reports } from "../store/schema.js";
import { findStatusByUri } from "../store/statuses.js";
import { addNotification, requireLocalAccount } from "./common.js";
import { commit } from "./unit-of-work.js";

const MAX_COMMENT = 5000;

/**
 * A report (Flag) from a remote account about the local account or its statuses: kept, with an
 * "admin.report" notification. A report about anyone else is none of this server's business (false).
 */
export function receiveReport(
  ctx: Context,
  reporter: AccountRow,
  report: { uri: string | null; objects: string[]; comment: string },
): boolean {
  const local = requireLocalAccount(ctx);
  const statuses = report.objects
    .map((uri) => findStatusByUri(ctx.store.db, uri))
    .filter((s) => s !== null && s.accountId === local.id);
  if (!report.objects.includes(local.uri) && statuses.length === 0) return false;
  return commit(ctx, (uow) => {
    const id = newId();
    const inserted = ctx.store.db
      .insert(reports)
      .values({
        id,
        uri: report.uri,
        fromAccountId: reporter.id,
        targetAccountId: local.id,
        comment: report.comment.slice(0, MAX_COMMENT),
        statusIds: statuses.map((s) => s?.id as string),
        createdAt: Date.now(),
      })
      .onConflictDoNothing()
      .run();
    if (inserted.changes === 0) return false;
    addNotification(ctx, uow, "admin.report", reporter.id, null, id);
    return true;
  });
}
