import CrawlKit
import Foundation
import JSONKit

/// The runs directory as a whole: the runs in it (newest first), `latest`, and pruning a job's
/// old runs (`run --keep N`).
public enum RunHistory {
    public struct Entry: Sendable {
        public var layout: RunLayout
        public var state: RunState?
        /// Why state.json could not be read, when it could not.
        public var problem: String?
        /// The job's name: from the state, else from plan.json (a run that died before its first
        /// state write).
        public var job: String? {
            state?.job
                ?? FileManager.default.contents(atPath: layout.planPath).flatMap {
                    (try? JSONValue.decode($0))?["job"]?.stringValue
                }
        }
    }

    /// Every run directory (by its id's shape), newest first, with its state when readable.
    public static func list(_ runsDirectory: String) -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: runsDirectory)) ?? []
        return names.filter(RunLayout.isRunID).sorted(by: >).map { id in
            let layout = RunLayout(runsDirectory: runsDirectory, id: id)
            do throws(RunFailure) {
                return Entry(layout: layout, state: try RunStore.loadState(layout), problem: nil)
            } catch {
                return Entry(layout: layout, state: nil, problem: error.description)
            }
        }
    }

    /// `<runs>/latest` → the run: a relative symbolic link, replaced atomically.
    public static func pointLatest(at layout: RunLayout) {
        let link = layout.runsDirectory + "/" + RunLayout.latest
        let temp = link + ".\(getpid()).tmp"
        unlink(temp)
        guard symlink(layout.id, temp) == 0 else { return }
        if rename(temp, link) != 0 { unlink(temp) }
    }

    /// Deletes the job's runs beyond its `keep` newest, never `current`; the ids deleted. Call it
    /// holding the job's lock: then no other run of the job is alive (a "running" one has lost its
    /// crawlrun).
    @discardableResult
    public static func prune(_ runsDirectory: String, job: String, keep: Int, current: String) -> [String] {
        let mine = list(runsDirectory).filter { $0.job == job }
        var deleted: [String] = []
        for entry in mine.dropFirst(keep) where entry.layout.id != current {
            if (try? FileManager.default.removeItem(atPath: entry.layout.directory)) != nil {
                deleted.append(entry.layout.id)
            }
        }
        return deleted
    }
}
