// Small enhancements for the server-rendered pages. Everything works without them;
// they only save clicks (copying a link) and prevent slips (removing someone by mistake).

const lang = document.documentElement.lang || "de";
const TEXT = {
  de: {
    copy: "Link kopieren",
    copied: "Link kopiert",
    copyFailed: "Kopieren nicht möglich – bitte markieren und kopieren Sie den Link selbst.",
    confirmRemove: (name) => `${name} wirklich aus dieser Erklärung entfernen? Der persönliche Link und die Anmeldung enden sofort.`,
  },
  en: {
    copy: "Copy link",
    copied: "Link copied",
    copyFailed: "Copying is not possible – please select and copy the link yourself.",
    confirmRemove: (name) => `Really remove ${name} from this declaration? Their personal link and login end at once.`,
  },
};
const t = TEXT[lang] || TEXT.de;

function enhanceCopyFields() {
  for (const field of document.querySelectorAll("input.link-field[readonly]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = t.copy;
    const status = document.createElement("span");
    status.className = "copy-status";
    status.setAttribute("role", "status");
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = t.copied;
      } catch {
        field.select();
        status.textContent = t.copyFailed;
      }
    });
    field.addEventListener("focus", () => field.select());
    field.after(button, status);
  }
}

function confirmRemovals() {
  for (const form of document.querySelectorAll("form[data-confirm-name]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(t.confirmRemove(form.dataset.confirmName))) {
        event.preventDefault();
      }
    });
  }
}

enhanceCopyFields();
confirmRemovals();
