import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The one page frame: server-rendered, no scripts, readable without CSS. */
export function layout(title: string, body: Html, head: Html | string = "") {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
${head}
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222;background:#fdfdfb}
a{color:#1a5fb4}header img{max-width:100%;border-radius:.5rem}.avatar{width:5rem;height:5rem;border-radius:.5rem;object-fit:cover}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}dt{font-weight:600}.handle{color:#666}
form label{display:block;margin:.75rem 0 .25rem}input,button{font:inherit;padding:.4rem .6rem}button{cursor:pointer}
.error{color:#a51d2d}
</style>
</head>
<body>
${body}
</body>
</html>`;
}
