// The globals a script sees besides QuickJS' own (JSON, Promise, Date, Math, …): console
// and fetch. The native functions are taken off the global object before the script runs.
(() => {
  const log = globalThis.__authgraph_log;
  const rawFetch = globalThis.__authgraph_fetch;
  delete globalThis.__authgraph_log;
  delete globalThis.__authgraph_fetch;

  const show = (v) => {
    if (typeof v === "string") return v;
    if (v instanceof Error) return String(v.stack ? v + "\n" + v.stack : v);
    try {
      const s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (_) {
      return String(v);
    }
  };
  const write = (level) => (...args) => { log(level, args.map(show).join(" ")); };
  globalThis.console = Object.freeze({
    log: write("info"), info: write("info"), debug: write("debug"),
    warn: write("warn"), error: write("error"),
  });

  class Headers {
    #m = new Map();
    constructor(init) {
      const pairs = init == null ? [] : Array.isArray(init) ? init
        : init instanceof Headers ? [...init.entries()] : Object.entries(init);
      for (const [k, v] of pairs) this.append(k, v);
    }
    append(k, v) {
      k = String(k).toLowerCase(); v = String(v);
      const old = this.#m.get(k);
      this.#m.set(k, old === undefined ? v : old + ", " + v);
    }
    set(k, v) { this.#m.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this.#m.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this.#m.has(String(k).toLowerCase()); }
    delete(k) { this.#m.delete(String(k).toLowerCase()); }
    entries() { return this.#m.entries(); }
    keys() { return this.#m.keys(); }
    values() { return this.#m.values(); }
    forEach(f) { for (const [k, v] of this.#m) f(v, k, this); }
    [Symbol.iterator]() { return this.#m.entries(); }
  }
  globalThis.Headers = Headers;

  globalThis.fetch = function fetch(input, init) {
    try {
      init = init || {};
      const url = typeof input === "string" ? input : String(input && input.url !== undefined ? input.url : input);
      const headers = [...new Headers(init.headers)];
      let body = init.body;
      if (body !== undefined && body !== null && typeof body !== "string") body = JSON.stringify(body);
      const reply = JSON.parse(rawFetch(url, String(init.method || "GET"), JSON.stringify(headers),
        body === undefined ? null : body));
      if (reply.error !== undefined) return Promise.reject(new TypeError(reply.error));
      const text = reply.body;
      let used = false;
      const consume = () => {
        if (used) throw new TypeError("fetch: the body was already read");
        used = true;
        return text;
      };
      return Promise.resolve(Object.freeze({
        status: reply.status,
        statusText: "",
        ok: reply.status >= 200 && reply.status < 300,
        url: reply.url,
        redirected: reply.url !== url,
        headers: new Headers(reply.headers),
        text: async () => consume(),
        json: async () => JSON.parse(consume()),
      }));
    } catch (e) {
      return Promise.reject(e);
    }
  };
})();
