import CrawlKit
import Testing

/// robots.txt per RFC 9309 (https://www.rfc-editor.org/rfc/rfc9309): the RFC's own examples, and
/// cases Google's open-source parser (github.com/google/robotstxt, robots_test.cc) settles, as
/// our own tests of the same expectations.
@Suite struct RobotsTxtTests {
    func rules(_ text: String, token: String = "CrawlRun") -> RobotsRules {
        RobotsParser.parse(Array(text.utf8), productToken: token).rules
    }
    func allowed(_ text: String, _ path: String, token: String = "CrawlRun") -> Bool {
        rules(text, token: token).refusal(for: path) == nil
    }

    /// RFC 9309 §5.1, the example file, read by each of its crawlers.
    static let rfcExample = """
        User-Agent: *
        Disallow: *.gif$
        Disallow: /example/
        Allow: /publications/

        User-Agent: foobot
        Disallow:/
        Allow:/example/page.html
        Allow:/example/allowed.gif

        User-Agent: barbot
        User-Agent: bazbot
        Disallow: /example/page.html

        User-Agent: quxbot

        EOF
        """

    @Test func rfcExampleGroupsByProductToken() {
        let text = Self.rfcExample
        // foobot: its own group only (not merged with `*`).
        #expect(allowed(text, "/example/page.html", token: "foobot"))
        #expect(allowed(text, "/example/allowed.gif", token: "foobot"))
        #expect(!allowed(text, "/example/other.html", token: "foobot"))
        #expect(!allowed(text, "/", token: "foobot"))
        // barbot and bazbot share one group.
        #expect(!allowed(text, "/example/page.html", token: "barbot"))
        #expect(!allowed(text, "/example/page.html", token: "BazBot"))
        #expect(allowed(text, "/example/other.gif", token: "bazbot"))
        // quxbot: a group without rules allows everything.
        #expect(allowed(text, "/example/x.gif", token: "quxbot"))
        // Anyone else: the `*` group.
        #expect(!allowed(text, "/a/b.gif", token: "CrawlRun"))
        #expect(!allowed(text, "/example/", token: "CrawlRun"))
        #expect(allowed(text, "/publications/", token: "CrawlRun"))
        #expect(allowed(text, "/a/b.gif?x=1", token: "CrawlRun"))
    }

    /// §5.2: the longest match wins, whatever the order.
    @Test func longestMatchWins() {
        let text = "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n"
        #expect(allowed(text, "/example/page/", token: "foobot"))
        #expect(allowed(text, "/example/page/x.html", token: "foobot"))
        #expect(!allowed(text, "/example/page/disallowed.gif", token: "foobot"))
        let reversed = "User-Agent: foobot\nDisallow: /example/page/disallowed.gif\nAllow: /example/page/\n"
        #expect(!allowed(reversed, "/example/page/disallowed.gif", token: "foobot"))
    }

    /// §2.2.2: Allow and Disallow equally long — Allow.
    @Test func anAllowAsLongAsADisallowWins() {
        #expect(allowed("user-agent: *\ndisallow: /page\nallow: /page\n", "/page"))
        #expect(allowed("user-agent: *\nallow: /\ndisallow: /\n", "/x"))
        #expect(!allowed("user-agent: *\nallow: /pag\ndisallow: /page\n", "/page"))
    }

    /// §2.2.3: `*` any run of characters, `$` the end of the path.
    @Test func wildcardsAndEndAnchors() {
        let text = "User-agent: *\nDisallow: /*.php$\nDisallow: /fish*.html\nDisallow: /end$\n"
        #expect(!allowed(text, "/index.php"))
        #expect(!allowed(text, "/a/b/c.php"))
        #expect(allowed(text, "/index.php?x=1"))
        #expect(allowed(text, "/index.php5"))
        #expect(!allowed(text, "/fish.html"))
        #expect(!allowed(text, "/fishheads/cat.html?id=3"))
        #expect(allowed(text, "/Fish.html"))  // paths are case-sensitive
        #expect(!allowed(text, "/end"))
        #expect(allowed(text, "/end/more"))
        // A pattern of stars alone matches everything.
        #expect(!allowed("user-agent: *\ndisallow: /**\n", "/anything"))
    }

