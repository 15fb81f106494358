import { blockedDomains, domainMatches } from "../../core/visibility.js";
import { newId } from "../../store/ids.js";
import type { Db } from "../../store/open.js";
import { deliveryJobs, outboundActivities } from "../../store/schema.js";

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
  db.insert(outboundActivities)
    .values({ id: activityId, body: JSON.stringify(activity), signer, createdAt: now })
    .run();
  for (const inboxUrl of inboxes) {
    db.insert(deliveryJobs)
      .values({
        id: newId(now),
        activityId,
        inboxUrl,
        host: new URL(inboxUrl).host,
        nextAttemptAt: now,
        createdAt: now,
      })
      .onConflictDoNothing()
      .run();
  }
  return activityId;
}
