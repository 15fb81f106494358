// The baseline of bench/inbox-burst.mjs: Hono on @hono/node-server, a POST route that reads the body and
// answers 202, and nothing else. Usage: node bench/bare-inbox.mjs PORT
import { serve } from "@hono/node-server";
import { Hono } from "hono";

const app = new Hono();
app.get("/", (c) => c.text("ok"));
app.post("/inbox", async (c) => {
  await c.req.arrayBuffer();
  return c.body(null, 202);
});
const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.argv[2]) });
process.once("SIGTERM", () => server.close(() => process.exit(0)));
