// Passkeys (WebAuthn) for the preference centre: add one, sign in or confirm with one.
// Loaded as a file (the Content-Security-Policy forbids inline scripts). Everything it drives
// is hidden until it runs, so without JavaScript the pages offer the magic link alone.
(function () {
  "use strict";

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(base64), function (c) { return c.charCodeAt(0); });
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer), binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: withBytes(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: withBytes(json.allowCredentials)
    });
  }

  function credentialJSON(credential) {
    var response = credential.response, out = {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      out.response.attestationObject = toText(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(response.authenticatorData);
      out.response.signature = toText(response.signature);
      if (response.userHandle) out.response.userHandle = toText(response.userHandle);
    }
    return out;
  }

  // POST JSON with the form's CSRF token; resolves to the parsed answer, rejects with a message.
  function post(url, csrf, body, fallback) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (answer) {
      var type = answer.headers.get("Content-Type") || "";
      if (type.indexOf("json") === -1) throw { detail: fallback };
      return answer.json().then(function (data) {
        if (!answer.ok) throw { detail: data.detail || fallback, field: data.field };
        return data;
      });
    });
  }

  function say(node, text) { node.textContent = text || ""; }

  function supported() {
    return window.PublicKeyCredential && navigator.credentials && window.fetch;
  }

  // --- Add a passkey (the "Passkeys" page) ---------------------------------------------------
  function initAdd(form) {
    if (form.dataset.ready) return;
    form.dataset.ready = "1";
    var status = document.getElementById("passkey-add-status");
    var name = document.getElementById("passkey-name");
    var csrf = form.querySelector("input[name=csrf_token]").value;
    var fallback = form.dataset.failed;
    document.getElementById("passkey-unsupported").hidden = true;
    form.hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      say(status, "");
      name.removeAttribute("aria-invalid");
      post(form.dataset.options, csrf, { name: name.value }, fallback)
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (credential) {
          return post(form.action, csrf, { name: name.value, credential: credentialJSON(credential) }, fallback);
        })
        .then(function (done) { window.location.assign(done.redirect); })
        .catch(function (problem) {
          if (problem && problem.field === "name") name.setAttribute("aria-invalid", "true");
          say(status, (problem && problem.detail) || fallback);
        });
    });
  }

  // --- Sign in, or confirm it is you, with a passkey ----------------------------------------
  var waiting = null;  // the conditional (autofill) request of the sign-in page, if any
  var asked = Promise.resolve();  // the last request for options, answered or not

  function ask(box, mediation) {
    var status = box.querySelector(".passkey-status"), csrf = box.dataset.csrf;
    var fallback = box.dataset.failed;
    if (waiting) { waiting.abort(); waiting = null; }
    var control = new AbortController();
    if (mediation) waiting = control;
    // The session holds one challenge per ceremony: ask for new options only once the last
    // answer (and the cookie it sets) has arrived, or the two could cross.
    var options = asked.catch(function () {}).then(function () {
      return post(box.dataset.options, csrf, {}, fallback);
    });
    asked = options;
    return options
      .then(function (options) {
        var request = { publicKey: requestOptions(options), signal: control.signal };
        if (mediation) request.mediation = mediation;
        return navigator.credentials.get(request);
      })
      .then(function (credential) {
        var body = { credential: credentialJSON(credential), next: box.dataset.next };
        return post(box.dataset.verify, csrf, body, fallback);
      })
      .then(function (done) { window.location.assign(done.redirect); })
      .catch(function (problem) {
        if (control.signal.aborted) return;  // replaced by the button, or the page moved on
        say(status, (problem && problem.detail) || fallback);
      });
  }

  function initSignIn(box) {
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    box.hidden = false;
    box.querySelector("button").addEventListener("click", function () {
      say(box.querySelector(".passkey-status"), "");
      ask(box, null);
    });
    var conditional = PublicKeyCredential.isConditionalMediationAvailable;
    if (box.dataset.passkey === "sign-in" && conditional) {
      conditional.call(PublicKeyCredential).then(function (available) {
        if (available && document.contains(box)) ask(box, "conditional");
      });
    }
  }

  function init() {
    if (!supported()) return;
    var form = document.getElementById("passkey-add");
    if (form) initAdd(form);
    document.querySelectorAll("[data-passkey]").forEach(initSignIn);
  }

  document.addEventListener("DOMContentLoaded", init);
  // The sign-in form is swapped by htmx when an address is refused: start again on the new one.
  document.addEventListener("htmx:afterSettle", init);
})();
