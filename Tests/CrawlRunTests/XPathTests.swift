import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing
import WebDriver

/// XPath 1.0 expressions Chrome's `document.evaluate` accepts.
let validXPaths = [
    "//h1", "/", "/.", "//h1 | //h2", "-//h1", "string(//h1)", "//a/@href", "//*[local-name()='svg']",
    "processing-instruction('x')", "//text()", "child::h1", "1 div 2", ".5", "1.", "//div[1][last()]", "(//a)[1]",
    "(//a)[1]/@href", "//a[@class=\"x\"]/following-sibling::*", "//h1[@id='a' or @id=\"b\"]", "@*", "..",
    "//node()", "* * *", "div div div", "//mod/and", "//h1/text()[1]", "id('a')/b", "5 = 5", "//a[. = 'x']",
    "$x", "normalize-space(//p[@class='price'])", "count(//li)", "concat('a', 'b', 'c')", "//li[position() > 1]",
    "ancestor-or-self::node()", "//a[starts-with(@href, 'https:')]/@href", "substring(//h1, 1, 3)",
    "//p[not(@class)]", "//*[self::h1 or self::h2]", "//li[last()]", "sum(//td) >= 3",
]

/// Expressions Chrome rejects, with the reason and place (1-based) this checker gives.
let invalidXPaths: [(expression: String, reason: String, position: Int)] = [
    ("svg:rect", "the namespace prefix in \"svg:rect\" cannot be resolved", 1),
    ("//svg:*", "the namespace prefix in \"svg:*\" cannot be resolved", 3),
    ("//*[@xml:lang]", "the namespace prefix in \"xml:lang\" cannot be resolved", 6),
    ("foo()", "unknown function foo()", 1),
    ("count()", "count() takes 1 argument, not 0", 1),
    ("count(//a, 1)", "count() takes 1 argument, not 2", 1),
    ("concat('a')", "concat() takes at least 2 arguments, not 1", 1),
    ("1e3", "unexpected \"e3\"", 2),
    ("//h1[", "the expression ends too early", 6),
    ("//h1[]", "a predicate [ ] must not be empty", 6),
    ("//", "a step is missing at the end", 3),
    ("bogus::h1", "unknown axis \"bogus\"", 1),
    ("//h1/", "a step is missing at the end", 6),
    ("//h1//", "a step is missing at the end", 7),
    ("h1 and", "the expression ends too early", 7),
    ("a!b", "unexpected \"!\"", 2),
    ("'unclosed", "a quoted string is not closed", 1),
    ("//h1/normalize-space()", "normalize-space() is not a node test here", 6),
    ("//a[contains(., 'x')", "\"]\" is missing", 21),
    ("//a[@href", "\"]\" is missing", 10),
    ("", "the expression is empty", 1),
    ("//h1)", "unexpected \")\"", 5),
    ("h1 h2", "unexpected \"h2\"", 4),
]

@Suite struct XPathTests {
    @Test func acceptsEveryValidExpression() {
        for expression in validXPaths {
            #expect(XPathExpression.problem(in: expression) == nil, "\(expression)")
        }
    }

    @Test(arguments: invalidXPaths.indices)
    func rejectsMalformedExpressionsWithReasonAndPlace(index: Int) {
        let (expression, reason, position) = invalidXPaths[index]
        let problem = XPathExpression.problem(in: expression)
        #expect(problem?.reason.contains(reason) == true, "\(expression): \(problem?.description ?? "accepted")")
        #expect(problem?.position == position, "\(expression): \(problem?.description ?? "accepted")")
    }

