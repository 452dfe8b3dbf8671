// The settings page "Passkeys": registers a passkey with the name the person typed. The
// bundle also exports editor/passkeys.js, for pages and scripts that import it.
import { passkeysSupported, register } from "./editor/passkeys.js";

const form = document.getElementById("passkey-register");
if (form) {
  const status = document.getElementById("passkey-status");
  const button = form.querySelector("button[type=submit]");
  const lang = document.documentElement.lang || "de";
  const waiting = lang === "en" ? "Please confirm with your device …" : "Bitte bestätigen Sie mit Ihrem Gerät …";
  if (!passkeysSupported()) {
    document.getElementById("passkey-unsupported").hidden = false;
    button.disabled = true;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    status.className = "";
    status.textContent = waiting;
    try {
      await register(form.elements.name.value);
      window.location.assign(form.dataset.doneUrl);
    } catch (error) {
      status.className = "flash flash--error";
      status.textContent = error.message;
      button.disabled = false;
      button.focus();
    }
  });
}
export * from "./editor/passkeys.js";
