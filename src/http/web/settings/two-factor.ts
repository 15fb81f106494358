/**
 * Two-factor login with an authenticator app (TOTP): set up (the otpauth:// URI as a QR code and as text),
 * confirmed with a first code, which shows ten recovery codes once; turned off with the password.
 */
import { html } from "hono/html";
import type { Context } from "../../../context.js";
import { UserError } from "../../../core/account.js";
import { passwordIsRight } from "../../../core/credentials.js";
import {
  beginTotp,
  confirmTotp,
  disableTotp,
  otpauthUri,
  totpState,
  unusedRecoveryCodes,
} from "../../../core/totp.js";
import { findLocalUser } from "../../../store/accounts.js";
import { csrfField, messageOf, type SectionView, type SettingsSection, text } from "./section.js";

function uriFor(ctx: Context, secret: string): string {
  const username = findLocalUser(ctx.store.db)?.account.username ?? "owner";
  return otpauthUri(secret, ctx.config.server.title || ctx.urls.domain, `${username}@${ctx.urls.domain}`);
}

async function enrolment(view: SectionView, secret: string) {
  const uri = uriFor(view.ctx, secret);
  // Loaded when a QR code is first shown: it is needed once per enrolment, not at start.
  const { default: QRCode } = await import("qrcode");
  const svg = await QRCode.toString(uri, { type: "svg", errorCorrectionLevel: "M", margin: 2 });
  const qr = `data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`;
  return html`<p>Scan this code with your authenticator app, or enter the key by hand, then type the code the app shows.</p>
<p><img id="totp_qr" src="${qr}" alt="QR code of the authenticator set-up" width="200" height="200"></p>
<p>Key: <code id="totp_secret">${secret}</code></p>
<p><a id="totp_uri" href="${uri}">${uri}</a></p>
<form method="post" action="/settings/two_factor/confirm" id="totp_confirm">
${csrfField(view)}
<label for="totp_code">Code from the app</label>
<input id="totp_code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<p><button type="submit">Turn on two-factor login</button></p>
</form>`;
}

function disableForm(view: SectionView, label: string) {
  return html`<form method="post" action="/settings/two_factor/disable" id="totp_disable">
${csrfField(view)}
<label for="totp_password">Password</label>
<input id="totp_password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit">${label}</button></p>
</form>`;
}

export const twoFactorSection: SettingsSection = {
  id: "two_factor",
  title: "Two-factor login",
  render(view) {
    const codes = Array.isArray(view.data) ? (view.data as string[]) : null;
    const state = totpState(view.ctx, view.userId);
    if (state.kind === "pending")
      return html`${messageOf(view)}${enrolment(view, state.secret)}${disableForm(view, "Cancel the set-up")}`;
    if (state.kind === "on")
      return html`${messageOf(view)}
${
  codes
    ? html`<p><strong>Your recovery codes.</strong> Each logs you in once without the app. Keep them somewhere safe: they are shown only now.</p>
<ul id="recovery_codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>`
    : ""
}
<p>Two-factor login is on: logging in asks for a code from your authenticator app. ${unusedRecoveryCodes(view.ctx, view.userId)} recovery codes left.</p>
${disableForm(view, "Turn off two-factor login")}`;
    return html`${messageOf(view)}
<p>Two-factor login is off. With it on, logging in also asks for a code from an authenticator app on your phone.</p>
<form method="post" action="/settings/two_factor/begin" id="totp_begin">
${csrfField(view)}
<p><button type="submit">Set up two-factor login</button></p>
</form>`;
  },
  actions: {
    begin({ ctx, userId, show }) {
      try {
        beginTotp(ctx, userId);
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        return show({
          status: error.status,
          message: { kind: "error", text: "Two-factor login is on already." },
        });
      }
      return show({});
    },
    confirm({ ctx, userId, params, show }) {
      try {
        const codes = confirmTotp(ctx, userId, text(params, "code"));
        return show({ message: { kind: "notice", text: "Two-factor login is on." }, data: codes });
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        return show({
          status: error.status,
          message: { kind: "error", text: `Not turned on: ${error.message}.` },
        });
      }
    },
    async disable({ ctx, userId, params, show }) {
      if (!(await passwordIsRight(ctx, userId, text(params, "password"))))
        return show({ status: 403, message: { kind: "error", text: "The password is not right." } });
      disableTotp(ctx, userId);
      return show({ message: { kind: "notice", text: "Two-factor login is off." } });
    },
  },
};
