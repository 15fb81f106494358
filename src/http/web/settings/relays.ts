/** Relays: subscribe (a Follow from the instance actor), see each one's state, unsubscribe (Undo). */
import { html } from "hono/html";
import { UserError } from "../../../core/account.js";
import { listRelays } from "../../../core/relays.js";
import { subscribeRelay, unsubscribeRelay } from "../../../federation/relays.js";
import { parseBoolean } from "../../mastodon/params.js";
import { attempt, csrfField, messageOf, type SettingsSection, text } from "./section.js";

export const relaysSection: SettingsSection = {
  id: "relays",
  title: "Relays",
  render(view) {
    const relays = listRelays(view.ctx);
    return html`${messageOf(view)}
<p>A relay shares public posts between the servers subscribed to it.</p>
${relays.length === 0 ? html`<p>No relays.</p>` : ""}
<ul id="relays">
${relays.map(
  (
    relay,
  ) => html`<li><code>${relay.inboxUrl}</code> (${relay.mode} style): <strong class="state">${relay.state}</strong>
<form method="post" action="/settings/relays/remove" id="remove_relay_${relay.id}">
${csrfField(view)}
<input type="hidden" name="url" value="${relay.inboxUrl}">
<button type="submit">Remove</button>
</form></li>`,
)}
</ul>
<form method="post" action="/settings/relays/add" id="add_relay">
${csrfField(view)}
<p><label>Relay URL (its inbox, or its actor for LitePub) <input type="url" name="url" required></label></p>
<p><label><input type="checkbox" name="litepub" value="1"> LitePub relay (Pleroma, Akkoma: follow its actor)</label></p>
<p><button type="submit">Add relay</button></p>
</form>`;
  },
  actions: {
    add: (request) =>
      attempt(request, async () => {
        const url = text(request.params, "url").trim();
        if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
          throw new UserError("Give the relay's http(s) URL.", 400);
        const litepub = parseBoolean(request.params.litepub) === true;
        const relay = await subscribeRelay(request.ctx, url, { litepub });
        return `Relay ${relay.inboxUrl} added (${relay.mode} style), waiting for it to accept.`;
      }),
    remove: (request) =>
      attempt(request, () => {
        const relay = unsubscribeRelay(request.ctx, text(request.params, "url"));
        return `Relay ${relay.inboxUrl} removed.`;
      }),
  },
};
