import JSONKit

/// state.json's bytes. Its one spelling is the `Codable` conformances (RunState, BatchLedger and
/// theirs), written by JSONKit's streaming encoder at a fraction of JSONEncoder's cost — a
/// 20,000-batch state is several megabytes, written a few times a second while a large run goes
/// on. The cache keeps the encoded bytes of batches that can no longer change (done or
/// exhausted): a large run's state is mostly those, so a write re-encodes only the batches still
/// in play.
struct StateEncodingCache {
    var encoder = JSONStreamEncoder()
}

extension RunState {
    public func jsonBytes() throws(RunFailure) -> [UInt8] {
        var cache = StateEncodingCache()
        return try jsonBytes(cache: &cache)
    }

    func jsonBytes(cache: inout StateEncodingCache) throws(RunFailure) -> [UInt8] {
        do {
            var bytes = try cache.encoder.encode(self)
            bytes.append(10)
            return bytes
        } catch {
            throw RunFailure("cannot encode the state of run \(run)", error: error)
        }
    }
}

extension BatchLedger.Batch: JSONCachedEncoding {
    /// Done and exhausted batches no longer change.
    public var encodingCacheKey: String? { status == .done || status == .exhausted ? id : nil }
}
