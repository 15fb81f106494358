import type { AccountRow } from "../../src/store/accounts.js";
import { remoteAccount } from "./fixtures.js";
import type { TestServer } from "./server.js";

export const REMOTE = "remote.example";

/**
 * The client and the server share the test process, and @hono/node-server replaces the global Response with
 * its own class when it starts listening. masto tells HTTP errors apart with `instanceof Response` on what
 * fetch returns, which that swap breaks (every error would surface as a bare Response). In an app's own
 * process the global is the native one: call this after the server starts to put it back (node-server works
 * with either). The native class is captured when this module is first imported, before any server starts.
 */
const NativeResponse = globalThis.Response;
export function restoreNativeResponse(): void {
  Object.defineProperty(globalThis, "Response", {
    value: NativeResponse,
    writable: true,
    configurable: true,
  });
}

/** A remote account on REMOTE, freshly fetched: a mention of it resolves from the store, without WebFinger. */
export function freshRemoteAccount(server: TestServer, username: string): AccountRow {
  return remoteAccount(server, username, REMOTE, {
    displayName: `${username} on ${REMOTE}`,
    fetchedAt: Date.now(),
  });
}

/** Sorts decimal ids newest first, as apps expect timelines. */
export const byIdDescending = (a: string, b: string) =>
  BigInt(b) > BigInt(a) ? 1 : BigInt(b) < BigInt(a) ? -1 : 0;
