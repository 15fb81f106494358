/**
 * HTML from other servers (post content, profile notes, field values) goes through `sanitizeHtml` before it is
 * stored; plain-text values (display names, content warnings, alt text) through `sanitizePlain`.
 *
 * The allow-list follows what Mastodon keeps, because Mastodon client apps are what renders our output:
 * - elements: p br span a del s pre code em strong b i u sub sup ul ol li blockquote ruby rt rp;
 * - h1–h6 become `<p><strong>…</strong></p>`. Mastodon 4.2+ passes headings through, but many apps render
 *   only the older, smaller set and a heading in a timeline is loud; a bold paragraph degrades everywhere;
 * - links only to absolute URLs with a scheme from LINK_SCHEMES (never javascript:, data:, vbscript:, relative
 *   or protocol-relative URLs, which would point into our own origin), always with
 *   rel="nofollow noopener noreferrer" target="_blank"; a link whose href is refused becomes a span;
 * - `class` only with the values Mastodon and its apps give meaning to (mentions, hashtags, the invisible and
 *   ellipsis parts of shortened links, h-card/u-url microformats); every other class is dropped;
 * - no style attributes, event handlers, images, scripts, styles, iframes or forms: the contents of script,
 *   style and similar elements are dropped, other unknown elements are unwrapped (their text is kept).
 *
 * sanitize-html (with postcss and htmlparser2) costs about 75 ms and 15 MB to load, so it is required
 * synchronously on first use rather than at start-up: a server that never receives remote HTML never loads it.
 */
import { createRequire } from "node:module";
import type SanitizeHtml from "sanitize-html";

/** Longer input is cut before sanitising (the parser closes whatever the cut left open). */
export const MAX_HTML_INPUT = 100_000;
export const MAX_DISPLAY_NAME = 100;

export const LINK_SCHEMES = [
  "http",
  "https",
  "mailto",
  "xmpp",
  "magnet",
  "gemini",
  "gopher",
  "ipfs",
  "ipns",
  "dat",
  "dweb",
  "ssb",
] as const;

export const ALLOWED_CLASSES = ["h-card", "u-url", "mention", "hashtag", "invisible", "ellipsis"] as const;

const ALLOWED_TAGS = [
  "p",
  "br",
  "span",
  "a",
  "del",
  "s",
  "pre",
  "code",
  "em",
  "strong",
  "b",
  "i",
  "u",
  "sub",
  "sup",
  "ul",
  "ol",
  "li",
  "blockquote",
  "ruby",
  "rt",
  "rp",
];

/** Stand-in for h1–h6 during sanitising, replaced by `<p><strong>` afterwards (see headingsToBold). */
const HEADING = "wren-heading";
const LINK_REL = "nofollow noopener noreferrer";
const MAX_HREF = 4096;

let library: typeof SanitizeHtml | null = null;
let options: SanitizeHtml.IOptions | null = null;

function load(): { sanitize: typeof SanitizeHtml; options: SanitizeHtml.IOptions } {
  library ??= createRequire(import.meta.url)("sanitize-html") as typeof SanitizeHtml;
  options ??= buildOptions();
  return { sanitize: library, options };
}

function safeHref(href: string | undefined): string | null {
  if (!href) return null;
  const trimmed = href.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_HREF) return null;
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return null;
  }
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  return (LINK_SCHEMES as readonly string[]).includes(scheme) ? trimmed : null;
}

function buildOptions(): SanitizeHtml.IOptions {
  const classes = [...ALLOWED_CLASSES];
  const heading = () => ({ tagName: HEADING, attribs: {} });
  return {
    allowedTags: [...ALLOWED_TAGS, HEADING],
    allowedAttributes: {
      a: ["href", "rel", "target", { name: "translate", values: ["no", "yes"] }],
      span: [{ name: "translate", values: ["no", "yes"] }],
      ol: ["start", "reversed"],
      li: ["value"],
    },
    // `class` is not in allowedAttributes: sanitize-html then keeps only these values, one by one.
    allowedClasses: { a: classes, span: classes },
    allowedSchemes: [...LINK_SCHEMES],
    allowedSchemesByTag: {},
    allowedSchemesAppliedToAttributes: ["href"],
    allowProtocolRelative: false,
    allowVulnerableTags: false,
    disallowedTagsMode: "discard",
    nonTextTags: [
      "script",
      "style",
      "textarea",
      "option",
      "noscript",
      "iframe",
      "template",
      "title",
      "object",
    ],
    nestingLimit: 50,
    parseStyleAttributes: false,
    transformTags: {
      a: (_tagName, attribs) => {
        const href = safeHref(attribs.href);
        if (href === null) {
          const { href: _dropped, ...rest } = attribs;
          return { tagName: "span", attribs: rest };
        }
        return { tagName: "a", attribs: { ...attribs, href, rel: LINK_REL, target: "_blank" } };
      },
      h1: heading,
      h2: heading,
      h3: heading,
      h4: heading,
      h5: heading,
      h6: heading,
    },
  };
}

/**
 * The stand-in element comes out of sanitize-html exactly as `<wren-heading>` and `</wren-heading>` (it has no
 * allowed attributes, and text is escaped), so plain string replacement is safe here.
 */
function headingsToBold(html: string): string {
  return html.replaceAll(`<${HEADING}>`, "<p><strong>").replaceAll(`</${HEADING}>`, "</strong></p>");
}

/** Remote HTML made safe to store and hand to clients. */
export function sanitizeHtml(html: string): string {
  if (typeof html !== "string" || html.length === 0) return "";
  const { sanitize, options } = load();
  const input = html.length > MAX_HTML_INPUT ? html.slice(0, MAX_HTML_INPUT) : html;
  return headingsToBold(sanitize(input, options)).trim();
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, body: string) => {
    if (body.startsWith("#")) {
      const code =
        body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      if (!Number.isInteger(code) || code <= 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return whole;
      return String.fromCodePoint(code);
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/**
 * Plain text from a value that should be plain but may carry markup (display names, content warnings, alt
 * text, poll options): tags removed, entities decoded, control characters and runs of whitespace turned into
 * one space (`keepNewlines` keeps line breaks, at most one empty line in a row), trimmed and cut to `maxLength` characters (code points, so no surrogate pair is split). The
 * result is text, not HTML: whoever renders it escapes it.
 */
export function sanitizePlain(
  text: string,
  maxLength: number = MAX_DISPLAY_NAME,
  options: { keepNewlines?: boolean } = {},
): string {
  if (typeof text !== "string" || text.length === 0) return "";
  const input = text.length > MAX_HTML_INPUT ? text.slice(0, MAX_HTML_INPUT) : text;
  let plain = decodeEntities(input.replace(/<[^>]*>/g, ""));
  if (options.keepNewlines) {
    plain = plain
      .replace(/\r\n?/g, "\n")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[^\S\n]|[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, " ")
      .replace(/ +/g, " ")
      .replace(/ ?\n ?/g, "\n")
      .replace(/\n{3,}/g, "\n\n");
  } else {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    plain = plain.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, " ");
  }
  const stripped = plain.trim();
  const chars = Array.from(stripped);
  return chars.length > maxLength ? chars.slice(0, maxLength).join("").trimEnd() : stripped;
}
