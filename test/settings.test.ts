import { createHmac } from "node:crypto";
import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOAuthAPIClient, createRestAPIClient, MastoHttpError } from "masto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { unpackAndVerify } from "../src/backup/archive.js";
import { trackRun } from "../src/jobs/runs.js";
import { requeueAbandonedDeliveries } from "../src/jobs/upkeep.js";
import { issueToken } from "./helpers/api.js";
import { ensureBuilt, runWren } from "./helpers/cli.js";
import { restoreNativeResponse } from "./helpers/clients.js";
import { waitUntil } from "./helpers/fedify-peer.js";
import { Browser, codeFrom, findForm, mustForm, type PageResponse, pkce } from "./helpers/oauth-flow.js";
import {
  childEnv,
  freePort,
  startTestServer,
  TEST_PASSWORD,
  type TestServer,
  tempDir,
} from "./helpers/server.js";
import { login, settingsPage, submitSettings } from "./helpers/web-session.js";

beforeAll(ensureBuilt, 120_000);

const REDIRECT_URI = "https://app.example/callback";

const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function server(env: Record<string, string> = {}): Promise<TestServer> {
  const started = await startTestServer({ account: "alice", env });
  restoreNativeResponse();
  servers.push(started);
  return started;
}

// RFC 6238 written out again, apart from src/core/totp.ts, so the test checks the server against the standard.
function base32ToBytes(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of text.replace(/=+$/, "")) bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

function totp(secret: string, stepOffset = 0, now = Date.now()): string {
  const counter = Math.floor(now / 30_000) + stepOffset;
  const message = Buffer.alloc(8);
  message.writeUInt32BE(Math.floor(counter / 2 ** 32), 0);
  message.writeUInt32BE(counter % 2 ** 32, 4);
  const hmac = createHmac("sha1", base32ToBytes(secret)).update(message).digest();
  const offset = (hmac[19] as number) & 0xf;
  const value =
    (((hmac[offset] as number) & 0x7f) << 24) |
    ((hmac[offset + 1] as number) << 16) |
    ((hmac[offset + 2] as number) << 8) |
    (hmac[offset + 3] as number);
  return String(value % 1_000_000).padStart(6, "0");
}

let appBrowsers = 0;

