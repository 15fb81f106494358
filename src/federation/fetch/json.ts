/** Default bound on array/object nesting for documents from other servers. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/** Why `parseJsonBounded` refused a text: not JSON at all, or nested deeper than allowed. */
export class JsonParseError extends Error {
  override readonly name = "JsonParseError";
  constructor(
    readonly reason: "syntax" | "too_deep",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The nesting depth of a JSON text's arrays and objects (0 for a scalar), counted in one pass over
 * the characters without building anything; brackets inside strings do not count. Stops early and
 * returns `limit + 1` as soon as the depth exceeds `limit`. It does not validate: a malformed text
 * gets some number, and `JSON.parse` rejects it afterwards.
 */
export function jsonNestingDepth(text: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return max;
}

/**
 * `JSON.parse` for untrusted text, refusing arrays/objects nested more than `maxDepth` levels
 * (a top-level object is depth 1) before parsing, so that a hostile document cannot make later
 * recursive code overflow the stack. Throws a `JsonParseError`.
 */
export function parseJsonBounded(text: string, maxDepth: number = DEFAULT_MAX_JSON_DEPTH): unknown {
  const depth = jsonNestingDepth(text, maxDepth);
  if (depth > maxDepth) {
    throw new JsonParseError("too_deep", `JSON nested deeper than ${maxDepth} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new JsonParseError("syntax", err instanceof Error ? err.message : "invalid JSON", { cause: err });
  }
}
