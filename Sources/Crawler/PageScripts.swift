/// The JavaScript the crawler runs in the page. One extraction round trip returns everything a
/// record needs (https://www.w3.org/TR/webdriver2/#execute-script).
public enum PageScripts {
    /// arguments[0]: {name: {selector, attr, all}}. Returns
    /// {u: final URL, t: title, s: main document HTTP status | null, f: fields, e: error page code | null, fe: field error}.
    /// The status comes from Navigation Timing's responseStatus (Chrome ≥ 109, Firefox ≥ 129);
    /// Chrome shows failed navigations as chrome-error:// pages whose code is in loadTimeDataRaw.
    public static let extract = """
        const spec = arguments[0] || {};
        const nav = performance.getEntriesByType('navigation')[0];
        const out = {u: location.href, t: document.title, s: (nav && nav.responseStatus) || null, f: {}, e: null, fe: null};
        if (location.protocol === 'chrome-error:') {
          const d = window.loadTimeDataRaw || {};
          const el = document.querySelector('.error-code');
          out.e = (el && el.textContent.trim()) || d.errorCode || 'ERR_FAILED';
          return out;
        }
        const clean = (s) => s == null ? null : String(s).replace(/\\s+/g, ' ').trim();
        const take = (el, attr) => {
          if (attr == null) return clean(el.textContent);
          if (attr === 'html') return el.innerHTML;
          if ((attr === 'href' || attr === 'src') && typeof el[attr] === 'string') return el[attr];
          return el.getAttribute(attr);
        };
        for (const name of Object.keys(spec)) {
          const f = spec[name];
          try {
            if (f.all) out.f[name] = Array.from(document.querySelectorAll(f.selector), (el) => take(el, f.attr));
            else { const el = document.querySelector(f.selector); out.f[name] = el ? take(el, f.attr) : null; }
          } catch (err) {
            out.fe = 'field ' + name + ': ' + (err && err.message ? err.message : String(err));
            return out;
          }
        }
        return out;
        """

    /// arguments: selector, timeout ms, callback. Resolves true when the selector matches.
    static let waitFor = """
        const sel = arguments[0], ms = arguments[1], done = arguments[arguments.length - 1];
        const t0 = Date.now();
        (function poll() {
          let found = false;
          try { found = document.querySelector(sel) !== null; } catch (e) { done('invalid selector: ' + e.message); return; }
          if (found) done(true); else if (Date.now() - t0 >= ms) done(false); else setTimeout(poll, 20);
        })();
        """
}
