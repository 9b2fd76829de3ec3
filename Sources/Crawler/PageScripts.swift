import CrawlKit

/// The JavaScript the crawler runs in the page. One extraction round trip returns everything a
/// record needs (https://www.w3.org/TR/webdriver2/#execute-script).
public enum PageScripts {
    /// The property `leave` sets on the document about to be left. A document that still has it
    /// when the extraction runs is the previous one: the navigation did not commit a new
    /// document (a 204, a 304 without a cached copy, a download), and nothing in it describes
    /// the URL asked for. A new document never has it.
    static let markName = "__crawlrunLeft"

    /// Run just before each navigation: marks the current document, and silences its dialogs
    /// (a timer's `confirm` firing on the page being left, while the navigation is under way,
    /// leaves chromedriver 156 answering every later command of the session with "aborted by
    /// navigation: Not attached to an active page"). Also the cheap liveness check of the
    /// session: a hung renderer does not answer it.
    static let leave = """
        \(mark)
        return true;
        """

    /// `leave`'s statements, shared with `leaveAndStop`. Besides the mark and the dialogs, the
    /// marked document may no longer navigate by itself: a timer's `location.href = …` landing
    /// after the crawler's navigation committed nothing (a 204) would put an unmarked document
    /// in the tab, read as the next URL's page. The [Navigation API](https://html.spec.whatwg.org/multipage/nav-history-apis.html#the-navigate-event)
    /// fires `navigate` for navigations the page starts (not for the driver's) and lets them be
    /// cancelled; fragment changes keep the document and are let through.
    static let mark = """
        window.\(markName) = true;
        window.alert = () => undefined; window.confirm = () => false; window.prompt = () => null;
        try {
          if (window.navigation && !window.\(markName)Held) {
            window.\(markName)Held = true;
            window.navigation.addEventListener('navigate', (e) => { if (e.cancelable && !e.hashChange) e.preventDefault(); });
          }
        } catch (e) {}
        """

    /// arguments[0]: {name: {selector, attr, all}}, arguments[1]: the URL navigated to. Returns
    /// {u: final URL, t: title, s: main document HTTP status | null, f: fields, e: error page code | null,
    ///  fe: field error, old: true when this is the document marked by `leave`, ep: true on a browser error page}.
    /// The status comes from Navigation Timing's responseStatus (Chrome ≥ 109, Firefox ≥ 129);
    /// Chrome shows failed navigations as chrome-error:// pages whose code is in loadTimeDataRaw,
    /// and HTTP errors it will not display (an empty 404, a 401 whose Basic challenge headless
    /// Chrome cannot answer) as such pages too, with the response's status.
    /// Every string is made well-formed UTF-16 (a lone surrogate becomes U+FFFD): chromedriver
    /// cannot serialise a result holding one and would lose the whole record.
    public static let extract = """
        const spec = arguments[0] || {};
        const wf = (s) => typeof s !== 'string' ? s : (typeof s.toWellFormed === 'function' ? s.toWellFormed()
          : s.replace(/[\\uD800-\\uDBFF](?![\\uDC00-\\uDFFF])|(?<![\\uD800-\\uDBFF])[\\uDC00-\\uDFFF]/g, '\\uFFFD'));
        // arguments[2], when given, is the token of the check (`poll`) that read and marked this
        // very document: its mark is then its own, not a sign of an uncommitted navigation.
        if (window.\(markName) === true && !(arguments[2] != null && window.\(markName)By === arguments[2])) {
          // Still marked: the navigation did not commit, unless it only moved to a fragment of this
          // same document (a same-document navigation keeps the document, rightly).
          let same = false;
          try { const w = new URL(arguments[1]); same = w.hash !== '' && w.href.split('#')[0] === location.href.split('#')[0]; } catch (e) {}
          if (!same) return {old: true, u: wf(location.href)};
        }
        const nav = performance.getEntriesByType('navigation')[0];
        const out = {u: wf(location.href), t: wf(document.title), s: (nav && nav.responseStatus) || null, f: {}, e: null, fe: null};
        if (location.protocol === 'chrome-error:') {
          out.ep = true;
          if (out.s >= 400) return out;
          const d = window.loadTimeDataRaw || {};
          const el = document.querySelector('.error-code');
          out.e = wf((el && el.textContent.trim()) || d.errorCode || 'ERR_FAILED');
          return out;
        }
        const clean = (s) => s == null ? null : wf(String(s).replace(/\\s+/g, ' ').trim());
        const take = (el, attr) => {
          if (attr == null) return clean(el.textContent);
          if (attr === 'html') return wf(el.innerHTML);
          if ((attr === 'href' || attr === 'src') && typeof el[attr] === 'string') return wf(el[attr]);
          return wf(el.getAttribute(attr));
        };
        // An XPath field ("xpath:" + XPath 1.0): a string, number or boolean result is the value
        // itself; nodes are read in document order, an element as a CSS match is, an attribute
        // node as its value (href/src absolute, as with attr), any other node as its text.
        const node = (n, attr) => {
          if (n.nodeType === 1) return take(n, attr);
          if (n.nodeType === 2) {
            const o = n.ownerElement;
            if (o && (n.name === 'href' || n.name === 'src') && typeof o[n.name] === 'string') return wf(o[n.name]);
            return wf(n.value);
          }
          return clean(n.textContent);
        };
        const xpath = (expr, f) => {
          const r = document.evaluate(expr, document, null, XPathResult.ANY_TYPE, null);
          let v;
          if (r.resultType === XPathResult.NUMBER_TYPE) v = Number.isFinite(r.numberValue) ? r.numberValue : null;
          else if (r.resultType === XPathResult.STRING_TYPE) v = clean(r.stringValue);
          else if (r.resultType === XPathResult.BOOLEAN_TYPE) v = r.booleanValue;
          else {
            const snap = document.evaluate(expr, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
            const nodes = [];
            for (let i = 0; i < snap.snapshotLength && (f.all || i < 1); i++) nodes.push(node(snap.snapshotItem(i), f.attr));
            return f.all ? nodes : (nodes.length ? nodes[0] : null);
          }
          return f.all ? [v] : v;
        };
        for (const name of Object.keys(spec)) {
          const f = spec[name];
          try {
            if (f.selector.startsWith('\(XPathExpression.prefix)')) out.f[name] = xpath(f.selector.slice(\(XPathExpression.prefix.count)), f);
            else if (f.all) out.f[name] = Array.from(document.querySelectorAll(f.selector), (el) => take(el, f.attr));
            else { const el = document.querySelector(f.selector); out.f[name] = el ? take(el, f.attr) : null; }
          } catch (err) {
            out.fe = wf('field ' + name + ': ' + (err && err.message ? err.message : String(err)));
            return out;
          }
        }
        return out;
        """

