import { and, eq } from "drizzle-orm";
import type { Context } from "../context.js";
import { transaction } from "../store/open.js";
import { mediaAttachments } from "../store/schema.js";

/** New alt text and focal point (each -1..1) for one media of a status, as an edit's media_attributes give them. */
export interface MediaAttributes {
  id: string;
  description?: string;
  focus?: [number, number];
}

/** Applies media_attributes to the status's own media; ids of other media change nothing. */
export function describeStatusMedia(ctx: Context, statusId: string, attributes: MediaAttributes[]): void {
  if (attributes.length === 0) return;
  transaction(ctx.store, () => {
    for (const attr of attributes) {
      if (attr.description === undefined && !attr.focus) continue;
      ctx.store.db
        .update(mediaAttachments)
        .set({
          ...(attr.description !== undefined ? { description: attr.description } : {}),
          ...(attr.focus
            ? { focusX: Math.round(attr.focus[0] * 1000), focusY: Math.round(attr.focus[1] * 1000) }
            : {}),
        })
        .where(and(eq(mediaAttachments.id, attr.id), eq(mediaAttachments.statusId, statusId)))
        .run();
    }
  });
}
