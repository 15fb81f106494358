/**
 * Moving: the aliases (accounts this one also is, for a move from them to here), moving to another account
 * (which must list this one as an alias) and cancelling that move. Remote accounts are resolved before the
 * core is called, a move's target afresh.
 */
import { html } from "hono/html";
import { UserError } from "../../../core/account.js";
import { requireLocalAccount } from "../../../core/common.js";
import { addAlias, cancelMove, listAliases, moveAccount, removeAlias } from "../../../core/move.js";
import { resolveAccountRef } from "../../../federation/account-ref.js";
import { attempt, csrfField, messageOf, type SettingsSection, text } from "./section.js";

const QUEUED = "Your followers' servers are told in a moment.";

/** Runs a form's work; a UserError (bad input, an unresolvable account, a refused move) becomes a message. */
function required(value: string, what: string): string {
  const trimmed = value.trim();
  if (!trimmed) throw new UserError(`Give ${what}.`, 400);
  return trimmed;
}

export const movingSection: SettingsSection = {
  id: "moving",
  title: "Moving",
  render(view) {
    const aliases = listAliases(view.ctx);
    const movedTo = requireLocalAccount(view.ctx).movedToUri;
    return html`${messageOf(view)}
<h3>Moving here from another account</h3>
<p>Before you move an old account to this one, add the old account as an alias here.</p>
${aliases.length === 0 ? html`<p>No aliases.</p>` : ""}
<ul id="aliases">
${aliases.map(
  (uri, i) => html`<li><a href="${uri}" rel="noopener noreferrer">${uri}</a>
<form method="post" action="/settings/moving/remove_alias" id="remove_alias_${i}">
${csrfField(view)}
<input type="hidden" name="uri" value="${uri}">
<button type="submit">Remove</button>
</form></li>`,
)}
</ul>
<form method="post" action="/settings/moving/add_alias" id="add_alias">
${csrfField(view)}
<p><label>Old account (user@server or its URL) <input type="text" name="account" required></label>
<button type="submit">Add alias</button></p>
</form>
<h3>Moving away to another account</h3>
${
  movedTo
    ? html`<p id="moved_to">This account has moved to <a href="${movedTo}" rel="noopener noreferrer">${movedTo}</a>.</p>
<form method="post" action="/settings/moving/cancel" id="cancel_move">
${csrfField(view)}
<button type="submit">Cancel the move</button>
</form>`
    : ""
}
<p>The new account must list this one as an alias first. Your followers are asked to follow it.</p>
<form method="post" action="/settings/moving/move" id="move">
${csrfField(view)}
<p><label>New account (user@server or its URL) <input type="text" name="account" required></label>
<button type="submit">Move</button></p>
</form>`;
  },
  actions: {
    add_alias: (request) =>
      attempt(request, async () => {
        const ref = required(text(request.params, "account"), "the old account");
        const account = await resolveAccountRef(request.ctx, ref, false);
        const had = listAliases(request.ctx).includes(account.uri);
        addAlias(request.ctx, account.uri);
        return had ? `${account.uri} is already an alias.` : `Added the alias ${account.uri}. ${QUEUED}`;
      }),
    remove_alias: (request) =>
      attempt(request, () => {
        const uri = required(text(request.params, "uri"), "the alias");
        removeAlias(request.ctx, uri);
        return `Removed the alias ${uri}. ${QUEUED}`;
      }),
    move: (request) =>
      attempt(request, async () => {
        const ref = required(text(request.params, "account"), "the new account");
        const target = await resolveAccountRef(request.ctx, ref, true);
        moveAccount(request.ctx, target.uri);
        return `Moved to ${target.uri}. ${QUEUED}`;
      }),
    cancel: (request) =>
      attempt(request, () =>
        cancelMove(request.ctx) ? `The move is cancelled. ${QUEUED}` : "This account has not moved.",
      ),
  },
};