    /// The tabbed mode's readiness check (`TabLoad`), run in the tab after its navigation was
    /// started. arguments: the URL navigated to, the load strategy ("normal": the load event,
    /// "eager": DOMContentLoaded, "none": any new document), the `waitFor` selector or null, how
    /// long to wait in the page (ms), the fields' spec for `extract` (null: no extraction),
    /// the check's token (unique per attempt), callback. Answers {s: "old"} while the document is
    /// one marked before this attempt (chromedriver holds the command while the navigation has
    /// not answered, so this means it ended without a new document — or has not started),
    /// {s: "loading"}, {s: "ready", w: whether the selector matched (true without one), x:
    /// `extract`'s answer when w, m: true when the document read was marked (`mark`, with the
    /// token: a check of the same attempt asked again still reads it)}, or {s: "error", e} for a
    /// selector the browser rejects. The mark in the read spares the tab's next start its
    /// `leave` command (`TabDriver.markFresh`).
    static let poll = """
        const url = arguments[0], strategy = arguments[1], sel = arguments[2], wait = arguments[3];
        const spec = arguments[4], token = arguments[5], done = arguments[arguments.length - 1];
        // `extract` itself, run in the same turn when the page is ready: a command less per page
        // on a session whose tabs take turns. Any exception leaves `x` out (the extraction is then
        // its own command, which reports it).
        const read = () => {
          if (spec == null) return undefined;
          try { return (function () {
        \(extract)
          })(spec, url, token); } catch (e) { return undefined; }
        };
        if (window.\(markName) === true && window.\(markName)By !== token) {
          let same = false;
          try { const w = new URL(url); same = w.hash !== '' && w.href.split('#')[0] === location.href.split('#')[0]; } catch (e) {}
          if (!same) { done({s: 'old'}); return; }
        }
        const loaded = () => strategy === 'none' || (strategy === 'eager' ? document.readyState !== 'loading' : document.readyState === 'complete');
        const t0 = Date.now();
        (function check() {
          let ready = false, found = true;
          // A page that answered 4xx/5xx ends the wait: the extraction makes it an `http` record.
          try { ready = loaded(); found = sel == null || \(answeredError) || document.querySelector(sel) !== null; }
          catch (e) { done({s: 'error', e: String(e && e.message ? e.message : e)}); return; }
          if (ready && found) {
            // Read: the document is marked at once (`mark`, by this check's token), so that the
            // tab's next navigation needs no `leave` of its own.
            const x = read();
            let m = false;
            if (token != null && x && typeof x === 'object' && x.old !== true) {
              try {
                window.\(markName)By = token;
        \(mark)
                m = true;
              } catch (e) {}
            }
            done({s: 'ready', w: true, x: x, m: m});
          }
          else if (Date.now() - t0 >= wait) done(ready ? {s: 'ready', w: false} : {s: 'loading'});
          else setTimeout(check, 10);
        })();
        """

    /// `leave` for a tab whose load is being given up (a timeout): it also stops the load, so a
    /// document that never ends (a stream) stops using the network.
    static let leaveAndStop = """
        \(mark)
        try { window.stop(); } catch (e) {}
        return true;
        """

    /// An expression true when the document is an HTTP error (Navigation Timing's
    /// `responseStatus` ≥ 400) or the browser's own error page: no selector will appear in it, so
    /// `waitFor` ends at once and the record is the page's failure (`http`), not `selector`.
    static let answeredError = """
        (location.protocol === 'chrome-error:' || (((performance.getEntriesByType('navigation')[0] || {}).responseStatus || 0) >= 400))
        """

    /// arguments: selector, timeout ms, callback. Resolves true when the selector matches,
    /// {failed: true} at once on an HTTP error page (`answeredError`), false after the timeout.
    static let waitFor = """
        const sel = arguments[0], ms = arguments[1], done = arguments[arguments.length - 1];
        const t0 = Date.now();
        (function poll() {
          let found = false;
          try { found = document.querySelector(sel) !== null; } catch (e) { done('invalid selector: ' + e.message); return; }
          if (found) done(true);
          else if (\(answeredError)) done({failed: true});
          else if (Date.now() - t0 >= ms) done(false); else setTimeout(poll, 20);
        })();
        """
}