    /// A bad XPath fails the job at plan time with the field's JSON path, in both forms.
    @Test func badFieldIsAJobProblemNamingItsPath() throws {
        let text = #"""
            {"urls": ["http://example.com/"], "crawl": {"fields": {
              "title": "xpath://h1[", "price": {"xpath": "foo(//p)"}, "links": {"xpath": "//a/@href", "all": true},
              "both": {"selector": "h1", "xpath": "//h1"}, "none": {"attr": "href"}, "empty": "xpath:  "}}}
            """#
        let problems: [String]
        do {
            _ = try Job.parse(Data(text.utf8), path: "job.json", backend: .local)
            problems = []
        } catch let error as JobError {
            problems = error.problems.map(\.description)
        }
        #expect(
            problems.contains(
                "crawl.fields.title: \"//h1[\" is not a valid XPath expression: the expression ends too early (at character 6)"
            ), "\(problems)")
        #expect(
            problems.contains {
                $0.hasPrefix(
                    "crawl.fields.price.xpath: \"foo(//p)\" is not a valid XPath expression: unknown function foo()")
            }, "\(problems)")
        #expect(problems.contains("crawl.fields.both.xpath: give selector or xpath, not both"), "\(problems)")
        #expect(problems.contains("crawl.fields.none.selector: required key is missing"))
        #expect(problems.contains("crawl.fields.empty: an XPath expression must follow \"xpath:\""), "\(problems)")
        #expect(!problems.contains { $0.hasPrefix("crawl.fields.links") }, "\(problems)")
        let good = try Job.parse(
            Data(#"{"urls": ["http://e.com/"], "crawl": {"fields": {"l": {"xpath": "//a/@href", "all": true}}}}"#.utf8),
            path: "job.json", backend: .local)
        #expect(good.crawl.fields["l"] == FieldSpec(selector: "xpath://a/@href", all: true))
        #expect(good.crawl.fields["l"]?.xpath == "//a/@href")
    }

    @Test func crawlFieldOptionTakesXPathWithItsOwnAt() throws {
        let (name, spec) = try FieldSpec.parse(option: "links[]=xpath://a[@rel='next']/@href") { UsageError($0) }
        #expect(name == "links" && spec == FieldSpec(selector: "xpath://a[@rel='next']/@href", all: true))
        #expect(throws: UsageError.self) { try FieldSpec.parse(option: "t=xpath://h1[") { UsageError($0) } }
    }

    struct UsageError: Error { let message: String; init(_ m: String) { message = m } }
}

extension Chrome {
    /// The tables above are what Chrome's `document.evaluate` says.
    @Suite struct XPathChromeTests {
        @Test func chromeAgreesWithTheTables() async throws {
            let all = validXPaths + invalidXPaths.map(\.expression)
            let results = try await chromeVerdicts(
                all, check: "document.evaluate(s, document, null, XPathResult.ANY_TYPE, null)")
            #expect(results.count == all.count)
            for (expression, result) in zip(all, results) {
                let weAccept = XPathExpression.problem(in: expression) == nil
                #expect(result.isNull == weAccept, "\(expression): Chrome says \(result.stringValue ?? "valid")")
            }
        }

        /// XPath fields read in the page beside CSS ones, in the one extraction script.
        @Test func xpathFieldsAreReadBesideCSS() async throws {
            let server = try FixtureServer()
            let driver = try await ChromeDriver.start()
            defer { server.stop() }
            let o = options {
                $0.fields = [
                    "css": FieldSpec(selector: "h1"),
                    "heading": FieldSpec(selector: "xpath://h1"),
                    "price": FieldSpec(selector: "xpath:normalize-space(//*[@class='price'])"),
                    "tags": FieldSpec(selector: "xpath://li[@class='tag']", all: true),
                    "next": FieldSpec(selector: "xpath://a[@class='next']/@href"),
                    "nextAttr": FieldSpec(selector: "xpath://a[@class='next']", attr: "href"),
                    "count": FieldSpec(selector: "xpath:count(//li[@class='tag'])"),
                    "has": FieldSpec(selector: "xpath:boolean(//h1)"),
                    "none": FieldSpec(selector: "xpath://*[@id='none']"),
                    "noneAll": FieldSpec(selector: "xpath://*[@id='none']", all: true),
                ]
            }
            let url = server.baseURL + "/page/2"
            let r = try await crawl([url], options: o, driver: driver.url)
            await driver.stop()
            let record = try #require(r.records.first)
            #expect(record.ok, "\(record.error?.message ?? "")")
            #expect(record.fields["heading"] == "Page 2" && record.fields["css"] == "Page 2")
            #expect(record.fields["price"] == "$2.00")
            #expect(record.fields["tags"] == ["tag-a", "tag-b"])
            #expect(record.fields["next"] == .string(server.baseURL + "/page/3"), "an href attribute node is absolute")
            #expect(record.fields["nextAttr"] == .string(server.baseURL + "/page/3"))
            #expect(record.fields["count"] == 2 && record.fields["has"] == true)
            #expect(record.fields["none"] == JSONValue.null && record.fields["noneAll"] == [])
        }
    }
}

/// Chrome's verdict on each input, in one session: null where the JavaScript `check` (which
/// reads the input as `s`) runs, else the message of what it threw.
func chromeVerdicts(_ inputs: [String], check: String) async throws -> [JSONValue] {
    let driver = try await ChromeDriver.start()
    let client = WebDriverClient(baseURL: driver.url, http: CurlHTTPClient())
    let caps: JSONValue = [
        "browserName": "chrome",
        "goog:chromeOptions": ["args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage"]],
    ]
    do {
        let session = try await client.newSession(alwaysMatch: caps)
        let script = """
            return arguments[0].map((s) => {
              try { \(check); return null; } catch (e) { return String(e.message); }
            });
            """
        let answers = try await session.execute(script, args: [.array(inputs.map { .string($0) })])
        try await session.delete()
        await driver.stop()
        return answers.arrayValue ?? []
    } catch {
        await driver.stop()
        throw error
    }
}
