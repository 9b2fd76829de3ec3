/// A copy of a run directory somewhere else (S3), kept up to date while the run goes: the run
/// works in a local directory as always (backends read and write files there), and the store
/// tells the mirror what changed. Uploads are in order per name; a name queued twice goes up
/// once, as it is when its turn comes. The mirror never holds the results in memory: it reads
/// them from the local results.jsonl, a piece at a time.
public protocol RunMirror: Sendable {
    /// Where the copy is (`s3://bucket/prefix/RUN-ID`), for messages.
    var description: String { get }
    /// Uploads the file `name` (relative to the run directory) now, as it is.
    func upload(_ name: String) async throws(RunFailure)
    /// Queues the file `name` for upload within a few seconds.
    func enqueue(_ name: String)
    /// results.jsonl grew: the new records go up within a few seconds.
    func resultsAppended()
    /// results.jsonl was rewritten (resume drops records): it goes up whole, now.
    func resultsRewritten() async throws(RunFailure)
    /// Everything queued goes up, results.jsonl is written whole; the mirror stops.
    func finish() async throws(RunFailure)
    /// Bytes uploaded so far (figures for the benchmark).
    var bytesUploaded: Int { get }
}
