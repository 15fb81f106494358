// The baseline server of the benches: Hono on @hono/node-server and nothing else.
//   node bench/bare-hono.mjs PORT [BODY_FILE]
// GET / answers "ok"; POST /inbox reads the body and answers 202 (bench/inbox-burst.mjs); GET /body answers
// the bytes of BODY_FILE as JSON, read once at start (bench/api.mjs compares a timeline with it).
import { readFileSync } from "node:fs";
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const body = process.argv[3] ? readFileSync(process.argv[3]) : null;
const app = new Hono();
app.get("/", (c) => c.text("ok"));
app.post("/inbox", async (c) => {
  await c.req.arrayBuffer();
  return c.body(null, 202);
});
if (body) app.get("/body", (c) => c.body(body, 200, { "content-type": "application/json; charset=utf-8" }));
const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.argv[2]) });
process.once("SIGTERM", () => server.close(() => process.exit(0)));
