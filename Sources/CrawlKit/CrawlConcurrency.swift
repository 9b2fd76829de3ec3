/// How many pages one task loads at once: `crawl.sessions` browsers with `crawl.tabsPerSession`
/// tabs each. What the job leaves out follows the task's size (`task.cpu`, `task.memory`); what
/// it gives is kept.
///
/// The figures behind the rule are the throughput benchmark's (README, "Benchmark", 2 cores): a
/// page of the fixture site costs the browser, chromedriver and the crawler about 0.12
/// CPU-second, and at 250 ms per response four tabs in one browser load 3.7 times the pages of
/// one tab, eight a little more: about four pages in flight per vCPU keep it busy. A second
/// browser on the same cores is slower than more tabs in one (they compete for the CPU), so a
/// task gets a browser per two vCPUs. Memory bounds it from the other side: one headless browser
/// measured about 450 MiB (PSS, its first tab included), each further tab about `tabMiB` on a
/// real page (18 MiB on the fixture site's small one), and the sidecar's own processes (Selenium's
/// JVM, chromedriver) and the crawler `reservedMiB`.
public struct CrawlConcurrency: Sendable, Equatable {
    public enum Source: String, Sendable { case job, task }

    public var sessions: Int
    public var tabsPerSession: Int
    /// Whether each number came from the job or was chosen from the task's size.
    public var sessionsFrom: Source
    public var tabsFrom: Source

    public static let pagesInFlightPerVCPU = 4.0
    public static let vcpusPerSession = 2.0
    public static let maxTabsChosen = 8
    public static let browserMiB = 450
    public static let tabMiB = 90
    public static let reservedMiB = 600

    public var pagesInFlight: Int { sessions * tabsPerSession }

    /// The choice for a task of `cpu` units (1024 = 1 vCPU) and `memory` MiB, keeping `sessions`
    /// and `tabs` when the job gives them.
    public static func choose(cpu: Int, memory: Int, sessions: Int?, tabs: Int?) -> CrawlConcurrency {
        let vcpus = Double(max(cpu, 1)) / 1024
        let inFlight = max(2, Int((vcpus * pagesInFlightPerVCPU).rounded()))
        var chosenSessions = sessions ?? min(16, max(1, Int((vcpus / vcpusPerSession).rounded(.up))))
        var chosenTabs = tabs ?? min(maxTabsChosen, max(1, (inFlight + chosenSessions - 1) / chosenSessions))
        // Memory: fewer tabs first (they are the cheaper to lose), then fewer browsers.
        func fits(_ s: Int, _ t: Int) -> Bool { reservedMiB + s * (browserMiB + t * tabMiB) <= memory }
        while tabs == nil, chosenTabs > 1, !fits(chosenSessions, chosenTabs) { chosenTabs -= 1 }
        while sessions == nil, chosenSessions > 1, !fits(chosenSessions, chosenTabs) { chosenSessions -= 1 }
        return CrawlConcurrency(
            sessions: chosenSessions, tabsPerSession: chosenTabs, sessionsFrom: sessions == nil ? .task : .job,
            tabsFrom: tabs == nil ? .task : .job)
    }

    /// One line for `crawlrun plan`: the numbers and where they came from.
    public var summary: String {
        let numbers =
            "\(sessions) session\(sessions == 1 ? "" : "s") × \(tabsPerSession) tab\(tabsPerSession == 1 ? "" : "s")"
        switch (sessionsFrom, tabsFrom) {
        case (.job, .job): return "\(numbers) per task (crawl.sessions, crawl.tabsPerSession)"
        case (.task, .task):
            return
                "\(numbers) per task, chosen for the task's size (set crawl.sessions, crawl.tabsPerSession to choose)"
        case (.job, .task): return "\(numbers) per task (crawl.sessions; tabs chosen for the task's size)"
        case (.task, .job): return "\(numbers) per task (crawl.tabsPerSession; sessions chosen for the task's size)"
        }
    }
}
