/**
 * Whether a request asks for ActivityStreams JSON rather than a page. Mastodon and others send
 * `application/activity+json` or the ld+json profile; a browser sends text/html first.
 */
export function wantsActivityJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const types = accept
    .split(",")
    .map((part) => {
      const [type = "", ...params] = part.split(";").map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith("q="));
      return { type, q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((t) => t.q > 0);
  const best = (match: (type: string) => boolean) =>
    Math.max(0, ...types.filter((t) => match(t.type)).map((t) => t.q));
  const json = best(
    (t) => t === "application/activity+json" || t === "application/ld+json" || t === "application/json",
  );
  const html = best((t) => t === "text/html" || t === "application/xhtml+xml");
  return json > 0 && json >= html;
}
