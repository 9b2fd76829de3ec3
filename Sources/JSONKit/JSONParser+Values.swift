/// Objects, arrays, strings and numbers (RFC 8259 §4–§7), each with the message a person needs
/// when it is malformed.
extension JSONParser {
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    func placeText(_ offset: Int) -> String {
        let (line, column) = place(of: offset)
        return "line \(line), column \(column)"
    }

    /// What a key or an item should have been, for a byte that starts none.
    func notAKey() -> String {
        switch current {
        case UInt8(ascii: "'"): return "strings take double quotes in JSON, not '"
        case UInt8(ascii: "/"): return "JSON has no comments"
        case let b? where b == 0x5F || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A):
            return "object keys take double quotes: \(describeHere())"
        default: return "expected a key in double quotes, found \(describeHere())"
        }
    }

    mutating func object(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let open = i
        i += 1
        var fields: [String: JSONValue] = [:]
        var keyOffsets: [String: Int] = [:]
        skipBlanks()
        if current == UInt8(ascii: "}") {
            i += 1
            return .object(fields)
        }
        while true {
            skipBlanks()
            guard let b = current else { throw unclosed("object", opened: open, closing: "}") }
            guard b == UInt8(ascii: "\"") else {
                throw fail(b == UInt8(ascii: "}") ? "a comma before } is not allowed in JSON: remove it" : notAKey())
            }
            let keyOffset = i
            let key = try string()
            skipBlanks()
            guard current == UInt8(ascii: ":") else {
                if current == nil { throw unclosed("object", opened: open, closing: "}") }
                throw fail("expected \":\" after the key \"\(key)\", found \(describeHere())")
            }
            i += 1
            skipBlanks()
            path.append(.key(key))
            fields[key] = try value(depth: depth + 1)
            if let first = keyOffsets[key] {
                duplicates.append(
                    JSONDuplicateKey(
                        path: JSONPathComponent.render(path), firstLine: place(of: first).line,
                        line: place(of: keyOffset).line))
            } else {
                keyOffsets[key] = keyOffset
            }
            path.removeLast()
            if try separator(closing: "}", of: "object", opened: open, after: "the value of \"\(key)\"", next: ["\""]) {
                return .object(fields)
            }
        }
    }

    mutating func array(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        let open = i
        i += 1
        var items: [JSONValue] = []
        skipBlanks()
        if current == UInt8(ascii: "]") {
            i += 1
            return .array(items)
        }
        while true {
            skipBlanks()
            if current == nil { throw unclosed("array", opened: open, closing: "]") }
            if current == UInt8(ascii: "]") { throw fail("a comma before ] is not allowed in JSON: remove it") }
            path.append(.index(items.count))
            items.append(try value(depth: depth + 1))
            path.removeLast()
            if try separator(
                closing: "]", of: "array", opened: open, after: "an item of the array", next: ["\"", "{", "["])
            {
                return .array(items)
            }
        }
    }

    /// After a member or an item: true at the closing bracket, false after a comma (both read).
    /// `next` holds what starts a member or an item, where only the comma is missing.
    mutating func separator(
        closing: Unicode.Scalar, of container: String, opened: Int, after: String, next: [Unicode.Scalar]
    ) throws(JSONSyntaxError) -> Bool {
        skipBlanks()
        guard let b = current else { throw unclosed(container, opened: opened, closing: closing) }
        i += 1
        if b == UInt8(ascii: ",") { return false }
        if b == UInt8(closing.value) { return true }
        i -= 1
        let expected = "expected \",\" or \"\(closing)\" after \(after)"
        if next.contains(where: { b == UInt8($0.value) }) { throw fail("\(expected): a comma is missing") }
        throw fail("\(expected), found \(describeHere())")
    }

    func unclosed(_ container: String, opened: Int, closing: Unicode.Scalar) -> JSONSyntaxError {
        fail("the file ends inside the \(container) opened at \(placeText(opened)): a \(closing) is missing")
    }

    /// A string; the document was checked to be UTF-8 before parsing began.
    mutating func string() throws(JSONSyntaxError) -> String {
        let open = i
        i += 1
        var out: [UInt8] = []
        while true {
            guard let b = current else {
                throw fail("the file ends inside the string that starts at \(placeText(open)): a \" is missing")
            }
            switch b {
            case UInt8(ascii: "\""):
                i += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &out)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw fail("a line break inside a string: write it as \\n, or close the string with \"")
            case 0..<0x20:
                throw fail("control character 0x\(String(b, radix: 16)) inside a string: write it as a \\u escape")
            default:
                out.append(b)
                i += 1
            }
        }
    }

    /// After a backslash: one of `" \ / b f n r t` or `uXXXX` (surrogate pairs joined).
    mutating func escape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        let start = i
        i += 1
        guard let e = current else { throw fail("the file ends inside an escape") }
        let simple: [UInt8: UInt8] = [
            0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, UInt8(ascii: "b"): 8, UInt8(ascii: "f"): 12,
            UInt8(ascii: "n"): 10, UInt8(ascii: "r"): 13, UInt8(ascii: "t"): 9,
        ]
        if let c = simple[e] {
            out.append(c)
            i += 1
            return
        }
        guard e == UInt8(ascii: "u") else {
            throw fail("\\\(describeHere().trimmingQuotes) is not a JSON escape (\\\\ for a backslash)", at: start)
        }
        var unit = try hex4(at: start)
        if (0xD800..<0xDC00).contains(unit), bytes[i...].starts(with: [0x5C, UInt8(ascii: "u")]) {
            let pairStart = i
            let low = try hex4(at: i, skipping: 1)
            if (0xDC00..<0xE000).contains(low) {
                unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            } else {
                i = pairStart
            }
        }
        guard let scalar = Unicode.Scalar(unit) else {
            throw fail("\\u\(String(unit, radix: 16, uppercase: true)) is half of a surrogate pair", at: start)
        }
        out.append(contentsOf: String(Character(scalar)).utf8)
    }

    /// Four hex digits after `\u` (at `i`, or after `skipping` more bytes); moves past them.
    mutating func hex4(at start: Int, skipping: Int = 0) throws(JSONSyntaxError) -> UInt32 {
        i += 1 + skipping
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16),
            bytes[i..<i + 4].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") })
        else { throw fail("\\u must be followed by four hex digits", at: start) }
        i += 4
        return v
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; out-of-range reads as ±infinity.
    mutating func number() throws(JSONSyntaxError) -> Double {
        let start = i
        if current == UInt8(ascii: "-") { i += 1 }
        guard let first = current, Self.isDigit(first) else { throw fail("a digit must follow \"-\"") }
        i += 1
        if first == UInt8(ascii: "0"), let next = current, Self.isDigit(next) {
            throw fail("a number cannot start with 0 (leading zeros are not JSON)", at: start)
        }
        while let d = current, Self.isDigit(d) { i += 1 }
        if current == UInt8(ascii: ".") {
            i += 1
            guard let d = current, Self.isDigit(d) else { throw fail("a digit must follow the decimal point") }
            while let d = current, Self.isDigit(d) { i += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            i += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
            guard let d = current, Self.isDigit(d) else { throw fail("a digit must follow the exponent's e") }
            while let d = current, Self.isDigit(d) { i += 1 }
        }
        guard let v = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            throw fail("not a number", at: start)
        }
        return v
    }

    /// The length of the UTF-8 sequence at `i`, or nil when it is not valid UTF-8 (RFC 3629 §4:
    /// no overlong forms, no surrogates, nothing above U+10FFFF).
    static func sequenceLength(_ b: [UInt8], at i: Int) -> Int? {
        let n: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch b[i] {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: n = 2
        case 0xE0: (n, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: (n, second) = (3, 0x80...0x9F)
        case 0xF0: (n, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: n = 4
        case 0xF4: (n, second) = (4, 0x80...0x8F)
        default: return nil
        }
        guard i + n <= b.count, second.contains(b[i + 1]) else { return nil }
        for k in 2..<n where !(0x80...0xBF).contains(b[i + k]) { return nil }
        return n
    }

    /// The offset of the first byte that is not valid UTF-8, if any.
    static func firstInvalidUTF8(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            if b[i] < 0x80 {
                i += 1
                continue
            }
            guard let n = sequenceLength(b, at: i) else { return i }
            i += n
        }
        return nil
    }
}

extension String {
    fileprivate var trimmingQuotes: String {
        hasPrefix("\"") && hasSuffix("\"") && count >= 2 ? String(dropFirst().dropLast()) : self
    }
}
