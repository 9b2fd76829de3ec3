#if canImport(Glibc)
    import Glibc
#endif

/// The fixture site's pages, including the hostile ones.
enum FixturePages {
    static func html(title: String, head: String = "", body: String) -> String {
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(title)</title>\(head)</head><body>\(body)</body></html>"
    }

    static func product(_ n: Int) -> String {
        html(
            title: "Page \(n)",
            body: """
                <h1>Page \(n)</h1><p class="price">$\(n).00</p>
                <ul><li class="tag">tag-a</li><li class="tag">tag-b</li></ul>
                <a class="next" href="/page/\(n + 1)">next</a> <a href="/">home</a>
                """)
    }

    /// After the load, a loop that never yields (with `megabytes`, it first allocates that much,
    /// a megabyte at a time: a memory hog that ends hung).
    static func hangScript(megabytes: Int) -> String {
        """
        <script>window.addEventListener('load', () => setTimeout(() => {
          const keep = []; for (let i = 0; i < \(megabytes); i++) keep.push(new Uint8Array(1 << 20).fill(i));
          for (;;) { keep.length; }
        }, 0));</script>
        """
    }

    /// `kind` (alert, confirm or prompt) opened four times: while parsing, at DOMContentLoaded,
    /// in the load handler twice in a row, and from a timer shortly after the load.
    static func dialogPage(kind: String) -> String {
        let call = ["alert", "confirm", "prompt"].contains(kind) ? kind : "alert"
        return html(
            title: "Dialog \(call)",
            head: """
                <script>
                \(call)('parsing');
                document.addEventListener('DOMContentLoaded', () => \(call)('ready'));
                window.addEventListener('load', () => { \(call)('load 1'); \(call)('load 2'); setTimeout(() => \(call)('timer'), 50); });
                </script>
                """,
            body: "<h1>Dialog \(call)</h1><p class=\"price\">$9.00</p>")
    }

