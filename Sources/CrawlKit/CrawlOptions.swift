import JSONKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// When to keep a screenshot or the page source of a visited URL.
public enum ArtifactPolicy: String, Codable, Sendable, CaseIterable {
    case never, onError, always
}

/// What the browser may be told not to load (`crawl.block`), to spend less CPU per page.
public enum BlockedResource: String, Codable, Sendable, CaseIterable {
    case images, media, fonts, stylesheets
}

/// `crawl.webdriver`: how the crawler speaks to the sidecar. `bidi` is WebDriver BiDi over the
/// session's WebSocket (`webSocketUrl`): scripts and navigations addressed to a tab, load events
/// pushed; `classic` is W3C WebDriver over HTTP, one current window at a time; `auto` uses BiDi
/// when the new session offers a WebSocket URL, else classic (README, "The crawler").
public enum WebDriverTransport: String, Codable, Sendable, CaseIterable {
    case auto, bidi, classic
}

/// `crawl.robotsTxt`: consult each host's robots.txt (`obey`) or not (`ignore`).
public enum RobotsPolicy: String, Codable, Sendable, CaseIterable {
    case obey, ignore
}

/// The crawl options: written in a job's `crawl` section, carried to the crawler in each batch
/// file. Times are in seconds. Every option has a default, so `{}` is a valid value.
public struct CrawlOptions: Codable, Sendable, Equatable {
    /// WebDriver page-load timeout; a navigation that takes longer is a `timeout`.
    public var pageLoadTimeout: Double = 30
    /// Script timeout for the extraction and wait scripts.
    public var scriptTimeout: Double = 10
    /// A CSS selector to wait for after each navigation.
    public var waitFor: String?
    public var waitForTimeout: Double = 10
    public var fields: [String: FieldSpec] = [:]
    /// Attempts per URL, the first included; only retryable error kinds are tried again.
    public var maxAttempts: Int = 3
    /// First retry delay; doubled each attempt, with jitter.
    public var retryBackoff: Double = 1
    /// Parallel WebDriver sessions against the one sidecar: one browser each.
    public var sessions: Int = 1
    /// Tabs per session, each loading its own URL while the others load theirs (`pageLoadStrategy`
    /// is then applied by the crawler, not the driver). 1 is one page at a time per browser.
    public var tabsPerSession: Int = 1
    /// Resources the browser does not load (README, "The crawler": what each changes).
    public var block: [BlockedResource] = []
    /// Host names (or `*` patterns) the browser does not reach; a name covers its subdomains
    /// (`HostBlocking.swift`; README, "The crawler": what each changes).
    public var blockHosts: [String] = []
    /// Minimum time between two page loads on the same host, across all sessions.
    public var politenessDelay: Double = 0
    public var screenshot: ArtifactPolicy = .never
    public var pageSource: ArtifactPolicy = .never
    public var browserName: String = "chrome"
    /// Browser command-line arguments added to the defaults (`effectiveBrowserArgs`): one
    /// replaces a default of the same switch, `!--switch` removes it.
    public var browserArgs: [String]?
    public var pageLoadStrategy: String = "normal"
    /// The WebDriver transport (`WebDriverTransport`).
    public var webdriver: WebDriverTransport = .classic
    public var acceptInsecureCerts: Bool = false
    /// Allow loopback and private (RFC 1918, ULA) addresses. Link-local addresses — the ECS and
    /// EC2 credential endpoints live there — are refused regardless.
    public var allowPrivateNetworks: Bool = false
    /// Start a fresh session after this many pages (browsers grow over long sessions).
    public var recycleSessionAfter: Int = 100
    /// Extra W3C capabilities merged last into `alwaysMatch`.
    public var capabilities: [String: JSONValue]?
    /// The browser's User-Agent (Chrome `--user-agent`, Firefox `general.useragent.override`).
    public var userAgent: String?
    /// Extra request headers sent with every request of every tab (Chrome family: CDP).
    public var headers: [String: String]?
    /// The proxy every page load goes through (the W3C `proxy` capability).
    public var proxy: ProxyOption?
    /// Cookies per host (`name: value`), in the browser before its first page (Chrome family: CDP).
    public var cookies: [String: [String: String]]?
    /// Whether robots.txt is consulted (README, "Politeness"). A job without the key keeps the
    /// behaviour it was written for (`ignore`); new jobs say `obey`.
    public var robotsTxt: RobotsPolicy = .ignore
    /// The product token robots.txt groups are matched against (RFC 9309 §2.2.1).
    public var robotsProductToken: String = "CrawlRun"
    /// Where a site owner learns who crawls them: the URL in the default user agent.
    public var contactURL: String?
    /// Filled in by the coordinator, never written in a job: per host, this task's share of the
    /// host's request rate as seconds between two requests (`politeness`, Crawl-delay a floor).
    public var hostIntervals: [String: Double]?
    /// Filled in by the coordinator, never written in a job: robots.txt per origin
    /// (`http://host:port`), fetched once for the run.
    public var robots: [String: RobotsRules]?

