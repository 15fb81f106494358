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

export interface FormatOptions {
  /** The account URL of a mention, or null to leave it as text (unknown account). */
  mentionUrl(ref: MentionRef): string | null;
  tagUrl(name: string): string;
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

function formatLine(line: string, options: FormatOptions): string {
  let out = "";
  let last = 0;
  for (const match of line.matchAll(TOKEN)) {
    const index = match.index ?? 0;
    out += escapeHtml(line.slice(last, index));
    last = index + match[0].length;
    if (match[1]) out += linkHtml(match[1]);
    else if (match[2]) {
      const url = options.mentionUrl({ username: match[2], domain: match[3]?.toLowerCase() ?? null });
      out += url
        ? `<span class="h-card" translate="no"><a href="${escapeHtml(url)}" class="u-url mention">@<span>${escapeHtml(match[2])}</span></a></span>`
        : escapeHtml(match[0]);
    } else if (match[4]) {
      out += `<a href="${escapeHtml(options.tagUrl(match[4]))}" class="mention hashtag" rel="tag">#<span>${escapeHtml(match[4])}</span></a>`;
    }
  }
  return out + escapeHtml(line.slice(last));
}

export function formatText(text: string, options: FormatOptions): string {
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
          .map((line) => formatLine(line, options))
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