    /// §2.2.2: percent-encoding compared in one form, non-ASCII encoded as UTF-8.
    @Test func percentEncodingIsNormalised() {
        #expect(!allowed("user-agent: *\ndisallow: /foo/bar/ツ\n", "/foo/bar/%E3%83%84"))
        #expect(!allowed("user-agent: *\ndisallow: /foo/bar/%e3%83%84\n", "/foo/bar/%E3%83%84"))
        #expect(!allowed("user-agent: *\ndisallow: /foo/bar/%E3%83%84\n", "/foo/bar/ツ"))
        // %62%61%7A is not decoded to `baz` (the RFC's table).
        #expect(allowed("user-agent: *\ndisallow: /foo/bar/%62%61%7A\n", "/foo/bar/baz"))
    }

    @Test func productTokenMatchingIgnoresCaseAndVersions() {
        let text = "User-agent: CRAWLRUN/2.1 (+https://example.org)\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n"
        #expect(!allowed(text, "/private/x"))
        #expect(allowed(text, "/public"))
        // Groups for the same token are merged (§2.2.1).
        let split =
            "user-agent: crawlrun\ndisallow: /a\n\nuser-agent: other\ndisallow: /\n\nuser-agent: crawlrun\ndisallow: /b\n"
        #expect(!allowed(split, "/a"))
        #expect(!allowed(split, "/b"))
        #expect(allowed(split, "/c"))
        #expect(RobotsParser.isValidProductToken("Crawl-Run_x"))
        #expect(!RobotsParser.isValidProductToken("CrawlRun/1.0"))
    }

    /// What a real file also holds: comments, blank values, CR line ends, a BOM, records outside
    /// groups, rules before any group, lines without a colon.
    @Test func tolerantOfWhatRealFilesHold() {
        let text =
            "\u{FEFF}Disallow: /before-any-group\r\n# comment\r\nUser-agent: * # everyone\r\nDisallow: /a # no\r\n"
            + "Sitemap: https://example.org/sitemap.xml\r\nDisallow /no-colon\r\nDisallow:\r\nCrawl-delay: 2.5\r\n"
        let r = rules(text)
        #expect(r.rules == [RobotsRules.Rule(allow: false, pattern: "/a", line: 4)])
        #expect(r.crawlDelay == 2.5)
        #expect(allowed(text, "/before-any-group"))
        #expect(allowed(text, "/no-colon"))
        #expect(!allowed(text, "/a/b"))
        #expect(r.refusal(for: "/a/b") == "robots.txt line 4 (Disallow: /a) disallows /a/b")
    }

    @Test func robotsTxtItselfIsAlwaysAllowedAndNoFileAllowsAll() {
        #expect(allowed("user-agent: *\ndisallow: /\n", "/robots.txt"))
        #expect(allowed("", "/anything"))
        #expect(allowed("user-agent: otherbot\ndisallow: /\n", "/anything"))
    }

    /// §2.5: at least 500 KiB are parsed; past that the file is ignored (and the caller told).
    @Test func onlyTheFirst500KiBAreRead() {
        var text = Array("user-agent: *\ndisallow: /early\n".utf8)
        text += [UInt8](repeating: UInt8(ascii: "#"), count: RobotsParser.byteLimit)
        text += Array("\ndisallow: /late\n".utf8)
        let parsed = RobotsParser.parse(text, productToken: "CrawlRun")
        #expect(parsed.ignoredBytes == text.count - RobotsParser.byteLimit)
        #expect(parsed.rules.refusal(for: "/early") != nil)
        #expect(parsed.rules.refusal(for: "/late") == nil)
    }

    @Test func aHostOffLimitsRefusesEverything() {
        let r = RobotsRules(disallowAll: "robots.txt answered 503")
        #expect(r.refusal(for: "/") == "robots.txt answered 503")
    }
}
