import type { Db } from "./open.js";
import { inList, preparedPerDb } from "./prepared.js";
import { oauthApps } from "./schema.js";

/** What a status's `application` shows of the app that posted it. */
export interface AppSummary {
  name: string;
  website: string | null;
}

const queries = preparedPerDb((db) => ({
  summaries: db
    .select({ id: oauthApps.id, name: oauthApps.name, website: oauthApps.website })
    .from(oauthApps)
    .where(inList(oauthApps.id, "ids"))
    .prepare(),
}));

/** The apps with these ids (missing ones left out), for rendering statuses. */
export function appSummaries(db: Db, ids: string[]): Map<string, AppSummary> {
  if (ids.length === 0) return new Map();
  return new Map(
    queries(db)
      .summaries.all({ ids: JSON.stringify(ids) })
      .map((a) => [a.id, { name: a.name, website: a.website }]),
  );
}
