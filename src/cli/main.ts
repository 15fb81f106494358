import { parseArgs } from "node:util";
import { ConfigError, type LoadedConfig, loadConfig } from "../config/load.js";
import { CONFIG_SPEC, type KeySpec } from "../config/spec.js";
import {
  changePassword,
  createAccount,
  refuseSecondAccount,
  UserError,
  usernameProblem,
} from "../core/account.js";
import { VERSION } from "../version.js";
import { backupCommand } from "./backup.js";
import { CONFIG_OPTION, withCliContext } from "./context.js";
import { readSecret } from "./io.js";
import { mediaMigrateCommand } from "./media.js";

import {
  accountDeleteCommand,
  aliasAddCommand,
  aliasListCommand,
  aliasRemoveCommand,
  moveCommand,
} from "./move.js";

import { exportCommand, importCommand } from "./portability.js";
import { pruneCommand } from "./prune.js";
import { relayCommands } from "./relay.js";

import { restoreCommand } from "./restore.js";
import { statusCommand } from "./status.js";

export interface Command {
  usage: string;
  summary: string;
  options?: Record<string, { type: "string" | "boolean"; description: string }>;
  /** Positional arguments the command takes (none when absent), checked before `run`. */
  positionals?: { names: string; min: number; max: number };
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<number>;
}

function load(values: Record<string, unknown>): LoadedConfig {
  return loadConfig({ configPath: typeof values.config === "string" ? values.config : undefined });
}

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: "wren serve [--config PATH]",
    summary: "run the server (migrates the database first)",
    options: CONFIG_OPTION,
    async run(values) {
      const { startServer } = await import("../main.js");
      const server = await startServer({ configPath: values.config as string | undefined });
      console.log(`Wren ${VERSION} is listening on ${server.url} (public address ${server.publicOrigin}).`);
      if (!server.hasAccount) {
        console.log(
          "Next step: create the account, in another terminal:\n  npx wren account create --username NAME",
        );
      }
      await new Promise<void>((resolve) => {
        const onSignal = (signal: string) => {
          console.log(`${signal}: shutting down`);
          void server.stop().then(resolve);
        };
        process.once("SIGTERM", onSignal);
        process.once("SIGINT", onSignal);
      });
      return 0;
    },
  },
  migrate: {
    usage: "wren migrate [--config PATH]",
    summary: "apply pending database migrations (start-up does this too)",
    options: CONFIG_OPTION,
    async run(values) {
      await withCliContext(values, async (ctx) =>
        console.log(`database ${ctx.config.database.path} is up to date`),
      );
      return 0;
    },
  },
  "account create": {
    usage: "wren account create --username NAME [--config PATH]",
    summary: "create the one account; the password is read from standard input or prompted for",
    options: {
      ...CONFIG_OPTION,
      username: { type: "string", description: "letters, digits and _, at most 30" },
    },
    async run(values) {
      if (typeof values.username !== "string") throw new UsageError("--username is required");
      const username = values.username;
      const problem = usernameProblem(username);
      if (problem) throw new UserError(problem);
      return withCliContext(values, async (ctx) => {
        refuseSecondAccount(ctx);
        const password = await readSecret("Password: ", "Password again: ");
        const account = await createAccount(ctx, { username, password });
        console.log(`Created @${account.username}@${ctx.urls.domain} (${ctx.urls.actor(account.username)}).`);
        return 0;
      });
    },
  },
  "account password": {
    usage: "wren account password [--config PATH]",
    summary: "change the account's password (read from standard input or prompted for)",
    options: CONFIG_OPTION,
    async run(values) {
      return withCliContext(values, async (ctx) => {
        await changePassword(ctx, await readSecret("New password: ", "New password again: "));
        console.log("Password changed.");
        return 0;
      });
    },
  },
  "account delete": accountDeleteCommand,
  "alias add": aliasAddCommand,
  "alias remove": aliasRemoveCommand,
  "alias list": aliasListCommand,
  move: moveCommand,
  prune: {
    usage: "wren prune [--dry-run] [--vacuum] [--config PATH]",
    summary: "remove old remote posts, notifications, accounts and tags now (the server does it daily)",
    options: {
      ...CONFIG_OPTION,
      "dry-run": { type: "boolean", description: "print what would be removed, change nothing" },
      vacuum: {
        type: "boolean",
        description: "first rewrite an older database so that pruning shrinks its file (server stopped)",
      },
    },
    async run(values) {
      return withCliContext(values, async (ctx) => {
        const lines = await pruneCommand(ctx, {
          dryRun: values["dry-run"] === true,
          vacuum: values.vacuum === true,
        });
        for (const line of lines) console.log(line);
        return 0;
      });
    },
  },
  "config check": {
    usage: "wren config check [--config PATH]",
    summary: "validate the configuration and print the effective values and where each came from",
    options: CONFIG_OPTION,
    async run(values) {
      const { config, file, sources } = load(values);
      console.log(`# configuration: ${file ?? "built-in trial defaults (no config file)"}`);
      for (const [section, keys] of Object.entries(CONFIG_SPEC)) {
        console.log(`\n[${section}]`);
        for (const [key, spec] of Object.entries(keys as Record<string, KeySpec>)) {
          const value = (config as unknown as Record<string, Record<string, unknown>>)[section]?.[key];
          const shown = "secret" in spec && spec.secret ? '"(redacted)"' : JSON.stringify(value);
          console.log(`${key} = ${shown}  # from ${sources[`${section}.${key}`]}`);
        }
      }
      console.log("\nconfiguration is valid");
      return 0;
    },
  },
  backup: backupCommand,
  restore: restoreCommand,
  "media migrate": mediaMigrateCommand,
  status: statusCommand,
  export: exportCommand,
  import: importCommand,

  ...relayCommands,
  version: {
    usage: "wren version",
    summary: "print the version",
    async run() {
      console.log(VERSION);
      return 0;
    },
  },
};

