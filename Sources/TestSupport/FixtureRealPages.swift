/// Pages like the real web (`/real/N`, issue 23), for the peer benchmark and `crawl.blockHosts`:
/// about 300 KB per page — a long HTML document with an inline state blob, its own script doing
/// tens of milliseconds of work on load (parsing the state, rendering a list, sorting), a style
/// sheet with a web font, six product images — and third parties served from other host names on
/// the server's second port (`thirdPartyBaseURL`): an analytics script that sends a beacon and a
/// pixel, and an ad script filling a slot with a frame that loads its own script, an image and a
/// nested sync frame. Everything is deterministic and served from loopback: `*.localhost` names
/// resolve to loopback in Chromium itself (RFC 6761 §6.3), so no resolver is involved.
public enum FixtureRealPages {
    /// The third parties' host names (all on `thirdPartyPort`).
    public static let analyticsHost = "analytics.localhost"
    public static let adsHost = "ads.localhost"
    public static let thirdPartyHosts = [analyticsHost, adsHost]
    public static let products = 120
    public static let images = 6

    static func page(_ n: Int, thirdParty port: UInt16) -> String {
        let analytics = "http://\(analyticsHost):\(port)"
        let ads = "http://\(adsHost):\(port)"
        let nav = (1...40).map { "<li><a href=\"/real/\($0)\">Category \($0)</a></li>" }.joined()
        let cards = (1...products).map { i in
            """
            <article class="card" data-sku="\(n)-\(i)"><h3 class="card-title">Product \(i) of page \(n)</h3>\
            <p class="card-text">\(filler(n &* 31 &+ i))</p><span class="card-price">$\(i).\(n % 100)</span>\
            <ul class="card-tags"><li>tag-\(i % 7)</li><li>tag-\(i % 11)</li><li>tag-\(i % 13)</li></ul></article>
            """
        }.joined(separator: "\n")
        let imgs = (1...images).map { "<img src=\"/real/img/\($0).bmp?p=\(n)\" width=\"64\" height=\"64\" alt=\"\">" }
        let state = (1...400).map { i in
            "{\"id\":\(i),\"name\":\"item \(i) \(filler(i &+ n))\",\"score\":\((i &* 7919 &+ n) % 1000)}"
        }.joined(separator: ",")
        return FixturePages.html(
            title: "Real \(n)",
            head: """
                <link rel="stylesheet" href="/real/style.css">
                <script async src="\(analytics)/tp/analytics.js"></script>
                <script defer src="/real/app.js"></script>
                """,
            body: """
                <header><nav><ul>\(nav)</ul></nav></header>
                <main><h1>Real \(n)</h1><p class="price">$\(n).00</p><div class="gallery">\(imgs.joined())</div>
                <div id="ad-slot"></div><script src="\(ads)/tp/ads.js"></script>
                <section id="recommended"></section>
                \(cards)
                <iframe src="\(ads)/tp/frame?p=\(n)&amp;slot=2" width="300" height="250" title="ad"></iframe>
                </main>
                <script id="state" type="application/json">{"page":\(n),"items":[\(state)]}</script>
                """)
    }

    /// Words from a fixed list, chosen by `seed`: text that differs per card and per page.
    static func filler(_ seed: Int) -> String {
        let words = [
            "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed", "do",
            "eiusmod", "tempor", "incididunt", "ut", "labore", "et", "dolore", "magna", "aliqua",
        ]
        var x = UInt32(truncatingIfNeeded: seed &* 2_654_435_761 &+ 1)
        return (0..<60).map { _ -> String in
            x ^= x << 13
            x ^= x >> 17
            x ^= x << 5
            return words[Int(x % UInt32(words.count))]
        }.joined(separator: " ")
    }

    /// The site's own script: the state is parsed, a list rendered and sorted, a checksum kept in
    /// `data-work-ms` (how long it took) — measurable work on every load, as a framework's
    /// hydration is. The generated helpers give it a real bundle's size (~80 KB).
    static let appScript: String = {
        let helpers = (1...700).map { i in
            "function h\(i)(a, b) { const c = a * \(i) + (b | 0); return c % \(i + 7) === 0 ? c : h0(c, \(i)); }"
        }.joined(separator: "\n")
        return """
            function h0(a, b) { return (a ^ b) >>> 0; }
            \(helpers)
            document.addEventListener('DOMContentLoaded', () => {
              const t0 = performance.now();
              const state = JSON.parse(document.getElementById('state').textContent);
              let sum = 0;
              for (let round = 0; round < 3; round++) {
                const items = state.items.map(it => ({ ...it, key: it.name.split(' ').reverse().join('-') }));
                items.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : a.score - b.score);
                for (const it of items) sum = (sum + h1(it.score, it.id) + it.key.length) >>> 0;
                sum = (sum + JSON.stringify(items).length) >>> 0;
              }
              const list = document.getElementById('recommended');
              const frag = document.createDocumentFragment();
              for (const it of state.items.slice(0, 200)) {
                const li = document.createElement('div');
                li.className = 'rec';
                li.textContent = it.name;
                frag.appendChild(li);
              }
              list.appendChild(frag);
              for (const card of document.querySelectorAll('.card')) sum = (sum + card.offsetHeight) >>> 0;
              document.body.dataset.checksum = String(sum);
              document.body.dataset.workMs = String(Math.round(performance.now() - t0));
            });
            """
    }()

