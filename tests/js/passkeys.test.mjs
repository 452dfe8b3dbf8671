// The byte helpers of static/src/editor/passkeys.js: base64url, the challenge, the stored form.
import assert from "node:assert/strict";
import { test } from "node:test";

import { assertionJSON, challengeOf, fromBase64url, toBase64url } from "../../static/src/editor/passkeys.js";

const HASH = "8a0cc1244f6b85f10c372fefef6cb99bdb2b5f0a88f5e8addece550681c5ebeb";

test("base64url has no padding and no + or /, and round-trips", () => {
  const bytes = Uint8Array.from([0xfb, 0xff, 0xbf, 0x00, 0x01]);
  const text = toBase64url(bytes);
  assert.equal(text, "-_-_AAE");
  assert.deepEqual(fromBase64url(text), bytes);
  assert.equal(toBase64url(bytes.buffer), text);
  assert.equal(toBase64url(new Uint8Array(0)), "");
});

test("the challenge of a sign-off is the content hash's 32 bytes", () => {
  const challenge = challengeOf(HASH);
  assert.equal(challenge.length, 32);
  assert.equal(Buffer.from(challenge).toString("hex"), HASH);
  assert.throws(() => challengeOf(HASH.toUpperCase()), TypeError);
  assert.throws(() => challengeOf(HASH.slice(1)), TypeError);
  assert.throws(() => challengeOf(undefined), TypeError);
});

test("an assertion is stored with base64url fields in the documented names", () => {
  const bytes = (...values) => Uint8Array.from(values).buffer;
  const credential = {
    rawId: bytes(1, 2, 3),
    response: {
      authenticatorData: bytes(4),
      clientDataJSON: bytes(5),
      signature: bytes(6),
      userHandle: null,
    },
  };
  assert.deepEqual(assertionJSON(credential), {
    credential_id: "AQID",
    authenticator_data: "BA",
    client_data_json: "BQ",
    signature: "Bg",
    user_handle: null,
  });
  credential.response.userHandle = bytes(7);
  assert.equal(assertionJSON(credential).user_handle, "Bw");
});
