import Foundation
import JSONKit
import Testing

@Suite struct JSONParserTests {
    /// (document, the error as a user reads it).
    static let malformed: [(String, String)] = [
        ("", "line 1, column 1: the file is empty: expected a JSON document"),
        (" \n ", "line 2, column 2: the file is empty: expected a JSON document"),
        (
            "{\n  \"urls\": [\"http://a/\"]\n  \"crawl\": {}\n}",
            "line 3, column 3: expected \",\" or \"}\" after the value of \"urls\": a comma is missing"
        ),
        ("{\"a\": 1,}", "line 1, column 9: a comma before } is not allowed in JSON: remove it"),
        ("[1, 2,]", "line 1, column 7: a comma before ] is not allowed in JSON: remove it"),
        ("{urls: []}", "line 1, column 2: object keys take double quotes: \"urls\""),
        ("{'a': 1}", "line 1, column 2: strings take double quotes in JSON, not '"),
        ("{\"a\": 'x'}", "line 1, column 7: strings take double quotes in JSON, not '"),
        ("{\"a\" 1}", "line 1, column 6: expected \":\" after the key \"a\", found \"1\""),
        (
            "{\"a\": tru}",
            "line 1, column 7: expected a value (a string, number, object, array, true, false or null), found \"tru\""
        ),
        ("{\"a\": 1 // note\n}", "line 1, column 9: expected \",\" or \"}\" after the value of \"a\", found \"/\""),
        ("// note\n{}", "line 1, column 1: JSON has no comments"),
        ("{\"a\": 01}", "line 1, column 7: a number cannot start with 0 (leading zeros are not JSON)"),
        ("{\"a\": 1.}", "line 1, column 9: a digit must follow the decimal point"),
        ("{\"a\": .5}", "line 1, column 7: a number needs a digit before the point (0.5, not .5)"),
        ("{\"a\": +1}", "line 1, column 7: a number cannot start with +"),
        ("{\"a\": 1e}", "line 1, column 9: a digit must follow the exponent's e"),
        ("{\"a\": -}", "line 1, column 8: a digit must follow \"-\""),
        (
            "{\"a\": \"x\ny\"}",
            "line 1, column 9: a line break inside a string: write it as \\n, or close the string with \""
        ),
        ("{\"a\": \"x\ty\"}", "line 1, column 9: control character 0x9 inside a string: write it as a \\u escape"),
        ("{\"a\": \"\\x\"}", "line 1, column 8: \\x is not a JSON escape (\\\\ for a backslash)"),
        ("{\"a\": \"\\u12\"}", "line 1, column 8: \\u must be followed by four hex digits"),
        ("{\"a\": \"\\uD800\"}", "line 1, column 8: \\uD800 is half of a surrogate pair"),
        (
            "{\"a\": \"x",
            "line 1, column 9: the file ends inside the string that starts at line 1, column 7: a \" is missing"
        ),
        ("{\"a\": 1", "line 1, column 8: the file ends inside the object opened at line 1, column 1: a } is missing"),
        ("{\"a\":", "line 1, column 6: the file ends where a value was expected"),
        (
            "{\"a\": [1, 2",
            "line 1, column 12: the file ends inside the array opened at line 1, column 7: a ] is missing"
        ),
        ("{} {}", "line 1, column 4: unexpected \"{\" after the end of the JSON document"),
        (
            "{\"é\": ü}",
            "line 1, column 7: expected a value (a string, number, object, array, true, false or null), found \"ü\""
        ),
        ("[1 2]", "line 1, column 4: expected \",\" or \"]\" after an item of the array, found \"2\""),
        ("[\"a\" \"b\"]", "line 1, column 6: expected \",\" or \"]\" after an item of the array: a comma is missing"),
        (String(repeating: "[", count: 600), "line 1, column 513: nested more than 512 levels deep"),
    ]

    @Test(arguments: malformed.indices)
    func syntaxErrorsNameLineColumnAndWhatWasExpected(index: Int) {
        let (text, expected) = Self.malformed[index]
        let error = #expect(throws: JSONSyntaxError.self) { _ = try JSONParser.parse(Array(text.utf8)) }
        #expect(error?.description == expected, "\(text)")
    }

    @Test func invalidUTF8IsNamedWhereItIs() {
        let bytes = Array("{\n  \"name\": \"caf".utf8) + [0xE9] + Array("\"\n}".utf8)
        let error = #expect(throws: JSONSyntaxError.self) { _ = try JSONParser.parse(bytes) }
        #expect(error?.description == "line 2, column 15: not valid UTF-8 (byte 0xE9): save the file as UTF-8")
        // Overlong forms and encoded surrogates are not UTF-8 either.
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82]] {
            #expect(throws: JSONSyntaxError.self) { _ = try JSONParser.parse([0x22] + bad + [0x22]) }
        }
    }

    @Test func readsWhatJSONDecoderReads() throws {
        let text = #"""
            {"s": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00 é", "n": [0, -1, 1.5, 2e3, -0.25E-2, 123456789012],
             "t": true, "f": false, "z": null, "o": {"nested": [[], {}]}, "k": "ж"}
            """#
        let document = try JSONParser.parse(Array(text.utf8))
        #expect(document.value == (try JSONValue.decode(Data(text.utf8))))
        #expect(document.value["s"] == "a\"b\\c/d\u{8}\u{C}\n\r\té😀 é")
        #expect(document.duplicateKeys.isEmpty)
        for file in ["demo.json", "fargate-example.json"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: packageRoot + "/jobs/" + file))
            #expect(try JSONParser.parse([UInt8](data)).value == (try JSONValue.decode(data)), "\(file)")
        }
    }

    @Test func byteOrderMarkIsSkippedAndLinesCountWithoutIt() throws {
        let doc = try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("{\"a\": 1}".utf8))
        #expect(doc.value == ["a": 1])
        let error = #expect(throws: JSONSyntaxError.self) {
            _ = try JSONParser.parse([0xEF, 0xBB, 0xBF] + Array("{\"a\" 1}".utf8))
        }
        #expect(error?.line == 1 && error?.column == 6)
    }

    @Test func duplicateKeysAreReportedWithPathAndLinesAndTheLastWins() throws {
        let text = "{\n \"crawl\": {\"fields\": [{\"a\": 1,\n \"a\": 2}]},\n \"name\": \"x\",\n \"name\": \"y\"\n}"
        let doc = try JSONParser.parse(Array(text.utf8))
        #expect(
            doc.duplicateKeys == [
                JSONDuplicateKey(path: "crawl.fields[0].a", firstLine: 2, line: 3),
                JSONDuplicateKey(path: "name", firstLine: 4, line: 5),
            ])
        #expect(doc.value["name"] == "y")
    }

    @Test func numbersBeyondDoubleReadAsInfinity() throws {
        let doc = try JSONParser.parse(Array(#"{"a": 1e400, "b": -1e400, "c": 1e-400}"#.utf8))
        #expect(doc.value["a"]?.doubleValue == .infinity && doc.value["b"]?.doubleValue == -.infinity)
        #expect(doc.value["c"]?.doubleValue == 0)
    }
}
