/** The apps holding a token of the owner: scopes, when authorized, when last used; each token revocable. */
import { html } from "hono/html";
import { UserError } from "../../../core/account.js";
import { revokeUserToken } from "../../../core/credentials.js";
import { authorizedApps } from "../../../store/authorized-apps.js";
import { csrfField, formatTime, messageOf, type SettingsSection, text } from "./section.js";

export const appsSection: SettingsSection = {
  id: "apps",
  title: "Authorized apps",
  render(view) {
    const apps = authorizedApps(view.ctx.store.db, view.userId);
    return html`${messageOf(view)}
${apps.length === 0 ? html`<p>No app has access to your account.</p>` : ""}
${apps.map(
  (app) => html`<section class="app">
<h3>${app.website ? html`<a href="${app.website}" rel="noopener noreferrer">${app.name}</a>` : app.name}</h3>
<ul>
${app.tokens.map(
  (
    token,
  ) => html`<li id="token-${token.id}"><code>${token.scopes.join(" ")}</code>, authorized ${formatTime(token.createdAt)}, last used ${formatTime(token.lastUsedAt)}
<form method="post" action="/settings/apps/revoke" id="revoke-${token.id}">
${csrfField(view)}
<input type="hidden" name="token_id" value="${token.id}">
<button type="submit">Revoke</button>
</form></li>`,
)}
</ul>
</section>`,
)}`;
  },
  actions: {
    revoke({ ctx, userId, params, show }) {
      try {
        revokeUserToken(ctx, userId, text(params, "token_id"));
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        return show({
          status: error.status,
          message: { kind: "error", text: "That app had no such access." },
        });
      }
      return show({ message: { kind: "notice", text: "Access revoked." } });
    },
  },
};
