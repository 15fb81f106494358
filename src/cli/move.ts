/**
 * `wren alias add|remove|list`, `wren move` and `wren account delete`: the owner's side of account
 * migration. Remote accounts are resolved (WebFinger, then the actor) before the core is called.
 */
import { createInterface } from "node:readline";
import { UserError } from "../core/account.js";
import { addAlias, cancelMove, listAliases, moveAccount, removeAlias } from "../core/move.js";
import { resolveAccountRef } from "../federation/account-ref.js";
import { deleteAccount } from "./account-delete.js";
import { CONFIG_OPTION, withCliContext } from "./context.js";
import type { Command } from "./main.js";

const QUEUED =
  "Other servers are told through the delivery queue: a running server sends it within 30 seconds, a stopped one when it starts.";

export const aliasAddCommand: Command = {
  usage: "wren alias add HANDLE_OR_URI [--config PATH]",
  summary: "declare an account you are moving from as an alias of yours (alsoKnownAs)",
  options: CONFIG_OPTION,
  positionals: { names: "HANDLE_OR_URI", min: 1, max: 1 },
  async run(values, [ref]) {
    return withCliContext(values, async (ctx) => {
      const account = await resolveAccountRef(ctx, ref as string, false);
      const before = listAliases(ctx);
      addAlias(ctx, account.uri);
      console.log(
        before.includes(account.uri)
          ? `${account.uri} is already an alias.`
          : `Added the alias ${account.uri}. ${QUEUED}`,
      );
      return 0;
    });
  },
};

export const aliasRemoveCommand: Command = {
  usage: "wren alias remove HANDLE_OR_URI [--config PATH]",
  summary: "remove an alias",
  options: CONFIG_OPTION,
  positionals: { names: "HANDLE_OR_URI", min: 1, max: 1 },
  async run(values, [ref]) {
    return withCliContext(values, async (ctx) => {
      const given = ref as string;
      // An alias given as it is listed needs no network (its server may be gone for good).
      const uri = listAliases(ctx).includes(given) ? given : (await resolveAccountRef(ctx, given, false)).uri;
      removeAlias(ctx, uri);
      console.log(`Removed the alias ${uri}. ${QUEUED}`);
      return 0;
    });
  },
};

export const aliasListCommand: Command = {
  usage: "wren alias list [--config PATH]",
  summary: "print the account's aliases (one actor URI a line)",
  options: CONFIG_OPTION,
  async run(values) {
    return withCliContext(values, async (ctx) => {
      for (const uri of listAliases(ctx)) console.log(uri);
      return 0;
    });
  },
};

export const moveCommand: Command = {
  usage: "wren move HANDLE_OR_URI | --cancel [--config PATH]",
  summary: "move the account to another one that lists it as an alias (followers are asked to follow it)",
  options: {
    ...CONFIG_OPTION,
    cancel: { type: "boolean", description: "clear the move (followers already moved stay where they are)" },
  },
  positionals: { names: "HANDLE_OR_URI (or --cancel alone)", min: 0, max: 1 },
  async run(values, [ref]) {
    if ((values.cancel === true) === (ref !== undefined)) {
      throw new UserError("give either the new account (HANDLE_OR_URI) or --cancel");
    }
    return withCliContext(values, async (ctx) => {
      if (values.cancel === true) {
        console.log(cancelMove(ctx) ? `The move is cancelled. ${QUEUED}` : "The account has not moved.");
        return 0;
      }
      const target = await resolveAccountRef(ctx, ref as string, true);
      moveAccount(ctx, target.uri);
      console.log(
        `Moved to ${target.uri}: the followers get a Move and, on most servers, follow the new account. ${QUEUED}`,
      );
      return 0;
    });
  },
};

/** One line typed by the user (or the first line of piped input). */
export async function readLine(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString("utf8").split(/\r?\n/)[0] ?? "").trim();
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await new Promise<string>((resolve) => rl.question(prompt, resolve))).trim();
  } finally {
    rl.close();
  }
}

export const accountDeleteCommand: Command = {
  usage: "wren account delete [--yes] [--wait SECONDS] [--config PATH]",
  summary: "delete the account: tell other servers (Delete), then wipe its data (server stopped)",
  options: {
    ...CONFIG_OPTION,
    yes: { type: "boolean", description: "do not ask for the username as confirmation" },
    wait: {
      type: "string",
      description: "longest wait for the deliveries before wiping, in seconds (default 60)",
    },
  },
  async run(values) {
    const wait = values.wait === undefined ? 60 : Number(values.wait);
    if (!Number.isFinite(wait) || wait < 0) throw new UserError("--wait must be a number of seconds");
    return deleteAccount({
      configPath: typeof values.config === "string" ? values.config : undefined,
      waitMs: wait * 1000,
      confirm:
        values.yes === true
          ? null
          : (username) =>
              readLine(
                `This deletes @${username} and everything on this server for good. Type the username to confirm: `,
              ),
      print: (line) => console.log(line),
    });
  },
};
