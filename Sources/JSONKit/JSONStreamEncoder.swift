/// An `Encoder` that writes straight into a `JSONWriter`: a value's `Codable` conformance is the
/// one spelling of its JSON, written at the streaming writer's cost (no tree in between, as
/// JSONEncoder builds). Values that can no longer change may name a cache key
/// (`JSONCachedEncoding`): their bytes are encoded once and reused on every later write.
///
/// Containers are written as they are asked for, so a container stays open until something is
/// written beside it or the encoding ends: the pattern of synthesized conformances (and of
/// hand-written ones that encode a nested value into the same encoder).
public struct JSONStreamEncoder: Sendable {
    /// Encoded fragments of cached values, by their key.
    public var cache: [String: [UInt8]] = [:]

    public init() {}

    public mutating func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let sink = Sink(cache: cache)
        try sink.write(value, depth: 0)
        sink.close(to: 0)
        cache = sink.cache
        return sink.writer.bytes
    }
}

/// A value whose encoding can be cached: a key while it can no longer change, nil otherwise.
public protocol JSONCachedEncoding {
    var encodingCacheKey: String? { get }
}

private final class Sink {
    var writer = JSONWriter()
    /// The containers open, outermost first (true: an object).
    var open: [Bool] = []
    var cache: [String: [UInt8]]

    init(cache: [String: [UInt8]]) { self.cache = cache }

    /// Closes the containers deeper than `depth`.
    func close(to depth: Int) {
        while open.count > depth {
            if open.removeLast() { writer.endObject() } else { writer.endArray() }
        }
    }

    func write<T: Encodable>(_ value: T, depth: Int) throws {
        close(to: depth)
        switch value {
        case let s as String: writer.value(.string(s))
        case let b as Bool: writer.value(.bool(b))
        case let d as Double: writer.value(.number(d))
        case let n as Int: writer.value(.number(Double(n)))
        case let n as Int32: writer.value(.number(Double(n)))
        case let n as Int64: writer.value(.number(Double(n)))
        case let n as UInt64: writer.value(.number(Double(n)))
        case let n as UInt32: writer.value(.number(Double(n)))
        case let n as UInt: writer.value(.number(Double(n)))
        case let n as Int16: writer.value(.number(Double(n)))
        case let n as UInt16: writer.value(.number(Double(n)))
        case let n as Int8: writer.value(.number(Double(n)))
        case let n as UInt8: writer.value(.number(Double(n)))
        case let f as Float: writer.value(.number(Double(f)))
        default:
            if let cached = value as? any JSONCachedEncoding, let key = cached.encodingCacheKey {
                if let bytes = cache[key] {
                    writer.rawValue(bytes)
                    return
                }
                let one = Sink(cache: [:])
                try value.encode(to: StreamEncoder(sink: one, depth: 0))
                one.close(to: 0)
                cache[key] = one.writer.bytes
                writer.rawValue(one.writer.bytes)
                return
            }
            try value.encode(to: StreamEncoder(sink: self, depth: depth))
        }
    }

    /// The container of the encoder at `depth`: opened once, reused when asked again.
    func container(object: Bool, depth: Int) {
        close(to: depth + 1)
        guard open.count == depth else { return }
        if object { writer.beginObject() } else { writer.beginArray() }
        open.append(object)
    }
}

private struct StreamEncoder: Encoder {
    let sink: Sink
    let depth: Int
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        sink.container(object: true, depth: depth)
        return KeyedEncodingContainer(Keyed<Key>(sink: sink, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.container(object: false, depth: depth)
        return Unkeyed(sink: sink, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(sink: sink, depth: depth) }
}

private struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: Sink
    let depth: Int
    var codingPath: [any CodingKey] = []

    private func key(_ key: Key) {
        sink.close(to: depth + 1)
        sink.writer.key(key.stringValue)
    }

    mutating func encodeNil(forKey key: Key) throws {
        self.key(key)
        sink.writer.value(.null)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        self.key(key)
        try sink.write(value, depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        self.key(key)
        return StreamEncoder(sink: sink, depth: depth + 1).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        self.key(key)
        return StreamEncoder(sink: sink, depth: depth + 1).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { StreamEncoder(sink: sink, depth: depth) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        self.key(key)
        return StreamEncoder(sink: sink, depth: depth + 1)
    }
}

private struct Unkeyed: UnkeyedEncodingContainer {
    let sink: Sink
    let depth: Int
    var codingPath: [any CodingKey] = []
    var count = 0

    mutating func encodeNil() throws {
        sink.close(to: depth + 1)
        sink.writer.value(.null)
        count += 1
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try sink.write(value, depth: depth + 1)
        count += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        sink.close(to: depth + 1)
        count += 1
        return StreamEncoder(sink: sink, depth: depth + 1).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.close(to: depth + 1)
        count += 1
        return StreamEncoder(sink: sink, depth: depth + 1).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        count += 1
        return StreamEncoder(sink: sink, depth: depth + 1)
    }
}

private struct Single: SingleValueEncodingContainer {
    let sink: Sink
    let depth: Int
    var codingPath: [any CodingKey] = []

    mutating func encodeNil() throws {
        sink.close(to: depth)
        sink.writer.value(.null)
    }

    mutating func encode<T: Encodable>(_ value: T) throws { try sink.write(value, depth: depth) }
}
