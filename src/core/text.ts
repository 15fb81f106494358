/**
 * Plain text as typed in an app → the HTML Mastodon produces: paragraphs and line breaks, links with the
 * scheme hidden and long paths ellipsised, mentions as h-card links, hashtags as tag links.
 */

const TOKEN =
  /(https?:\/\/[^\s<>"'\u00a0]+[^\s<>"'\u00a0.,;:!?)\]])|(?<![\w@/])@([a-zA-Z0-9_]+)(?:@([a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::\d{1,5})?))?|(?<![\w&/#])#([\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*)/gu;

export interface MentionRef {
  username: string;
  /** null for a bare @name, which means the local account or a known account with that username. */
  domain: string | null;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function extractMentions(text: string): MentionRef[] {
  const seen = new Map<string, MentionRef>();
  for (const match of text.matchAll(TOKEN)) {
    if (!match[2]) continue;
    const ref = { username: match[2], domain: match[3]?.toLowerCase() ?? null };
    seen.set(`${ref.username.toLowerCase()}@${ref.domain ?? ""}`, ref);
  }
  return [...seen.values()];
}

export function extractHashtags(text: string): string[] {
  const seen = new Map<string, string>();
  for (const match of text.matchAll(TOKEN)) {
    if (match[4] && match[4].length <= 100) seen.set(match[4].toLowerCase(), match[4]);
  }
  return [...seen.values()];
}

/** The account a mention names: its profile URL (`url`, else `uri`) is the link, its username the text. */
export interface MentionTarget {
  username: string;
  /** null for the local account. */
  domain: string | null;
  url: string | null;
  uri: string;
}

export interface FormatOptions {
  /** The account a mention names, or null to leave the mention as text (unknown account). */
  mention(ref: MentionRef): MentionTarget | null;
  /** The link of a hashtag, given as typed (Mastodon keeps its case in the link). */
  tagUrl(name: string): string;
}

/**
 * A mention as Mastodon renders it: the account's own username, or `username@domain` when another account
 * mentioned in the same text has that username on another domain (TextFormatter#link_to_mention).
 */
function mentionHtml(target: MentionTarget, all: MentionTarget[]): string {
  const username = target.username.toLowerCase();
  const ambiguous = all.some(
    (other) => other.username.toLowerCase() === username && other.domain !== target.domain,
  );
  const shown = ambiguous && target.domain !== null ? `${target.username}@${target.domain}` : target.username;
  return (
    `<span class="h-card" translate="no"><a href="${escapeHtml(target.url ?? target.uri)}" class="u-url mention">` +
    `@<span>${escapeHtml(shown)}</span></a></span>`
  );
}

function linkHtml(url: string): string {
  const scheme = url.match(/^https?:\/\//)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  const visible = rest.slice(0, 30);
  const hidden = rest.slice(30);
  return (
    `<a href="${escapeHtml(url)}" target="_blank" rel="nofollow noopener noreferrer" translate="no">` +
    `<span class="invisible">${escapeHtml(scheme)}</span>` +
    `<span class="${hidden ? "ellipsis" : ""}">${escapeHtml(visible)}</span>` +
    `<span class="invisible">${escapeHtml(hidden)}</span></a>`
  );
}

function formatLine(line: string, options: FormatOptions, targets: MentionTarget[]): string {
  let out = "";
  let last = 0;
  for (const match of line.matchAll(TOKEN)) {
    const index = match.index ?? 0;
    out += escapeHtml(line.slice(last, index));
    last = index + match[0].length;
    if (match[1]) out += linkHtml(match[1]);
    else if (match[2]) {
      const target = options.mention({ username: match[2], domain: match[3]?.toLowerCase() ?? null });
      out += target ? mentionHtml(target, targets) : escapeHtml(match[0]);
    } else if (match[4]) {
      out += `<a href="${escapeHtml(options.tagUrl(match[4]))}" class="mention hashtag" rel="tag">#<span>${escapeHtml(match[4])}</span></a>`;
    }
  }
  return out + escapeHtml(line.slice(last));
}

export function formatText(text: string, options: FormatOptions): string {
  const targets = extractMentions(text)
    .map((ref) => options.mention(ref))
    .filter((target) => target !== null);
  const paragraphs = text
    .replace(/\r\n?/g, "\n")
    .trim()
    .split(/\n{2,}/)
    .filter((p) => p.trim() !== "");
  return paragraphs
    .map(
      (p) =>
        `<p>${p
          .split("\n")
          .map((line) => formatLine(line, options, targets))
          .join("<br>")}</p>`,
    )
    .join("");
}

/** HTML → plain text, for the `text` of remote statuses and for notifications. */
export function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, "\n")
    .replace(/<\/p>\s*<p[^>]*>/gi, "\n\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&amp;/g, "&")
    .trim();
}
