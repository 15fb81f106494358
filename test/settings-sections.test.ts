// The settings page's Import and export, Moving and Relays sections, through the browser forms: real HTTP,
// Fedify peers as the other servers (one acting as a LitePub relay).
import { createRestAPIClient } from "masto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportText } from "../src/portability/export.js";
import { findLocalUser } from "../src/store/accounts.js";
import { issueToken } from "./helpers/api.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { AP_ACCEPT, type FedifyPeer, startFedifyPeer, waitUntil } from "./helpers/fedify-peer.js";
import { Browser, mustForm } from "./helpers/oauth-flow.js";
import { startTestServer, type TestServer } from "./helpers/server.js";
import { login, settingsPage, submitSettings } from "./helpers/web-session.js";

let alice: TestServer;
let fresh: TestServer;
let peer: FedifyPeer;
let relay: FedifyPeer;
let browser: Browser;

beforeAll(async () => {
  [alice, fresh, peer, relay] = await Promise.all([
    startTestServer({ account: "alice" }),
    startTestServer({ account: "alice" }),
    startFedifyPeer(),
    startFedifyPeer(),
  ]);
  restoreNativeResponse();
  browser = new Browser(alice.origin, "198.51.100.40");
  expect((await login(browser)).status).toBe(303);
}, 120_000);

afterAll(async () => {
  await Promise.all([peer?.close(), relay?.close()]);
  await Promise.all([alice?.close(), fresh?.close()]);
});

const ownUri = (server: TestServer) => {
  const uri = findLocalUser(server.context.store.db)?.account.uri;
  if (!uri) throw new Error("no local account");
  return uri;
};

async function aliases(): Promise<string[]> {
  const res = await peer.fetchSigned(ownUri(alice), { accept: AP_ACCEPT });
  expect(res.status).toBe(200);
  const doc = (await res.json()) as { alsoKnownAs?: string[] };
  return doc.alsoKnownAs ?? [];
}