    static let styleSheet: String = {
        let rules = (1...300).map { i in
            ".c\(i) .card:nth-child(\(i)) > .card-title { margin: \(i % 9)px \(i % 5)px; color: #\(String(0x10_0000 + i &* 4099 % 0xEF_FFFF, radix: 16)); }"
        }.joined(separator: "\n")
        return """
            @font-face { font-family: RealSans; src: url(/real/font.woff2) format('woff2'); font-display: swap; }
            body { font-family: RealSans, sans-serif; margin: 0; }
            .card { display: inline-block; width: 280px; margin: 8px; padding: 8px; border: 1px solid #ccc; }
            .card-tags li { display: inline; margin-right: 4px; }
            .gallery img { margin: 4px; }
            \(rules)
            """
    }()

    /// The analytics script: fingerprints a little (canvas, timing), then sends a beacon and a pixel.
    static let analyticsScript = """
        (function () {
          let h = 0;
          const s = navigator.userAgent + screen.width + document.title + location.href;
          for (let r = 0; r < 300; r++) for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i) + r) >>> 0;
          const c = document.createElement('canvas'); c.width = 200; c.height = 50;
          const g = c.getContext('2d'); g.font = '16px sans-serif'; g.fillText('fp ' + h, 2, 20);
          const data = c.toDataURL().length + ':' + h;
          const base = document.currentScript ? new URL(document.currentScript.src).origin : '';
          navigator.sendBeacon(base + '/tp/collect', data);
          new Image().src = base + '/tp/pixel.gif?h=' + h;
        })();
        """

    /// The ad tag: fills `#ad-slot` with a frame of its own origin.
    static let adsScript = """
        (function () {
          const base = document.currentScript.src.replace(/\\/tp\\/ads\\.js.*$/, '');
          const f = document.createElement('iframe');
          f.width = 728; f.height = 90; f.title = 'ad';
          f.src = base + '/tp/frame?slot=1&p=' + encodeURIComponent(location.pathname);
          document.getElementById('ad-slot').appendChild(f);
        })();
        """

    static let creativeScript = """
        (function () {
          let x = 1;
          for (let i = 0; i < 200000; i++) x = (x * 1103515245 + 12345) >>> 0;
          document.body.dataset.x = String(x);
          const img = new Image(); img.src = '/tp/creative.bmp?x=' + (x % 97); document.body.appendChild(img);
        })();
        """

    static func frame(_ query: String) -> String {
        FixturePages.html(
            title: "Ad",
            body: """
                <div class="creative">Buy now</div><script src="/tp/creative.js"></script>
                <iframe src="/tp/sync?\(query)" width="1" height="1" title="sync"></iframe>
                """)
    }

    /// A 64×64 24-bit BMP, a gradient (12 KB).
    static let bitmap: [UInt8] = FixtureRichPages.gradientBitmap(side: 64)

    /// Serves `/real/…` and the third parties' `/tp/…`; nil for any other path.
    static func serve(_ r: FixtureServer.Request, server s: FixtureServer, fd: Int32) -> Bool? {
        let p = r.path
        let cache = [("Cache-Control", "max-age=3600")]
        let js = "text/javascript"
        if p.hasPrefix("/real/") {
            if let n = Int(p.dropFirst("/real/".count)) {
                if let ms = r.query["ms"].flatMap(Int.init) { s.sleepUnlessStopped(ms) }
                return s.reply(fd, status: 200, body: Array(page(n, thirdParty: s.thirdPartyPort).utf8))
            }
            if p.hasPrefix("/real/img/") { return s.reply(fd, status: 200, body: bitmap, type: "image/bmp") }
            switch p {
            case "/real/app.js": return s.reply(fd, status: 200, headers: cache, body: Array(appScript.utf8), type: js)
            case "/real/style.css":
                return s.reply(fd, status: 200, headers: cache, body: Array(styleSheet.utf8), type: "text/css")
            case "/real/font.woff2":
                // Not a valid font: the browser fetches it and falls back; the fetch is what counts.
                return s.reply(
                    fd, status: 200, headers: cache, body: Array(repeating: 7, count: 20_000), type: "font/woff2")
            case "/real/hosts":
                return s.reply(
                    fd, status: 200, body: Array(thirdPartyHosts.joined(separator: "\n").utf8), type: "text/plain")
            default: return s.reply(fd, status: 404, body: Array("not found".utf8))
            }
        }
        guard p.hasPrefix("/tp/") else { return nil }
        switch p {
        case "/tp/analytics.js":
            return s.reply(fd, status: 200, headers: cache, body: Array(analyticsScript.utf8), type: js)
        case "/tp/ads.js": return s.reply(fd, status: 200, body: Array(adsScript.utf8), type: js)
        case "/tp/creative.js": return s.reply(fd, status: 200, body: Array(creativeScript.utf8), type: js)
        case "/tp/frame":
            return s.reply(
                fd, status: 200, body: Array(frame(r.target.split(separator: "?").dropFirst().joined()).utf8))
        case "/tp/sync":
            return s.reply(
                fd, status: 200,
                body: Array(FixturePages.html(title: "sync", body: "<img src=\"/tp/pixel.gif?sync=1\" alt=\"\">").utf8))
        case "/tp/collect": return s.reply(fd, status: 204, body: [])
        case "/tp/pixel.gif", "/tp/creative.bmp": return s.reply(fd, status: 200, body: bitmap, type: "image/bmp")
        default: return s.reply(fd, status: 404, body: Array("not found".utf8))
        }
    }
}
