#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Any JSON value: WebDriver payloads, extracted fields, pass-through capabilities.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var doubleValue: Double? {
        if case .number(let n) = self { return n }
        return nil
    }
    public var intValue: Int? {
        if case .number(let n) = self, n.rounded() == n, abs(n) < 9e15 { return Int(n) }
        return nil
    }
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }
    public var isNull: Bool { self == .null }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9e15 { try c.encode(Int(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Compact JSON text with sorted keys (stable output for logs and files).
    public func encoded() -> Data {
        var writer = JSONWriter()
        writer.value(self)
        return Data(writer.bytes)
    }

    /// Indented JSON text with sorted keys, for documents people read or paste (IAM policies).
    /// Scalars are written as `encoded()` writes them.
    public func prettyPrinted(indent: String = "  ") -> String {
        var out = ""
        func write(_ v: JSONValue, _ depth: Int) {
            let pad = String(repeating: indent, count: depth + 1)
            let close = String(repeating: indent, count: depth)
            switch v {
            case .array(let items) where !items.isEmpty:
                out += "[\n"
                for (i, item) in items.enumerated() {
                    out += pad
                    write(item, depth + 1)
                    out += i == items.count - 1 ? "\n" : ",\n"
                }
                out += close + "]"
            case .object(let fields) where !fields.isEmpty:
                out += "{\n"
                let keys = fields.keys.sorted()
                for (i, key) in keys.enumerated() {
                    out += pad + String(decoding: JSONValue.string(key).encoded(), as: UTF8.self) + ": "
                    write(fields[key] ?? .null, depth + 1)
                    out += i == keys.count - 1 ? "\n" : ",\n"
                }
                out += close + "}"
            default:
                out += String(decoding: v.encoded(), as: UTF8.self)
            }
        }
        write(self, 0)
        return out
    }

    public static func decode(_ data: Data) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: data)
    }
}

/// Writes compact JSON with keys in the order given: records read the same way every time
/// (url first), and writing needs no encoder machinery on the crawler's hot path.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = []

    public init() { bytes.reserveCapacity(512) }

    public mutating func beginObject() { separator(); bytes.append(UInt8(ascii: "{")); needsComma.append(false) }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma.removeLast(); markWritten() }
    public mutating func beginArray() { separator(); bytes.append(UInt8(ascii: "[")); needsComma.append(false) }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma.removeLast(); markWritten() }

    public mutating func key(_ k: String) {
        separator()
        string(k)
        bytes.append(UInt8(ascii: ":"))
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = false }
    }

    public mutating func value(_ v: JSONValue) {
        switch v {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .number(let n):
            if n.rounded() == n, abs(n) < 9e15 {
                raw(String(Int(n)))
            } else if n.isFinite {
                raw(String(n))
            } else {
                raw("null")
            }
        case .string(let s): separator(); string(s); markWritten()
        case .array(let a):
            separator()
            bytes.append(UInt8(ascii: "["))
            needsComma.append(false)
            for item in a { value(item) }
            bytes.append(UInt8(ascii: "]"))
            needsComma.removeLast()
            markWritten()
        case .object(let o):
            beginObject()
            for k in o.keys.sorted() {
                key(k)
                // `key` left needsComma false; the value must not add a separator.
                if let item = o[k] { value(item) }
            }
            endObject()
            markWritten()
        }
    }

    /// An already encoded JSON value, written as it is (a cached fragment).
    public mutating func rawValue(_ encoded: [UInt8]) {
        separator()
        bytes.append(contentsOf: encoded)
        markWritten()
    }

    public mutating func field(_ k: String, _ v: JSONValue) {
        key(k)
        value(v)
    }

    private mutating func raw(_ text: String) {
        separator()
        bytes.append(contentsOf: text.utf8)
        markWritten()
    }

    private mutating func separator() {
        if let last = needsComma.last, last { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func markWritten() {
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = true }
    }

    private mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case 92: bytes.append(contentsOf: [92, 92])
            case 10: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
            case 13: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
            case 9: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
