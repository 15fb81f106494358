/** The local account's blocked domains, paginated by the block's id as Mastodon does. */
import { sql } from "drizzle-orm";
import type { Db } from "./open.js";
import { keyset, newestFirst, type PageBounds } from "./pagination.js";
import { domainBlocks } from "./schema.js";

export function listDomainBlocks(db: Db, page: PageBounds): { pageId: string; domain: string }[] {
  const bounds = keyset(domainBlocks.id, page);
  const rows = db
    .select({ pageId: domainBlocks.id, domain: domainBlocks.domain })
    .from(domainBlocks)
    .where(bounds.where.length > 0 ? sql.join(bounds.where, sql` AND `) : undefined)
    .orderBy(bounds.order)
    .limit(page.limit)
    .all();
  return newestFirst(rows, page);
}
