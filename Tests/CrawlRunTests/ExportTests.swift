import AWS
import Coordinator
import CrawlKit
import Foundation
import HTTP
import JSONKit
import TestSupport
import Testing

/// `crawlrun export`: one row per URL, RFC 4180 CSV or flat JSON Lines.
@Suite struct ExportTests {
    static let records = [
        ResultRecord(
            url: "http://shop/a", ok: true, status: 200, finalUrl: "http://shop/a", title: "Lantern, \"LED\"",
            fields: ["price": "$87.50", "tags": ["camping", "light"], "note": "two\nlines", "title": "T"],
            attempts: 1, batch: "0001", startedAt: "2026-12-07T00:00:00.000Z", ms: 40),
        ResultRecord(
            url: "http://shop/b", ok: false, status: 404, finalUrl: "http://shop/b", title: "Not found",
            fields: ["price": .null, "tags": []], error: RecordError(kind: .http, message: "HTTP 404"), attempts: 1,
            batch: "0001", startedAt: "2026-12-07T00:00:01.000Z", ms: 12),
    ]

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func csvIsRFC4180WithFixedColumnsThenFieldsByName() throws {
        let csv = Self.text(try ResultExport(format: .csv).render(Self.records))
        #expect(
            csv == "url,ok,status,finalUrl,title,error,errorMessage,note,price,tags,fields.title\r\n"
                + "http://shop/a,true,200,http://shop/a,\"Lantern, \"\"LED\"\"\",,,\"two\nlines\",$87.50,camping | light,T\r\n"
                + "http://shop/b,false,404,http://shop/b,Not found,http,HTTP 404,,,,\r\n")
    }

    @Test func fieldsChooseAndOrderTheColumnsAndExplodeGivesARowPerItem() throws {
        let chosen = ResultExport(format: .csv, fields: ["tags", "price"], separator: ";", explode: false)
        #expect(
            Self.text(try chosen.render(Self.records)).split(separator: "\r\n").map(String.init) == [
                "url,ok,status,finalUrl,title,error,errorMessage,tags,price",
                "http://shop/a,true,200,http://shop/a,\"Lantern, \"\"LED\"\"\",,,camping;light,$87.50",
                "http://shop/b,false,404,http://shop/b,Not found,http,HTTP 404,,",
            ])
        let exploded = ResultExport(format: .csv, fields: ["tags", "price"], explode: true)
        let lines = Self.text(try exploded.render(Self.records)).split(separator: "\r\n").map(String.init)
        #expect(lines.count == 4, "two items of a, and b's one row: \(lines)")
        #expect(lines[1].hasSuffix(",camping,$87.50") && lines[2].hasSuffix(",light,$87.50"))
        #expect(lines[3].hasPrefix("http://shop/b,"))
        #expect(throws: ResultExport.Problem.self) {
            try ResultExport(format: .csv, fields: ["prise"]).render(Self.records)
        }
        do {
            _ = try ResultExport(format: .csv, fields: ["prise"]).render(Self.records)
        } catch {
            #expect(
                error.description
                    == "--fields: no record has a field \"prise\" (did you mean price?); fields: note, price, tags, title"
            )
        }
    }

    @Test func jsonLinesKeepListsAndTypes() throws {
        let out = Self.text(try ResultExport(format: .jsonl, fields: ["price", "tags"]).render(Self.records))
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(
            lines[0]
                == #"{"url":"http://shop/a","ok":true,"status":200,"finalUrl":"http://shop/a","title":"Lantern, \"LED\"","error":null,"errorMessage":null,"price":"$87.50","tags":["camping","light"]}"#
        )
        let second = try JSONValue.decode(Data(lines[1].utf8))
        #expect(second["error"] == "http" && second["tags"] == [] && second["price"] == .null)
    }

    @Test func aLineThatIsNoRecordIsNamedByFileAndLine() {
        let data = Data((String(decoding: Self.records[0].jsonLine(), as: UTF8.self) + "\n{\"url\": 3}\n").utf8)
        #expect(throws: ResultExport.Problem.self) { try ResultExport.records(data, name: "r.jsonl") }
        do { _ = try ResultExport.records(data, name: "r.jsonl") } catch {
            #expect(error.description == "r.jsonl:3: not a result record (README, \"Result record\")")
        }
    }

    /// The built `crawlrun export` on a local run directory: standard output, --output, usage errors.
    @Test func commandExportsALocalRun() async throws {
        let runs = tempDir("export")
        let run = runs + "/20261207-000000-abcd"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let bytes = Self.records.flatMap { $0.jsonLine() }
        try Data(bytes).write(to: URL(fileURLWithPath: run + "/results.jsonl"))
        let csv = try await CrawlrunProcess.run(["export", run, "--fields", "price,tags"])
        #expect(csv.code == 0, "\(csv.stderr)")
        #expect(csv.stdout.hasPrefix("url,ok,status,finalUrl,title,error,errorMessage,price,tags"), "\(csv.stdout)")
        #expect(csv.stdout.contains("camping | light"))
        let out = runs + "/out.jsonl"
        let jsonl = try await CrawlrunProcess.run(["export", run, "--format", "jsonl", "-o", out])
        #expect(jsonl.code == 0 && jsonl.stderr.contains("2 URLs"), "\(jsonl.stderr)")
        #expect((try String(contentsOfFile: out, encoding: .utf8)).split(separator: "\n").count == 2)
        let typo = try await CrawlrunProcess.run(["export", run, "--fields", "prise"])
        #expect(typo.code == 64 && typo.stderr.contains("did you mean price?"), "\(typo.stderr)")
        let missing = try await CrawlrunProcess.run(["export", runs + "/nope"])
        #expect(missing.code == 64 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let help = try await CrawlrunProcess.run(["export", "--help"])
        #expect(help.code == 0 && help.stdout.contains("--explode"))
    }

    /// `s3://BUCKET/PREFIX/runs/ID`: its results.jsonl through the S3 client, against moto_server.
    @Test func commandExportsAnS3Run() async throws {
        let moto = try await MotoServer.start()
        let env = [
            "AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "AKIDEXPORT", "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_REGION": "us-east-1",
        ]
        do {
            let s3 = AWSServices(region: "us-east-1", variables: env).s3
            _ = try await s3.send("PUT", "crawl-results", key: "", operation: "CreateBucket")
            let key = "crawlrun/demo/runs/20261207-000000-abcd/results.jsonl"
            try await s3.putObject(
                S3Location(bucket: "crawl-results", key: key), body: Data(Self.records.flatMap { $0.jsonLine() }))
            let r = try await CrawlrunProcess.run(
                ["export", "s3://crawl-results/crawlrun/demo/runs/20261207-000000-abcd", "--fields", "price"],
                environment: env)
            #expect(r.code == 0, "\(r.stderr)")
            #expect(r.stdout.contains("http://shop/b,false,404,http://shop/b,Not found,http,HTTP 404,"), "\(r.stdout)")
            let gone = try await CrawlrunProcess.run(
                ["export", "s3://crawl-results/crawlrun/demo/runs/20261207-000000-ffff"], environment: env)
            #expect(gone.code == 2 && gone.stderr.contains("does not exist"), "\(gone.stderr)")
            #expect(!gone.stderr.contains("secret"))
        } catch {
            await moto.stop()
            throw error
        }
        await moto.stop()
    }
}
