import AWS
import Coordinator
import CrawlKit
import Foundation
import Synchronization

/// A run directory's copy under `s3://bucket/prefix/<run-id>/` (`RunLayout` spells every key).
/// The run works in a local directory; this uploads what changed every `interval`: queued files
/// whole (state.json, batch files, logs, reports), and the results merged since the last upload
/// as the next numbered piece of results.jsonl (`RunLayout.resultPieces`), so a coordinator
/// that dies loses at most one interval of results. `finish` writes results.jsonl whole —
/// in multipart parts read from the local file, never the whole file in memory — and deletes
/// the pieces. https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
public final class S3RunMirror: RunMirror, Sendable {
    /// Results read and uploaded at most this much at a time (a piece, or a multipart part).
    public static let chunkSize = 8 << 20

    let s3: S3Client
    public let bucket: String
    public let prefix: String
    public let layout: RunLayout
    private struct State {
        var queued: [String] = []
        var resultsDirty = false
        var offset = 0
        var nextPiece = 0
        var problem: RunFailure?
        var bytes = 0
        var finished = false
    }
    private let state = Mutex(State())
    private let loop = Mutex<Task<Void, Never>?>(nil)
    /// One pass at a time (the loop's, or `finish`'s).
    private let passing = PassLock()

    /// `offset`: bytes of the local results.jsonl already on S3 (a resumed run's, downloaded).
    public init(s3: S3Client, bucket: String, prefix: String, layout: RunLayout, interval: Duration = .seconds(2)) {
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix
        self.layout = layout
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, !Task.isCancelled else { return }
                await self.pass()
            }
        }
        loop.withLock { $0 = task }
    }

    public var description: String { "s3://\(bucket)/" + RunLayout.key(prefix: prefix, layout.id) }
    public var bytesUploaded: Int { state.withLock { $0.bytes } }

    func location(_ name: String) -> S3Location {
        S3Location(bucket: bucket, key: RunLayout.key(prefix: prefix, run: layout.id, name))
    }

    /// state.json goes up only after the results it counts: a state on S3 that says a batch is
    /// done while its records are still only local would make a resume after a crash skip them.
    public func upload(_ name: String) async throws(RunFailure) {
        guard name == RunLayout.state else { return try await uploadFile(name) }
        await passing.lock()
        defer { passing.unlock() }
        // The queued files first (job.json, plan.json, batch files): results on S3 always come with
        // what a resume needs (a coordinator killed before its first pass left only results and
        // state.json, which no one could resume).
        let queued = takeQueued()
        await uploadFiles(queued.filter { $0 != RunLayout.state })
        do throws(RunFailure) {
            try await uploadNewResults(always: true)
        } catch {
            resultsAppended()
            throw error
        }
        try await uploadFile(name)
    }

    private func takeQueued() -> [String] {
        state.withLock { s in
            defer {
                s.queued = []
                s.problem = nil
            }
            return s.queued
        }
    }

    /// Uploads `names` (16 at a time); a failure is queued again for the next pass.
    private func uploadFiles(_ names: [String]) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for name in names {
                if running == 16 {
                    await group.next()
                    running -= 1
                }
                group.addTask {
                    // A file gone meanwhile (renamed into place under another name) has nothing
                    // to upload; any other failure is tried again in the next pass.
                    guard FileManager.default.fileExists(atPath: self.layout.path(name)) else { return }
                    do throws(RunFailure) {
                        try await self.uploadFile(name)
                    } catch {
                        self.note(error)
                        self.enqueue(name)
                    }
                }
                running += 1
            }
        }
    }

    func uploadFile(_ name: String) async throws(RunFailure) {
        guard let data = FileManager.default.contents(atPath: layout.path(name)) else {
            throw RunFailure("cannot read \(layout.path(name)) to upload it")
        }
        try await put(name, data)
    }

    func put(_ name: String, _ data: Data) async throws(RunFailure) {
        do {
            try await s3.putObject(location(name), body: data, contentType: Self.contentType(name))
        } catch {
            throw RunFailure("cannot write \(location(name))", error: error)
        }
        state.withLock { $0.bytes += data.count }
    }

    public func enqueue(_ name: String) {
        state.withLock { s in
            if !s.queued.contains(name) { s.queued.append(name) }
        }
    }

    public func resultsAppended() { state.withLock { $0.resultsDirty = true } }

    public func resultsRewritten() async throws(RunFailure) {
        await passing.lock()
        defer { passing.unlock() }
        try await writeResultsWhole()
    }

    public func finish() async throws(RunFailure) {
        let task = loop.withLock { t in
            defer { t = nil }
            return t
        }
        task?.cancel()
        await task?.value
        // What failed in a pass is queued again: a few passes get past a passing S3 error.
        for _ in 0..<3 {
            await pass()
            if state.withLock({ $0.problem == nil && $0.queued.isEmpty }) { break }
        }
        await passing.lock()
        defer { passing.unlock() }
        try await writeResultsWhole()
        if let problem = state.withLock({ $0.problem }) { throw problem }
    }

    /// Uploads the queued files (16 at a time), then the new results as a piece, then a queued
    /// state.json: results before the state.json that counts them.
    func pass() async {
        await passing.lock()
        defer { passing.unlock() }
        // The files first (job.json, plan.json, the batch files): a run whose results are on S3
        // can then be resumed from S3 by whoever takes its lease, even if this process is killed
        // right after (results first left a killed run's first pieces without its job.json).
        let queued = takeQueued()
        await uploadFiles(queued.filter { $0 != RunLayout.state })
        do throws(RunFailure) {
            try await uploadNewResults()
        } catch {
            note(error)
            resultsAppended()
        }
        // A state.json queued (the run's last one, from `flush`) goes after the results it counts.
        guard queued.contains(RunLayout.state) else { return }
        do throws(RunFailure) {
            try await uploadFile(RunLayout.state)
        } catch {
            note(error)
            enqueue(RunLayout.state)
        }
    }

    private func note(_ problem: RunFailure) { state.withLock { if $0.problem == nil { $0.problem = problem } } }

    /// The whole lines appended since the last upload, as the next piece(s).
    private func uploadNewResults(always: Bool = false) async throws(RunFailure) {
        guard
            state.withLock({ s in
                defer { s.resultsDirty = false }; return s.resultsDirty
            }) || always
        else { return }
        while true {
            let offset = state.withLock { $0.offset }
            guard let chunk = try readResults(from: offset, wholeLines: true), !chunk.isEmpty else { return }
            let n = state.withLock { $0.nextPiece }
            try await put(RunLayout.resultPieceName(n), chunk)
            state.withLock { s in
                s.offset = offset + chunk.count
                s.nextPiece = n + 1
            }
        }
    }

    /// Up to `chunkSize` bytes of the local results.jsonl from `offset` (cut after the last
    /// newline when `wholeLines`: a record being appended is not uploaded half).
    private func readResults(from offset: Int, wholeLines: Bool) throws(RunFailure) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: layout.resultsPath) else { return nil }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            guard var data = try handle.read(upToCount: Self.chunkSize), !data.isEmpty else { return nil }
            if wholeLines {
                guard let end = data.lastIndex(of: 10) else { return data.count < Self.chunkSize ? nil : data }
                data = data.prefix(through: end)
            }
            return data
        } catch {
            throw RunFailure("cannot read \(layout.resultsPath)", error: error)
        }
    }

    /// results.jsonl as it is on disk becomes the object; the pieces go.
    private func writeResultsWhole() async throws(RunFailure) {
        let size =
            ((try? FileManager.default.attributesOfItem(atPath: layout.resultsPath))?[.size] as? NSNumber)?.intValue
            ?? 0
        let target = location(RunLayout.results)
        if size <= Self.chunkSize {
            try await put(RunLayout.results, try readResults(from: 0, wholeLines: false) ?? Data())
        } else {
            do {
                let upload = try await s3.createMultipartUpload(
                    target, contentType: Self.contentType(RunLayout.results))
                var eTags: [String] = []
                var offset = 0
                do {
                    while offset < size, let part = try readResults(from: offset, wholeLines: false), !part.isEmpty {
                        eTags.append(
                            try await s3.uploadPart(target, uploadID: upload, partNumber: eTags.count + 1, body: part))
                        offset += part.count
                        state.withLock { $0.bytes += part.count }
                    }
                    try await s3.completeMultipartUpload(target, uploadID: upload, partETags: eTags)
                } catch {
                    try? await s3.abortMultipartUpload(target, uploadID: upload)
                    throw error
                }
            } catch let error as AWSError {
                throw RunFailure("cannot write \(target)", error: error)
            } catch let error as RunFailure {
                throw error
            } catch {
                throw RunFailure("cannot write \(target)", error: error)
            }
        }
        let pieces = S3Location(
            bucket: bucket, key: RunLayout.key(prefix: prefix, run: layout.id, RunLayout.resultPieces + "/"))
        do {
            for object in try await s3.listObjects(bucket: bucket, prefix: pieces.key) {
                try await s3.deleteObject(S3Location(bucket: bucket, key: object.key))
            }
        } catch {
            throw RunFailure("cannot delete the pieces of results under \(pieces)", error: error)
        }
        state.withLock { s in
            s.offset = size
            s.nextPiece = 0
            s.resultsDirty = false
        }
    }

    static func contentType(_ name: String) -> String {
        if name.hasSuffix(".json") { return "application/json" }
        if name.hasSuffix(".jsonl") { return "application/x-ndjson" }
        if name.hasSuffix(".html") { return "text/html; charset=utf-8" }
        return "text/plain; charset=utf-8"
    }
}

/// An async lock without a thread blocked: one mirror pass at a time.
final class PassLock: Sendable {
    private let state = Mutex<(held: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func lock() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if !s.held {
                    s.held = true
                    return true
                }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
    func unlock() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty {
                s.held = false
                return nil
            }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }
}
