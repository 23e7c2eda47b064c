// Passkeys on the Auth UI pages (served as /static/passkey.js; no outside assets).
// A form with data-passkey="create" registers a passkey, one with data-passkey="get"
// signs in with one (also through the browser's autofill, conditional mediation). The
// form's data-options holds the server's publicKey options (binary fields base64url);
// the credential goes back as JSON in the form's "credential" field with a normal submit.
(function () {
  "use strict";
  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
    return b.buffer;
  }
  function toB64(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function ids(list) {
    (list || []).forEach(function (c) { c.id = toBuf(c.id); });
  }
  function creation(o) {
    o.challenge = toBuf(o.challenge);
    o.user.id = toBuf(o.user.id);
    ids(o.excludeCredentials);
    return o;
  }
  function request(o) {
    o.challenge = toBuf(o.challenge);
    ids(o.allowCredentials);
    return o;
  }
  function encode(cred) {
    var r = cred.response;
    var out = {
      id: cred.id, rawId: toB64(cred.rawId), type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toB64(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = toB64(r.authenticatorData);
      out.response.signature = toB64(r.signature);
      out.response.userHandle = r.userHandle ? toB64(r.userHandle) : null;
    }
    return out;
  }
  function send(form, cred) {
    form.elements.credential.value = JSON.stringify(encode(cred));
    form.submit();
  }
  function show(form, text) {
    var p = form.querySelector(".passkey-error");
    if (p) { p.textContent = text; p.hidden = false; }
  }
  var forms = document.querySelectorAll("form[data-passkey]");
  if (!window.PublicKeyCredential || !navigator.credentials) {
    forms.forEach(function (f) { show(f, "This browser does not support passkeys."); });
    return;
  }
  forms.forEach(function (form) {
    var button = form.querySelector("[data-passkey-start]");
    var options = function () { return JSON.parse(form.dataset.options); };
    if (form.dataset.passkey === "create") {
      button.addEventListener("click", function () {
        var o = creation(options());
        // Signup: the account's login ID comes from the other form's field.
        var from = form.dataset.loginIdFrom && document.getElementById(form.dataset.loginIdFrom);
        if (from) {
          if (!from.value.trim()) { show(form, "Enter your login ID first."); from.focus(); return; }
          form.elements.login_id.value = from.value.trim();
          o.user.name = o.user.displayName = from.value.trim();
        }
        navigator.credentials.create({ publicKey: o }).then(
          function (c) { send(form, c); },
          function (e) { show(form, "No passkey was created (" + e.name + "). Try again."); });
      });
      return;
    }
    var pending = null;
    function get(mediation) {
      if (pending) pending.abort();
      pending = window.AbortController ? new AbortController() : null;
      var req = { publicKey: request(options()) };
      if (pending) req.signal = pending.signal;
      if (mediation) req.mediation = mediation;
      navigator.credentials.get(req).then(
        function (c) { if (c) send(form, c); },
        function (e) { if (e.name !== "AbortError") show(form, "No passkey was used (" + e.name + "). Try again."); });
    }
    if (button) button.addEventListener("click", function () { get(null); });
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) { if (ok) get("conditional"); });
    }
  });
})();
