// When the server refuses a batch, its author sees the text that was not accepted and can
// copy it with one click. Nothing disappears silently.

export function showRefusal(container, strings, message, passages, { info = false } = {}) {
  const box = document.createElement("section");
  box.className = `refusal${info ? " refusal--info" : ""}`;
  box.setAttribute("role", info ? "status" : "alert");
  const title = document.createElement("h3");
  title.className = "refusal__title";
  title.textContent = info ? message : strings.refusedTitle;
  box.append(title);
  if (!info) {
    const reason = document.createElement("p");
    reason.textContent = message;
    box.append(reason);
  }
  const text = passages.join("\n");
  if (text.trim()) {
    const help = document.createElement("p");
    help.textContent = strings.refusedHelp;
    const area = document.createElement("textarea");
    area.className = "refusal__text";
    area.readOnly = true;
    area.value = text;
    area.rows = Math.min(8, Math.max(2, text.split("\n").length));
    area.setAttribute("aria-label", strings.refusedTitle);
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "button";
    copy.textContent = strings.copy;
    copy.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(text);
        copy.textContent = strings.copied;
      } catch {
        area.select();
        copy.textContent = strings.copyFailed;
      }
    });
    box.append(help, area, copy);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "button button--quiet";
  close.textContent = strings.dismiss;
  close.addEventListener("click", () => box.remove());
  box.append(close);
  container.append(box);
}
