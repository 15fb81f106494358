/**
 * What the core accepts from other servers: plain, validated values with HTML already sanitised. The
 * federation layer parses ActivityStreams into these (its vocabulary parsers); the core never sees JSON.
 */
import type { CustomEmoji, InteractionPolicy } from "../store/schema.js";
import type { Visibility } from "./statuses.js";

export interface RemoteAttachment {
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

export interface RemotePoll {
  multiple: boolean;
  options: { title: string; votes: number }[];
  endTime: number | null;
  votersCount: number | null;
}

/** The post a note quotes (FEP-044f `quote`, or Misskey's `_misskey_quote`, `quoteUrl`, `quoteUri`). */
export interface RemoteQuote {
  uri: string;
  /** The QuoteAuthorization the note points to (`quoteAuthorization`), if any. */
  authorization: string | null;
  /** Written only Misskey's way, without FEP-044f `quote`: no consent was asked for. */
  legacy: boolean;
  /** Set by the federation layer once it fetched and checked the authorization (never by the parser). */
  authorized: boolean;
}

export interface RemoteNote {
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
  /** When the content last changed: an Update is an edit only when this moves on. */
  updated: number | null;
  inReplyTo: string | null;
  /** From the addressing (to/cc), as the federation layer reads it. */
  visibility: Visibility;
  /** Actor URIs of Mention tags. */
  mentions: string[];
  /** Hashtag names without '#'. */
  hashtags: string[];
  emojis: CustomEmoji[];
  attachments: RemoteAttachment[];
  poll: RemotePoll | null;
  quote?: RemoteQuote | null;

  /** GoToSocial's interaction policy, when the post has one (core/interaction-policy.ts). */
  interactionPolicy?: InteractionPolicy;
}
