// Passkeys (WebAuthn) in the browser: register one, and sign a content hash with it.
//
// The "Zeichnung" tab calls `passkeyInfo()` to learn whether the mayor has a passkey and,
// if so, `signWithPasskey(contentHash)`; the assertion it returns goes with the socket
// event `sign` as `assertion` (docs/protocol.md, "Passkey assertions"). The challenge is
// the content hash's 32 bytes: the authenticator signs exactly the content that is signed.
// The settings page (static/src/passkeys-page.js) calls `register(name)`.

export const URLS = {
  begin: "/passkeys/registrierung",
  complete: "/passkeys/registrierung/abschluss",
  credentials: "/passkeys/zugangsdaten.json",
};

const TEXT = {
  de: {
    unsupported: "Dieser Browser unterstützt keine Passkeys.",
    cancelled: "Der Vorgang wurde abgebrochen oder die Zeit ist abgelaufen. Bitte versuchen Sie es noch einmal.",
    known: "Dieser Passkey ist auf diesem Gerät bereits eingerichtet.",
    failed: "Der Passkey konnte nicht verwendet werden. Bitte versuchen Sie es noch einmal.",
    offline: "Der Server ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung.",
  },
  en: {
    unsupported: "This browser does not support passkeys.",
    cancelled: "The step was cancelled or timed out. Please try again.",
    known: "This passkey is already set up on this device.",
    failed: "The passkey could not be used. Please try again.",
    offline: "The server cannot be reached. Please check your connection.",
  },
};

function text() {
  const lang = (typeof document !== "undefined" && document.documentElement.lang) || "de";
  return TEXT[lang] || TEXT.de;
}

/** A refusal with a `code` (the server's, or one of the browser's) and a message to show. */
export class PasskeyError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "PasskeyError";
    this.code = code;
  }
}

// -- bytes ------------------------------------------------------------------------------

/** base64url without padding, as WebAuthn's JSON writes bytes. */
export function toBase64url(bytes) {
  const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let binary = "";
  for (const byte of view) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The WebAuthn challenge of a sign-off: the 32 bytes of the content hash. */
export function challengeOf(contentHash) {
  if (typeof contentHash !== "string" || !/^[0-9a-f]{64}$/.test(contentHash)) {
    throw new TypeError("a content hash is 64 lowercase hex digits");
  }
  const bytes = new Uint8Array(32);
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(contentHash.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** The stored form of an assertion (`PublicKeyCredential` from `credentials.get`). */
export function assertionJSON(credential) {
  const response = credential.response;
  return {
    credential_id: toBase64url(credential.rawId),
    authenticator_data: toBase64url(response.authenticatorData),
    client_data_json: toBase64url(response.clientDataJSON),
    signature: toBase64url(response.signature),
    user_handle: response.userHandle ? toBase64url(response.userHandle) : null,
  };
}

// -- the server -------------------------------------------------------------------------

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

async function call(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: body === undefined ? "GET" : "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json", "X-CSRFToken": csrfToken() }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new PasskeyError("offline", text().offline);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok || !data || data.ok === false) {
    const error = (data && data.error) || {};
    throw new PasskeyError(error.code || `http_${response.status}`, error.message || text().failed);
  }
  return data;
}

function supported() {
  return typeof window !== "undefined" && !!window.PublicKeyCredential && !!navigator.credentials;
}

function browserRefusal(error) {
  if (error && error.name === "NotAllowedError") return new PasskeyError("cancelled", text().cancelled);
  if (error && error.name === "InvalidStateError") return new PasskeyError("known", text().known);
  return new PasskeyError("failed", text().failed);
}

// -- what the pages call -------------------------------------------------------------------

/** Whether this browser can use passkeys at all. */
export function passkeysSupported() {
  return supported();
}

/** The relying party and the logged-in person's credential ids: `{rp_id, credentials}`. */
export async function passkeyInfo() {
  return call(URLS.credentials);
}

/** Register a passkey named `name`; resolves to `{id, name}` of the stored passkey. */
export async function register(name = "") {
  if (!supported()) throw new PasskeyError("unsupported", text().unsupported);
  const { publicKey } = await call(URLS.begin, {});
  publicKey.challenge = fromBase64url(publicKey.challenge);
  publicKey.user = { ...publicKey.user, id: fromBase64url(publicKey.user.id) };
  publicKey.excludeCredentials = (publicKey.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
  let credential;
  try {
    credential = await navigator.credentials.create({ publicKey });
  } catch (error) {
    throw browserRefusal(error);
  }
  const response = credential.response;
  const json = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
    },
    clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
  };
  const answer = await call(URLS.complete, { name, credential: json });
  return answer.passkey;
}

/**
 * Sign `contentHash` (64 hex digits) with one of the person's passkeys; resolves to the
 * assertion to send with the `sign` event. `info` is `passkeyInfo()`'s answer if the
 * caller already has it.
 */
export async function signWithPasskey(contentHash, info = null) {
  const challenge = challengeOf(contentHash);
  if (!supported()) throw new PasskeyError("unsupported", text().unsupported);
  const { rp_id: rpId, credentials } = info || (await passkeyInfo());
  let credential;
  try {
    credential = await navigator.credentials.get({
      publicKey: {
        challenge,
        rpId,
        allowCredentials: credentials.map((id) => ({ type: "public-key", id: fromBase64url(id) })),
        userVerification: "preferred",
        timeout: 120000,
      },
    });
  } catch (error) {
    throw browserRefusal(error);
  }
  if (!credential) throw new PasskeyError("cancelled", text().cancelled);
  return assertionJSON(credential);
}