class UsageError extends Error {}

function help(command: Command): string {
  const lines = [`${command.usage}\n\n${command.summary}`];
  const options = Object.entries(command.options ?? {});
  lines.push("\nOptions:");
  for (const [option, spec] of options)
    lines.push(`  --${option}${spec.type === "string" ? " VALUE" : ""}  ${spec.description}`);
  lines.push("  --help  show this help");
  return lines.join("\n");
}

function overview(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(18)} ${c.summary}`);
  return `Wren ${VERSION}: a single-user fediverse server\n\nUsage: wren COMMAND [options]\n\nCommands:\n${rows.join("\n")}\n\nRun "wren COMMAND --help" for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const two = argv.slice(0, 2).join(" ");
  const name = COMMANDS[two] ? two : argv[0] && COMMANDS[argv[0]] ? argv[0] : null;
  if (!name) {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "help" || argv[0] === "-h") {
      console.log(overview());
      return 0;
    }
    if (argv[0] === "--version") {
      console.log(VERSION);
      return 0;
    }
    const group = Object.keys(COMMANDS).filter((c) => c.startsWith(`${argv[0]} `));
    if (group.length > 0 && (argv.length === 1 || argv[1] === "--help")) {
      console.log(`Usage:\n${group.map((c) => `  ${COMMANDS[c]?.usage}`).join("\n")}`);
      return argv.length === 1 ? 2 : 0;
    }
    console.error(`wren: unknown command "${argv.join(" ")}"\n\n${overview()}`);
    return 2;
  }
  const command = COMMANDS[name] as Command;
  const rest = argv.slice(name.split(" ").length);
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    const options = Object.fromEntries(
      Object.entries({ ...(command.options ?? {}), help: { type: "boolean" as const } }).map(([k, v]) => [
        k,
        { type: v.type },
      ]),
    );
    const allowPositionals = command.positionals !== undefined;
    ({ values, positionals } = parseArgs({ args: rest, options, allowPositionals, strict: true }));
    const expected = command.positionals;
    if (expected && (positionals.length < expected.min || positionals.length > expected.max))
      throw new Error(`expects ${expected.names}`);
  } catch (error) {
    console.error(`wren ${name}: ${(error as Error).message}\n\n${help(command)}`);
    return 2;
  }
  if (values.help) {
    console.log(help(command));
    return 0;
  }
  try {
    return await command.run(values, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`wren ${name}: ${error.message}\n\n${help(command)}`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof UserError) {
      console.error(`wren ${name}: ${error.message}`);
      return 1;
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
      console.error(`wren ${name}: cannot listen: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  }
}
