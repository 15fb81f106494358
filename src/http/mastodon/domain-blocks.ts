/** /api/v1/domain_blocks: the domains the local account blocks (core/domain-blocks.ts says what that does). */
import { Hono, type Context as HonoContext } from "hono";
import type { Context } from "../../context.js";
import { blockDomain, unblockDomain } from "../../core/domain-blocks.js";
import { listDomainBlocks } from "../../store/domain-blocks.js";
import { HttpError } from "../errors.js";
import { type ApiEnv, requireUser } from "./auth.js";
import { readPage, setLinkHeader } from "./pagination.js";
import { read, readParams } from "./params.js";

async function domainParam(c: HonoContext<ApiEnv>): Promise<string> {
  const domain = read.string(await readParams(c), "domain");
  if (domain === undefined || domain.trim() === "") throw new HttpError(422, "domain is required");
  return domain;
}

export function domainBlockRoutes(ctx: Context) {
  const app = new Hono<ApiEnv>();

  // Mastodon's page sizes for this list: 100 by default, at most 200.
  app.get("/api/v1/domain_blocks", (c) => {
    requireUser(c, "read:blocks");
    const page = readPage(c, 100, 200);
    const rows = listDomainBlocks(ctx.store.db, page);
    setLinkHeader(
      ctx,
      c,
      rows.map((r) => r.pageId),
      page,
      "when-full",
    );
    return c.json(rows.map((r) => r.domain));
  });

  app.post("/api/v1/domain_blocks", async (c) => {
    requireUser(c, "write:blocks");
    blockDomain(ctx, await domainParam(c));
    return c.json({});
  });

  app.delete("/api/v1/domain_blocks", async (c) => {
    requireUser(c, "write:blocks");
    unblockDomain(ctx, await domainParam(c));
    return c.json({});
  });

  return app;
}
