import CrawlKit
import JSONKit
import WebDriver

/// One attempt at one URL in one tab of a `TabDriver`: started (`leave`, then a navigation the
/// driver does not wait for), then checked when its `TabLedger` says, until the page is ready by
/// the job's `pageLoadStrategy` (and `waitFor`), then read with the same extraction as a one-tab
/// session. The ledger times the page-load timeout from the navigation, per URL.
final class TabLoad {
    let visitor: PageVisitor
    let url: String
    let window: String
    /// Names this attempt's checks in the page (`PageScripts.poll`): the document a check read
    /// and marked is its own to read again, and a marked one to every later attempt.
    let token: String
    /// When a check read the page and marked its document in the same turn: the tab's next
    /// start may then skip its `leave` (`TabDriver.markFresh`).
    private(set) var markedAt: ContinuousClock.Instant?
    private var readySince: ContinuousClock.Instant?
    private var oldSeen = 0
    private(set) var checks = 0
    /// Checks chromedriver answered with a script timeout.
    private var heldChecks = 0

    /// The check reads the page when it finds it ready (one command instead of two), until
    /// three checks were held: an extraction longer than the script timeout would never answer.
    private var readsInCheck: Bool { heldChecks < 3 }

    /// Whether the check that reads the page also marks its document (with `token`): only when a
    /// mark may stand in for the next start's `leave` (`TabDriver.markFresh`). A document marked
    /// by a check whose answer never came (a read past the script timeout, still run by the page)
    /// would read as "old" to the extraction's own command, which carries no token.
    private var markInRead: Bool { TabDriver.markFresh > .zero }

    init(visitor: PageVisitor, url: String, window: String, token: String) {
        self.visitor = visitor
        self.url = url
        self.window = window
        self.token = token
    }

    private var options: CrawlOptions { visitor.options }

    /// Deadline of one check: the page's own wait, chromedriver's hold on a navigation that has
    /// not answered (the session's script timeout), and the margin past which a silent renderer
    /// is taken as hung.
    static let checkDeadline: Duration =
        .milliseconds(Int64(TabPolling.scriptTimeoutMilliseconds + TabPolling.loadWaitMilliseconds))
        + PageVisitor.margin

    /// Thrown by `begin` when the tab's document is itself navigating (a script's redirect) so
    /// that it cannot be marked: the tab is replaced and the attempt begun again, uncounted.
    static let busyTab: VisitFailure = {
        var failure = VisitFailure(.navigation, "the tab was still navigating on its own")
        failure.tabBusy = true
        return failure
    }()

    /// Marks the tab's document and starts the navigation. In the tab's turn. `marked`: the
    /// check that read the tab's previous page marked its document a moment ago, so no `leave`
    /// is sent (a command less per page).
    func begin(_ session: any PageChannel, marked: Bool = false) async throws(VisitFailure) {
        if !marked { try await leave(session) }
        do {
            try await session.navigate(to: url, timeout: TabDriver.windowDeadline)
        } catch let error as WebDriverError where error.code == .unexpectedAlertOpen {
            // A dialog of the new page: the next check dismisses it.
        } catch {
            throw ErrorClassifier.classify(error, during: "navigate")
        }
    }

    private func leave(_ session: any PageChannel) async throws(VisitFailure) {
        do {
            _ = try await visitor.dismissingDialogs {
                try await session.execute(PageScripts.leave, args: [], timeout: PageVisitor.leaveDeadline)
            }
        } catch let error as WebDriverError where error.code == .scriptTimeout {
            throw Self.busyTab
        } catch {
            // The tab's previous page crashed or hung after it was read: not this URL's doing.
            var failure = ErrorClassifier.classify(error, during: "before navigating")
            failure.notCharged = true
            throw failure
        }
    }

    /// One check, in the tab's turn: the page when it is ready (or a failure), nil while it loads.
    func check(_ session: any PageChannel) async throws(VisitFailure) -> PageResult? {
        checks += 1
        let args: [JSONValue] = [
            .string(url), .string(options.pageLoadStrategy), options.waitFor.map { .string($0) } ?? .null,
            .number(TabPolling.loadWaitMilliseconds), readsInCheck ? visitor.fieldSpec : .null,
            markInRead ? .string(token) : .null,
        ]
        let answer: JSONValue
        do {
            answer = try await visitor.dismissingDialogs {
                try await session.executeAsync(PageScripts.poll, args: args, timeout: Self.checkDeadline)
            }
        } catch let error as WebDriverError where error.code == .scriptTimeout {
            // chromedriver held the check for a navigation that has not answered yet; or the
            // extraction in it outlasts the short script timeout (a huge page): after a few,
            // the page is read by its own command, which may take longer.
            heldChecks += 1
            return nil
        } catch {
            throw ErrorClassifier.classify(error, during: "waiting for the page")
        }
        switch answer["s"]?.stringValue {
        case "old":
            // Seen twice, the navigation ended without a new document (204, download…): the
            // extraction says so, from the server's own answer.
            oldSeen += 1
            return oldSeen >= 2 ? try await visitor.extract(session, url: url, tabbed: true) : nil
        case "ready" where answer["w"] == .bool(true):
            if answer["m"] == .bool(true) { markedAt = .now }
            if let read = answer["x"], read.objectValue != nil {
                return try await visitor.interpret(read, url: url)
            }
            return try await visitor.extract(session, url: url, tabbed: true)
        case "ready":
            let since = readySince ?? .now
            readySince = since
            guard let selector = options.waitFor, ContinuousClock.now - since >= .seconds(options.waitForTimeout)
            else { return nil }
            let page = try await visitor.extract(session, url: url, tabbed: true)
            throw VisitFailure(
                .selector, "waitFor selector \(selector) did not appear within \(options.waitForTimeout) s",
                status: page.status, page: page)
        case "error":
            throw VisitFailure(
                .script, "waitFor \(options.waitFor ?? ""): invalid selector: \(answer["e"]?.stringValue ?? "")")
        default:
            return nil
        }
    }

    var timeoutFailure: VisitFailure {
        VisitFailure(.timeout, "navigate timed out: the page did not load within \(options.pageLoadTimeout) s")
    }
}
