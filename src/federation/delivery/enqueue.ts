import { sql } from "drizzle-orm";
import { blockedDomains, domainMatches } from "../../core/visibility.js";
import { newId } from "../../store/ids.js";
import type { Db } from "../../store/open.js";
import { preparedPerDb } from "../../store/prepared.js";
import { deliveryJobs, outboundActivities } from "../../store/schema.js";

// A post to many followers writes one job per inbox: the statements are prepared once.
const inserts = preparedPerDb((db) => ({
  activity: db
    .insert(outboundActivities)
    .values({
      id: sql.placeholder("id"),
      body: sql.placeholder("body"),
      signer: sql.placeholder("signer"),
      createdAt: sql.placeholder("now"),
    })
    .prepare(),
  job: db
    .insert(deliveryJobs)
    .values({
      id: sql.placeholder("id"),
      activityId: sql.placeholder("activityId"),
      inboxUrl: sql.placeholder("inboxUrl"),
      host: sql.placeholder("host"),
      nextAttemptAt: sql.placeholder("now"),
      createdAt: sql.placeholder("now"),
    })
    .onConflictDoNothing()
    .prepare(),
}));

/** Someone to deliver to: their personal inbox and, when advertised, their server's shared inbox. */
export interface Recipient {
  inboxUrl: string | null;
  sharedInboxUrl: string | null;
}

/**
 * The inboxes an activity goes to: one shared inbox stands for every recipient on its server (N followers on
 * one server get one POST); recipients without one get their own inbox. Duplicates are dropped.
 */
export function targetInboxes(
  recipients: Iterable<Recipient>,
  exclude: (url: string) => boolean = () => false,
): string[] {
  const inboxes = new Set<string>();
  for (const r of recipients) {
    const url = r.sharedInboxUrl ?? r.inboxUrl;
    if (url && !exclude(url)) inboxes.add(url);
  }
  return [...inboxes];
}

/**
 * Stores an outbound activity once with one job per inbox. Call it inside the transaction of the change that
 * caused it, so the change and its delivery are written together or not at all; then emit "delivery.queued".
 */
export function enqueueActivity(
  db: Db,
  activity: object,
  signer: string,
  inboxes: string[],
  now = Date.now(),
): string | null {
  // Nothing goes to a domain the local account blocks.
  const blocked = blockedDomains(db);
  if (blocked.length > 0)
    inboxes = inboxes.filter(
      (url) => !blocked.some((d) => domainMatches(new URL(url).host.toLowerCase(), d)),
    );
  if (inboxes.length === 0) return null;
  const activityId = newId(now);
  const { activity: insertActivity, job: insertJob } = inserts(db);
  insertActivity.run({ id: activityId, body: JSON.stringify(activity), signer, now });
  // Jobs due at the same time are taken in the order written: one host's jobs in a row reuse its connection.
  const jobs = inboxes.map((inboxUrl) => ({ inboxUrl, host: new URL(inboxUrl).host }));
  jobs.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  for (const { inboxUrl, host } of jobs) insertJob.run({ id: newId(now), activityId, inboxUrl, host, now });
  return activityId;
}