    public init() {}

    public static let defaultChromeArgs = [
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        "--window-size=1280,800", "--no-first-run", "--disable-extensions",
    ]
    public static let defaultFirefoxArgs = ["-headless"]
    public static let maxTabsPerSession = 32

    /// True for the browsers driven through chromedriver or msedgedriver.
    public var isChromeFamily: Bool {
        ["chrome", "chromium", "microsoftedge"].contains(browserName.lowercased())
    }

    /// Why `block` cannot be honoured for this browser, if it cannot. Chrome has a preference for
    /// images and switches for web fonts and autoplay, but nothing that stops stylesheets short of
    /// intercepting requests over CDP, which the crawler does not use.
    public func blockProblem() -> String? {
        guard !block.isEmpty else { return nil }
        guard isChromeFamily else { return "is supported for chrome, chromium and MicrosoftEdge only" }
        if block.contains(.stylesheets) {
            return
                "stylesheets cannot be blocked in \(browserName) over WebDriver (no preference or switch does it); remove it"
        }
        return nil
    }

    public static let keys = [
        "pageLoadTimeout", "scriptTimeout", "waitFor", "waitForTimeout", "fields", "maxAttempts",
        "retryBackoff", "sessions", "tabsPerSession", "block", "blockHosts", "politenessDelay", "screenshot",
        "pageSource",
        "browserName",
        "browserArgs", "pageLoadStrategy", "acceptInsecureCerts", "allowPrivateNetworks",
        "recycleSessionAfter", "capabilities", "userAgent", "headers", "proxy", "cookies", "robotsTxt",
        "robotsProductToken", "contactURL", "webdriver",
    ]

    public static let defaultContactURL = "https://github.com/crawlrun/crawlrun#politeness"

    /// The user agent of a job that obeys robots.txt and names none: it says what crawls, and
    /// where to read about it.
    public var defaultUserAgent: String {
        "Mozilla/5.0 (compatible; \(robotsProductToken)/1.0; +\(contactURL ?? Self.defaultContactURL))"
    }

