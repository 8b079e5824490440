// The registry's proofs and signatures, checked in the visitor's browser with WebCrypto alone.
//
// A line-by-line port of registry/ledger/verify.py (the reference verifier behind `cir verify-proof`)
// and of the RFC 8785 canonical JSON that verification statements are signed in. No library, no
// request: every function takes the data and returns or throws. A check that fails throws a
// ProofError whose `code` names the reason and whose `params` fill in its sentence; the pages hold
// those sentences (translated) and turn codes into words with ProofLib.text().
"use strict";

window.ProofLib = (() => {
  const HASH_SIZE = 32;
  const ED25519_SIGNATURE_TYPE = 0x01;
  const SIGNATURE_LINE_PREFIX = "\u2014 ";  // em dash and a space, C2SP signed-note
  const PREVIOUS_CHECKPOINT_PREFIX = "previous ";
  const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

  class ProofError extends Error {
    constructor(code, params = {}) {
      super(code);
      this.code = code;
      this.params = params;
    }
  }

  // --- bytes ---------------------------------------------------------------------------------

  const utf8 = (text) => new TextEncoder().encode(text);

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  function equal(a, b) {
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }

  function hex(bytes) {
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  // Strict, as Python's b64decode(validate=True): only the alphabet, with its padding; null if not.
  function fromBase64(text) {
    if (typeof text !== "string" || !BASE64.test(text)) return null;
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  }

  function toBase64(bytes) {
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary);
  }

  // As Python's bytes.fromhex: pairs of hex digits, ASCII whitespace between them ignored; null if not.
  function fromHex(text) {
    const digits = text.replace(/[ \t\n\r\f\v]/g, "");
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) return null;
    return Uint8Array.from(digits.match(/../g) || [], (pair) => parseInt(pair, 16));
  }

  async function sha256(bytes) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }

  // --- RFC 9162 hashing ------------------------------------------------------------------------

  const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
  const nodeHash = (left, right) => sha256(concat(Uint8Array.of(1), left, right));

  // RFC 9162 §2.1.3.2: the root a proof claims. Sizes are halved by division, not by 32-bit shifts.
  async function rootFromInclusionProof(index, size, leaf, proof) {
    if (!(index >= 0 && index < size)) throw new ProofError("leaf-outside-tree", { index, size });
    let fn = index;
    let sn = size - 1;
    let result = leaf;
    const odd = (n) => n % 2 === 1;
    const half = (n) => Math.floor(n / 2);
    for (const sibling of proof) {
      if (sibling.length !== HASH_SIZE) throw new ProofError("proof-hash-size");
      if (sn === 0) throw new ProofError("proof-too-long");
      if (odd(fn) || fn === sn) {
        result = await nodeHash(sibling, result);
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      } else {
        result = await nodeHash(result, sibling);
      }
      fn = half(fn);
      sn = half(sn);
    }
    if (sn !== 0) throw new ProofError("proof-too-short");
    return result;
  }

  async function verifyInclusion(index, size, leaf, proof, root) {
    if (!equal(await rootFromInclusionProof(index, size, leaf, proof), root)) {
      throw new ProofError("inclusion-mismatch");
    }
  }

  // --- C2SP signed notes and checkpoints -------------------------------------------------------

  async function ed25519KeyId(name, publicKeyRaw) {
    const digest = await sha256(concat(utf8(name + "\n"), Uint8Array.of(ED25519_SIGNATURE_TYPE), publicKeyRaw));
    return digest.slice(0, 4);
  }

  async function importEd25519(format, keyData, usages) {
    if (!window.crypto || !crypto.subtle) throw new ProofError("no-webcrypto");
    try {
      return await crypto.subtle.importKey(format, keyData, { name: "Ed25519" }, false, usages);
    } catch (error) {
      if (error && error.name === "NotSupportedError") throw new ProofError("no-ed25519");
      throw new ProofError(format === "pkcs8" ? "private-key-unreadable" : "public-key-unreadable");
    }
  }

  async function ed25519Verify(publicKey, signature, message) {
    try {
      return await crypto.subtle.verify({ name: "Ed25519" }, publicKey, signature, message);
    } catch (error) {
      return false;  // a signature of the wrong length, say: it does not verify
    }
  }

  // `<name>+<hex key id>+<base64(0x01 || 32-byte key)>`, its id checked: {name, keyId, publicKey}.
  async function parseVerifierKey(text) {
    const trimmed = String(text).trim();
    const first = trimmed.indexOf("+");
    const second = first < 0 ? -1 : trimmed.indexOf("+", first + 1);
    if (second < 0 || first === 0) throw new ProofError("key-form");
    const name = trimmed.slice(0, first);
    const keyId = fromHex(trimmed.slice(first + 1, second));
    const keyBytes = fromBase64(trimmed.slice(second + 1));  // the base64 key itself may contain '+'
    if (keyId === null || keyBytes === null) throw new ProofError("key-encoding");
    if (keyId.length !== 4 || keyBytes.length !== 33 || keyBytes[0] !== ED25519_SIGNATURE_TYPE) {
      throw new ProofError("key-type");
    }
    if (!equal(await ed25519KeyId(name, keyBytes.slice(1)), keyId)) throw new ProofError("key-id-mismatch");
    const publicKey = await importEd25519("raw", keyBytes.slice(1), ["verify"]);
    return { name, keyId: hex(keyId), keyIdBytes: keyId, publicKey };
  }

  // The note's text once a signature by `key` verifies over it.
  async function verifyNote(note, key) {
    const cut = note.lastIndexOf("\n\n");
    if (cut < 0) throw new ProofError("note-unsigned");
    const text = note.slice(0, cut) + "\n";
    const signatures = note.slice(cut + 2);
    if (!signatures.endsWith("\n")) throw new ProofError("note-unsigned");
    let found = false;
    for (const line of signatures.slice(0, -1).split("\n")) {
      if (!line.startsWith(SIGNATURE_LINE_PREFIX)) throw new ProofError("note-signature-line");
      const rest = line.slice(SIGNATURE_LINE_PREFIX.length);
      const space = rest.indexOf(" ");
      const name = space < 0 ? rest : rest.slice(0, space);
      const signature = fromBase64(space < 0 ? "" : rest.slice(space + 1));
      if (signature === null) throw new ProofError("note-signature-base64");
      if (name !== key.name || !equal(signature.slice(0, 4), key.keyIdBytes)) {
        continue;  // another key's signature (a witness, say): not ours to judge
      }
      if (!(await ed25519Verify(key.publicKey, signature.slice(4), utf8(text)))) {
        throw new ProofError("note-signature-invalid");
      }
      found = true;
    }
    if (!found) throw new ProofError("note-no-signature", { name: key.name });
    return text;
  }

  function treeSize(text) {
    if (!DECIMAL.test(text)) throw new ProofError("checkpoint-size");
    return Number(text);
  }

  function rootHash(text) {
    const root = fromBase64(text);
    if (root === null) throw new ProofError("checkpoint-root-base64");
    if (root.length !== HASH_SIZE) throw new ProofError("checkpoint-root-size");
    return root;
  }

  // C2SP tlog-checkpoint: origin, tree size and root hash lines, then extension lines.
  function parseCheckpoint(text) {
    const lines = text.split("\n");
    if (lines.length < 4 || !lines[0] || lines[lines.length - 1] !== "") throw new ProofError("checkpoint-lines");
    let previous = null;
    for (const extension of lines.slice(3, -1)) {
      if (extension.startsWith(PREVIOUS_CHECKPOINT_PREFIX)) {
        const rest = extension.slice(PREVIOUS_CHECKPOINT_PREFIX.length);
        const space = rest.indexOf(" ");
        previous = {
          treeSize: treeSize(space < 0 ? rest : rest.slice(0, space)),
          rootHash: rootHash(space < 0 ? "" : rest.slice(space + 1)),
        };
      }
    }
    return { origin: lines[0], treeSize: treeSize(lines[1]), rootHash: rootHash(lines[2]), previous };
  }

  // --- a proof bundle, step by step --------------------------------------------------------------

  function readBundle(bundle) {
    const field = (ok, name) => {
      if (!ok) throw new ProofError("bundle-malformed", { field: name });
    };
    field(bundle !== null && typeof bundle === "object" && !Array.isArray(bundle), "{}");
    field(typeof bundle.entry === "string", "entry");
    field(Number.isSafeInteger(bundle.leaf_index), "leaf_index");
    const inclusion = bundle.inclusion;
    field(inclusion !== null && typeof inclusion === "object", "inclusion");
    field(Number.isSafeInteger(inclusion.tree_size), "inclusion.tree_size");
    field(Array.isArray(inclusion.hashes), "inclusion.hashes");
    const hashes = inclusion.hashes.map(fromBase64);
    field(hashes.every((h) => h !== null), "inclusion.hashes");
    field(typeof bundle.checkpoint === "string", "checkpoint");
    return { entryText: bundle.entry, leafIndex: bundle.leaf_index, proofSize: inclusion.tree_size, hashes,
             note: bundle.checkpoint };
  }

  // The checks of verify.py's verify_bundle, in its order, each reported to `step(name, facts)` once
  // it passes; the first to fail throws a ProofError carrying the step's name. Returns the entry.
  async function verifyBundle(bundle, keyText, step) {
    let current = "key";
    try {
      const key = await parseVerifierKey(keyText);
      step(current, { name: key.name, key_id: key.keyId });
      current = "bundle";
      const read = readBundle(bundle);
      step(current, { index: read.leafIndex, hashes: read.hashes.length });
      current = "signature";
      const text = await verifyNote(read.note, key);
      step(current, { name: key.name, key_id: key.keyId });
      current = "checkpoint";
      const checkpoint = parseCheckpoint(text);
      if (checkpoint.origin !== key.name) throw new ProofError("checkpoint-origin");
      if (read.proofSize !== checkpoint.treeSize) throw new ProofError("proof-size");
      step(current, { origin: checkpoint.origin, size: checkpoint.treeSize, root: toBase64(checkpoint.rootHash) });
      current = "leaf";
      const entryBytes = utf8(read.entryText);
      const leaf = await leafHash(entryBytes);
      step(current, { bytes: KG.format(entryBytes.length), leaf: hex(leaf) });
      current = "inclusion";
      await verifyInclusion(read.leafIndex, read.proofSize, leaf, read.hashes, checkpoint.rootHash);
      step(current, { index: read.leafIndex, size: checkpoint.treeSize, hashes: read.hashes.length });
      current = "entry";
      let entry;
      try {
        entry = JSON.parse(read.entryText);
      } catch (error) {
        throw new ProofError("entry-json");
      }
      return { entry, leafIndex: read.leafIndex, key, checkpoint };
    } catch (error) {
      if (error instanceof ProofError) error.step = error.step || current;
      throw error;
    }
  }

  // --- a net-zero certificate bundle ------------------------------------------------------------------

  // The checks of verify.py's verify_certificate_bundle: every entry in the signed log (the first
  // reported step by step, the retirements one line each), the certificate committing to exactly
  // those retirements, its offset lines inside them and adding up, and covering the residual.
  async function verifyCertificateBundle(bundle, keyText, step) {
    const malformed = (field) => Object.assign(new ProofError("bundle-malformed", { field }), { step: "bundle" });
    if (bundle === null || typeof bundle !== "object" || typeof bundle.checkpoint !== "string") throw malformed("checkpoint");
    if (!Array.isArray(bundle.entries) || bundle.entries.length === 0) throw malformed("entries");
    const proved = [];
    for (const [position, item] of bundle.entries.entries()) {
      if (item === null || typeof item !== "object") throw malformed("entries");
      const first = position === 0;
      const report = (name, facts) => {
        if (first) step(name === "inclusion" ? "certificate-entry" : name, facts);
      };
      const result = await verifyBundle({ ...item, checkpoint: bundle.checkpoint }, keyText, report);
      const leaf = await leafHash(utf8(item.entry));
      proved.push({ entry: result.entry, leaf: hex(leaf), key: result.key });
      if (!first) step("retirement-entry", { id: String(result.entry.id), index: result.leafIndex });
    }
    let current = "certificate";
    try {
      const certificate = proved[0].entry;
      const retirements = proved.slice(1);
      if (certificate.type !== "net_zero_certificate") throw new ProofError("not-a-certificate");
      const committed = certificate.retirements.map((r) => `${r.id} ${r.leaf_hash}`);
      const given = retirements.map((r) => `${r.entry.id} ${r.leaf}`);
      if (committed.join("|") !== given.join("|") || retirements.some((r) => r.entry.type !== "retire")) {
        throw new ProofError("retirements-mismatch");
      }
      step("certificate", { number: certificate.number, count: retirements.length });
      current = "offsets";
      const counted = new Map(retirements.map((r) => [r.entry.id, 0]));
      let covered = 0;
      let removals = 0;
      for (const line of certificate.offsets) {
        const units = (retirements.find((r) => r.entry.id === line.retirement) || { entry: { units: [] } }).entry.units;
        if (!units.some((u) => u.issuance === line.issuance && u.first_unit <= line.first_unit
                              && line.first_unit <= line.last_unit && line.last_unit <= u.last_unit)) {
          throw new ProofError("offset-outside", { serial: line.serial, retirement: line.retirement });
        }
        const kg = line.last_unit - line.first_unit + 1;
        counted.set(line.retirement, counted.get(line.retirement) + kg);
        covered += kg;
        if (line.kind === "removal") removals += kg;
      }
      for (const r of retirements) {
        if (counted.get(r.entry.id) !== r.entry.quantity_kg) throw new ProofError("offsets-sum", { id: r.entry.id });
      }
      if (covered !== certificate.covered_kg || removals !== certificate.removals_kg
          || covered - removals !== certificate.reductions_kg) throw new ProofError("totals-mismatch");
      step("offsets", { lines: certificate.offsets.length, kg: KG.format(covered) });
      current = "covered";
      const residual = certificate.emissions_kg.residual;
      if (!(covered >= residual)) throw new ProofError("not-covered", { covered: KG.format(covered), residual: KG.format(residual) });
      step("covered", { covered: KG.format(covered), residual: KG.format(residual) });
      return { certificate, retirements: retirements.map((r) => r.entry), key: proved[0].key };
    } catch (error) {
      if (error instanceof ProofError) error.step = error.step || current;
      else if (error instanceof TypeError) throw Object.assign(new ProofError("bundle-malformed", { field: "entry" }), { step: current });
      throw error;
    }
  }

  // --- RFC 8785 (JCS) canonical JSON -----------------------------------------------------------------

  // Keys sorted by UTF-16 code units (JavaScript's own string order), no whitespace, strings and
  // numbers written as ECMAScript's JSON.stringify writes them.
  function canonicalJSON(value) {
    if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new ProofError("json-number");
      return JSON.stringify(value);
    }
    if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
    if (typeof value === "object") {
      return "{" + Object.keys(value).sort()
        .map((name) => JSON.stringify(name) + ":" + canonicalJSON(value[name])).join(",") + "}";
    }
    throw new ProofError("json-value");
  }

  // --- Ed25519 keys as PEM ---------------------------------------------------------------------------

  function pemBody(pem, label) {
    const match = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
    return match ? fromBase64(match[1].replace(/\s+/g, "")) : null;
  }

  // A private key file as `cir verifier keygen` and the demo write it: PKCS#8 PEM, unencrypted.
  async function importPrivateKeyPem(pem) {
    const der = pemBody(pem, "PRIVATE KEY");
    if (der === null) throw new ProofError("private-key-unreadable");
    return importEd25519("pkcs8", der, ["sign"]);
  }

  // An accreditation's public key (SubjectPublicKeyInfo PEM): the key, and its raw 32 bytes.
  async function importPublicKeyPem(pem) {
    const der = pemBody(pem, "PUBLIC KEY");
    if (der === null || der.length !== 44) throw new ProofError("public-key-unreadable");
    return { publicKey: await importEd25519("spki", der, ["verify"]), raw: der.slice(12) };
  }

  // A verifier's key id in statements: the first 8 bytes of SHA-256(raw public key), in hex.
  async function statementKeyId(publicKeyRaw) {
    return hex((await sha256(publicKeyRaw)).slice(0, 8));
  }

  async function signCanonical(privateKey, value) {
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, utf8(canonicalJSON(value)));
    return toBase64(new Uint8Array(signature));
  }

  async function verifyCanonical(publicKey, value, signatureB64) {
    const signature = fromBase64(signatureB64);
    if (signature === null) throw new ProofError("signature-base64");
    return ed25519Verify(publicKey, signature, utf8(canonicalJSON(value)));
  }

  // --- the pages' words ------------------------------------------------------------------------------

  // The sentences a page renders in its language inside <template id=…>, one element per
  // data-message; `{name}` placeholders are filled in here, as text (never as HTML).
  function text(templateId) {
    const template = document.getElementById(templateId);
    return (code, params = {}) => {
      const found = template && template.content.querySelector(`[data-message="${code}"]`);
      const sentence = found ? found.textContent.trim() : code;
      return sentence.replace(/\{([a-z0-9_]+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
    };
  }

  const KG = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const TONNES = new Intl.NumberFormat("en-US", { minimumFractionDigits: 3, maximumFractionDigits: 3 });

  return {
    ProofError, utf8, hex, fromBase64, toBase64, sha256, leafHash, nodeHash, rootFromInclusionProof,
    verifyInclusion, parseVerifierKey, verifyNote, parseCheckpoint, verifyBundle, verifyCertificateBundle, canonicalJSON,
    importPrivateKeyPem, importPublicKeyPem, statementKeyId, signCanonical, verifyCanonical, text,
    formatKg: (kg) => KG.format(kg),
    formatTonnes: (kg) => TONNES.format(kg / 1000),
  };
})();
