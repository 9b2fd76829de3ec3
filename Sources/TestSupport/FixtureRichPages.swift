/// Pages with images, a web font and media (`/rich/N`), for `crawl.block` and its benchmark:
/// the server counts every request, so a test sees what the browser fetched.
public enum FixtureRichPages {
    public static let images = 6

    static func page(_ n: Int) -> String {
        let imgs = (1...images).map { "<img src=\"/rich/img/\($0).bmp?p=\(n)\" width=\"256\" height=\"256\" alt=\"\">" }
        return FixturePages.html(
            title: "Rich \(n)",
            head: """
                <style>
                @font-face { font-family: Fixture; src: url(/rich/font.woff2?p=\(n)) format('woff2'); }
                body { font-family: Fixture, sans-serif; }
                .hero { width: 256px; height: 256px; background: url(/rich/bg.bmp?p=\(n)); }
                </style>
                """,
            body: """
                <h1>Rich \(n)</h1><p class="price">$\(n).00</p><div class="hero"></div>
                \(imgs.joined())
                <video src="/rich/clip.webm?p=\(n)" autoplay muted loop preload="auto"></video>
                """)
    }

    static let bitmap = gradientBitmap(side: 256)

    /// A `side`×`side` 24-bit BMP (the browser decodes it without a compression library), its
    /// pixels a gradient so that every image costs the decoder real work.
    static func gradientBitmap(side: Int) -> [UInt8] {
        let row = side * 3
        let size = 54 + row * side
        func le32(_ v: Int) -> [UInt8] {
            [UInt8(v & 255), UInt8(v >> 8 & 255), UInt8(v >> 16 & 255), UInt8(v >> 24 & 255)]
        }
        var out: [UInt8] = [0x42, 0x4D] + le32(size) + le32(0) + le32(54)
        out += le32(40) + le32(side) + le32(side) + [1, 0, 24, 0] + le32(0) + le32(row * side) + le32(2835)
        out += le32(2835) + le32(0) + le32(0)
        out.reserveCapacity(size)
        for y in 0..<side {
            for x in 0..<side { out += [UInt8(x), UInt8(y), UInt8((x ^ y) & 255)] }
        }
        return out
    }

    /// Serves `/rich/…`; nil for any other path.
    static func serve(_ r: FixtureServer.Request, server s: FixtureServer, fd: Int32) -> Bool? {
        let p = r.path
        guard p.hasPrefix("/rich/") else { return nil }
        if let n = Int(p.dropFirst("/rich/".count)) {
            if let ms = r.query["ms"].flatMap(Int.init) { s.sleepUnlessStopped(ms) }
            return s.reply(fd, status: 200, body: Array(page(n).utf8))
        }
        if p.hasPrefix("/rich/img/") || p == "/rich/bg.bmp" {
            return s.reply(fd, status: 200, body: bitmap, type: "image/bmp")
        }
        switch p {
        case "/rich/font.woff2":
            // Not a valid font: the browser fetches it and falls back; the fetch is what counts.
            return s.reply(fd, status: 200, body: Array(repeating: 0, count: 4096), type: "font/woff2")
        case "/rich/clip.webm":
            return s.reply(fd, status: 200, body: Array(repeating: 0, count: 4096), type: "video/webm")
        default:
            return s.reply(fd, status: 404, body: Array("not found".utf8))
        }
    }
}
