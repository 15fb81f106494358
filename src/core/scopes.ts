/**
 * OAuth scopes as Mastodon defines them: a top-level scope grants all its granular ones ("read" grants
 * "read:statuses"), and the legacy "follow" scope grants the follow/block/mute ones.
 */
export const TOP_LEVEL_SCOPES = ["read", "write", "follow", "push", "profile"] as const;

export const GRANULAR_SCOPES = [
  "read:accounts",
  "read:blocks",
  "read:bookmarks",
  "read:favourites",
  "read:filters",
  "read:follows",
  "read:lists",
  "read:mutes",
  "read:notifications",
  "read:search",
  "read:statuses",
  "write:accounts",
  "write:blocks",
  "write:bookmarks",
  "write:conversations",
  "write:favourites",
  "write:filters",
  "write:follows",
  "write:lists",
  "write:media",
  "write:mutes",
  "write:notifications",
  "write:reports",
  "write:statuses",
] as const;

const FOLLOW_GRANTS = new Set([
  "read:blocks",
  "write:blocks",
  "read:follows",
  "write:follows",
  "read:mutes",
  "write:mutes",
]);
const KNOWN = new Set<string>([...TOP_LEVEL_SCOPES, ...GRANULAR_SCOPES, "admin:read", "admin:write"]);

export function parseScopes(text: string | null | undefined): string[] {
  return [...new Set((text ?? "").split(/[\s+]+/).filter((s) => s !== ""))];
}

/** The first unknown scope in a list, for a clear "invalid_scope" error. */
export function unknownScope(scopes: string[]): string | null {
  return scopes.find((s) => !KNOWN.has(s)) ?? null;
}

/** Whether a token holding `granted` may use an endpoint that needs `required` (e.g. "read:statuses"). */
export function hasScope(granted: string[], required: string): boolean {
  if (granted.includes(required)) return true;
  const [top] = required.split(":");
  if (top && granted.includes(top)) return true;
  if (granted.includes("follow") && FOLLOW_GRANTS.has(required)) return true;
  // "profile" is a narrower read:accounts, valid only for verify_credentials (checked by that route).
  return false;
}

/** Scopes requested by an app or token request must be a subset of what the app registered. */
export function isSubset(requested: string[], allowed: string[]): boolean {
  return requested.every((scope) => allowed.includes(scope) || hasScope(allowed, scope));
}