/** An app registered with masto and authorized through the browser: its access token. */
async function oauthApp(
  target: TestServer,
  name: string,
  authorize: (browser: Browser, url: string) => Promise<PageResponse>,
): Promise<string> {
  const anonymous = createRestAPIClient({ url: target.origin });
  const app = await anonymous.v1.apps.create({
    clientName: name,
    redirectUris: REDIRECT_URI,
    scopes: "read write",
  });
  const { verifier, challenge } = pkce();
  const query = new URLSearchParams({
    response_type: "code",
    client_id: app.clientId as string,
    redirect_uri: REDIRECT_URI,
    scope: "read",
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const browser = new Browser(target.origin, `198.51.100.${100 + appBrowsers++}`);
  const done = await authorize(browser, `/oauth/authorize?${query}`);
  expect(done.status).toBe(302);
  const { code } = codeFrom(done.headers.get("location"));
  const token = await createOAuthAPIClient({ url: target.origin }).token.create({
    grantType: "authorization_code",
    clientId: app.clientId as string,
    clientSecret: app.clientSecret as string,
    redirectUri: REDIRECT_URI,
    code,
    codeVerifier: verifier,
  } as Parameters<ReturnType<typeof createOAuthAPIClient>["token"]["create"]>[0]);
  return token.accessToken;
}

/** The authorize page clicked through with the password only. */
async function passwordOnly(browser: Browser, url: string): Promise<PageResponse> {
  const page = await browser.get(url);
  const consent = await browser.submit(mustForm(page.html, "login"), {
    username: "alice",
    password: TEST_PASSWORD,
  });
  return browser.submit(mustForm(consent.html, "consent"), {}, "authorize");
}

async function status(target: TestServer, token: string): Promise<number> {
  const client = createRestAPIClient({ url: target.origin, accessToken: token });
  try {
    await client.v1.accounts.verifyCredentials();
    return 200;
  } catch (error) {
    if (error instanceof MastoHttpError) return error.statusCode;
    throw error;
  }
}

describe("login and the settings page", () => {
  it("sends a visitor to /login, logs in, and refuses a form without its CSRF token", async () => {
    const target = await server();
    const browser = new Browser(target.origin);
    const away = await browser.get("/settings");
    expect(away.status).toBe(303);
    expect(away.headers.get("location")).toBe("/login?next=%2Fsettings");

    const wrong = await login(browser, "not the password");
    expect(wrong.status).toBe(401);
    expect(wrong.html).toContain("Wrong username or password.");

    const done = await login(browser);
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/settings");
    const page = await browser.get("/settings");
    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    for (const id of ["password", "two_factor", "apps", "backup"])
      expect(page.html).toContain(`<section id="${id}">`);

    // The same form without the token, and with a token of another browser: refused, nothing changed.
    const form = mustForm(page.html, "password_change");
    const values = {
      current_password: TEST_PASSWORD,
      new_password: "a new password",
      new_password_again: "a new password",
    };
    const bare = await browser.request("POST", form.action, Object.entries(values));
    expect(bare.status).toBe(403);
    const other = new Browser(target.origin, "198.51.100.2");
    await login(other);
    const foreign = mustForm(await settingsPage(other), "password_change").fields.find(
      ([n]) => n === "csrf_token",
    );
    const forged = await browser.submit(form, { ...values, csrf_token: foreign?.[1] ?? "" });
    expect(forged.status).toBe(403);
    expect((await login(new Browser(target.origin, "198.51.100.3"))).status).toBe(303);

    // A POST without any session goes to the login page.
    const anonymous = await new Browser(target.origin).request("POST", "/settings/apps/revoke", [
      ["token_id", "1"],
    ]);
    expect(anonymous.status).toBe(303);

    const out = await browser.submit(mustForm(await settingsPage(browser), "logout"));
    expect(out.status).toBe(303);
    expect((await browser.get("/settings")).status).toBe(303);
  });

  it("changes the password: other sessions and every app token end, this browser stays", async () => {
    const target = await server();
    const mine = new Browser(target.origin, "198.51.100.4");
    const theirs = new Browser(target.origin, "198.51.100.5");
    await login(mine);
    await login(theirs);
    const token = await oauthApp(target, "Old app", passwordOnly);
    expect(await status(target, token)).toBe(200);

    const mismatch = await submitSettings(mine, "password_change", {
      current_password: TEST_PASSWORD,
      new_password: "a new password",
      new_password_again: "another one",
    });
    expect(mismatch.status).toBe(422);
    const wrongCurrent = await submitSettings(mine, "password_change", {
      current_password: "wrong password",
      new_password: "a new password",
      new_password_again: "a new password",
    });
    expect(wrongCurrent.status).toBe(403);
    expect(await status(target, token)).toBe(200);

    const changed = await submitSettings(mine, "password_change", {
      current_password: TEST_PASSWORD,
      new_password: "a new password",
      new_password_again: "a new password",
    });
    expect(changed.status).toBe(200);
    expect(changed.html).toContain("Password changed. 2 other sessions ended, 1 app token revoked.");
    expect((await mine.get("/settings")).status).toBe(200);
    expect((await theirs.get("/settings")).status).toBe(303);
    expect(await status(target, token)).toBe(401);
    expect((await login(new Browser(target.origin, "198.51.100.6"))).status).toBe(401);
    expect((await login(new Browser(target.origin, "198.51.100.7"), "a new password")).status).toBe(303);
  });

  it("lists the authorized apps with scopes and last use, and revokes one", async () => {
    const target = await server();
    const token = await oauthApp(target, "Listed app", passwordOnly);
    const other = await oauthApp(target, "Kept app", passwordOnly);
    expect(await status(target, token)).toBe(200);
    const browser = new Browser(target.origin);
    await login(browser);
    const page = await settingsPage(browser);
    const apps = page.slice(page.indexOf('<section id="apps">'), page.indexOf('<section id="backup">'));
    expect(apps).toContain("Listed app");
    expect(apps).toContain("Kept app");
    expect(apps).toContain("<code>read</code>");
    // The used token shows when; the other was never used.
    expect(apps).toMatch(/Listed app[\s\S]*last used \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(apps).toMatch(/Kept app[\s\S]*last used never/);

    const revokeForms = [...apps.matchAll(/id="(revoke-\d+)"/g)].map((m) => m[1] as string);
    expect(revokeForms).toHaveLength(2);
    const listed = revokeForms.find((id) => apps.indexOf(id) > apps.indexOf("Listed app")) as string;
    const revoked = await browser.submit(mustForm(page, listed));
    expect(revoked.status).toBe(200);
    expect(revoked.html).toContain("Access revoked.");
    expect(revoked.html).not.toContain("Listed app");
    expect(await status(target, token)).toBe(401);
    expect(await status(target, other)).toBe(200);
    const again = await browser.submit(mustForm(page, listed));
    expect(again.status).toBe(404);
  });

  it("downloads a backup that passes the archive verification, one at a time", async () => {
    const target = await server({ WREN_BACKUP_PATH: join(tempDir(), "backups") });
    dirs.push(join(target.context.config.backup.path, ".."));
    issueToken(target);
    const browser = new Browser(target.origin);
    await login(browser);
    const form = mustForm(await settingsPage(browser), "backup_download");

    const url = `${target.origin}${form.action}`;
    const headers = {
      "Content-Type": "application/x-www-form-urlencoded",
      Cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
    };
    const first = await fetch(url, {
      method: "POST",
      headers,
      body: new URLSearchParams(form.fields).toString(),
    });
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toBe("application/gzip");
    expect(first.headers.get("content-disposition")).toMatch(
      /^attachment; filename="wren-backup-.*\.tar\.gz"$/,
    );
    // The first archive is not read yet, so its backup still holds the slot.
    const second = await fetch(url, {
      method: "POST",
      headers,
      body: new URLSearchParams(form.fields).toString(),
    });
    expect(second.status).toBe(409);
    await second.text();

    const dir = tempDir("wren-download-");
    dirs.push(dir);
    const archive = join(dir, "download.tar.gz");
    writeFileSync(archive, Buffer.from(await first.arrayBuffer()));
    const unpacked = await unpackAndVerify(archive, join(dir, "unpacked"));
    expect(unpacked.manifest.tables.accounts).toBe(1);
    expect(unpacked.manifest.tables.oauth_tokens).toBe(1);
    // The server's copy is gone once sent, and the slot is free again.
    await waitUntil(
      () => readdirSync(target.context.config.backup.path).length === 0,
      "the downloaded archive to be deleted",
    );
    const third = await fetch(url, {
      method: "POST",
      headers,
      body: new URLSearchParams(form.fields).toString(),
    });
    expect(third.status).toBe(200);
    await third.arrayBuffer();
  });
});

describe("two-factor login", () => {
  it("is set up with a code, then asked for by the OAuth login and /login; recovery codes work once", async () => {
    const target = await server();
    const browser = new Browser(target.origin, "198.51.100.20");
    await login(browser);
    const begun = await submitSettings(browser, "totp_begin");
    expect(begun.status).toBe(200);
    const secret = begun.html.match(/<code id="totp_secret">([A-Z2-7]+)<\/code>/)?.[1] ?? "";
    expect(secret).toHaveLength(32);
    expect(begun.html).toMatch(/<img id="totp_qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"/);
    const uri = new URL(
      (begun.html.match(/<a id="totp_uri" href="([^"]+)"/)?.[1] ?? "").replaceAll("&amp;", "&"),
    );
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.searchParams.get("secret")).toBe(secret);
    expect(uri.searchParams.get("period")).toBe("30");

    // Not on until confirmed: a wrong code leaves it pending.
    const wrongConfirm = await browser.submit(mustForm(begun.html, "totp_confirm"), {
      code: "000000" === totp(secret) ? "111111" : "000000",
    });
    expect(wrongConfirm.status).toBe(422);
    // The step the confirmation spends: the replay below must be of this code even if a step boundary passes.
    const confirmedAt = Date.now();
    const confirmed = await browser.submit(mustForm(wrongConfirm.html, "totp_confirm"), {
      code: totp(secret, 0, confirmedAt),
    });
    expect(confirmed.status).toBe(200);
    const recovery = [
      ...confirmed.html.matchAll(
        /<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})<\/code><\/li>/g,
      ),
    ].map((m) => m[1] as string);
    expect(recovery).toHaveLength(10);
    expect(await settingsPage(browser)).not.toContain(recovery[0]);

    // The OAuth login asks for the code after the password; a wrong one is refused, the next step's code works
    // (the confirmation spent the current step's).
    const token = await oauthApp(target, "Two-factor app", async (other, url) => {
      const page = await other.get(url);
      const asked = await other.submit(mustForm(page.html, "login"), {
        username: "alice",
        password: TEST_PASSWORD,
      });
      expect(asked.status).toBe(200);
      expect(findForm(asked.html, "consent")).toBeNull();
      const wrong = await other.submit(mustForm(asked.html, "second_factor"), { code: "12345" });
      expect(wrong.status).toBe(401);
      expect(wrong.html).toContain("That code is not right.");
      const replayed = await other.submit(mustForm(wrong.html, "second_factor"), {
        code: totp(secret, 0, confirmedAt),
      });
      expect(replayed.status).toBe(401);
      const consent = await other.submit(mustForm(replayed.html, "second_factor"), {
        code: totp(secret, 1, confirmedAt),
      });
      expect(consent.status).toBe(200);
      return other.submit(mustForm(consent.html, "consent"), {}, "authorize");
    });
    expect(await status(target, token)).toBe(200);

    // The password grant cannot get round the second factor.
    const anonymous = createRestAPIClient({ url: target.origin });
    const app = await anonymous.v1.apps.create({
      clientName: "Password app",
      redirectUris: REDIRECT_URI,
      scopes: "read",
    });
    const grant = await fetch(`${target.origin}/oauth/token`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        grant_type: "password",
        client_id: app.clientId,
        client_secret: app.clientSecret,
        username: "alice",
        password: TEST_PASSWORD,
      }),
    });
    expect(grant.status).toBe(400);
    expect(((await grant.json()) as { error: string }).error).toBe("invalid_grant");

    // /login: the password alone is not enough; a recovery code works once.
    const alone = await login(new Browser(target.origin, "198.51.100.21"));
    expect(alone.status).toBe(200);
    expect(findForm(alone.html, "second_factor")).not.toBeNull();
    const used = await login(
      new Browser(target.origin, "198.51.100.22"),
      TEST_PASSWORD,
      (recovery[3] ?? "").toUpperCase(),
    );
    expect(used.status).toBe(303);
    const again = await login(new Browser(target.origin, "198.51.100.23"), TEST_PASSWORD, recovery[3]);
    expect(again.status).toBe(401);
    expect(await settingsPage(browser)).toContain("9 recovery codes left.");

    // The remote-interaction page's own login asks for the code too, then goes back to the interaction.
    const visitor = new Browser(target.origin, "198.51.100.26");
    const interactionUrl = `/authorize_interaction?uri=${encodeURIComponent(`${target.origin}/@alice`)}`;
    const interaction = await visitor.get(interactionUrl);
    const asked = await visitor.submit(mustForm(interaction.html, "login"), {
      username: "alice",
      password: TEST_PASSWORD,
    });
    expect(asked.status).toBe(200);
    expect((await visitor.get("/settings")).status).toBe(303);
    const back = await visitor.submit(mustForm(asked.html, "second_factor"), { code: recovery[5] as string });
    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(interactionUrl);
    expect((await visitor.get("/settings")).status).toBe(200);

    // Wrong codes count as failed logins: the sixth try in the window is refused outright.
    const guesser = new Browser(target.origin, "198.51.100.24");
    let page = await login(guesser);
    for (let i = 0; i < 5; i++) {
      page = await guesser.submit(mustForm(page.html, "second_factor"), { code: String(100000 + i) });
      expect(page.status).toBe(401);
    }
    const limited = await guesser.submit(mustForm(page.html, "second_factor"), { code: totp(secret, 1) });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);

    // Off with the password (a wrong one is refused); the password alone logs in again.
    const refused = await submitSettings(browser, "totp_disable", { password: "wrong password" });
    expect(refused.status).toBe(403);
    const off = await submitSettings(browser, "totp_disable", { password: TEST_PASSWORD });
    expect(off.status).toBe(200);
    expect(off.html).toContain("Two-factor login is off.");
    expect((await login(new Browser(target.origin, "198.51.100.25"))).status).toBe(303);
  }, 30_000);
});

