import { describe, expect, it } from "vitest";
import { escapeHtml } from "../src/core/text.js";
import { MAX_HTML_INPUT, sanitizeHtml, sanitizePlain } from "../src/federation/sanitize.js";

describe("sanitizeHtml", () => {
  it("keeps Mastodon's formatting elements", () => {
    const html =
      "<p>a<br>b <em>c</em> <strong>d</strong> <b>e</b> <i>f</i> <u>g</u> <del>h</del> <s>s</s> <code>i</code></p>" +
      '<pre><code>x = 1</code></pre><blockquote><p>q</p></blockquote><ul><li>1</li></ul><ol start="3"><li>2</li></ol>';
    expect(sanitizeHtml(html)).toBe(html.replace("<br>", "<br />"));
  });

  it("removes scripts, styles, iframes, images and forms with what they contain", () => {
    const out = sanitizeHtml(
      '<p>hi</p><script>alert(1)</script><style>p{color:red}</style><iframe src="https://x">frame</iframe>' +
        '<img src="https://x/a.png" onerror="alert(1)"><object data="x">obj</object><form><input value="v"></form>' +
        "<noscript>ns</noscript><textarea>ta</textarea>",
    );
    expect(out).toBe("<p>hi</p>");
  });

  it("removes event handlers and style attributes, unwrapping unknown elements", () => {
    const out = sanitizeHtml(
      '<p onclick="alert(1)" style="color:red" id="x" title="t">a</p><div onmouseover="x()">b</div><svg onload="x()"><text>c</text></svg>',
    );
    expect(out).toBe("<p>a</p>bc");
    expect(out).not.toMatch(/on\w+=|style=|alert/);
  });

  it("refuses javascript:, data:, vbscript: and relative links, keeping their text", () => {
    for (const href of [
      "javascript:alert(1)",
      " JaVaScRiPt:alert(1)",
      "java\nscript:alert(1)",
      "&#106;avascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "vbscript:msgbox(1)",
      "/relative",
      "//evil.example/x",
      "",
    ]) {
      const out = sanitizeHtml(`<p><a href="${href.replace(/"/g, "&quot;")}">link</a></p>`);
      expect(out, href).toBe("<p><span>link</span></p>");
    }
  });

  it("keeps http, https, mailto and other harmless schemes with rel and target set", () => {
    for (const href of [
      "https://example.com/a?b=c&amp;d=e",
      "http://example.com/",
      "mailto:a@example.com",
      "xmpp:a@example.com",
      "magnet:?xt=urn:btih:abc",
    ]) {
      const out = sanitizeHtml(`<a href="${href}" rel="me" target="_self">x</a>`);
      expect(out).toBe(`<a href="${href}" rel="nofollow noopener noreferrer" target="_blank">x</a>`);
    }
  });

  it("keeps only the classes Mastodon gives meaning to", () => {
    const mention =
      '<span class="h-card" translate="no"><a href="https://m.example/@alice" class="u-url mention">@<span>alice</span></a></span>';
    expect(sanitizeHtml(mention)).toBe(
      '<span class="h-card" translate="no"><a href="https://m.example/@alice" class="u-url mention" rel="nofollow noopener noreferrer" target="_blank">@<span>alice</span></a></span>',
    );
    expect(
      sanitizeHtml(
        '<a href="https://m.example/tags/x" class="mention hashtag" rel="tag">#<span>x</span></a>',
      ),
    ).toBe(
      '<a href="https://m.example/tags/x" class="mention hashtag" rel="nofollow noopener noreferrer" target="_blank">#<span>x</span></a>',
    );
    expect(
      sanitizeHtml(
        '<span class="invisible">https://</span><span class="ellipsis">example.com/long</span><span class="invisible">path</span>',
      ),
    ).toBe(
      '<span class="invisible">https://</span><span class="ellipsis">example.com/long</span><span class="invisible">path</span>',
    );
    expect(sanitizeHtml('<span class="evil invisible big">x</span>')).toBe(
      '<span class="invisible">x</span>',
    );
    expect(sanitizeHtml('<span class="evil">x</span><p class="mention">y</p>')).toBe(
      "<span>x</span><p>y</p>",
    );
  });

  it("turns headings into bold paragraphs", () => {
    expect(sanitizeHtml('<h1 class="title" onclick="x()">Title</h1><p>text</p><h3>Sub</h3>')).toBe(
      "<p><strong>Title</strong></p><p>text</p><p><strong>Sub</strong></p>",
    );
  });

  it("escapes text and cannot be tricked by the heading stand-in", () => {
    expect(sanitizeHtml("<p>a &lt;b&gt; &amp; 1 < 2</p>")).toBe("<p>a &lt;b&gt; &amp; 1 &lt; 2</p>");
    const out = sanitizeHtml('<wren-heading onclick="x()">t</wren-heading><p>&lt;wren-heading&gt;</p>');
    expect(out).toBe("<p><strong>t</strong></p><p>&lt;wren-heading&gt;</p>");
  });

  it("bounds its input", () => {
    const huge = `<p>${"a".repeat(MAX_HTML_INPUT * 2)}</p>`;
    const out = sanitizeHtml(huge);
    expect(out.length).toBeLessThanOrEqual(MAX_HTML_INPUT + 10);
    expect(out.startsWith("<p>aaa")).toBe(true);
    expect(out.endsWith("</p>")).toBe(true);
  });

  it("returns an empty string for empty or non-string input", () => {
    expect(sanitizeHtml("")).toBe("");
    expect(sanitizeHtml(undefined as unknown as string)).toBe("");
  });
});

describe("sanitizePlain", () => {
  it("strips tags, decodes entities and trims", () => {
    expect(sanitizePlain("  <b>Alice</b> &amp; <i>Bob</i> :blob: ")).toBe("Alice & Bob :blob:");
    expect(sanitizePlain("<script>x</script>ok")).toBe("xok");
    expect(sanitizePlain("a &#x1F600; &#128512; &nbsp;b")).toBe("a 😀 😀 b");
  });

  it("turns control characters and line breaks into single spaces", () => {
    expect(sanitizePlain("a\n\n\tb\u0000c\u0085d")).toBe("a b c d");
  });

  it("keeps line breaks when asked", () => {
    expect(sanitizePlain("line 1\r\n\r\n\r\n  line 2\n", 100, { keepNewlines: true })).toBe(
      "line 1\n\nline 2",
    );
  });

  it("caps the length in characters without splitting surrogate pairs", () => {
    expect(sanitizePlain("x".repeat(500))).toHaveLength(100);
    const emoji = sanitizePlain("😀".repeat(150));
    expect(Array.from(emoji)).toHaveLength(100);
    expect(emoji).toBe("😀".repeat(100));
    expect(sanitizePlain("abcdef", 3)).toBe("abc");
  });

  it("returns plain text, not HTML", () => {
    expect(sanitizePlain("a &lt;b&gt;")).toBe("a <b>");
  });
});

describe("escapeHtml", () => {
  it("escapes the five characters", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;");
  });
});
