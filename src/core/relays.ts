/**
 * Relay subscriptions of the instance: their state (pending until the relay's Accept, then accepted or
 * rejected) and the rules that depend on it. Delivering the Follow and Undo is federation/relays.ts's part.
 */
import { and, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { newId } from "../store/ids.js";
import { relays } from "../store/schema.js";
import { UserError } from "./account.js";

export type RelayRow = typeof relays.$inferSelect;
export type RelayMode = RelayRow["mode"];

export function listRelays(ctx: Context): RelayRow[] {
  return ctx.store.db.select().from(relays).orderBy(relays.createdAt).all();
}

export function findRelay(ctx: Context, inboxOrActor: string): RelayRow | null {
  const db = ctx.store.db;
  return (
    db.select().from(relays).where(eq(relays.inboxUrl, inboxOrActor)).get() ??
    db.select().from(relays).where(eq(relays.actorUri, inboxOrActor)).get() ??
    null
  );
}

/** Records a new subscription, pending; `followUri` is the id of the Follow about to be sent. */
export function addRelay(
  ctx: Context,
  input: { inboxUrl: string; actorUri: string | null; mode: RelayMode; followUri: (id: string) => string },
): RelayRow {
  if (findRelay(ctx, input.inboxUrl) ?? (input.actorUri ? findRelay(ctx, input.actorUri) : null))
    throw new UserError(`the relay ${input.inboxUrl} is already added; remove it first`, 409);
  const now = Date.now();
  const id = newId(now);
  const row: RelayRow = {
    id,
    inboxUrl: input.inboxUrl,
    actorUri: input.actorUri,
    mode: input.mode,
    followUri: input.followUri(id),
    state: "pending",
    createdAt: now,
    updatedAt: now,
  };
  ctx.store.db.insert(relays).values(row).run();
  return row;
}

export function removeRelay(ctx: Context, relay: RelayRow): void {
  ctx.store.db.delete(relays).where(eq(relays.id, relay.id)).run();
}

/**
 * The relay's Accept or Reject of the Follow `followUri` (or, when the answer does not name it, of the one
 * Follow sent to this actor's relay). Returns false when `actorUri` is no relay we follow.
 */
export function relayAnswered(
  ctx: Context,
  actorUri: string,
  inboxUrls: string[],
  followUri: string | null,
  accepted: boolean,
): boolean {
  const db = ctx.store.db;
  let relay = followUri ? db.select().from(relays).where(eq(relays.followUri, followUri)).get() : undefined;
  // Only the relay itself may answer: its actor, or an actor whose inbox is the one we sent the Follow to.
  if (relay && relay.actorUri !== actorUri && !inboxUrls.includes(relay.inboxUrl)) relay = undefined;
  if (!relay && !followUri) relay = findRelay(ctx, actorUri) ?? undefined;
  if (!relay) return false;
  db.update(relays)
    .set({ state: accepted ? "accepted" : "rejected", actorUri, updatedAt: Date.now() })
    .where(eq(relays.id, relay.id))
    .run();
  return true;
}

/** Whether `actorUri` is a relay that accepted our subscription: what it announces or forwards is kept. */
export function isAcceptedRelay(ctx: Context, actorUri: string): boolean {
  return (
    ctx.store.db
      .select({ id: relays.id })
      .from(relays)
      .where(and(eq(relays.actorUri, actorUri), eq(relays.state, "accepted")))
      .get() !== undefined
  );
}

/** The inboxes of the accepted relays: the owner's public posts go there too. */
export function acceptedRelayInboxes(ctx: Context): string[] {
  return ctx.store.db
    .select({ inbox: relays.inboxUrl })
    .from(relays)
    .where(eq(relays.state, "accepted"))
    .all()
    .map((r) => r.inbox);
}
