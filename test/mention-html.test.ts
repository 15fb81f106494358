// The HTML of alice's posts, as Mastodon's TextFormatter writes it: mentions as h-card links showing the
// account's own username (user@domain when two mentioned accounts share a username), hashtags linked as
// typed. The same HTML is what the API returns and what other servers fetch.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, issueToken } from "./helpers/api.js";
import { AP_ACCEPT } from "./helpers/fedify-peer.js";
import { remoteAccount } from "./helpers/fixtures.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

let server: TestServer;
let token: string;

const fresh = { fetchedAt: Date.now() };
const mention = (url: string, shown: string) =>
  `<span class="h-card" translate="no"><a href="${url}" class="u-url mention">@<span>${shown}</span></a></span>`;
const hashtag = (url: string, shown: string) =>
  `<a href="${url}" class="mention hashtag" rel="tag">#<span>${shown}</span></a>`;

beforeAll(async () => {
  server = await startTestServer({ account: "alice" });
  token = issueToken(server);
  remoteAccount(server, "bob", "remote.example", fresh);
  remoteAccount(server, "bob", "other.example", fresh);
  remoteAccount(server, "Carol", "remote.example", fresh);
});

afterAll(async () => {
  await server?.close();
});

async function post(text: string): Promise<{ content: string; uri: string }> {
  const res = await api(server, token, "POST", "/api/v1/statuses", { status: text });
  expect(res.status).toBe(200);
  return res.json as { content: string; uri: string };
}

describe("mentions and hashtags in alice's posts", () => {
  it("renders them exactly as Mastodon does, in the API and in the ActivityPub note", async () => {
    const status = await post("Hi @carol@remote.example and @alice: #Caturday #café");
    const expected =
      `<p>Hi ${mention("https://remote.example/@Carol", "Carol")} and ${mention(`${server.origin}/@alice`, "alice")}: ` +
      `${hashtag(`${server.origin}/tags/Caturday`, "Caturday")} ${hashtag(`${server.origin}/tags/caf%C3%A9`, "café")}</p>`;
    expect(status.content).toBe(expected);
    const note = await fetch(status.uri, { headers: { accept: AP_ACCEPT } });
    expect(((await note.json()) as { content: string }).content).toBe(expected);
  });

  it("shows user@domain when two mentioned accounts share a username", async () => {
    const status = await post("@bob@remote.example meet @bob@other.example");
    expect(status.content).toBe(
      `<p>${mention("https://remote.example/@bob", "bob@remote.example")} meet ${mention("https://other.example/@bob", "bob@other.example")}</p>`,
    );
    const alone = await post("just @bob@other.example");
    expect(alone.content).toBe(`<p>just ${mention("https://other.example/@bob", "bob")}</p>`);
  });

  it("the hashtag page answers the link as typed", async () => {
    await post("#MixedCase on the web");
    const page = await fetch(`${server.origin}/tags/MixedCase`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
  });
});
