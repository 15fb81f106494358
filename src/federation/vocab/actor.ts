import type { Context } from "../../context.js";
import type { AccountRow, KeyPairRow } from "../../store/accounts.js";
import { ed25519PublicKeyToMultibase } from "../keys.js";
import { ACTOR_CONTEXT, AS_CONTEXT, PUBLIC } from "./context.js";

function publicKeys(
  owner: string,
  keyIds: { main: string; ed25519: string },
  keys: { rsa?: KeyPairRow; ed25519?: KeyPairRow },
) {
  return {
    publicKey: keys.rsa ? { id: keyIds.main, owner, publicKeyPem: keys.rsa.publicKey } : undefined,
    assertionMethod: keys.ed25519
      ? [
          {
            id: keyIds.ed25519,
            type: "Multikey",
            controller: owner,
            publicKeyMultibase: ed25519PublicKeyToMultibase(keys.ed25519.publicKey),
          },
        ]
      : undefined,
  };
}

function image(url: string | null, mediaType?: string) {
  return url ? { type: "Image", url, ...(mediaType ? { mediaType } : {}) } : undefined;
}

/** The local account as an ActivityPub Person (a Service when it is marked as a bot). */
export function renderPerson(
  ctx: Context,
  account: AccountRow,
  keys: { rsa?: KeyPairRow; ed25519?: KeyPairRow },
) {
  const { urls } = ctx;
  const id = urls.actor(account.username);
  return {
    "@context": ACTOR_CONTEXT,
    id,
    // Mastodon shows a Service as a bot.
    type: account.bot ? "Service" : "Person",
    preferredUsername: account.username,
    name: account.displayName,
    summary: account.note,
    url: urls.profile(account.username),
    inbox: urls.inbox(account.username),
    outbox: urls.outbox(account.username),
    followers: urls.followers(account.username),
    following: urls.following(account.username),
    featured: urls.featured(account.username),
    featuredTags: `${id}/collections/tags`,
    endpoints: { sharedInbox: urls.sharedInbox },
    manuallyApprovesFollowers: account.locked,
    discoverable: account.discoverable,
    indexable: account.indexable,
    memorial: false,
    published: new Date(account.publishedAt ?? account.createdAt).toISOString(),
    ...(account.updatedAt !== account.createdAt
      ? { updated: new Date(account.updatedAt).toISOString() }
      : {}),
    ...publicKeys(
      id,
      { main: urls.mainKey(account.username), ed25519: urls.ed25519Key(account.username) },
      keys,
    ),
    icon: image(account.avatarUrl),
    image: image(account.headerUrl),
    attachment: account.fields.map((field) => ({
      type: "PropertyValue",
      name: field.name,
      value: field.value,
    })),
    tag: account.emojis.map((emoji) => ({
      type: "Emoji",
      name: `:${emoji.shortcode}:`,
      icon: { type: "Image", url: emoji.url },
    })),
    ...(account.alsoKnownAs.length > 0 ? { alsoKnownAs: account.alsoKnownAs } : {}),
    ...(account.movedToUri ? { movedTo: account.movedToUri } : {}),
  };
}

/**
 * The instance actor (an Application), which signs fetches made on behalf of the server rather than the user.
 * Like Mastodon's, its preferredUsername is the domain, so acct:DOMAIN@DOMAIN resolves to it.
 */
export function renderInstanceActor(ctx: Context, keys: { rsa?: KeyPairRow; ed25519?: KeyPairRow }) {
  const { urls } = ctx;
  const id = urls.instanceActor;
  return {
    "@context": ACTOR_CONTEXT,
    id,
    type: "Application",
    preferredUsername: urls.domain,
    name: ctx.config.server.title,
    url: `${urls.origin}/about`,
    inbox: `${id}/inbox`,
    outbox: `${id}/outbox`,
    endpoints: { sharedInbox: urls.sharedInbox },
    manuallyApprovesFollowers: true,
    discoverable: false,
    indexable: false,
    ...publicKeys(id, { main: urls.instanceMainKey, ed25519: urls.instanceEd25519Key }, keys),
  };
}

/** The Update of the actor, with the whole Person embedded, as Mastodon sends it on a profile change. */
export function renderActorUpdate(
  ctx: Context,
  account: AccountRow,
  keys: { rsa?: KeyPairRow; ed25519?: KeyPairRow },
) {
  const { "@context": context, ...person } = renderPerson(ctx, account, keys);
  return {
    "@context": context,
    id: `${person.id}#updates/${account.updatedAt}`,
    type: "Update",
    actor: person.id,
    to: [PUBLIC],
    cc: [person.followers],
    object: person,
  };
}

/** Move of the local account to `target` (Mastodon's shape: object is the moving actor itself). */
export function renderMove(account: AccountRow, target: AccountRow) {
  return {
    "@context": AS_CONTEXT,
    id: `${account.uri}#moves/${account.updatedAt}`,
    type: "Move",
    actor: account.uri,
    object: account.uri,
    target: target.uri,
    to: [account.followersUrl],
  };
}

/** Delete of the local actor itself, public, as Mastodon sends it when an account is deleted. */
export function renderActorDelete(account: AccountRow) {
  return {
    "@context": AS_CONTEXT,
    id: `${account.uri}#delete`,
    type: "Delete",
    actor: account.uri,
    object: account.uri,
    to: [PUBLIC],
  };
}
