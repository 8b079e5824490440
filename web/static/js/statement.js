// Checks an issuance's signed verification statement in this browser, as `cir verify-statement`
// does: the statement's RFC 8785 bytes hash to the published SHA-256, which the issuance cites, and
// the verifier's Ed25519 signature over them verifies with its accreditation's public key.
// ProofLib (prooflib.js) is loaded before; every sentence comes from <template id="statement-messages">.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const container = document.getElementById("statement-check");
  if (!container) return;
  const P = window.ProofLib;
  const say = P.text("statement-messages");
  const button = document.getElementById("check-statement");
  const list = container.querySelector(".check-steps");
  const result = container.querySelector(".check-result");

  class Failed extends Error {
    constructor(step, reason) {
      super(reason);
      this.step = step;
      this.reason = reason;
    }
  }

  function add(ok, sentence) {
    const item = document.createElement("li");
    item.className = ok ? "ok" : "failed";
    const mark = document.createElement("span");
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = ok ? "\u2713 " : "\u2717 ";
    item.append(mark, sentence);
    list.append(item);
  }

  async function fetchJSON(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (error) {
      throw new Failed("fetch", say("fetch-unreachable"));
    }
    if (!response.ok) throw new Failed("fetch", say("fetch-failed", { url, status: response.status }));
    return response.json();
  }

  // The step under way: an answer not shaped as the registry serves it fails there.
  let current = "fetch";

  // Runs `check` as step `step`; a ProofError it throws becomes that step's failure.
  async function step(name, check) {
    current = name;
    try {
      return await check();
    } catch (error) {
      if (error instanceof P.ProofError) throw new Failed(name, say(error.code, error.params));
      throw error;
    }
  }

  async function verify() {
    current = "fetch";
    const [signed, issuance] = await Promise.all([fetchJSON(container.dataset.statementUrl),
                                                  fetchJSON(container.dataset.issuanceUrl)]);
    const { statement, verifier } = signed;

    const computed = await step("hash", async () => P.hex(await P.sha256(P.utf8(P.canonicalJSON(statement)))));
    current = "hash";
    if (computed !== signed.sha256) {
      throw new Failed("hash", say("hash-mismatch", { computed, published: signed.sha256 }));
    }
    add(true, say("step-hash", { sha256: computed }));

    current = "issuance";
    if (issuance.verification_statement_sha256 !== computed) {
      throw new Failed("issuance", say("issuance-mismatch", { cited: issuance.verification_statement_sha256,
                                                             computed }));
    }
    add(true, say("step-issuance", { id: issuance.id }));

    const key = await step("key", () => P.importPublicKeyPem(verifier.public_key_pem));
    const actual = await P.statementKeyId(key.raw);
    const named = statement.verifier && statement.verifier.key_id;
    if (actual !== named || verifier.key_id !== named) {
      throw new Failed("key", say("key-id-mismatch", { actual, named }));
    }
    add(true, say("step-key", { name: verifier.party_name, accreditation: verifier.id, key_id: actual }));

    current = "signature";
    const valid = await step("signature", () => P.verifyCanonical(key.publicKey, statement, signed.signature));
    if (!valid) throw new Failed("signature", say("signature-invalid"));
    add(true, say("step-signature"));
    return { name: verifier.party_name, key_id: actual };
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    list.replaceChildren();
    result.className = "check-result";
    result.textContent = say("checking");
    try {
      const signer = await verify();
      result.className = "check-result ok";
      result.textContent = say("result-ok", signer);
    } catch (error) {
      const failed = error instanceof Failed ? error : new Failed(current, say("malformed"));
      const sentence = say("failed-step", { step: say(`name-${failed.step}`), reason: failed.reason });
      add(false, sentence);
      result.className = "check-result failed";
      result.textContent = say("result-failed", { step: sentence });
    } finally {
      button.disabled = false;
    }
  });

  if (window.crypto && crypto.subtle) {
    container.hidden = false;
  }
});
