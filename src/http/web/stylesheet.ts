/** The one stylesheet of the web pages: light and dark, readable on a phone, visible focus. */
import { createHash } from "node:crypto";
import { Hono } from "hono";

export const STYLESHEET_PATH = "/static/wren.css";

const CSS = `:root{color-scheme:light dark;--fg:#1d1d1b;--muted:#5e5e5a;--bg:#fdfdfb;--card:#f3f2ee;--line:#d9d7d0;--link:#1a5fb4;--ok:#26734d;--focus:#e66100}
@media (prefers-color-scheme:dark){:root{--fg:#ecebe6;--muted:#a8a69f;--bg:#161615;--card:#22221f;--line:#3a3935;--link:#8fb8ff;--ok:#7fd3a2;--focus:#ffa348}}
*{box-sizing:border-box}
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:42rem;margin:0 auto;padding:0 1rem 3rem;color:var(--fg);background:var(--bg);overflow-wrap:anywhere}
a{color:var(--link)}
a:focus-visible,button:focus-visible,input:focus-visible,summary:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
img,video{max-width:100%;height:auto}
.site{display:flex;justify-content:space-between;gap:1rem;padding:.75rem 0;border-bottom:1px solid var(--line);margin-bottom:1rem}
.site a{text-decoration:none;font-weight:600}
.banner{display:block;width:100%;aspect-ratio:3/1;object-fit:cover;border-radius:.5rem;background:var(--card)}
.identity{display:flex;gap:1rem;align-items:flex-end;margin-top:-2.5rem;padding:0 .75rem}
.avatar{width:5rem;height:5rem;border-radius:.75rem;object-fit:cover;border:3px solid var(--bg);background:var(--card)}
.small-avatar{width:2.75rem;height:2.75rem;border-radius:.5rem;object-fit:cover;flex:none}
h1{font-size:1.5rem;margin:.5rem 0 0}
.handle{color:var(--muted);margin:0}
.handle input{font:inherit;color:inherit;background:transparent;border:0;padding:0;width:100%}
.fields{display:grid;grid-template-columns:minmax(6rem,auto) 1fr;border:1px solid var(--line);border-radius:.5rem;margin:1rem 0}
.fields dt,.fields dd{margin:0;padding:.4rem .75rem;border-top:1px solid var(--line)}
.fields dt:first-of-type,.fields dt:first-of-type+dd{border-top:0}
.fields dt{font-weight:600;color:var(--muted)}
.verified{color:var(--ok)}
.counts{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;padding:0;margin:.5rem 0}
.tabs{display:flex;gap:1rem;border-bottom:1px solid var(--line);margin:1.5rem 0 0;padding-bottom:.25rem}
.tabs a[aria-current]{font-weight:700;text-decoration:none;color:var(--fg)}
.status{border-bottom:1px solid var(--line);padding:1rem 0}
.status.focus{font-size:1.1rem}
.byline{display:flex;gap:.75rem;align-items:center}
.byline .name{font-weight:600;display:block}
.byline .handle{font-size:.9rem}
.boosted,.meta,.reply-to{color:var(--muted);font-size:.9rem;margin:.25rem 0}
.content p{margin:.5rem 0}
.invisible{display:none}.ellipsis::after{content:"…"}
details.cw>summary,details.sensitive>summary{cursor:pointer;padding:.35rem .6rem;background:var(--card);border-radius:.4rem}
.gallery{display:grid;grid-template-columns:repeat(auto-fit,minmax(12rem,1fr));gap:.5rem;margin:.5rem 0}
.gallery figure{margin:0}.gallery figcaption{font-size:.85rem;color:var(--muted)}
.gallery img,.gallery video{border-radius:.4rem;display:block;width:100%;background:var(--card)}
.poll{list-style:none;padding:0}.poll li{margin:.35rem 0}.poll meter{width:100%;display:block}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:.5rem 0;padding:0;list-style:none}
.pager{display:flex;justify-content:space-between;margin:1rem 0}
form.interact{background:var(--card);padding:.75rem 1rem;border-radius:.5rem;margin:1rem 0}
form label{display:block;margin:.5rem 0 .25rem}
input,button{font:inherit;padding:.4rem .6rem}
input[type=text],input[type=password]{width:100%;max-width:24rem;color:var(--fg);background:var(--bg);border:1px solid var(--line);border-radius:.3rem}
button{cursor:pointer;border:1px solid var(--line);border-radius:.3rem;background:var(--bg);color:var(--fg)}
.error{color:#c01c28}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

const ETAG = `"${createHash("sha256").update(CSS).digest("base64url").slice(0, 16)}"`;

export function stylesheetRoutes() {
  const app = new Hono();
  app.get(STYLESHEET_PATH, (c) => {
    if (c.req.header("if-none-match") === ETAG) return c.body(null, 304, { ETag: ETAG });
    return c.body(CSS, 200, {
      "Content-Type": "text/css; charset=utf-8",
      "Cache-Control": "public, max-age=86400",
      ETag: ETAG,
    });
  });
  return app;
}