    enum CodingKeys: String, CodingKey {
        case pageLoadTimeout, scriptTimeout, waitFor, waitForTimeout, fields, maxAttempts, retryBackoff
        case sessions, tabsPerSession, block, blockHosts, politenessDelay, screenshot, pageSource, browserName,
            browserArgs
        case pageLoadStrategy, acceptInsecureCerts, allowPrivateNetworks, recycleSessionAfter, capabilities
        case userAgent, headers, proxy, cookies, robotsTxt, robotsProductToken, contactURL, hostIntervals, robots
        case webdriver
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = CrawlOptions()
        pageLoadTimeout = try get(.pageLoadTimeout, d.pageLoadTimeout)
        scriptTimeout = try get(.scriptTimeout, d.scriptTimeout)
        waitFor = try c.decodeIfPresent(String.self, forKey: .waitFor)
        waitForTimeout = try get(.waitForTimeout, d.waitForTimeout)
        fields = try get(.fields, d.fields)
        maxAttempts = try get(.maxAttempts, d.maxAttempts)
        retryBackoff = try get(.retryBackoff, d.retryBackoff)
        sessions = try get(.sessions, d.sessions)
        tabsPerSession = try get(.tabsPerSession, d.tabsPerSession)
        block = try get(.block, d.block)
        blockHosts = try get(.blockHosts, d.blockHosts)
        politenessDelay = try get(.politenessDelay, d.politenessDelay)
        screenshot = try get(.screenshot, d.screenshot)
        pageSource = try get(.pageSource, d.pageSource)
        browserName = try get(.browserName, d.browserName)
        browserArgs = try c.decodeIfPresent([String].self, forKey: .browserArgs)
        pageLoadStrategy = try get(.pageLoadStrategy, d.pageLoadStrategy)
        webdriver = try get(.webdriver, d.webdriver)
        acceptInsecureCerts = try get(.acceptInsecureCerts, d.acceptInsecureCerts)
        allowPrivateNetworks = try get(.allowPrivateNetworks, d.allowPrivateNetworks)
        recycleSessionAfter = try get(.recycleSessionAfter, d.recycleSessionAfter)
        capabilities = try c.decodeIfPresent([String: JSONValue].self, forKey: .capabilities)
        userAgent = try c.decodeIfPresent(String.self, forKey: .userAgent)
        headers = try c.decodeIfPresent([String: String].self, forKey: .headers)
        proxy = try c.decodeIfPresent(ProxyOption.self, forKey: .proxy)
        cookies = try c.decodeIfPresent([String: [String: String]].self, forKey: .cookies)
        robotsTxt = try get(.robotsTxt, d.robotsTxt)
        robotsProductToken = try get(.robotsProductToken, d.robotsProductToken)
        contactURL = try c.decodeIfPresent(String.self, forKey: .contactURL)
        hostIntervals = try c.decodeIfPresent([String: Double].self, forKey: .hostIntervals)
        robots = try c.decodeIfPresent([String: RobotsRules].self, forKey: .robots)
    }

    /// Problems a decoder cannot see (ranges), each as (key, message).
    public func rangeProblems() -> [(key: String, message: String)] {
        var out: [(String, String)] = []
        func positive(_ v: Double, _ k: String) { if !(v > 0) { out.append((k, "must be greater than 0")) } }
        positive(pageLoadTimeout, "pageLoadTimeout")
        positive(scriptTimeout, "scriptTimeout")
        positive(waitForTimeout, "waitForTimeout")
        if maxAttempts < 1 || maxAttempts > 10 { out.append(("maxAttempts", "must be between 1 and 10")) }
        if retryBackoff < 0 { out.append(("retryBackoff", "must not be negative")) }
        if sessions < 1 || sessions > 16 { out.append(("sessions", "must be between 1 and 16")) }
        if tabsPerSession < 1 || tabsPerSession > Self.maxTabsPerSession {
            out.append(("tabsPerSession", "must be between 1 and \(Self.maxTabsPerSession)"))
        }
        if let problem = blockProblem() { out.append(("block", problem)) }
        if let problem = blockHostsProblem() { out.append(("blockHosts", problem)) }
        for (i, host) in blockHosts.enumerated() {
            if let problem = Self.hostPatternProblem(host) { out.append(("blockHosts[\(i)]", problem)) }
        }
        if politenessDelay < 0 { out.append(("politenessDelay", "must not be negative")) }
        if !RobotsParser.isValidProductToken(robotsProductToken) {
            out.append(("robotsProductToken", "use letters, _ and - only (RFC 9309 §2.2.1), e.g. CrawlRun"))
        }
        if recycleSessionAfter < 1 { out.append(("recycleSessionAfter", "must be at least 1")) }
        if !["normal", "eager", "none"].contains(pageLoadStrategy) {
            out.append(("pageLoadStrategy", "must be one of normal, eager, none"))
        }
        for (name, field) in fields.sorted(by: { $0.key < $1.key }) where field.selector.isEmpty {
            out.append(("fields.\(name).selector", "must not be empty"))
        }
        return out + requestProblems()
    }
}
