import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { verifyPassword } from "../src/core/password.js";
import { fromBase64Url } from "../src/federation/keys.js";
import { type CliResult, ensureBuilt, ROOT, runWren } from "./helpers/cli.js";
import { tempDir } from "./helpers/server.js";

const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const PASSWORD = "correct horse battery staple";

beforeAll(ensureBuilt, 120_000);

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = tempDir("wren-cli-");
  dbPath = join(dir, "wren.db");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Result = CliResult;

/**
 * Runs `node bin/wren.js ...args` in the temp dir with the database there and no WREN_* variable from the
 * runner's environment (`paths: false` leaves the paths to the config). Standard input is `input` (always closed, so a password prompt cannot hang).
 */
function wren(
  args: string[],
  options: { input?: string; env?: Record<string, string>; paths?: boolean } = {},
): Promise<Result> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("WREN_") && value !== undefined) env[name] = value;
  }
  if (options.paths !== false)
    Object.assign(env, { WREN_DATABASE_PATH: dbPath, WREN_MEDIA_PATH: join(dir, "media") });
  Object.assign(env, options.env);
  return runWren(args, { cwd: dir, env, input: options.input });
}

/** Everything the account commands write, for "nothing changed" comparisons. */
function snapshot(): { accounts: unknown[]; users: unknown[]; keys: unknown[] } {
  if (!existsSync(dbPath)) return { accounts: [], users: [], keys: [] };
  const db = new Database(dbPath, { readonly: true });
  try {
    return {
      accounts: db.prepare("SELECT * FROM accounts ORDER BY id").all(),
      users: db.prepare("SELECT * FROM users ORDER BY id").all(),
      keys: db.prepare("SELECT * FROM key_pairs ORDER BY id").all(),
    };
  } finally {
    db.close();
  }
}

function passwordHash(): string {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare("SELECT password_hash AS hash FROM users").get() as { hash: string }).hash;
  } finally {
    db.close();
  }
}

const createAlice = () => wren(["account", "create", "--username", "alice"], { input: `${PASSWORD}\n` });

describe("help and version", () => {
  const commands = [
    ["serve"],
    ["migrate"],
    ["account", "create"],
    ["account", "password"],
    ["config", "check"],
    ["version"],
  ];

  it("prints an overview naming every command for --help, help, -h and no arguments", async () => {
    const variants = [["--help"], ["help"], ["-h"], []];
    const results = await Promise.all(variants.map((args) => wren(args)));
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      expect(code, variants[i]?.join(" ")).toBe(0);
      expect(stderr).toBe("");
      expect(stdout).toContain(`Wren ${VERSION}`);
      expect(stdout).toContain("Usage: wren COMMAND [options]");
      for (const command of commands) expect(stdout).toContain(command.join(" "));
    }
  });

  it("prints each command's usage and options for COMMAND --help", async () => {
    const results = await Promise.all(commands.map((command) => wren([...command, "--help"])));
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      const name = commands[i]?.join(" ") ?? "";
      expect(code, name).toBe(0);
      expect(stderr, name).toBe("");
      expect(stdout, name).toMatch(new RegExp(`^wren ${name}\\b`));
      expect(stdout, name).toContain("--help  show this help");
      if (name !== "version") expect(stdout, name).toContain("--config VALUE");
    }
    expect((await wren(["account", "create", "--help"])).stdout).toContain("--username VALUE");
  });

  it("lists a command group's commands for GROUP --help", async () => {
    const account = await wren(["account", "--help"]);
    expect(account.code).toBe(0);
    expect(account.stdout).toContain("wren account create --username NAME");
    expect(account.stdout).toContain("wren account password");
    const config = await wren(["config", "--help"]);
    expect(config.code).toBe(0);
    expect(config.stdout).toContain("wren config check");
    // The group alone is incomplete: usage, and a usage-error exit code.
    expect((await wren(["account"])).code).toBe(2);
  });

  it("prints the package version", async () => {
    for (const { code, stdout } of await Promise.all([wren(["version"]), wren(["--version"])])) {
      expect(code).toBe(0);
      expect(stdout).toBe(`${VERSION}\n`);
    }
  });

  it("exits 2 for an unknown command or option, naming it", async () => {
    const unknown = await wren(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    expect(unknown.stderr).toContain("Usage: wren COMMAND");
    const option = await wren(["version", "--frob"]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("--frob");
    const positional = await wren(["migrate", "extra"]);
    expect(positional.code).toBe(2);
  });
});

