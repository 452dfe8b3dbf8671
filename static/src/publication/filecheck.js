// The file check of the public page: is the file a person holds one of the official files?
// The file is hashed here, in the browser (WebCrypto SHA-256); nothing is uploaded. The
// official SHA-256s and sizes come with the page (#official-files, a JSON element), and so
// do the messages, already in the page's language. A file of a size no official file has
// is answered without reading it, so a large file costs nothing.

function officialFiles(source) {
  try {
    const parsed = JSON.parse(source.textContent || "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Return the official entry ``file`` is, or null; throws when the file cannot be read. */
export async function identify(file, official, subtle) {
  const candidates = official.filter((entry) => entry.size === file.size);
  if (candidates.length === 0) return null;
  const digest = hex(await subtle.digest("SHA-256", await file.arrayBuffer()));
  return candidates.find((entry) => entry.sha256 === digest) || null;
}

function start(box, source) {
  const input = document.getElementById("filecheck-input");
  const zone = document.getElementById("filecheck-zone");
  const result = document.getElementById("filecheck-result");
  const official = officialFiles(source);
  const subtle = window.crypto && window.crypto.subtle;
  const say = (text, state) => {
    result.textContent = text;
    result.dataset.state = state;
  };
  box.hidden = false;
  if (!subtle) {
    say(box.dataset.unsupported, "unsupported");
    input.disabled = true;
    return;
  }
  let latest = 0;
  const check = async (file) => {
    if (!file) return;
    const mine = ++latest;
    say(box.dataset.checking, "checking");
    try {
      const found = await identify(file, official, subtle);
      if (mine !== latest) return; // a newer file was chosen meanwhile
      if (found) say(found.message, "official");
      else say(box.dataset.unofficial, "unofficial");
    } catch {
      if (mine === latest) say(box.dataset.unreadable, "error");
    }
  };
  input.addEventListener("change", () => check(input.files && input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("filecheck__zone--over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("filecheck__zone--over"));
  // A file dropped anywhere on the page is checked, never opened in place of the page.
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("filecheck__zone--over");
    const files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length) check(files[0]);
  });
}

if (typeof document !== "undefined") {
  const box = document.getElementById("filecheck");
  const source = document.getElementById("official-files");
  if (box && source) start(box, source);
}
