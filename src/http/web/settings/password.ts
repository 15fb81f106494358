/** Change the password: the current one, the new one twice. Every other session and every app token ends. */
import { getCookie } from "hono/cookie";
import { html } from "hono/html";
import { UserError } from "../../../core/account.js";
import { changeOwnPassword } from "../../../core/credentials.js";
import { SESSION_COOKIE } from "../session.js";
import { csrfField, messageOf, type SettingsSection, text } from "./section.js";

export const passwordSection: SettingsSection = {
  id: "password",
  title: "Password",
  render: (view) => html`${messageOf(view)}
<form method="post" action="/settings/password/change" id="password_change">
${csrfField(view)}
<label for="current_password">Current password</label>
<input id="current_password" name="current_password" type="password" autocomplete="current-password" required>
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="8" required>
<label for="new_password_again">New password again</label>
<input id="new_password_again" name="new_password_again" type="password" autocomplete="new-password" minlength="8" required>
<p>Changing it logs out every other browser and every app.</p>
<p><button type="submit">Change password</button></p>
</form>`,
  actions: {
    async change({ ctx, c, userId, params, show }) {
      const next = text(params, "new_password");
      if (next !== text(params, "new_password_again"))
        return show({ status: 422, message: { kind: "error", text: "The new passwords differ." } });
      try {
        const { revokedTokens, endedSessions } = await changeOwnPassword(ctx, {
          userId,
          current: text(params, "current_password"),
          next,
          keepSessionId: getCookie(c, SESSION_COOKIE),
        });
        return show({
          message: {
            kind: "notice",
            text: `Password changed. ${endedSessions} other session${endedSessions === 1 ? "" : "s"} ended, ${revokedTokens} app token${revokedTokens === 1 ? "" : "s"} revoked.`,
          },
        });
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        return show({ status: error.status, message: { kind: "error", text: capitalize(error.message) } });
      }
    },
  },
};

const capitalize = (s: string) => `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