describe("account create", () => {
  it("creates the account from a piped password, with a scrypt hash and RSA + Ed25519 keys", async () => {
    const { code, stdout, stderr } = await createAlice();
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Created @alice@localhost:8080 (http://localhost:8080/users/alice).");

    const db = new Database(dbPath, { readonly: true });
    try {
      const account = db
        .prepare("SELECT id, uri, username, domain, inbox_url AS inbox FROM accounts")
        .get() as Record<string, string | null>;
      expect(account).toMatchObject({
        username: "alice",
        domain: null,
        uri: "http://localhost:8080/users/alice",
        inbox: "http://localhost:8080/users/alice/inbox",
      });
      const user = db.prepare("SELECT account_id AS accountId, password_hash AS hash FROM users").get() as {
        accountId: string;
        hash: string;
      };
      expect(user.accountId).toBe(account.id);
      expect(user.hash).toMatch(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
      expect(user.hash).not.toContain(PASSWORD);
      expect(await verifyPassword(PASSWORD, user.hash)).toBe(true);
      expect(await verifyPassword("wrong password", user.hash)).toBe(false);

      const keys = db
        .prepare("SELECT algorithm, public_key AS pub, private_key AS priv FROM key_pairs WHERE owner = ?")
        .all(account.id) as { algorithm: string; pub: string; priv: string }[];
      expect(keys.map((k) => k.algorithm).sort()).toEqual(["ed25519", "rsa"]);
      const rsa = keys.find((k) => k.algorithm === "rsa");
      expect(rsa?.pub).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      expect(rsa?.priv).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      const ed = keys.find((k) => k.algorithm === "ed25519");
      expect(fromBase64Url(ed?.pub ?? "")).toHaveLength(32);
      expect(fromBase64Url(ed?.priv ?? "")).toHaveLength(32);
    } finally {
      db.close();
    }
  });

  it("refuses a second account with a clear message and leaves the database unchanged", async () => {
    expect((await createAlice()).code).toBe(0);
    const before = snapshot();
    const second = await wren(["account", "create", "--username", "bob"], { input: "another password\n" });
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain("already has its account (@alice)");
    expect(second.stderr).toContain("single-user");
    expect(snapshot()).toEqual(before);
    // The same name again is refused just the same.
    expect((await createAlice()).code).not.toBe(0);
    expect(snapshot()).toEqual(before);
  });

  it("refuses an invalid username without writing anything", async () => {
    const { code, stderr } = await wren(["account", "create", "--username", "bad-name!"], {
      input: `${PASSWORD}\n`,
    });
    expect(code).toBe(1);
    expect(stderr).toContain("only letters, digits and underscores");
    expect(snapshot()).toEqual({ accounts: [], users: [], keys: [] });
    const long = await wren(["account", "create", "--username", "a".repeat(31)], { input: `${PASSWORD}\n` });
    expect(long.code).toBe(1);
    expect(long.stderr).toContain("at most 30 characters");
  });

  it("refuses a too-short password without a half-written account", async () => {
    const { code, stderr } = await wren(["account", "create", "--username", "alice"], { input: "short\n" });
    expect(code).toBe(1);
    expect(stderr).toContain("at least 8 characters");
    expect(snapshot()).toEqual({ accounts: [], users: [], keys: [] });
    // An empty standard input is a too-short password too, not a hang.
    expect((await wren(["account", "create", "--username", "alice"])).code).toBe(1);
    // And the name is still free afterwards.
    expect((await createAlice()).code).toBe(0);
  });

  it("requires --username", async () => {
    const { code, stderr } = await wren(["account", "create"], { input: `${PASSWORD}\n` });
    expect(code).toBe(2);
    expect(stderr).toContain("--username is required");
  });
});

describe("account password", () => {
  it("replaces the password hash", async () => {
    expect((await createAlice()).code).toBe(0);
    const before = passwordHash();
    const { code, stdout } = await wren(["account", "password"], { input: "a new, longer password\n" });
    expect(code).toBe(0);
    expect(stdout).toContain("Password changed.");
    const after = passwordHash();
    expect(after).not.toBe(before);
    expect(await verifyPassword("a new, longer password", after)).toBe(true);
    expect(await verifyPassword(PASSWORD, after)).toBe(false);
  });

  it("refuses a too-short password and keeps the old one", async () => {
    expect((await createAlice()).code).toBe(0);
    const before = passwordHash();
    const { code, stderr } = await wren(["account", "password"], { input: "tiny\n" });
    expect(code).toBe(1);
    expect(stderr).toContain("at least 8 characters");
    expect(passwordHash()).toBe(before);
  });

  it("says so when there is no account yet", async () => {
    const { code, stderr } = await wren(["account", "password"], { input: `${PASSWORD}\n` });
    expect(code).toBe(1);
    expect(stderr).toContain("there is no account yet");
  });
});

describe("config check", () => {
  it("prints every effective value with its source and exits 0", async () => {
    writeFileSync(join(dir, "config.toml"), '[server]\ndomain = "social.example"\nlisten_port = 9000\n');
    const { code, stdout, stderr } = await wren(["config", "check"], { env: { WREN_LOG_LEVEL: "warn" } });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const file = join(dir, "config.toml");
    expect(stdout).toContain(`# configuration: ${file}`);
    expect(stdout).toContain(`domain = "social.example"  # from ${file}`);
    expect(stdout).toContain(`listen_port = 9000  # from ${file}`);
    expect(stdout).toContain('protocol = "https"  # from default');
    expect(stdout).toContain(`path = ${JSON.stringify(dbPath)}  # from WREN_DATABASE_PATH`);
    expect(stdout).toContain('level = "warn"  # from WREN_LOG_LEVEL');
    for (const section of ["server", "database", "media", "log", "federation", "limits"])
      expect(stdout).toContain(`[${section}]`);
    expect(stdout).toContain("configuration is valid");
  });

  it("shows the trial profile when there is no config file", async () => {
    const { code, stdout } = await wren(["config", "check"]);
    expect(code).toBe(0);
    expect(stdout).toContain("# configuration: built-in trial defaults (no config file)");
    expect(stdout).toContain('protocol = "http"  # from trial default (no config file)');
  });

  it("exits non-zero for a wrongly typed value, naming the key and the file", async () => {
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, '[server]\nlisten_port = "x"\n');
    const { code, stdout, stderr } = await wren(["config", "check", "--config", "bad.toml"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toContain("server.listen_port");
    expect(stderr).toContain(bad);
    expect(stderr).toContain('must be an integer, got "x"');
  });

  it("exits non-zero for an unknown key, naming it and the file", async () => {
    const bad = join(dir, "bad.toml");
    writeFileSync(bad, "[server]\nlisten_prot = 80\n");
    const { code, stderr } = await wren(["config", "check", "--config", bad]);
    expect(code).toBe(1);
    expect(stderr).toContain(`${bad}: unknown key server.listen_prot`);
  });

  it("exits non-zero for a bad environment value, naming the variable", async () => {
    const { code, stderr } = await wren(["config", "check"], { env: { WREN_SERVER_LISTEN_PORT: "abc" } });
    expect(code).toBe(1);
    expect(stderr).toContain("WREN_SERVER_LISTEN_PORT: server.listen_port must be an integer");
  });

  it("refuses to serve or migrate with a bad config, without creating the database", async () => {
    writeFileSync(join(dir, "bad.toml"), '[server]\nlisten_port = "x"\n');
    for (const command of ["serve", "migrate"]) {
      const { code, stderr } = await wren([command, "--config", "bad.toml"]);
      expect(code, command).toBe(1);
      expect(stderr, command).toContain("server.listen_port");
    }
    expect(existsSync(dbPath)).toBe(false);
  });
});

describe("migrate", () => {
  it("creates and migrates the database, and is idempotent", async () => {
    const first = await wren(["migrate"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`database ${dbPath} is up to date`);
    const tables = () => {
      const db = new Database(dbPath, { readonly: true });
      try {
        return {
          tables: (
            db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
              name: string;
            }[]
          ).map((t) => t.name),
          migrations: (db.prepare("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n,
        };
      } finally {
        db.close();
      }
    };
    const after = tables();
    expect(after.tables).toEqual(expect.arrayContaining(["accounts", "users", "key_pairs", "statuses"]));
    expect(after.migrations).toBeGreaterThan(0);
    const second = await wren(["migrate"]);
    expect(second.code).toBe(0);
    expect(tables()).toEqual(after);
  });

  it("uses the database path from ./config.toml, relative to the working directory", async () => {
    writeFileSync(join(dir, "config.toml"), '[database]\npath = "nested/dir/w.db"\n');
    const { code, stdout, stderr } = await wren(["migrate"], { paths: false });
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain(`database ${join(dir, "nested/dir/w.db")} is up to date`);
    expect(existsSync(join(dir, "nested/dir/w.db"))).toBe(true);
  });

  it("refuses an empty WREN_DATABASE_PATH, naming it", async () => {
    const { code, stderr } = await wren(["migrate"], { env: { WREN_DATABASE_PATH: " " } });
    expect(code).toBe(1);
    expect(stderr).toContain("WREN_DATABASE_PATH: database.path must not be empty");
  });
});
