import JSONKit

/// One problem in a job file, with its place: a JSON path (`crawl.pageLoadTimeout`) or
/// `file:line` for URL lists.
public struct JobProblem: Sendable, Equatable, CustomStringConvertible {
    public var place: String
    public var message: String
    public init(_ place: String, _ message: String) {
        self.place = place
        self.message = message
    }
    public var description: String { "\(place): \(message)" }
}

/// The shape of a job file, checked in one pass so that every problem is reported at once.
indirect enum Shape: Sendable {
    case string
    case nonEmptyString
    case number(min: Double, max: Double)
    case integer(min: Int, max: Int)
    case bool
    case choice([String])
    case array(Shape)
    case object([String: Shape])
    case map(Shape)
    case any
    /// Either a bare field selector or an object (field specs): CSS, or XPath after `xpath:`.
    case selectorOr([String: Shape])
    /// A field's selector: CSS, or an XPath expression after `xpath:`.
    case fieldSelector
    /// A field's XPath expression (`{"xpath": "//h1"}`), checked as the browser's evaluator would.
    case xpath
    /// A CSS selector, checked before the run: a browser finds a malformed one on every page.
    case selector
    /// A host name or `*` pattern the browser must not reach (`crawl.blockHosts`).
    case hostPattern
    /// Either a string or an object (`crawl.proxy`); `required` keys must be in the object.
    case stringOr([String: Shape], required: [String])

    static let crawl: Shape = .object([
        "pageLoadTimeout": .number(min: 0.1, max: 600), "scriptTimeout": .number(min: 0.1, max: 600),
        "waitFor": .selector, "waitForTimeout": .number(min: 0.1, max: 600),
        "fields": .map(
            .selectorOr(["selector": .fieldSelector, "xpath": .xpath, "attr": .nonEmptyString, "all": .bool])),
        "maxAttempts": .integer(min: 1, max: 10), "retryBackoff": .number(min: 0, max: 300),
        "sessions": .integer(min: 1, max: 16), "tabsPerSession": .integer(min: 1, max: CrawlOptions.maxTabsPerSession),
        "block": .array(.choice(BlockedResource.allCases.map(\.rawValue))), "blockHosts": .array(.hostPattern),
        "politenessDelay": .number(min: 0, max: 3600),
        "screenshot": .choice(ArtifactPolicy.allCases.map(\.rawValue)),
        "pageSource": .choice(ArtifactPolicy.allCases.map(\.rawValue)),
        "browserName": .choice(["chrome", "chromium", "firefox", "MicrosoftEdge"]),
        "browserArgs": .array(.string), "pageLoadStrategy": .choice(["normal", "eager", "none"]),
        "acceptInsecureCerts": .bool, "allowPrivateNetworks": .bool,
        "recycleSessionAfter": .integer(min: 1, max: 100_000), "capabilities": .map(.any),
        "userAgent": .nonEmptyString, "headers": .map(.string), "cookies": .map(.map(.string)),
        "robotsTxt": .choice(RobotsPolicy.allCases.map(\.rawValue)), "robotsProductToken": .nonEmptyString,
        "contactURL": .nonEmptyString, "webdriver": .choice(WebDriverTransport.allCases.map(\.rawValue)),
        "proxy": .stringOr(["url": .nonEmptyString, "noProxy": .array(.nonEmptyString)], required: ["url"]),
    ])

    static let job: Shape = .object([
        "name": .nonEmptyString,
        "urls": .array(.string),
        "urlsFile": .nonEmptyString,
        "batching": .object([
            "batchSize": .integer(min: 1, max: 100_000), "tasks": .integer(min: 1, max: 100_000),
            "groupByHost": .bool, "removeTrackingParameters": .bool,
        ]),
        "crawl": crawl,
        "task": .object([
            "cpu": .integer(min: 256, max: 16384), "memory": .integer(min: 512, max: 122_880),
            "architecture": .choice(["X86_64", "ARM64"]), "sidecarImage": .nonEmptyString,
            "crawlerImage": .nonEmptyString, "stopTimeout": .integer(min: 2, max: 120),
            "environment": .map(.string), "secondsPerPage": .number(min: 0, max: 3600),
            "startupSeconds": .number(min: 0, max: 3600), "maxRunSeconds": .number(min: 60, max: 86_400 * 14),
            "retries": .integer(min: 0, max: 10),
        ]),
        "fargate": .object([
            "region": .nonEmptyString, "cluster": .nonEmptyString, "subnets": .array(.nonEmptyString),
            "securityGroups": .array(.nonEmptyString), "assignPublicIp": .bool,
            "executionRoleArn": .nonEmptyString, "taskRoleArn": .nonEmptyString, "logGroup": .nonEmptyString,
            "bucket": .nonEmptyString, "prefix": .string,
            "capacityProviders": .array(
                .object([
                    "provider": .choice(["FARGATE", "FARGATE_SPOT"]), "weight": .integer(min: 0, max: 1000),
                    "base": .integer(min: 0, max: 100_000),
                ])),
            "maxConcurrentTasks": .integer(min: 1, max: 5000), "platformVersion": .nonEmptyString,
            "tags": .map(.string), "provisioningTimeout": .number(min: 5, max: 3600),
            "schedule": ScheduleSettings.shape,
        ]),
        "local": .object([
            "chromedriver": .nonEmptyString, "seleniumCommand": .array(.string), "maxTasks": .integer(min: 1, max: 64),
            "healthTimeout": .number(min: 1, max: 600),
        ]),
        "docker": .object([
            "host": .nonEmptyString, "maxTasks": .integer(min: 1, max: 64), "healthTimeout": .number(min: 1, max: 600),
        ]),
        "backend": .choice(Backend.allCases.map(\.rawValue)),
        "politeness": .object([
            "maxTasksPerHost": .integer(min: 1, max: 5000), "requestsPerSecondPerHost": .number(min: 0, max: 10_000),
        ]),
    ])

    /// Checks `value` against the shape, appending every problem found.
    func check(_ value: JSONValue, at path: String, into problems: inout [JobProblem]) {
        let place = path.isEmpty ? "(top level)" : path
        switch self {
        case .any: return
        case .string:
            if value.stringValue == nil {
                problems.append(JobProblem(place, "expected a string, found \(value.kindName)"))
            }
        case .nonEmptyString:
            guard let s = value.stringValue else {
                problems.append(JobProblem(place, "expected a string, found \(value.kindName)"))
                return
            }
            if s.isEmpty { problems.append(JobProblem(place, "must not be empty")) }
        case .selector:
            Shape.nonEmptyString.check(value, at: path, into: &problems)
            if let s = value.stringValue, !s.isEmpty, let message = CSSSelector.message(for: s) {
                problems.append(JobProblem(place, message))
            }
        case .fieldSelector:
            Shape.nonEmptyString.check(value, at: path, into: &problems)
            if let s = value.stringValue, !s.isEmpty, let message = XPathExpression.fieldMessage(for: s) {
                problems.append(JobProblem(place, message))
            }
        case .xpath:
            Shape.nonEmptyString.check(value, at: path, into: &problems)
            if let s = value.stringValue, !s.isEmpty, let message = XPathExpression.message(for: s) {
                problems.append(JobProblem(place, message))
            }
        case .hostPattern:
            guard let s = value.stringValue else {
                problems.append(JobProblem(place, "expected a string, found \(value.kindName)"))
                return
            }
            if let message = CrawlOptions.hostPatternProblem(s) { problems.append(JobProblem(place, message)) }
        case .bool:
            if value.boolValue == nil {
                problems.append(JobProblem(place, "expected true or false, found \(value.kindName)"))
            }
        case .number(let lo, let hi):
            guard let n = value.doubleValue else {
                problems.append(JobProblem(place, "expected a number, found \(value.kindName)"))
                return
            }
            if !n.isFinite {
                problems.append(JobProblem(place, Shape.tooLarge(lo, hi)))
            } else if n < lo || n > hi {
                problems.append(
                    JobProblem(place, "must be between \(Shape.show(lo)) and \(Shape.show(hi)), found \(Shape.show(n))")
                )
            }
        case .integer(let lo, let hi):
            guard let n = value.doubleValue, n.rounded() == n else {
                problems.append(JobProblem(place, "expected an integer, found \(value.kindName)"))
                return
            }
            if !n.isFinite {
                problems.append(JobProblem(place, Shape.tooLarge(Double(lo), Double(hi))))
            } else if n < Double(lo) || n > Double(hi) {
                problems.append(JobProblem(place, "must be between \(lo) and \(hi), found \(Shape.show(n))"))
            }
        case .choice(let options):
            guard let s = value.stringValue else {
                problems.append(
                    JobProblem(place, "expected one of \(options.joined(separator: ", ")), found \(value.kindName)"))
                return
            }
            if !options.contains(s) {
                let hint = closest(s, in: options).map { " (did you mean \"\($0)\"?)" } ?? ""
                problems.append(JobProblem(place, "\"\(s)\" is not one of \(options.joined(separator: ", "))\(hint)"))
            }
        case .array(let item):
            guard let a = value.arrayValue else {
                problems.append(JobProblem(place, "expected an array, found \(value.kindName)"))
                return
            }
            for (i, v) in a.enumerated() { item.check(v, at: "\(path)[\(i)]", into: &problems) }
        case .map(let item):
            guard let o = value.objectValue else {
                problems.append(JobProblem(place, "expected an object, found \(value.kindName)"))
                return
            }
            for k in o.keys.sorted() { if let v = o[k] { item.check(v, at: Shape.join(path, k), into: &problems) } }
        case .selectorOr(let fields):
            if value.stringValue != nil {
                Shape.fieldSelector.check(value, at: path, into: &problems)
            } else {
                Shape.object(fields).check(value, at: path, into: &problems)
                if value.objectValue != nil && value["selector"] == nil && value["xpath"] == nil {
                    problems.append(JobProblem(Shape.join(path, "selector"), "required key is missing"))
                } else if value["selector"] != nil && value["xpath"] != nil {
                    problems.append(JobProblem(Shape.join(path, "xpath"), "give selector or xpath, not both"))
                }
            }
        case .stringOr(let fields, let required):
            guard value.stringValue == nil else { return }
            guard value.objectValue != nil else {
                problems.append(JobProblem(place, "expected a string or an object, found \(value.kindName)"))
                return
            }
            Shape.object(fields).check(value, at: path, into: &problems)
            for key in required where value[key] == nil {
                problems.append(JobProblem(Shape.join(path, key), "required key is missing"))
            }
        case .object(let fields):
            guard let o = value.objectValue else {
                problems.append(JobProblem(place, "expected an object, found \(value.kindName)"))
                return
            }
            for k in o.keys.sorted() {
                guard let v = o[k] else { continue }
                if let shape = fields[k] {
                    shape.check(v, at: Shape.join(path, k), into: &problems)
                } else {
                    let hint = closest(k, in: Array(fields.keys)).map { " (did you mean \"\($0)\"?)" } ?? ""
                    problems.append(JobProblem(Shape.join(path, k), "unknown key\(hint)"))
                }
            }
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func show(_ n: Double) -> String { n.rounded() == n && abs(n) < 1e15 ? String(Int(n)) : String(n) }

    /// A JSON number beyond Double's range (`1e400`) reads as infinity.
    static func tooLarge(_ lo: Double, _ hi: Double) -> String {
        "the number is too large to read (beyond ±1.8e308); use one between \(show(lo)) and \(show(hi))"
    }
}

extension JSONValue {
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// The closest candidate by edit distance (case-insensitive), when close enough to be a typo.
public func closest(_ word: String, in candidates: [String]) -> String? {
    let w = Array(word.lowercased())
    var best: (String, Int)?
    for c in candidates.sorted() {
        let d = editDistance(w, Array(c.lowercased()))
        if d <= max(1, min(3, c.count / 3)), d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
}

func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
