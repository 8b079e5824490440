// Checks a proof bundle in this browser, step by step, with ProofLib (prooflib.js, loaded before):
// on a retirement's page (#proof-check) the bundle and key come from the registry's API; on the
// offline page (#offline-check) from files the auditor chooses, which are never sent anywhere.
// Every sentence comes from the page (<template id="proof-messages">), in its language.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const P = window.ProofLib;
  const say = P.text("proof-messages");
  const kind = (type) => {
    const label = say(`kind-${type}`);
    return label === `kind-${type}` ? String(type) : label;
  };

  // One check's list of steps and its result line.
  function report(container) {
    const list = container.querySelector(".check-steps");
    const result = container.querySelector(".check-result");
    list.replaceChildren();
    result.className = "check-result";
    result.textContent = say("checking");
    const add = (ok, sentence) => {
      const item = document.createElement("li");
      item.className = ok ? "ok" : "failed";
      const mark = document.createElement("span");
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = ok ? "\u2713 " : "\u2717 ";
      item.append(mark, sentence);
      list.append(item);
    };
    return {
      passed: (name, facts) => add(true, say(`step-${name}`, facts)),
      failed(step, reason) {
        const sentence = say("failed-step", { step: say(`name-${step}`), reason });
        add(false, sentence);
        result.className = "check-result failed";
        result.textContent = say("result-failed", { step: sentence });
      },
      verified(facts) {
        result.className = "check-result ok";
        result.textContent = say("result-ok", facts);
      },
    };
  }

  // The checks of registry/ledger/verify.py; then `onEntry` judges what the entry is, throwing a
  // ProofError when it is not what the page expects. Returns the entry once every step passed.
  async function check(steps, bundle, keyText, onEntry) {
    try {
      const proved = await P.verifyBundle(bundle, keyText, steps.passed);
      onEntry(proved.entry);
      steps.verified({ kind: kind(proved.entry.type), id: proved.entry.id, index: proved.leafIndex,
                       name: proved.key.name });
      return proved.entry;
    } catch (error) {
      if (!(error instanceof P.ProofError)) throw error;
      steps.failed(error.step || "entry", say(error.code, error.params));
      return null;
    }
  }

  // A net-zero certificate's bundle: its entry and every retirement behind it (verifyCertificateBundle);
  // `expectedId`, when given, is the certificate this page shows. Returns the certificate or null.
  async function checkCertificate(steps, bundle, keyText, expectedId) {
    try {
      const proved = await P.verifyCertificateBundle(bundle, keyText, steps.passed);
      if (expectedId && proved.certificate.id !== expectedId) {
        throw Object.assign(new P.ProofError("certificate-mismatch", { id: proved.certificate.id, expected_id: expectedId }),
                            { step: "certificate" });
      }
      steps.verified({ kind: kind(proved.certificate.type), id: proved.certificate.number,
                       index: bundle.entries[0].leaf_index, name: proved.key.name });
      return proved.certificate;
    } catch (error) {
      if (!(error instanceof P.ProofError)) throw error;
      steps.failed(error.step || "entry", say(error.code, error.params));
      return null;
    }
  }

  const quantity = (entry) => Number.isSafeInteger(entry.quantity_kg) ? P.formatKg(entry.quantity_kg) : "";

  async function fetchText(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json, text/plain" }, cache: "no-store" });
    } catch (error) {
      throw new P.ProofError("fetch-unreachable");
    }
    if (response.status === 409) throw new P.ProofError("not-yet-in-checkpoint");
    if (!response.ok) throw new P.ProofError("fetch-failed", { url, status: response.status });
    return response.text();
  }

  // Fetch a page's bundle and the log key; a failure is reported as the fetch step's.
  async function fetchBundle(steps, container) {
    try {
      const [bundle, keyText] = await Promise.all([fetchText(container.dataset.proofUrl),
                                                   fetchText(container.dataset.keyUrl)]);
      return { bundle: JSON.parse(bundle), keyText };
    } catch (error) {
      steps.failed("fetch", error instanceof P.ProofError ? say(error.code, error.params)
                                                         : say("bundle-malformed", { field: "JSON" }));
      return null;
    }
  }

  // --- a retirement's page -----------------------------------------------------------------------

  const retirement = document.getElementById("proof-check");
  if (retirement) {
    const button = document.getElementById("verify-proof");
    const expected = { id: retirement.dataset.retirement, kg: Number(retirement.dataset.quantityKg) };

    async function verifyRetirement() {
      button.disabled = true;
      const steps = report(retirement);
      const fetched = await fetchBundle(steps, retirement);
      if (!fetched) {
        button.disabled = false;
        return;
      }
      await check(steps, fetched.bundle, fetched.keyText, (entry) => {
        if (entry.type !== "retire" || entry.id !== expected.id || entry.quantity_kg !== expected.kg) {
          throw Object.assign(new P.ProofError("entry-mismatch", {
            kind: kind(entry.type), id: entry.id, kg: quantity(entry),
            expected_id: expected.id, expected_kg: P.formatKg(expected.kg) }), { step: "entry" });
        }
        steps.passed("retirement", { id: entry.id, kg: P.formatKg(entry.quantity_kg) });
      });
      button.disabled = false;
    }

    if (window.crypto && crypto.subtle) {
      button.disabled = false;
      button.addEventListener("click", verifyRetirement);
    } else {
      report(retirement).failed("signature", say("no-webcrypto"));
    }
  }

  // --- a certificate's page ----------------------------------------------------------------------

  const certificate = document.getElementById("certificate-check");
  if (certificate) {
    const button = document.getElementById("verify-certificate");
    button.addEventListener("click", async () => {
      button.disabled = true;
      const steps = report(certificate);
      const fetched = await fetchBundle(steps, certificate);
      if (fetched) await checkCertificate(steps, fetched.bundle, fetched.keyText, certificate.dataset.certificate);
      button.disabled = false;
    });
    if (window.crypto && crypto.subtle) {
      button.disabled = false;
    } else {
      report(certificate).failed("signature", say("no-webcrypto"));
    }
  }

  // --- the offline page: files chosen here, read here ----------------------------------------------

  const offline = document.getElementById("offline-check");
  if (offline) {
    const form = document.getElementById("offline-form");
    const button = form.querySelector("button[type=submit]");
    const bundleInput = document.getElementById("bundle_file");
    const keyText = document.getElementById("log_key");
    const keyFile = document.getElementById("key_file");
    const summary = document.getElementById("offline-errors");
    const entryDetails = document.getElementById("entry-details");
    const showErrors = (errors) => window.FormErrors.show(summary, [bundleInput, keyText, keyFile], errors);

    // The form's own words: in the offline form's template, separate from the steps'.
    const formSay = P.text("offline-messages");

    async function inputs() {
      const errors = {};
      let bundle = null;
      let key = keyText.value.trim();
      if (!bundleInput.files.length) {
        errors.bundle_file = formSay("bundle-missing");
      } else {
        try {
          bundle = JSON.parse(await bundleInput.files[0].text());
        } catch (error) {
          errors.bundle_file = formSay("bundle-not-json");
        }
      }
      if (!key && keyFile.files.length) {
        try {
          key = (await keyFile.files[0].text()).trim();
        } catch (error) {
          errors.key_file = formSay("key-file-unreadable");
        }
        if (!key && !errors.key_file) errors.key_file = formSay("key-file-empty");
      } else if (!key) {
        errors.log_key = formSay("key-missing");
      }
      return { errors, bundle, key };
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      const { errors, bundle, key } = await inputs();
      showErrors(errors);
      entryDetails.hidden = true;
      if (Object.keys(errors).length === 0) {
        offline.hidden = false;
        const steps = report(offline);
        // A certificate's bundle holds several entries; any other bundle holds one.
        const entry = bundle && Array.isArray(bundle.entries)
          ? await checkCertificate(steps, bundle, key, null)
          : await check(steps, bundle, key, (proved) => {
            const amount = quantity(proved);
            steps.passed(amount ? "entry" : "entry-no-quantity", { kind: kind(proved.type), id: proved.id,
                                                                   kg: amount });
          });
        if (entry) {
          entryDetails.querySelector("pre").textContent = JSON.stringify(entry, null, 2);
          entryDetails.hidden = false;
        }
        offline.querySelector(".check-result").focus();
      }
      button.disabled = false;
    });

    if (window.crypto && crypto.subtle) {
      button.disabled = false;
    } else {
      offline.hidden = false;
      report(offline).failed("signature", say("no-webcrypto"));
    }
  }
});
