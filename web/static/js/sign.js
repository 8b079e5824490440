// A verifier signs its verification statement in this browser (ProofLib, prooflib.js, is loaded
// before). The key file is read in the page (File.text()) and imported into WebCrypto as a non-extractable
// key: neither the file nor the key ever leaves the page. Only the statement and its signature are
// posted, once the signature verifies with the verifier's accredited public key.
// Every sentence comes from the page (<template id="sign-messages">), in its language.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("sign-form");
  if (!form) return;
  const P = window.ProofLib;
  const say = P.text("sign-messages");
  const opinion = document.getElementById("opinion");
  const keyFile = document.getElementById("key_file");
  const reviewButton = document.getElementById("review-statement");
  const summary = document.getElementById("sign-errors");
  const review = document.getElementById("statement-review");
  const signButton = document.getElementById("sign-approve");
  const signError = document.getElementById("sign-error");
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const MAX_KEY_FILE_BYTES = 64 * 1024;

  // What was reviewed: the statement as it will be signed, and the keys to sign and check it.
  let reviewed = null;

  const showErrors = (errors) => window.FormErrors.show(summary, [opinion, keyFile], errors);


  class Refused extends Error {
    constructor(field, message) {
      super(message);
      this.field = field;
    }
  }

  async function privateKey() {
    const file = keyFile.files[0];
    if (file.size > MAX_KEY_FILE_BYTES) throw new Refused("key_file", say("key-unreadable"));
    try {
      return await P.importPrivateKeyPem(await file.text());
    } catch (error) {
      const code = error instanceof P.ProofError && error.code.startsWith("no-") ? error.code : "key-unreadable";
      throw new Refused("key_file", say(code));
    }
  }

  async function getJSON(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (error) {
      throw new Refused("_", say("unreachable"));
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Refused("_", say("refused", { title: body.title || response.status, detail: body.detail || "" }));
    }
    return body;
  }

  // The accreditation's public key, which the registry will check the signature with.
  async function accreditedKey(verifier) {
    const accreditations = await getJSON(form.dataset.verifiersUrl);
    const mine = accreditations.find((a) => a.key_id === verifier.key_id && a.party === verifier.party);
    if (!mine) throw new Refused("_", say("no-accreditation", { key_id: verifier.key_id }));
    return (await P.importPublicKeyPem(mine.public_key_pem)).publicKey;
  }

  // Sign the statement and check the signature as the registry will; refuse a key that is not the
  // accreditation's before anything is sent.
  async function signChecked(statement, signingKey, publicKey) {
    const signature = await P.signCanonical(signingKey, statement);
    if (!(await P.verifyCanonical(publicKey, statement, signature))) {
      throw new Refused("key_file", say("key-mismatch"));
    }
    return signature;
  }

  // A monitoring report's statement: per vintage, factors and findings.
  function fillReport(statement) {
    const field = (name, text) => {
      review.querySelector(`[data-field="${name}"]`).textContent = text;
    };
    field("project", say("project", statement.project));
    field("owner", say("owner", statement.owner));
    field("period", say("period", statement.period));
    field("account", statement.account);
    field("methodology", `${statement.methodology.id} ${statement.methodology.version}`);
    field("report", say("report", { id: statement.report, revision: statement.revision }));
    field("data_sha256", statement.data_sha256);
    field("verifier", say("verifier", statement.verifier));
    field("signed_at", statement.signed_at);
    field("opinion", statement.opinion);

    const rows = (name, items) => review.querySelector(`[data-rows="${name}"]`).replaceChildren(...items);
    rows("vintages", statement.vintages.map((vintage) => {
      const row = document.createElement("tr");
      const year = document.createElement("th");
      year.scope = "row";
      year.textContent = vintage;
      const cells = [statement.computed_kg, statement.verified_kg, statement.buffer_kg].map((figures) => {
        const cell = document.createElement("td");
        cell.className = "num";
        cell.textContent = P.formatKg(figures[String(vintage)] || 0);
        return cell;
      });
      row.append(year, ...cells);
      return row;
    }));
    const item = (text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    };
    rows("factors", statement.factors.map((factor) => item(say("factor", {
      id: factor.factor_id, value: factor.value, unit: factor.unit, version: factor.version, source: factor.source }))));
    rows("findings", statement.findings.length
      ? statement.findings.map((finding) => item(say("finding", {
        code: finding.code, severity: say(`severity-${finding.severity}`), count: P.formatKg(finding.count) })))
      : [item(say("no-findings"))]);
  }

  // An emission inventory's statement: figures by scope and the residual the verifier signs for.
  function fillInventory(statement) {
    const field = (name, text) => {
      review.querySelector(`[data-field="${name}"]`).textContent = text;
    };
    field("facility", say("facility", statement.facility));
    field("party", say("party", statement.party));
    field("period", say("period", statement.period));
    field("inventory", say("inventory", { id: statement.inventory, version: statement.version }));
    field("data_sha256", statement.data_sha256);
    field("green_certificates", statement.green_certificates.join(", ") || say("none"));
    field("factors", statement.factors.join(", "));
    field("verifier", say("verifier", statement.verifier));
    field("signed_at", statement.signed_at);
    field("opinion", statement.opinion);
    const figures = { ...statement.emissions_kg, verified_residual_kg: statement.verified_residual_kg };
    review.querySelector('[data-rows="emissions"]').replaceChildren(
      ...["scope1", "scope2_location", "scope2_market", "scope3", "residual", "verified_residual_kg"].map((name) => {
        const row = document.createElement("tr");
        const label = document.createElement("th");
        label.scope = "row";
        label.textContent = say(`emission-${name}`);
        const cell = document.createElement("td");
        cell.className = "num";
        cell.textContent = P.formatKg(figures[name]);
        row.append(label, cell);
        return row;
      }));
  }

  const fill = (statement) => (statement.type === "cir-inventory-statement" ? fillInventory : fillReport)(statement);

  function forget() {
    reviewed = null;
    review.hidden = true;
    signError.textContent = "";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    forget();
    const errors = {};
    if (!opinion.value.trim()) errors.opinion = say("opinion-missing");
    if (!keyFile.files.length) errors.key_file = say("key-missing");
    showErrors(errors);
    if (Object.keys(errors).length) return;
    reviewButton.disabled = true;
    try {
      const signingKey = await privateKey();
      const statement = await getJSON(form.dataset.templateUrl);
      statement.opinion = opinion.value.trim();
      const publicKey = await accreditedKey(statement.verifier);
      await signChecked(statement, signingKey, publicKey);
      reviewed = { statement, signingKey, publicKey };
      fill(statement);
      review.hidden = false;
      document.getElementById("review-heading").focus();
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      showErrors({ [error.field]: error.message });
    } finally {
      reviewButton.disabled = false;
    }
  });

  // A change after the review makes it stale: review again before signing.
  opinion.addEventListener("input", forget);
  keyFile.addEventListener("change", forget);

  signButton.addEventListener("click", async () => {
    if (!reviewed) return;
    signButton.disabled = true;
    signError.textContent = say("signing");
    try {
      const { statement, signingKey, publicKey } = reviewed;
      const signature = await signChecked(statement, signingKey, publicKey);
      let response;
      try {
        response = await fetch(form.dataset.approvalUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken },
          body: JSON.stringify({ statement, signature }),
        });
      } catch (error) {
        throw new Refused("_", say("unreachable"));
      }
      if (response.ok) {
        window.location.assign(form.dataset.reviewUrl);
        return;
      }
      const body = await response.json().catch(() => ({}));
      throw new Refused("_", say("refused", { title: body.title || response.status, detail: body.detail || "" }));
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      signError.textContent = error.message;
    }
    signButton.disabled = false;
  });

  if (window.crypto && crypto.subtle) {
    reviewButton.disabled = false;
  } else {
    showErrors({ _: say("no-webcrypto") });
  }
});
