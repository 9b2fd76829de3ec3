import Coordinator
import Foundation
import Testing

@testable import CrawlKit

/// Sessions and tabs per task from the task's size (`CrawlConcurrency.choose`), and the plan that
/// shows the choice.
@Suite struct ConcurrencyTests {
    @Test func aQuarterVCPUGetsOneBrowserOneTab() {
        let c = CrawlConcurrency.choose(cpu: 256, memory: 512, sessions: nil, tabs: nil)
        #expect(c.sessions == 1 && c.tabsPerSession == 1, "512 MiB holds one browser and one page")
        #expect(c.sessionsFrom == .task && c.tabsFrom == .task)
    }

    @Test func oneVCPUOverlapsPagesInOneBrowser() {
        let c = CrawlConcurrency.choose(cpu: 1024, memory: 2048, sessions: nil, tabs: nil)
        #expect(c.sessions == 1 && c.tabsPerSession == 4)
    }

    @Test func fourVCPUsGetABrowserPerTwo() {
        let c = CrawlConcurrency.choose(cpu: 4096, memory: 8192, sessions: nil, tabs: nil)
        #expect(c.sessions == 2 && c.tabsPerSession == 8)
        #expect(c.pagesInFlight == 16)
    }

    @Test func lowMemoryTakesTabsFirstThenBrowsers() {
        let roomy = CrawlConcurrency.choose(cpu: 4096, memory: 8192, sessions: nil, tabs: nil)
        let tight = CrawlConcurrency.choose(cpu: 4096, memory: 2048, sessions: nil, tabs: nil)
        #expect(tight.pagesInFlight < roomy.pagesInFlight)
        #expect(tight.sessions == 2 && tight.tabsPerSession == 3, "600 + 2 × (450 + 3 × 90) MiB ≤ 2048")
        let tighter = CrawlConcurrency.choose(cpu: 4096, memory: 1024, sessions: nil, tabs: nil)
        #expect(tighter.sessions == 1 && tighter.tabsPerSession == 1)
    }

    @Test func theJobsNumbersWin() {
        let both = CrawlConcurrency.choose(cpu: 256, memory: 512, sessions: 3, tabs: 5)
        #expect(both.sessions == 3 && both.tabsPerSession == 5 && both.sessionsFrom == .job && both.tabsFrom == .job)
        #expect(both.summary == "3 sessions × 5 tabs per task (crawl.sessions, crawl.tabsPerSession)")
        let sessionsOnly = CrawlConcurrency.choose(cpu: 4096, memory: 8192, sessions: 4, tabs: nil)
        #expect(sessionsOnly.sessions == 4 && sessionsOnly.tabsPerSession == 4 && sessionsOnly.tabsFrom == .task)
    }

    @Test func aJobTakesTheChoiceIntoItsCrawlOptions() throws {
        let dir = tempDir("conc")
        let path = dir + "/j.json"
        try #"{"urls": ["http://a.example/"], "task": {"cpu": 4096, "memory": 8192}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let job = try Job.load(path: path, backend: .local)
        #expect(job.crawl.sessions == 2 && job.crawl.tabsPerSession == 8)
        try
            #"{"urls": ["http://a.example/"], "crawl": {"sessions": 1, "tabsPerSession": 1}, "task": {"cpu": 4096, "memory": 8192}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let own = try Job.load(path: path, backend: .local)
        #expect(own.crawl.sessions == 1 && own.crawl.tabsPerSession == 1)
    }

    @Test func theEstimateUsesThePagesInFlight() throws {
        let dir = tempDir("conc-est")
        let path = dir + "/j.json"
        var summary = PlanSummary()
        summary.batchCount = 1
        summary.largestBatch = 100
        func estimate(_ crawl: String) throws -> Estimate {
            try
                #"{"urls": ["http://a.example/"], "crawl": \#(crawl), "task": {"cpu": 1024, "memory": 2048, "secondsPerPage": 1, "startupSeconds": 0}}"#
                .write(toFile: path, atomically: true, encoding: .utf8)
            return Estimate(job: try Job.load(path: path, backend: .local), summary: summary)
        }
        let one = try estimate(#"{"sessions": 1, "tabsPerSession": 1}"#)
        let chosen = try estimate("{}")
        #expect(one.seconds == 100, "100 pages of 1 s, one at a time")
        #expect(chosen.seconds == 25, "1 × 4 chosen for 1 vCPU: four pages in flight")
        #expect(chosen.json["tabsPerSession"] == 4 && chosen.json["chosenFromTaskSize"] == true)
        let cpuBound = try estimate(#"{"sessions": 1, "tabsPerSession": 32}"#)
        #expect(cpuBound.seconds == 100 * Estimate.cpuSecondsPerPage, "bounded by the task's one vCPU")
    }

    @Test func planShowsTheChoice() async throws {
        let dir = tempDir("conc-plan")
        let path = dir + "/j.json"
        try #"{"urls": ["http://a.example/1", "http://a.example/2"], "task": {"cpu": 1024, "memory": 2048}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let r = try await CrawlrunProcess.run(["plan", path])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(
            r.stdout.contains(
                "  browsers:   1 session × 4 tabs per task, chosen for the task's size (set crawl.sessions, crawl.tabsPerSession to choose)"
            ), "\(r.stdout)")
    }
}
