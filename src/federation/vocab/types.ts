/**
 * Remote ActivityStreams objects after validation: plain values with HTML already sanitised. The parsers in
 * parse.ts produce these; the core consumes them and never looks at raw JSON.
 */
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

export interface ParsedAttachment {
  url: string;
  mediaType: string | null;
  /** image, gifv, video, audio or unknown, from the media type and AS2 type. */
  kind: "image" | "gifv" | "video" | "audio" | "unknown";
  description: string | null;
  blurhash: string | null;
  focalPoint: [number, number] | null;
  width: number | null;
  height: number | null;
}

export interface ParsedNote {
  uri: string;
  type: "Note" | "Article" | "Page" | "Question";
  url: string | null;
  attributedTo: string;
  /** Sanitised HTML; for Article with a name, the name is prepended as a heading-free paragraph. */
  content: string;
  summary: string;
  sensitive: boolean;
  language: string | null;
  published: number;
  updated: number | null;
  inReplyTo: string | null;
  to: string[];
  cc: string[];
  /** hrefs of Mention tags. */
  mentions: string[];
  /** Hashtag names without '#'. */
  hashtags: string[];
  emojis: CustomEmoji[];
  attachments: ParsedAttachment[];
  poll: {
    multiple: boolean;
    options: { title: string; votes: number }[];
    endTime: number | null;
    votersCount: number | null;
  } | null;
}
