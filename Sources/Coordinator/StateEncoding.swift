import JSONKit

/// state.json written by hand with JSONKit's streaming writer: the same keys as the `Codable`
/// conformances (which read it back), at a fraction of JSONEncoder's cost — a 20,000-batch state
/// is several megabytes, written a few times a second while a large run goes on.
/// The encoded bytes of batches that can no longer change (done or exhausted): a large run's
/// state is mostly those, so a write re-encodes only the batches still in play.
struct StateEncodingCache {
    var finished: [String: [UInt8]] = [:]
}

extension RunState {
    public func jsonBytes() -> [UInt8] {
        var cache = StateEncodingCache()
        return jsonBytes(cache: &cache)
    }

    func jsonBytes(cache: inout StateEncodingCache) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("backend", .string(backend))
        w.key("batches")
        w.beginArray()
        for b in ledger.batches {
            if let bytes = cache.finished[b.id] {
                w.rawValue(bytes)
                continue
            }
            guard b.status == .done || b.status == .exhausted else {
                Self.write(b, &w)
                continue
            }
            var one = JSONWriter()
            Self.write(b, &one)
            cache.finished[b.id] = one.bytes
            w.rawValue(one.bytes)
        }
        w.endArray()
        w.key("counts")
        w.beginObject()
        w.field("incomplete", .number(Double(counts.incomplete)))
        w.field("failed", .number(Double(counts.failed)))
        w.field("ok", .number(Double(counts.ok)))
        w.field("urls", .number(Double(counts.urls)))
        w.endObject()
        if let f = ledger.failure {
            w.key("failure")
            w.beginObject()
            if let cause = f.cause { w.field("cause", .string(cause)) }
            w.field("message", .string(f.message))
            w.endObject()
        }
        if let slots = ledger.hostSlots {
            // Per-host limits (HostSlots): a resumed run keeps them.
            w.key("hostSlots")
            w.beginObject()
            w.field("hosts", .object(slots.hosts.mapValues { .array($0.map { .string($0) }) }))
            w.field("limit", .number(Double(slots.limit)))
            w.endObject()
        }
        if let reason = ledger.interruptReason { w.field("interruptReason", .string(reason)) }
        w.field("job", .string(job))
        let c = ledger.counts
        w.key("ledgerCounts")
        w.beginObject()
        w.field("batchesDone", .number(Double(c.batchesDone)))
        w.field("infrastructureFailures", .number(Double(c.infrastructureFailures)))
        w.field("relaunches", .number(Double(c.relaunches)))
        w.field("retriedTasks", .number(Double(c.retriedTasks)))
        w.field("retriedURLs", .number(Double(c.retriedURLs)))
        w.field("tasksStarted", .number(Double(c.tasksStarted)))
        w.endObject()
        let o = ledger.options
        w.key("options")
        w.beginObject()
        w.field("launchTries", .number(Double(o.launchTries)))
        w.field("maxRunSeconds", .number(o.maxRunSeconds))
        w.field("maxTasks", .number(Double(o.maxTasks)))
        w.field("retries", .number(Double(o.retries)))
        w.field("startTimeout", .number(o.startTimeout))
        w.endObject()
        if let o = owner {
            w.key("owner")
            w.beginObject()
            w.field("host", .string(o.host))
            w.field("pid", .number(Double(o.pid)))
            w.field("start", .number(Double(o.start)))
            w.endObject()
        }
        w.field("queue", .array(ledger.waitingBatches.map { .string($0) }))
        if let resumedAt { w.field("resumedAt", .string(resumedAt)) }
        w.field("run", .string(run))
        w.field("startedAt", .string(startedAt))
        w.field("status", .string(status.rawValue))
        w.field("updatedAt", .string(updatedAt))
        w.field("version", .number(Double(version)))
        w.endObject()
        var bytes = w.bytes
        bytes.append(10)
        return bytes
    }

    private static func write(_ b: BatchLedger.Batch, _ w: inout JSONWriter) {
        w.beginObject()
        w.key("attempts")
        w.beginArray()
        for a in b.attempts { write(a, &w) }
        w.endArray()
        w.field("extraAttempts", .number(Double(b.extraAttempts)))
        w.field("givenUp", .number(Double(b.givenUp)))
        w.field("id", .string(b.id))
        w.field("status", .string(b.status.rawValue))
        w.field("urls", .number(Double(b.urls)))
        w.endObject()
    }

    private static func write(_ a: BatchLedger.Attempt, _ w: inout JSONWriter) {
        func time(_ key: String, _ t: Double?) {
            // Milliseconds are enough, and keep the file small.
            if let t { w.field(key, .number((t * 1000).rounded() / 1000)) }
        }
        func text(_ key: String, _ s: String?) { if let s { w.field(key, .string(s)) } }
        func int(_ key: String, _ n: Int?) { if let n { w.field(key, .number(Double(n))) } }
        w.beginObject()
        w.field("attempt", .number(Double(a.attempt)))
        text("capacityProvider", a.capacityProvider)
        time("endedAt", a.endedAt)
        if let exits = a.exitCodes {
            w.key("exitCodes")
            w.beginObject()
            for (name, code) in exits.sorted(by: { $0.key < $1.key }) {
                w.field(name, code.map { .number(Double($0)) } ?? .null)
            }
            w.endObject()
        }
        int("failed", a.failed)
        text("hint", a.hint)
        text("infrastructureProblem", a.infrastructureProblem)
        time("launchedAt", a.launchedAt)
        w.field("launchTries", .number(Double(a.launchTries)))
        int("missing", a.missing)
        w.field("phase", .string(a.phase.rawValue))
        text("reason", a.reason)
        int("records", a.records)
        time("runningAt", a.runningAt)
        text("stopCode", a.stopCode)
        text("stopRequested", a.stopRequested)
        text("task", a.task)
        if let t = a.timing {
            w.key("timing")
            w.beginObject()
            time("pullStartedAt", t.pullStartedAt)
            time("startedAt", t.startedAt)
            time("stoppedAt", t.stoppedAt)
            w.endObject()
        }
        w.field("token", .string(a.token))
        w.field("urls", .number(Double(a.urls)))
        w.endObject()
    }
}