/** The settings page once it satisfies `ready` (the import runs in the background), polled. */
async function pageWhen(session: Browser, ready: (html: string) => boolean, what: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const html = await settingsPage(session);
    if (ready(html)) return html;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${html}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The import form sent as a browser sends it: multipart, with the file, the CSRF token from the page. */
async function sendImport(
  session: Browser,
  fields: Record<string, string>,
  file: Blob | null,
  withCsrf = true,
): Promise<{ status: number; html: string }> {
  const form = mustForm(await settingsPage(session), "import");
  const body = new FormData();
  for (const [name, value] of form.fields) if (name === "csrf_token" && withCsrf) body.append(name, value);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  if (file) body.append("file", file, "import.csv");
  const res = await fetch(`${session.origin}${form.action}`, {
    method: "POST",
    headers: {
      "X-Forwarded-For": session.address,
      Cookie: [...session.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
    },
    body,
    redirect: "manual",
  });
  return { status: res.status, html: await res.text() };
}

describe("Import and export", () => {
  it("downloads the following export, equal to exportText, and the account archive", async () => {
    const client = createRestAPIClient({ url: alice.url, accessToken: issueToken(alice) });
    const found = await client.v2.search.list({ q: `@${peer.handle}`, type: "accounts", resolve: true });
    const account = found.accounts[0];
    if (!account) throw new Error("the peer was not found");
    await client.v1.accounts.$select(account.id).follow();
    await waitUntil(
      () => alice.context.store.sqlite.prepare("SELECT 1 FROM follows WHERE state = 'accepted'").get(),
      "alice's follow of the peer to be accepted",
    );

    const csv = await submitSettings(browser, "export_following");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-disposition")).toBe('attachment; filename="following.csv"');
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.html).toBe(exportText(alice.context, "following"));
    expect(csv.html).toContain(peer.handle);

    const form = mustForm(await settingsPage(browser), "export_archive");
    const res = await fetch(`${alice.origin}${form.action}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Forwarded-For": browser.address,
        Cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      },
      body: new URLSearchParams(form.fields).toString(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(
      /^attachment; filename="wren-archive-\d+T\d+\.tar\.gz"$/,
    );
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);

    const unknown = await submitSettings(browser, "export_following", { kind: "nothing" });
    expect(unknown.status).toBe(400);
    expect(unknown.html).toContain("There is no export");
  });

  it("imports a CSV into a fresh server in the background: the Follow reaches the peer, the page shows the summary", async () => {
    const session = new Browser(fresh.origin, "198.51.100.41");
    expect((await login(session)).status).toBe(303);

    const missing = await sendImport(session, { kind: "following", mode: "merge" }, null);
    expect(missing.status).toBe(400);
    expect(missing.html).toContain("Choose a CSV file");
    const big = await sendImport(
      session,
      { kind: "following", mode: "merge" },
      new Blob(["x".repeat(2 * 1024 * 1024 + 1)]),
    );
    expect(big.status).toBe(413);
    expect(big.html).toContain("larger than 2 MB");
    // Above the 1 MiB body limit of other forms, within the import's: read, and refused for its rows.
    const rows = Array.from({ length: 25_000 }, (_, i) => `${"u".repeat(40)}${i}@example.com\n`).join("");
    expect(rows.length).toBeGreaterThan(1024 * 1024);
    const many = await sendImport(session, { kind: "following", mode: "merge" }, new Blob([rows]));
    expect(many.status).toBe(400);
    expect(many.html).toContain("The file was not imported");
    const badKind = await sendImport(
      session,
      { kind: "statuses", mode: "merge" },
      new Blob(["a@b.example\n"]),
    );
    expect(badKind.status).toBe(400);
    const refused = await sendImport(session, { kind: "following" }, new Blob(["x"]), false);
    expect(refused.status).toBe(403);

    const csv = `Account address,Show boosts,Notify on new posts,Languages\n${peer.handle},true,false,\nnot an address,true,false,\n`;
    // Two forms at once: the import resolves the peer over the network, so the second finds the first running.
    const both = await Promise.all([
      sendImport(session, { kind: "following", mode: "merge" }, new Blob([csv])),
      sendImport(session, { kind: "following", mode: "merge" }, new Blob([csv])),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual([202, 409]);
    const started = both.find((r) => r.status === 202);
    expect(started?.html).toContain("The import has started");
    expect(both.find((r) => r.status === 409)?.html).toContain("An import is running already");

    const follow = await peer.waitFor((a) => a.type === "Follow" && a.actor === ownUri(fresh));
    expect(follow.json).toMatchObject({ type: "Follow", object: peer.actorUri });
    const page = await pageWhen(session, (html) => html.includes("is done"), "the import's summary");
    expect(page).toContain("1 of 2 rows done, 1 failed");
    expect(page).toMatch(/Line 3: not an address/);
  });
});

describe("Moving", () => {
  it("adds and removes an alias: the actor document's alsoKnownAs follows", async () => {
    const added = await submitSettings(browser, "add_alias", { account: peer.handle });
    expect(added.status).toBe(200);
    expect(added.html).toContain(`Added the alias ${peer.actorUri}`);
    expect(await aliases()).toEqual([peer.actorUri]);

    const removed = await submitSettings(browser, "remove_alias_0");
    expect(removed.status).toBe(200);
    expect(removed.html).toContain(`Removed the alias ${peer.actorUri}`);
    expect(await aliases()).toEqual([]);

    const unresolvable = await submitSettings(browser, "add_alias", { account: "nobody@invalid.invalid" });
    expect(unresolvable.status).toBe(422);
    expect(unresolvable.html).toContain("cannot resolve nobody@invalid.invalid");
    const empty = await submitSettings(browser, "add_alias", { account: " " });
    expect(empty.status).toBe(400);
  });

  it("refuses a move to an account that does not list us, and changes nothing", async () => {
    const refused = await submitSettings(browser, "move", { account: peer.handle });
    expect(refused.status).toBe(422);
    expect(refused.html).toContain("does not list");
    expect(refused.html).not.toContain('id="moved_to"');
    expect(findLocalUser(alice.context.store.db)?.account.movedToUri).toBeNull();

    const cancel = await browser.submit(mustForm(await settingsPage(browser), "move"), { account: "" });
    expect(cancel.status).toBe(400);
  });
  it("moves to an account that lists us, shows it, and cancels the move", async () => {
    const home = await startFedifyPeer({ extraActors: ["newhome"], aliases: { newhome: [ownUri(alice)] } });
    try {
      const moved = await submitSettings(browser, "move", { account: `newhome@${home.domain}` });
      expect(moved.status).toBe(200);
      const target = `${new URL(home.actorUri).origin}/users/newhome`;
      expect(moved.html).toContain(`Moved to ${target}`);
      expect(moved.html).toContain('id="moved_to"');
      expect(findLocalUser(alice.context.store.db)?.account.movedToUri).toBe(target);

      const cancelled = await submitSettings(browser, "cancel_move");
      expect(cancelled.status).toBe(200);
      expect(cancelled.html).toContain("The move is cancelled");
      expect(cancelled.html).not.toContain('id="cancel_move"');
      expect(findLocalUser(alice.context.store.db)?.account.movedToUri).toBeNull();
    } finally {
      await home.close();
    }
  });
});

describe("Relays", () => {
  it("adds a LitePub relay: the Follow arrives, the list shows it accepted; removing sends Undo", async () => {
    const added = await submitSettings(browser, "add_relay", { url: relay.actorUri, litepub: "1" });
    expect(added.status).toBe(200);
    expect(added.html).toContain("litepub style");
    const follow = await relay.waitFor((a) => a.type === "Follow");
    expect(follow.json).toMatchObject({ actor: `${alice.origin}/actor`, object: relay.actorUri });
    await waitUntil(
      () => alice.context.store.sqlite.prepare("SELECT 1 FROM relays WHERE state = 'accepted'").get(),
      "the relay's Accept",
    );
    const page = await settingsPage(browser);
    expect(page).toContain('class="state">accepted');
    expect(page).toContain(relay.inboxUri);

    const id = page.match(/id="(remove_relay_[^"]+)"/)?.[1];
    if (!id) throw new Error("no remove button");
    const removed = await browser.submit(mustForm(page, id));
    expect(removed.status).toBe(200);
    expect(removed.html).toContain("No relays.");
    await relay.waitFor((a) => a.type === "Undo");

    const bad = await submitSettings(browser, "add_relay", { url: "not a url" });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain("Give the relay");
  });
});

describe("CSRF", () => {
  it("refuses a post without the token in every new section", async () => {
    for (const [formId, values] of [
      ["export_following", {}],
      ["add_alias", { account: peer.handle }],
      ["move", { account: peer.handle }],
      ["add_relay", { url: relay.actorUri }],
    ] as const) {
      const form = mustForm(await settingsPage(browser), formId);
      const res = await browser.request("POST", form.action, [
        ...form.fields.filter(([name]) => name !== "csrf_token"),
        ...Object.entries(values),
      ]);
      expect(res.status, formId).toBe(403);
      expect(res.html).toContain("Form refused");
    }
    expect(await aliases()).toEqual([]);
    expect(alice.context.store.sqlite.prepare("SELECT count(*) AS n FROM relays").get()).toEqual({ n: 0 });
  });
});