    /// Serves a fixture route; nil when the path is not one. The Bool: keep the connection.
    static func page(for r: FixtureServer.Request, server s: FixtureServer, fd: Int32) -> Bool? {
        func ok(_ text: String, status: Int = 200) -> Bool { s.reply(fd, status: status, body: Array(text.utf8)) }
        func int(_ key: String, _ fallback: Int) -> Int { r.query[key].flatMap { Int($0) } ?? fallback }
        let p = r.path
        if p == "/" {
            let links = (1...10).map { "<li><a href=\"/page/\($0)\">Page \($0)</a></li>" }.joined()
            return ok(html(title: "Fixture site", body: "<h1>Fixture site</h1><ul>\(links)</ul>"))
        }
        if p.hasPrefix("/page/"), let n = Int(p.dropFirst("/page/".count)) {
            if let ms = r.query["ms"].flatMap(Int.init) { s.sleepUnlessStopped(ms) }  // the benchmark's latency
            return ok(product(n))
        }
        if let rich = FixtureRichPages.serve(r, server: s, fd: fd) { return rich }
        if let real = FixtureRealPages.serve(r, server: s, fd: fd) { return real }
        switch p {
        case "/slow":
            s.sleepUnlessStopped(int("ms", 1000))
            return ok(html(title: "Slow", body: "<h1>Slow</h1>"))
        case "/never":
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000000\r\n\r\n<html><head><title>Never</title></head><body>"
            guard s.send(fd, Array(head.utf8)) else { return false }
            while !s.isStopped {
                s.sleepUnlessStopped(200)
                guard s.send(fd, Array(" ".utf8)) else { return false }
            }
            return false
        case "/redirect":
            let n = int("n", 3)
            return s.reply(
                fd, status: 302, headers: [("Location", n > 0 ? "/redirect?n=\(n - 1)" : "/page/1")], body: [])
        case "/loop":
            return s.reply(fd, status: 302, headers: [("Location", "/loop")], body: [])
        case "/redirect-to":
            return s.reply(fd, status: 302, headers: [("Location", r.query["url"] ?? "/")], body: [])
        case "/huge":
            let chunk = "<p>" + String(repeating: "lorem ipsum dolor sit amet ", count: 37) + "</p>\n"
            let count = int("mb", 5) * 1_000_000 / chunk.utf8.count
            return ok(html(title: "Huge", body: "<h1>Huge</h1>" + String(repeating: chunk, count: count)))
        case "/alert":
            return ok(html(title: "Alert", head: "<script>alert('hello');</script>", body: "<h1>Alert</h1>"))
        case "/navigate-away":
            // `left=MS`: the page goes to /page/2 by itself MS after the crawler marked it as left
            // (`PageScripts.markName`), as a page's timer could fire just after the crawler's
            // navigation ended without a new document; `by=refresh`: through a meta refresh.
            let go =
                r.query["by"] == "refresh"
                ? "const m = document.createElement('meta'); m.httpEquiv = 'refresh'; "
                    + "m.content = '0;url=/page/2'; document.head.appendChild(m);"
                : "location.href = '/page/2';"
            let leave =
                r.query["left"].flatMap(Int.init).map {
                    """
                    setInterval(() => { if (window.__crawlrunLeft === true && !window.gone) { window.gone = true; \
                    setTimeout(() => { \(go) }, \($0)); } }, 5)
                    """
                } ?? "location.replace('/page/2')"
            return ok(
                html(
                    title: "Leaving",
                    head: "<script>window.addEventListener('load', () => \(leave));</script>",
                    body: "<h1>Leaving</h1>"))
        case "/js-error":
            return ok(
                html(
                    title: "JS Error", head: "<script>null.boom();</script>",
                    body: "<h1>Broken scripts</h1><script>throw new Error('bad');</script>"))
        case "/late":
            let ms = int("ms", 300)
            return ok(
                html(
                    title: "Late",
                    body:
                        "<h1>Late</h1><script>setTimeout(() => { const d = document.createElement('div'); d.id = 'late'; d.textContent = 'arrived'; document.body.appendChild(d); }, \(ms));</script>"
                ))
        case "/flaky":
            let seen = s.countFlaky(r.query["key"] ?? "")
            if seen <= int("fail", 1) { return ok(html(title: "Unavailable", body: "<h1>503</h1>"), status: 503) }
            return ok(html(title: "Flaky", body: "<h1>Recovered</h1>"))
        case "/echo":
            var o = "{\"method\":\"\(r.method)\",\"path\":\"\(r.path)\",\"headers\":{"
            o += r.headers.map { "\"\($0.0)\":\"\($0.1.replacing("\"", with: "'"))\"" }.joined(separator: ",")
            o += "},\"bodyBytes\":\(r.body.count)}"
            return s.reply(fd, status: 200, body: Array(o.utf8), type: "application/json")
        case "/no-content":
            return s.reply(fd, status: 204, body: [])
        case "/not-modified":
            return s.reply(fd, status: 304, headers: [("ETag", "\"fixture\"")], body: [])
        case "/download":
            return s.reply(
                fd, status: 200, headers: [("Content-Disposition", "attachment; filename=\"report.csv\"")],
                body: Array("name,price\nPage 1,$1.00\n".utf8), type: "text/csv")
        case "/basic-auth":
            // Headless Chrome cannot answer the challenge and shows its own error page.
            return s.reply(
                fd, status: 401, headers: [("WWW-Authenticate", "Basic realm=\"fixture\"")],
                body: Array(html(title: "Sign in", body: "<h1>Sign in</h1>").utf8))
        case "/crash":
            // A page cannot crash its renderer without exhausting memory (gigabytes, seconds);
            // its blocking script's request runs the test's hook instead, which kills the
            // renderer (by pid) with the page committed and loading, as an OOM kill would.
            return ok(html(title: "Crash", head: "<script src=\"/crash/now.js\"></script>", body: "<h1>Crash</h1>"))
        case "/crash/now.js":
            s.crashHook()
            return s.reply(fd, status: 200, body: Array("// the renderer is gone\n".utf8), type: "text/javascript")
        case "/hang":
            return ok(html(title: "Hang", head: hangScript(megabytes: int("mb", 0)), body: "<h1>Hang</h1>"))
        case "/dialog":
            return ok(dialogPage(kind: r.query["kind"] ?? "alert"))
        case "/surrogate":
            // Lone UTF-16 surrogates cannot travel in UTF-8; the page's script makes them.
            return ok(
                html(
                    title: "Surrogate",
                    body: """
                        <h1>Surrogate</h1><p class="lone">before</p><p class="pair">\u{1F600}</p>
                        <script>document.title = 'Lone \\uD800 title'; document.querySelector('.lone').textContent = 'high \\uD83D low \\uDE00 end';</script>
                        """))
        case "/favicon.ico":
            return s.reply(fd, status: 404, body: [])
        default:
            if p.hasPrefix("/status/"), let code = Int(p.dropFirst("/status/".count)) {
                return ok(html(title: "Status \(code)", body: "<h1>Status \(code)</h1>"), status: code)
            }
            return nil
        }
    }
}
