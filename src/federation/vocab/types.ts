/**
 * Remote ActivityStreams objects after validation: plain values with HTML already sanitised. The parsers in
 * parse.ts produce these; the core consumes them and never looks at raw JSON.
 */
import type { RemoteNote } from "../../core/remote.js";
import type { CustomEmoji, ProfileField } from "../../store/schema.js";

export const ACTOR_TYPES = ["Person", "Service", "Application", "Group", "Organization"] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export interface ParsedKey {
  keyId: string;
  ownerUri: string;
  algorithm: "rsa" | "ed25519";
  /** PEM for RSA, base64url raw 32 bytes for Ed25519. */
  publicKey: string;
}

export interface ParsedActor {
  uri: string;
  type: ActorType;
  username: string;
  /** Host of the actor id (with port when not default). */
  domain: string;
  displayName: string;
  /** Sanitised HTML. */
  note: string;
  url: string | null;
  inbox: string;
  sharedInbox: string | null;
  outbox: string | null;
  followers: string | null;
  following: string | null;
  featured: string | null;
  avatarUrl: string | null;
  headerUrl: string | null;
  /** Values are sanitised HTML. */
  fields: ProfileField[];
  emojis: CustomEmoji[];
  locked: boolean;
  bot: boolean;
  discoverable: boolean;
  indexable: boolean;
  movedTo: string | null;
  alsoKnownAs: string[];
  published: number | null;
  keys: ParsedKey[];
  followersCount: number | null;
  followingCount: number | null;
  statusesCount: number | null;
}

export type { RemoteAttachment as ParsedAttachment } from "../../core/remote.js";

/** A Note as parsed, with its addressing: `toRemoteNote` turns the addressing into a visibility for the core. */
export interface ParsedNote extends Omit<RemoteNote, "visibility"> {
  to: string[];
  cc: string[];
}