describe("scheduled backups", () => {
  it("writes an archive on the schedule, and wren status shows it and the last upkeep run", async () => {
    const dir = tempDir("wren-scheduled-");
    dirs.push(dir);
    const backups = join(dir, "backups");
    const target = await startTestServer({
      account: "alice",
      dir,
      env: { WREN_BACKUP_PATH: backups, WREN_BACKUP_SCHEDULE: "* * * * * *", WREN_BACKUP_KEEP: "2" },
    });
    try {
      await waitUntil(
        () => existsSync(backups) && readdirSync(backups).some((name) => name.endsWith(".tar.gz")),
        "a scheduled archive",
        20_000,
      );
      await waitUntil(
        () =>
          target.context.store.sqlite.prepare("SELECT ok FROM job_runs WHERE name = 'backup'").get() as
            | { ok: number }
            | undefined,
        "the backup run to be recorded",
        20_000,
      );
      // An upkeep task records its run the same way (the minute tasks would make this test wait a minute).
      await trackRun(target.context, "requeue", () => requeueAbandonedDeliveries(target.context));
    } finally {
      await target.close();
    }
    const port = await freePort();
    const result = await runWren(["status"], {
      cwd: dir,
      env: { ...childEnv(dir, port), WREN_BACKUP_PATH: backups, WREN_BACKUP_SCHEDULE: "* * * * * *" },
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^last backup +.*wren-backup-.*\.tar\.gz \(/m);
    expect(result.stdout).toMatch(
      /^scheduled backup "\* \* \* \* \* \*"; last run \d{4}-\d\d-\d\dT[\d:.]+Z ok: .*wren-backup-.*\.tar\.gz \(/m,
    );
    expect(result.stdout).toMatch(/^last upkeep +\d{4}-\d\d-\d\dT[\d:.]+Z \(all tasks ok\)$/m);
  }, 60_000);

  it("refuses a schedule that is not a cron expression", async () => {
    const dir = tempDir("wren-schedule-");
    dirs.push(dir);
    const port = await freePort();
    const result = await runWren(["config", "check"], {
      cwd: dir,
      env: { ...childEnv(dir, port), WREN_BACKUP_SCHEDULE: "every day" },
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("backup.schedule");
  });
});
