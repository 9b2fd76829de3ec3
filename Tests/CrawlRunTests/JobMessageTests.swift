import CrawlKit
import Foundation
import Testing

/// What a user reads when a job file, its URL list or a selector is wrong: the real problem, at
/// its place, as a sentence.
@Suite struct JobMessageTests {
    /// Writes `files` (name → bytes) into a fresh directory; returns it.
    func directory(_ files: [String: [UInt8]]) throws -> String {
        let dir = tempDir("jobmsg")
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        return dir
    }

    /// The problems of loading and then planning `job.json` in `dir`, with `dir` shown as DIR.
    func problems(_ dir: String, backend: Backend = .local) -> [String] {
        do {
            let job = try Job.load(path: dir + "/job.json", backend: backend)
            _ = try Planner(job: job).check()
            return []
        } catch let error as JobError {
            return error.problems.map { $0.description.replacingOccurrences(of: dir, with: "DIR") }
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func jsonSyntaxErrorNamesLineAndColumn() throws {
        let dir = try directory(["job.json": Array("{\n  \"urls\": [\"http://a/\"]\n  \"crawl\": {}\n}\n".utf8)])
        #expect(
            problems(dir) == [
                "line 3, column 3: expected \",\" or \"}\" after the value of \"urls\": a comma is missing"
            ])
    }

    @Test func byteOrderMarksAreStripped() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        let dir = try directory([
            "job.json": bom + Array(#"{"urlsFile": "urls.txt"}"#.utf8),
            "urls.txt": bom + Array("http://a.example/1\r\nhttp://a.example/2\r\n".utf8),
        ])
        #expect(problems(dir) == [])
        let job = try Job.load(path: dir + "/job.json", backend: .local)
        var urls: [String] = []
        let planner = Planner(job: job)
        planner.assign(summary: try planner.check()) { _, url in urls.append(url) }
        #expect(urls == ["http://a.example/1", "http://a.example/2"])
    }

    @Test func urlsFileThatIsADirectory() throws {
        let dir = try directory(["job.json": Array(#"{"urlsFile": "lists"}"#.utf8)])
        try FileManager.default.createDirectory(atPath: dir + "/lists", withIntermediateDirectories: false)
        #expect(problems(dir) == ["urlsFile: DIR/lists is a directory, not a file"])
    }

    @Test func numbersBeyondRangeAreNamedAtTheirKey() throws {
        let dir = try directory([
            "job.json": Array(
                #"{"urls": ["http://a/"], "crawl": {"pageLoadTimeout": 1e400}, "batching": {"batchSize": -1e400}, "task": {"retries": 1e20}}"#
                    .utf8)
        ])
        #expect(
            problems(dir) == [
                "batching.batchSize: the number is too large to read (beyond ±1.8e308); use one between 1 and 100000",
                "crawl.pageLoadTimeout: the number is too large to read (beyond ±1.8e308); use one between 0.1 and 600",
                "task.retries: must be between 0 and 10, found 1e+20",
            ])
    }

    @Test func invalidUTF8InTheJobAndInTheURLList() throws {
        let job = Array("{\"name\": \"caf".utf8) + [0xE9] + Array("\", \"urls\": [\"http://a/\"]}".utf8)
        #expect(
            problems(try directory(["job.json": job])) == [
                "line 1, column 14: not valid UTF-8 (byte 0xE9): save the file as UTF-8"
            ])
        let list = Array("http://a.example/\nhttp://a.example/caf".utf8) + [0xE9] + Array("\n".utf8)
        let dir = try directory(["job.json": Array(#"{"urlsFile": "u.txt"}"#.utf8), "u.txt": list])
        #expect(problems(dir) == ["DIR/u.txt:2: not valid UTF-8: save the URL list as UTF-8"])
    }

    @Test func duplicateKeysNameBothLines() throws {
        let text = "{\n  \"urls\": [\"http://a/\"],\n  \"crawl\": {\"sessions\": 2,\n    \"sessions\": 3}\n}"
        #expect(
            problems(try directory(["job.json": Array(text.utf8)])) == [
                "crawl.sessions: given twice (lines 3 and 4): keep one"
            ])
    }

    @Test func filesystemErrorsAreSentences() throws {
        let dir = try directory(["file.txt": []])
        let cases: [(String, String)] = [
            (dir + "/missing.json", "(file): DIR/missing.json does not exist"),
            (dir, "(file): DIR is a directory, not a file"),
            (
                dir + "/file.txt/job.json",
                "(file): cannot read DIR/file.txt/job.json: a part of the path is a file, not a directory"
            ),
        ]
        for (path, expected) in cases {
            let error = #expect(throws: JobError.self) { _ = try Job.load(path: path, backend: .local) }
            #expect(error?.problems.map { $0.description.replacingOccurrences(of: dir, with: "DIR") } == [expected])
        }
        // Tests run as root here, where chmod cannot deny a read: the sentence for EACCES itself.
        #expect(FileProblem(path: "jobs/x.json", errno: EACCES).message == "cannot read jobs/x.json: permission denied")
        #expect(FileProblem(path: "x", errno: EIO).message == "cannot read x: input/output error")
    }

    @Test func schemaMistakesAndURLProblemsTogether() throws {
        let lines = ["http://ok.example/"] + (1...25).map { "notaurl\($0)" } + ["ftp://files.example/x"]
        let dir = try directory([
            "job.json": Array(#"{"urlsFile": "u.txt", "crawl": {"sesions": 2}}"#.utf8),
            "u.txt": Array(lines.joined(separator: "\n").utf8),
        ])
        let got = problems(dir)
        #expect(got.first == #"crawl.sesions: unknown key (did you mean "sessions"?)"#)
        #expect(got.count == 1 + 20 + 1)
        #expect(got[1] == #"DIR/u.txt:2: "notaurl1" is not a valid URL"#)
        #expect(got.last == "DIR/u.txt: … and 6 more invalid URLs")
    }

    @Test func invalidSelectorsAreNamedAtTheirPlace() throws {
        let job = #"""
            {"urls": ["http://a/"], "crawl": {"waitFor": "main >", "fields": {
              "price": "div[", "title": "h1", "link": {"selector": "a:hovr", "attr": "href"}}}}
            """#
        #expect(
            problems(try directory(["job.json": Array(job.utf8)])) == [
                #"crawl.fields.link.selector: "a:hovr" is not a valid CSS selector: unknown pseudo-class :hovr (did you mean :hover?) (at character 2)"#,
                #"crawl.fields.price: "div[" is not a valid CSS selector: an attribute name must follow "[" (at character 4)"#,
                #"crawl.waitFor: "main >" is not a valid CSS selector: a selector cannot end with the combinator ">" (at character 7)"#,
            ])
    }

    @Test func fieldOptionsAreParsedAndChecked() throws {
        func parse(_ text: String) throws -> (String, FieldSpec) {
            try FieldSpec.parse(option: text) { FileProblem($0) }
        }
        #expect(try parse("title=h1") == ("title", FieldSpec(selector: "h1")))
        #expect(try parse("links[]=a@href") == ("links", FieldSpec(selector: "a", attr: "href", all: true)))
        #expect(
            try parse("m=a[href^=\"mailto:x@\"]@href") == (
                "m", FieldSpec(selector: "a[href^=\"mailto:x@\"]", attr: "href")
            ))
        #expect(try parse("e=#x\\@y") == ("e", FieldSpec(selector: "#x\\@y")))
        #expect(try parse("og=meta[property=\"og:title\"]@content").1.attr == "content")
        let errors: [(String, String)] = [
            ("title=h1@", #"--field "title=h1@": an attribute name must follow @, as in links[]=a@href"#),
            (
                "x=h1@href@src",
                #"--field "x=h1@href@src": one @ATTR per field, found @href and @src; give one --field per attribute"#
            ),
            (
                "p=div[",
                #"--field "p=div[": "div[" is not a valid CSS selector: an attribute name must follow "[" (at character 4)"#
            ),
            ("x=a@b c", #"--field "x=a@b c": "b c" is not an attribute name"#),
            ("h1", #"--field takes NAME=SELECTOR[@ATTR], as in title=h1 or links[]=a@href; not "h1""#),
            ("=h1", #"--field takes NAME=SELECTOR[@ATTR], as in title=h1 or links[]=a@href; not "=h1""#),
            ("t=", #"--field takes NAME=SELECTOR[@ATTR], as in title=h1 or links[]=a@href; not "t=""#),
        ]
        for (text, message) in errors {
            let error = #expect(throws: FileProblem.self) { _ = try parse(text) }
            #expect(error?.message == message, "\(text)")
        }
    }
}

@Suite struct JobMessageCLITests {
    @Test func planNamesTheSchemaMistakeAndBothBadURLsAtOnce() async throws {
        let dir = tempDir("badjob")
        try #"{"urls": ["http://a.example/", "notaurl", "ftp://files.example/x"], "crawl": {"sesions": 2}}"#
            .write(toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        let r = try await CrawlrunProcess.run(["plan", dir + "/job.json"])
        #expect(r.code == 65)
        #expect(r.stderr.contains("3 problems"), "\(r.stderr)")
        #expect(r.stderr.contains(#"crawl.sesions: unknown key (did you mean "sessions"?)"#))
        #expect(r.stderr.contains(#"urls[1]: "notaurl" is not a valid URL"#))
        #expect(r.stderr.contains(#"urls[2]: "ftp://files.example/x": scheme ftp is not crawled"#))
    }

    @Test func invalidSelectorFailsPlanAndRunWith65() async throws {
        let dir = tempDir("badsel")
        try #"{"urls": ["http://a.example/"], "crawl": {"fields": {"price": "div["}}}"#
            .write(toFile: dir + "/job.json", atomically: true, encoding: .utf8)
        for args in [["plan", dir + "/job.json"], ["run", dir + "/job.json", "--runs-dir", dir + "/runs"]] {
            let r = try await CrawlrunProcess.run(args)
            #expect(r.code == 65, "\(args)")
            #expect(r.stderr.contains(#"crawl.fields.price: "div[" is not a valid CSS selector"#), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/runs"), "nothing launched")
    }

    @Test func badFieldOptionsExit64() async throws {
        for (field, message) in [
            ("title=h1@", "an attribute name must follow @"), ("x=h1@href@src", "one @ATTR per field"),
            ("p=div[", #""div[" is not a valid CSS selector"#),
        ] {
            let r = try await CrawlrunProcess.run(["crawl", "http://a.example/", "--field", field])
            #expect(r.code == 64, "\(field)")
            #expect(r.stderr.contains(message), "\(field): \(r.stderr)")
        }
    }

    @Test func unreadableJobIsASentence() async throws {
        let dir = tempDir("dirjob")
        let r = try await CrawlrunProcess.run(["plan", dir])
        #expect(r.code == 65)
        #expect(r.stderr.contains("\(dir) is a directory, not a file"), "\(r.stderr)")
        #expect(!r.stderr.contains("Error Domain"))
    }
}
