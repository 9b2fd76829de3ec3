/// A JSON syntax error with its place: line and column (in characters) from 1.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A key written twice in one object. Both places are kept, since either may be the mistake.
public struct JSONDuplicateKey: Sendable, Equatable {
    /// The key's path, as `crawl.fields.price` or `urls[2].x`.
    public var path: String
    public var firstLine: Int
    public var line: Int

    public init(path: String, firstLine: Int, line: Int) {
        self.path = path
        self.firstLine = firstLine
        self.line = line
    }
}

/// A parsed document and what a strict reader would object to without failing: duplicate keys
/// (RFC 8259 §4 leaves their meaning open; the last one wins here, as in most parsers).
public struct JSONDocument: Sendable {
    public var value: JSONValue
    public var duplicateKeys: [JSONDuplicateKey]
}

/// A JSON reader for files people write (RFC 8259, https://www.rfc-editor.org/rfc/rfc8259):
/// errors name the line and column and say what was expected; invalid UTF-8 is reported where it
/// is; a UTF-8 byte order mark at the start is skipped (§8.1 allows it). Numbers beyond Double's
/// range read as ±infinity so that the reader of the value can name the key that holds one.
public struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    /// Object keys and array indices from the root to the value being read.
    var path: [JSONPathComponent] = []
    var duplicates: [JSONDuplicateKey] = []

    static let maxDepth = 512
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONDocument {
        var p = JSONParser(bytes: bytes)
        if bytes.starts(with: byteOrderMark) { p.i = 3 }
        if let bad = firstInvalidUTF8(bytes) {
            throw p.fail(
                "not valid UTF-8 (byte 0x\(String(bytes[bad], radix: 16, uppercase: true))): save the file as UTF-8",
                at: bad)
        }
        p.skipBlanks()
        if p.i == bytes.count { throw p.fail("the file is empty: expected a JSON document") }
        let value = try p.value(depth: 0)
        p.skipBlanks()
        if p.i < bytes.count {
            throw p.fail("unexpected \(p.describeHere()) after the end of the JSON document")
        }
        return JSONDocument(value: value, duplicateKeys: p.duplicates)
    }

    init(bytes: [UInt8]) { self.bytes = bytes }

    var current: UInt8? { i < bytes.count ? bytes[i] : nil }

    /// Line and column of a byte offset, counted when needed (only errors and duplicates need
    /// them). Columns count characters: UTF-8 continuation bytes (10xxxxxx) start none.
    func place(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var start = bytes.starts(with: Self.byteOrderMark) ? 3 : 0
        let end = min(offset, bytes.count)
        for k in start..<end where bytes[k] == UInt8(ascii: "\n") {
            line += 1
            start = k + 1
        }
        return (line, bytes[start..<end].reduce(1) { $1 & 0xC0 == 0x80 ? $0 : $0 + 1 })
    }

    func fail(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let (line, column) = place(of: offset ?? i)
        return JSONSyntaxError(line: line, column: column, message: message)
    }

    mutating func skipBlanks() {
        while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
    }

    /// What is at the current place, for messages: a word, a character, or the end of the file.
    func describeHere() -> String {
        guard let b = current else { return "the end of the file" }
        if b >= 0x80 {
            guard let n = Self.sequenceLength(bytes, at: i) else {
                return "byte 0x\(String(b, radix: 16, uppercase: true))"
            }
            return "\"\(String(decoding: bytes[i..<i + n], as: UTF8.self))\""
        }
        let isWordByte: (UInt8) -> Bool = {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x5F
        }
        if isWordByte(b) {
            var end = i
            while end < bytes.count, end - i < 20, isWordByte(bytes[end]) { end += 1 }
            return "\"\(String(decoding: bytes[i..<end], as: UTF8.self))\""
        }
        return b < 0x20 ? "control character 0x\(String(b, radix: 16))" : "\"\(Character(Unicode.Scalar(b)))\""
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maxDepth else { throw fail("nested more than \(Self.maxDepth) levels deep") }
        guard let b = current else { throw fail("the file ends where a value was expected") }
        switch b {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            for (word, v) in [("true", JSONValue.bool(true)), ("false", .bool(false)), ("null", .null)]
            where bytes[i...].starts(with: word.utf8) {
                i += word.utf8.count
                return v
            }
        default: break
        }
        throw fail(unexpectedValue())
    }

    func unexpectedValue() -> String {
        switch current {
        case UInt8(ascii: "'"): return "strings take double quotes in JSON, not '"
        case UInt8(ascii: "/"): return "JSON has no comments"
        case UInt8(ascii: "+"): return "a number cannot start with +"
        case UInt8(ascii: "."): return "a number needs a digit before the point (0.5, not .5)"
        case UInt8(ascii: "}"), UInt8(ascii: "]"): return "expected a value before \(describeHere())"
        default:
            return "expected a value (a string, number, object, array, true, false or null), found \(describeHere())"
        }
    }
}

/// One step of a path into a document.
public enum JSONPathComponent: Sendable, Equatable {
    case key(String)
    case index(Int)

    /// `crawl.fields.price`, `urls[2]`: the places job-file messages use.
    public static func render(_ path: [JSONPathComponent]) -> String {
        var out = ""
        for c in path {
            switch c {
            case .key(let k): out += out.isEmpty ? k : ".\(k)"
            case .index(let n): out += "[\(n)]"
            }
        }
        return out
    }
}
